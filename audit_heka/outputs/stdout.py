"""``-``: decoded messages as JSON lines on stdout, for people and ``jq``.

The frame is decoded back (``decode_message``) rather than printed from the
event, so what a person sees is what a Heka receiver would get. A frame that
does not decode is counted as ``malformed`` and skipped, never printed
half-way.

A closed stdout (``run | head``, a pager quit) is final: the reader is gone
and no retry brings it back. The first EPIPE is logged once, stdout is
pointed at /dev/null (so Python's exit flush does not complain again), and
the target stops: later frames are counted as ``discarded``, not retried
forever.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from audit_heka.heka.errors import DecodeError
from audit_heka.heka.framing import Signer, Unframer
from audit_heka.heka.message import decode_message, message_to_json

log = logging.getLogger(__name__)


class JsonLinesTransport:
    """One JSON object per line on a text stream (stdout by default)."""

    max_frame: int | None = None
    joins_frames = False

    def __init__(
        self,
        stream: TextIO | None = None,
        signers: Mapping[str, Signer] | None = None,
    ) -> None:
        self._stream = stream
        self._signers = dict(signers or {})
        self._open = False
        self.errors: collections.Counter[str] = collections.Counter(malformed=0)
        #: True once the reader closed the stream (EPIPE): the target has stopped.
        self.reader_gone = False

    @property
    def name(self) -> str:
        return "-"

    @property
    def connected(self) -> bool:
        return self._open

    def connect(self) -> None:
        self._open = True

    def send(self, frame: bytes) -> None:
        if self.reader_gone:
            self.errors["discarded"] += 1
            return
        stream = self._stream if self._stream is not None else sys.stdout
        unframer = Unframer(signers=self._signers)
        messages = unframer.feed(frame)
        unframer.close()
        lines = []
        for unframed in messages:
            try:
                lines.append(json.dumps(message_to_json(decode_message(unframed.message))))
            except DecodeError:
                self.errors["malformed"] += 1
        if not messages:
            self.errors["malformed"] += 1
        if lines:
            try:
                stream.write("\n".join(lines) + "\n")
                stream.flush()
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
                self._reader_closed(stream)

    def _reader_closed(self, stream: TextIO) -> None:
        self.reader_gone = True
        self.errors["discarded"] += 1
        log.error("stdout is closed (broken pipe): the '-' target stops; further events "
                  "for it are discarded and counted (delivery_discarded)")
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)

    def unacked_bytes(self) -> int:
        return 0

    def alive(self) -> bool:
        return self._open

    def tick(self) -> None:
        """Nothing periodic for stdout."""

    def abort(self) -> None:
        """Writes to stdout are not interruptible; nothing to do."""

    def close(self) -> None:
        self._open = False

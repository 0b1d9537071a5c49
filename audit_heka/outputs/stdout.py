"""``-``: decoded messages as JSON lines on stdout, for people and ``jq``.

The frame is decoded back (``decode_message``) rather than printed from the
event, so what a person sees is what a Heka receiver would get. A frame that
does not decode is counted as ``malformed`` and skipped, never printed
half-way.
"""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Mapping
from typing import TextIO

from audit_heka.heka.errors import DecodeError
from audit_heka.heka.framing import Signer, Unframer
from audit_heka.heka.message import decode_message, message_to_json


class JsonLinesTransport:
    """One JSON object per line on a text stream (stdout by default)."""

    max_frame: int | None = None

    def __init__(
        self,
        stream: TextIO | None = None,
        signers: Mapping[str, Signer] | None = None,
    ) -> None:
        self._stream = stream
        self._signers = dict(signers or {})
        self._open = False
        self.errors: collections.Counter[str] = collections.Counter(malformed=0)

    @property
    def name(self) -> str:
        return "-"

    @property
    def connected(self) -> bool:
        return self._open

    def connect(self) -> None:
        self._open = True

    def send(self, frame: bytes) -> None:
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
            stream.write("\n".join(lines) + "\n")
            stream.flush()

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

"""The sans-IO pipeline: text lines or kernel records -> events -> Heka messages -> frames.

Why a module of its own: ``replay`` (audit.log files) and ``run`` (the live
kernel) differ only at their edges -- where the text comes from and where the
frames go. Everything between is here, with the counters that ``status`` and
the health messages report: malformed records by reason, assembler outcomes,
scheme bends and oversize messages. Nothing here reads a file, a socket or a
clock; time comes in as ``now``.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

from audit_heka.degrade import degrade
from audit_heka.events import Assembler, Event
from audit_heka.heka.errors import DecodeError, FramingError, MessageTooLarge
from audit_heka.heka.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    Signer,
    frame,
    frame_overhead,
    unframe_one,
)
from audit_heka.heka.message import Message, decode_message, encode_message
from audit_heka.records import (
    MAX_RECORD_LENGTH,
    ParseError,
    Record,
    is_comment,
    parse_kernel,
    parse_line,
    split_records,
)
from audit_heka.schema import MessageBuilder

ERROR_SAMPLES = 16  # the last few malformed inputs, for `status` and error reports


class Pipeline:
    """Records in, Heka messages out. One instance per source."""

    def __init__(self, builder: MessageBuilder, assembler: Assembler) -> None:
        self.builder = builder
        self.assembler = assembler
        #: Called with every completed event before it becomes a message (the
        #: ``log:`` output writes records, not Heka messages).
        self.event_sinks: list[Callable[[Event], None]] = []
        self.lines = 0
        self.blank_lines = 0
        self.comment_lines = 0  # "#" lines: not records, not malformed
        self.shared_lines = 0  # lines that held more than one record
        self.records = 0
        self.messages = 0
        self.parse_errors: Counter[str] = Counter()
        self.error_samples: deque[ParseError] = deque(maxlen=ERROR_SAMPLES)
        self._last_ns = 0  # time of the last record: stamps what could not be parsed

    # ------------------------------------------------------------------ input

    def feed_line(self, line: str, now: float | None = None, mark: int = 0) -> list[Message]:
        """One auditd log line. ``now`` defaults to the record's event time (replay);
        ``mark`` is the line's position, for :meth:`oldest_pending_mark`."""
        self.lines += 1
        if not line.strip():
            self.blank_lines += 1
            return []
        if is_comment(line):
            self.comment_lines += 1
            return []
        text = line.rstrip("\r\n")
        pieces = [text] if len(text) > MAX_RECORD_LENGTH else split_records(text)
        if len(pieces) == 1:
            return self._take(parse_line(line), now, mark)
        self.shared_lines += 1
        out: list[Message] = []
        for piece in pieces:
            out += self._take(parse_line(piece), now, mark)
        return out

    def feed_kernel(self, msg_type: int, text: str, now: float) -> list[Message]:
        """One record from the netlink stream (``now``: a monotonic clock)."""
        self.lines += 1
        return self._take(parse_kernel(msg_type, text), now)

    def feed_record(self, record: Record, now: float, mark: int = 0) -> list[Message]:
        self.records += 1
        return self._build(self.assembler.add(record, now, mark))

    def oldest_pending_mark(self) -> int | None:
        """The ``mark`` of the first line of the oldest event not yet built (resume point)."""
        return self.assembler.oldest_mark()

    def tick(self, now: float) -> list[Message]:
        """Let time pass with no input (events without an EOE time out)."""
        return self._build(self.assembler.expire(now))

    def finish(self) -> list[Message]:
        """End of input: every pending event is complete."""
        return self._build(self.assembler.flush())

    # --------------------------------------------------------------- internals

    def _take(self, parsed: Record | ParseError, now: float | None,
              mark: int = 0) -> list[Message]:
        if isinstance(parsed, ParseError):
            # Never discarded: shipped whole, with the reason (issue 17).
            self.parse_errors[parsed.reason] += 1
            self.error_samples.append(parsed)
            self.messages += 1
            return [self.builder.build_unparsed(parsed, self._last_ns)]
        if parsed.problem:  # kept and shipped (parse_error field), but counted
            self.parse_errors[parsed.problem] += 1
            self.error_samples.append(ParseError(parsed.problem, parsed.log_line()))
        self._last_ns = parsed.timestamp_ns
        if now is None:
            now = parsed.seconds + parsed.milliseconds / 1000.0
        return self.feed_record(parsed, now, mark)

    def _build(self, events: list[Event]) -> list[Message]:
        if not events:
            return []
        for sink in self.event_sinks:
            for event in events:
                sink(event)
        out = [self.builder.build(e) for e in events]
        self.messages += len(out)
        return out

    def counters(self) -> dict[str, int]:
        """Every counter, flat, for status output and health messages."""
        a = self.assembler
        c = self.builder.counters
        flat = {
            "lines": self.lines,
            "blank_lines": self.blank_lines,
            "comment_lines": self.comment_lines,
            "shared_lines": self.shared_lines,
            "records": self.records,
            "messages": self.messages,
            "malformed_records": sum(self.parse_errors.values()),
            "events_in_flight": a.in_flight,
            "events_completed_by_eoe": a.completed_by_eoe,
            "events_completed_alone": a.completed_alone,
            "events_timed_out": a.timed_out,
            "events_overflowed": a.overflowed,
            "events_flushed": a.flushed,
            "late_records": a.late_records,
            "orphan_eoe": a.orphan_eoe,
            "serial_gaps": a.serial_gaps,
            "malformed_integer": c.malformed_integer,
            "aligned_fill": c.aligned_fill,
            "duplicate_key": c.duplicate_key,
            "suspicious_duplicates": c.suspicious_duplicates,
            "unparsed_shipped": c.unparsed,
            "interpret_errors": c.interpret_errors,
        }
        for reason, count in sorted(self.parse_errors.items()):
            flat[f"malformed_records.{reason}"] = count
        return flat


class Framer:
    """Message -> framed bytes; a message too large for Heka is degraded to fit.

    A message over Heka's ``max_message_size`` would be dropped by Heka, and
    an event dropped for its size is one any user can hide by padding it. So
    it is degraded (audit_heka.degrade: the Payload first, then fields by
    importance, with ``truncated*`` fields saying what was cut), counted in
    ``payload_dropped`` and ``degraded``. Only a message whose header alone
    cannot fit is refused (``oversize``). The normal path encodes once, as
    before; only a message found too large pays for the degradation.
    """

    def __init__(self, signer: Signer | None = None,
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.signer = signer
        self.max_message_size = max_message_size
        self.frames = 0
        self.payload_dropped = 0
        self.degraded = 0  # messages with fields cut or dropped to fit
        self.oversize = 0

    def frame(self, message: Message) -> bytes | None:
        """The frame, or None (counted in ``oversize``) when even degrading fails."""
        encoded = encode_message(message)
        if len(encoded) > self.max_message_size:
            smaller = self._degrade(message, self.max_message_size)
            if smaller is None:
                return None
            encoded = smaller
        try:
            data = frame(encoded, self.signer, self.max_message_size)
        except MessageTooLarge:  # pragma: no cover - degrade() guarantees the size
            self.oversize += 1
            return None
        self.frames += 1
        return data

    def refit(self, data: bytes, max_frame: int) -> bytes | None:
        """``data`` (one of our frames) degraded so the whole frame fits in
        ``max_frame`` bytes, for a target with a smaller limit (UDP); None
        when it cannot be (counted by the caller).

        Called from delivery threads too, so it touches no state (the
        delivery counts ``refitted`` per target).
        """
        try:
            message = decode_message(unframe_one(data))
        except (FramingError, DecodeError):
            return None
        limit = min(self.max_message_size, max_frame - frame_overhead(max_frame, self.signer))
        degraded = degrade(message, limit)
        if degraded is None:
            return None
        return frame(encode_message(degraded.message), self.signer, self.max_message_size)

    def _degrade(self, message: Message, limit: int) -> bytes | None:
        degraded = degrade(message, limit)
        if degraded is None:
            self.oversize += 1
            return None
        if degraded.payload_dropped:
            self.payload_dropped += 1
        if degraded.fields_cut:
            self.degraded += 1
        return encode_message(degraded.message)

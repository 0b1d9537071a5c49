"""The session: one sans-IO object from record text to Heka frames.

Why one object: ``replay`` (audit.log files) and the shipper (the journal)
differ only at their edges -- where lines come from and where frames go.
Everything between (parse -> assemble -> interpret/build -> encode -> frame)
is here, h11-style: the caller feeds input with ``now`` and gets back what is
ready (:class:`Shipment`), asks :meth:`Session.next_deadline` when time alone
would complete something, and calls :meth:`Session.expire` then. No
callbacks into the caller, no file, socket or clock: the session returns
values and the I/O loop decides what to do with them.

Positions: a caller that needs to know which input a frame came from (the
shipper's cursor: "the first record not yet acknowledged by every target")
passes an increasing integer ``position`` with each line. Every shipment
carries the lowest position of its records, and :meth:`Session.lowest_pending`
says the lowest position of records still waiting in the assembler, so the
caller never moves its cursor past a record whose event has not gone out.

Lines come one by one (:meth:`Session.feed`) or a read's worth at a time
(:meth:`Session.feed_lines`, what replay does): the same shipments either way.
"""

from __future__ import annotations

from collections import Counter, deque
from itertools import compress, repeat
from operator import is_

from audit_heka.core.entries import Rec
from audit_heka.core.events import EOE, PROCTITLE, Assembler, Event, stands_alone
from audit_heka.core.hotpath import FastEncoder
from audit_heka.core.line_entries import EXECVE_BASE_MAX
from audit_heka.core.record_entries import MEMO_BODY_MAX
from audit_heka.core.records import (
    CANONICAL_LINE,
    MAX_RECORD_LENGTH,
    MAX_SECONDS,
    MAX_SERIAL,
    Body,
    ParseError,
    Record,
    is_comment,
    parse_kernel,
    parse_line,
    split_records,
    type_number_for,
)
from audit_heka.core.schema import EXECVE, LOGGER, MessageBuilder, event_uuid
from audit_heka.heka.errors import DecodeError, FramingError, MessageTooLarge
from audit_heka.heka.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    Signer,
    frame,
    frame_overhead,
    unframe_one,
)
from audit_heka.heka.message import Field, Message, decode_message, encode_message
from audit_heka.tables.msgtypes import MSG_TYPE_NUMBERS

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable, Sequence
    from typing import Any

    #: A body's entry in the hot path's memo (LineEntries.entries): its type, type
    #: name and entry.
    _Entry = tuple[int, str, Rec | None]

    #: An event the lane closed, to be encoded (Session._encode_closed): its placeholder
    #: shipment, the index of the line that closed it, its key, entries and lines.
    _Closed = tuple["Shipment", int, "Key", list[Rec], list[str]]
    #: What the Event of a shipment the lane closed is made from, when asked: the
    #: session, the event's key and its lines (Shipment.event).
    _EventOf = tuple["Session", "Key", list[str]]

#: Whether this module runs as Python bytecode, not compiled by mypyc (setup.py): the
#: interpreter's own code is what takes the CPU's caches, and only then does working in
#: passes pay (Session._feed_from).
INTERPRETED = __file__.endswith(".py")

ERROR_SAMPLES = 16  # the last few malformed inputs, for `status` and error reports

Key = tuple[str | None, int, int, int]


class Shipment:
    """One completed event (or one unparsable input), built and framed.

    ``event`` is None for a line or kernel record that is no audit record we
    can read: it is shipped anyway (``parse_error``, raw text), never
    discarded (issue 17). ``frame`` is None when even the message's header
    exceeds ``max_message_size`` (counted in ``oversize``): the event is done
    but nothing is sent. ``degraded`` says fields were cut or dropped to fit
    (the shipper logs it). ``position`` is the lowest input position among
    the event's records (None when the caller gave none). ``uuid`` and
    ``timestamp`` are the message's.

    ``message`` is made on first use only: the hot path (audit_heka.core.hotpath)
    encodes an event's bytes without building a Message object, and the
    callers need it rarely (tests, benchmarks); it is then decoded from the
    frame, field for field the message the general path builds.
    """

    __slots__ = ("_event", "_event_of", "_message", "degraded", "frame", "position",
                 "timestamp", "uuid")

    def __init__(self, event: Event | None, message: Message | None, frame: bytes | None,
                 position: int | None, degraded: bool = False, *,
                 uuid: bytes = b"", timestamp: int = 0,
                 event_of: _EventOf | None = None) -> None:
        self._event = event
        #: Makes the Event on first use (the session's lane): a tuple, not a partial, as
        #: one is made for every event and few are asked.
        self._event_of = event_of
        self._message = message
        self.frame = frame
        self.position = position
        self.degraded = degraded
        if message is None:
            self.uuid, self.timestamp = uuid, timestamp
        else:
            self.uuid, self.timestamp = message.uuid, message.timestamp

    @property
    def event(self) -> Event | None:
        if self._event is None and self._event_of is not None:
            session, key, lines = self._event_of
            self._event = session._event_of(key, lines)
            self._event_of = None
        return self._event

    def become(self, other: Shipment) -> None:
        """Take ``other``'s place: the lane ships a placeholder whose event is encoded
        after the round's lines (Session.feed_lines), and built the general way."""
        self._event, self._event_of, self._message = other._event, other._event_of, (
            other._message)
        self.frame, self.position, self.degraded = other.frame, other.position, other.degraded
        self.uuid, self.timestamp = other.uuid, other.timestamp

    @property
    def message(self) -> Message:
        if self._message is None:
            assert self.frame is not None  # only framed events come without their Message
            self._message = decode_message(unframe_one(self.frame))
        return self._message

    def __repr__(self) -> str:
        return (f"Shipment(event={self._event!r}, uuid={self.uuid.hex()}, "
                f"frame={len(self.frame) if self.frame is not None else None} bytes, "
                f"position={self.position}, degraded={self.degraded})")


class Session:
    """Lines (or kernel records) in, shipments out. One instance per source."""

    def __init__(
        self,
        builder: MessageBuilder,
        assembler: Assembler,
        *,
        signer: Signer | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        fast: bool = True,
    ) -> None:
        self.builder = builder
        self.assembler = assembler
        self.framer = Framer(signer, max_message_size)
        #: The bytes-first hot path; None: every event through the builder (the
        #: reference the identity tests compare the hot path with).
        self.fast = FastEncoder.of(builder) if fast else None
        self._bodies: dict[str, Body] = {}  # parse_line's memo of record bodies
        # The lane (see _lane): log lines of the event going by, their entries, positions.
        self._run: list[str] = []
        self._run_recs: list[Rec] = []
        self._run_positions: list[int | None] = []
        self._run_nows: list[float] = []  # live: the now each held line came with
        self._run_idle = False  # log mode: the first step found nothing due at _run_now
        self._run_key: Key = (None, 0, 0, 0)
        self._run_stamp: tuple[str | Any, ...] = ()  # its node and audit(...) as written
        self._run_head = "type="  # its lines' start: "node=... type=" or "type="
        self._run_mark = ""  # and " msg=audit(...): " after their type name
        self._feeding = 0  # the index of the line feed_lines is at
        #: Whether feed_lines works in passes (:meth:`_feed_from`): where this module is
        #: interpreted, not compiled.
        self.passes = INTERPRETED
        #: Within feed_lines: the entries of its lines' new bodies, read ahead
        #: (:meth:`_read_ahead`), by body as :attr:`LineEntries.entries` holds them:
        #: (type, type name, entry). Those of bodies over MEMO_BODY_MAX apart: the lane
        #: takes the others as it takes the memo's.
        self._ahead: dict[str, _Entry] = {}
        self._ahead_long: dict[str, _Entry] = {}
        #: Within feed_lines: the lane's events whose encoding waits for the end of
        #: the lines (:meth:`_encode_closed`); None: encoded as they close.
        self._closed: list[_Closed] | None = None
        #: The lines of the event :meth:`_encode_closed` is at: its records, if the
        #: encoder asks (:meth:`_record_at`), are parsed from them.
        self._encoding: list[str] = []
        self._run_names = 0  # the interpreter's names_generation when it began
        self._run_now = 0.0  # its records' time (replay's now)
        self._run_sec = ""  # the seconds of the last run's audit(...) as written, and read
        self._run_seconds = 0
        self.lines = 0
        self.blank_lines = 0
        self.comment_lines = 0  # "#" lines: not records, not malformed
        self.shared_lines = 0  # lines that held more than one record
        self.records = 0
        self.messages = 0
        self.build_errors = 0
        self.parse_errors: Counter[str] = Counter()
        self.error_samples: deque[ParseError] = deque(maxlen=ERROR_SAMPLES)
        #: The last few build failures (the caller logs them; this object does no I/O).
        self.build_error_samples: deque[str] = deque(maxlen=ERROR_SAMPLES)
        # Positions of the records waiting in the assembler, per event key, in
        # arrival order (an event takes the first len(event.records) of them).
        self._positions: dict[Key, deque[int]] = {}
        self._last_now: float | None = None
        self._last_ns = 0  # time of the last record: stamps what could not be parsed
        #: Events whose first record lies below this position are shipped raw
        #: (not interpreted): set by a shipper that keeps dying at one place.
        self.raw_below: int | None = None
        self.shipped_raw = 0

    # ------------------------------------------------------------------ input

    def feed(self, line: str, now: float | None = None,
             position: int | None = None) -> list[Shipment]:
        """One auditd log line. ``now`` defaults to the record's event time (replay)."""
        self.lines += 1
        fast = self.fast
        if (fast is not None and (now is None) is not self.assembler.live
                and line.startswith(("type=", "node="))):
            # The common case first: not blank, no comment, (nearly always) one record.
            shipped = self._record_line(fast, line, now, position, None)
            if shipped is not None:
                return shipped
        if not line.strip():
            self.blank_lines += 1
            return []
        if is_comment(line):
            self.comment_lines += 1
            return []
        text = line.rstrip("\r\n")
        pieces = [text] if len(text) > MAX_RECORD_LENGTH else split_records(text)
        if len(pieces) == 1:
            return self._spill() + self._take(parse_line(line, self._bodies), now, position)
        self.shared_lines += 1
        out = self._spill()
        for piece in pieces:
            out += self._take(parse_line(piece, self._bodies), now, position)
        return out

    def _record_line(self, fast: FastEncoder, line: str, now: float | None,
                     position: int | None, found: re.Match[str] | None,
                     hit: _Entry | None = None) -> list[Shipment] | None:
        """A line that starts as a record does (``found``: CANONICAL_LINE's match of it,
        if made; ``hit``: its body's entry, if read ahead): the lane's, or the
        assembler's; None if it is too long or holds more than one record
        (:meth:`feed`'s general way)."""
        text = line.rstrip("\r\n")
        if len(text) > MAX_RECORD_LENGTH or text.count("msg=audit(", 1) > 1:
            return None
        lane = self._lane(fast, text, position, now, found, hit)
        if lane is not None:
            return lane
        return self._spill() + self._take(parse_line(line, self._bodies), now, position)

    def feed_lines(self, lines: Sequence[str], now: float | None = None,
                   positions: Sequence[int] | None = None,
                   failed: list[tuple[int, Exception]] | None = None) -> list[Shipment]:
        """Log lines in order (``positions``: one per line): what :meth:`feed` returns
        for each of them, in one list.

        Why: nearly every line of a log continues the event of the line before
        with a body read before (the lane's common case, :meth:`_lane`). Here
        such a line costs a match and a look-up in one loop, rather than two
        calls, each with its checks. Each check the lane would make is still made,
        or is implied by the memo hit: an entry is kept only for a line that passed
        them (no NUL, a single ``msg=audit(``, and the same node and type name as
        now). Any other line takes :meth:`feed`'s way, with the match made here.

        ``failed``: a line that raises is put there (its index in ``lines``, the
        exception) and the lines after it are fed, with what the lines before it
        gave kept: for a caller that one bad line must not stop (the shipper), as
        it would not stop it between calls of :meth:`feed`. Without it, it raises.
        """
        out: list[Shipment] = []
        start = 0
        while start < len(lines):
            try:
                self._feed_from(lines, start, now, positions, out, failed)
                break
            except Exception as exc:
                if failed is None:
                    raise
                failed.append((self._feeding, exc))
                start = self._feeding + 1
        return out

    def _feed_from(self, lines: Sequence[str], start: int, now: float | None,
                   positions: Sequence[int] | None, out: list[Shipment],
                   failed: list[tuple[int, Exception]] | None) -> None:
        """:meth:`feed_lines` from line ``start`` on, into ``out``; the line being fed
        is ``self._feeding``.

        The lane's work is done in three passes over the lines rather than line
        by line: the entries of their new bodies first (:meth:`_read_ahead`),
        then the lines, then the encodings of the events the lane closed
        (:meth:`_encode_closed`). Why: a record's entry read between the lane's
        and the encoder's work on other lines cost about twice what it costs
        among its like (the CPU's caches and predictors hold one kind of work at
        a time): mixed logs 1.24x faster per event (bench/RESULTS.md, session 16).
        The output is the same: the entries are those the lane would read, in
        the same order, and what an entry or an encoding gives does not depend
        on what the memos held (the identity tests). The compiled build works in
        one pass (:attr:`passes`): its code is small, and there the passes cost
        their own work (0.85x on exec logs).
        """
        self._feeding = start
        fast = self.fast
        assembler = self.assembler
        if fast is None or (now is None) is assembler.live or self.raw_below is not None:
            for i in range(start, len(lines)):
                self._feeding = i
                out += self.feed(lines[i], now, None if positions is None else positions[i])
            return
        match = CANONICAL_LINE.match
        entries = fast.lines.entries  # (cleared in place, never replaced)
        held = 0  # lines held straight from the memo: counted at the end, once
        passes = self.passes
        # Each line's body and its entry, when read ahead (the memo's, or one read);
        # else, as for the compiled build, the loop asks.
        read: tuple[Iterable[str], Iterable[_Entry | None]] = (
            self._read_ahead(fast, lines, start) if passes else (repeat(""), repeat(None)))
        ahead = self._ahead
        closed = self._closed = [] if passes else None
        i = start
        # The run (the event going by): its lines, entries and positions, the head and
        # audit(...) its lines start with -- read again after a call that may change it.
        run, recs, kept = self._run, self._run_recs, self._run_positions
        head, mark = self._run_head, self._run_mark
        at, skip = len(head), len(mark)
        try:
            # (self._feeding is set where a call may read it, and when a line raises)
            for i, line, position, tail, read_hit in zip(
                    range(start, len(lines)), lines[start:],
                    repeat(None) if positions is None else positions[start:], *read,
                    strict=False):  # (repeat is endless; positions and reads: one per line)
                # A line of the event going by: its head (node and "type="), a type name, then
                # the run's audit(...) as written -- what CANONICAL_LINE would find, read
                # without it (the run's first line was matched). The mark found is the one
                # after the type name when that name has no space: a name from the memo has
                # none, and a line the memo does not hold is asked below.
                if run and line.startswith(head):
                    end = line.find(mark, at)
                    if end > at:
                        # The entry read ahead is this body's where the body read ahead
                        # (all after the line's first "): ") starts where the run's
                        # mark ends (and then the line ends with it: no "\r\n").
                        hit: _Entry | None
                        if read_hit is not None and len(line) - len(tail) == end + skip:
                            text, body, hit = line, tail, read_hit
                        else:
                            text = line.rstrip("\r\n")
                            body = text[end + skip:]
                            hit = entries.get(body)
                            if hit is None:  # a body read ahead twice in the round
                                hit = ahead.get(body)
                        if (hit is not None and hit[1] == line[at:end]
                                and (rec := hit[2]) is not None and hit[0] != EOE
                                and len(text) <= MAX_RECORD_LENGTH):
                            if now is None:  # log mode: the line has the run's time
                                run.append(text)
                                recs.append(rec)
                                kept.append(position)
                                held += 1
                                if not self._run_idle:
                                    if assembler.first_step_due(self._run_now):
                                        out += self._first_step(self._run_now)
                                    else:  # (the assembler stays as it is while the run goes)
                                        self._run_idle = True
                                if hit[0] == PROCTITLE:
                                    self._feeding = i
                                    out += self._lane_close()
                                    run = self._run  # (empty: the next line starts a run)
                                continue
                            last = self._run_nows[-1]
                            # Live: not when the held event times out first, nor for a user
                            # message (the lane's checks).
                            if now - assembler.timeout < last and not stands_alone(hit[0]):
                                run.append(text)
                                recs.append(rec)
                                kept.append(position)
                                self._run_nows.append(now)
                                self._last_now = now
                                held += 1
                                # After a line with the same now, the first step has nothing
                                # left to do (no expiry due, the serial seen).
                                if now != last and assembler.first_step_due(now):
                                    out += self._first_step(now)
                                continue
                        # One the memo does not hold (a new body, the live EOE): the lane's
                        # way for a line of the run, with what _record_line would check.
                        self._feeding = i
                        type_name = line[at:end]
                        if (" " not in type_name and len(text) <= MAX_RECORD_LENGTH
                                and "\x00" not in text and text.count("msg=audit(", 1) <= 1):
                            rtype = MSG_TYPE_NUMBERS.get(type_name)
                            if rtype is None:
                                rtype = type_number_for(type_name)
                            shipped = self._lane_next(
                                fast, text, end + skip, type_name, rtype, position, now, body,
                                hit)
                            if shipped is not None:
                                self.lines += 1
                                out += shipped
                                run, recs, kept = self._run, self._run_recs, self._run_positions
                                head, mark = self._run_head, self._run_mark
                                at, skip = len(head), len(mark)
                                continue
                self._feeding = i
                found = match(line)
                shipped = None if found is None else self._record_line(
                    fast, line, now, position, found,
                    read_hit if len(line) - len(tail) == found.end() else None)
                if shipped is None:
                    out += self.feed(line, now, position)
                else:
                    self.lines += 1
                    out += shipped
                run, recs, kept = self._run, self._run_recs, self._run_positions
                head, mark = self._run_head, self._run_mark
                at, skip = len(head), len(mark)
        except BaseException:
            self._feeding = i  # the line that raised
            raise
        finally:
            self.lines += held
            self.records += held
            self._ahead = {}
            self._ahead_long = {}
            self._closed = None
            if closed:
                self._encode_closed(closed, out, failed)

    def _read_ahead(self, fast: FastEncoder, lines: Sequence[str], start: int
                    ) -> tuple[list[str], list[_Entry | None]]:
        """The bodies of the lines from ``start`` on (all after a line's first "): ")
        and their entries (type, type name, entry) where the hot path's memo holds
        them or they were read here, in order, before the lines are fed (see
        :meth:`_feed_from`); the entries read are kept in :attr:`_ahead` (and
        :attr:`_ahead_long`) too, by body, for the lane's other ways.

        Only what the lane would read (a line of one record, no NUL, of a type it
        holds): the memo keeps entries of such bodies only, as the lane's loop
        takes a line whose body it holds without asking again -- and it takes
        one read here the same way. A body is read once: a second line with it
        has its entry (what reading it again would give, the first one its base
        with no word changed), from the memo or :attr:`_ahead`. Only a body of
        at most MEMO_BODY_MAX characters, or a compiler line's EXECVE of at most
        EXECVE_BASE_MAX (argc first: one record), kept apart: the lane asks no
        entry of an event too large for the hot path, whose records are many and
        long (an exec of 100,000 arguments). The lane takes an entry when the
        line's body, type and type name are those read here. A line the lane then
        declines cost its reading, not its output. A line whose reading raises is
        left to the lane, which raises at that line. A line that ends in "\r" or
        "\n", or with a long body, has no entry in the list returned: the lane
        asks with its body stripped, or checks its size first.
        """
        ahead = self._ahead
        ahead_long = self._ahead_long
        fast.lines.check_names()  # (names re-read since: no entry of the old ones is taken)
        entries = fast.lines.entries
        line_rec = fast.lines.line_rec
        bodies = self._bodies
        numbers = MSG_TYPE_NUMBERS
        # Most bodies are in the memo: asked in C (map, compress), and the others
        # looked at closer.
        tails = [line.partition("): ")[2] for line in lines[start:]]
        found: list[_Entry | None] = list(map(entries.get, tails))
        for k in list(compress(range(len(found)), map(is_, found, repeat(None)))):
            line = lines[start + k]
            if line.startswith("type="):
                name_at = 5
            elif line.startswith("node="):
                name_at = line.find(" ") + 1
                if not name_at or not line.startswith("type=", name_at):
                    continue
                name_at += 5
            else:
                continue
            name_end = line.find(" ", name_at)
            body_at = line.find("): ", name_end) + 3
            if name_end < 0 or body_at < 3:
                continue
            body = line[body_at:].rstrip("\r\n")
            long = len(body) > MEMO_BODY_MAX
            if ((body in ahead_long or len(body) > EXECVE_BASE_MAX
                    or not body.startswith("argc=")) if long else body in ahead) or (
                    body in entries or "\x00" in body
                    or "msg=audit(" in body):  # (a second record: the lane holds none)
                continue
            type_name = line[name_at:name_end]
            rtype = numbers.get(type_name)
            if rtype is None:
                rtype = type_number_for(type_name)
            if rtype == EOE or stands_alone(rtype) or (long and rtype != EXECVE):
                continue
            try:
                rec = line_rec(rtype, type_name, body, bodies, looked=True)
            except Exception:  # the lane reads it again, and raises there
                continue
            entry = (ahead_long if long else ahead)[body] = (rtype, type_name, rec)
            # (a long one: the lane's way for long bodies, _lane_next, checks its size)
            if not long and body_at + len(body) == len(line) == body_at + len(tails[k]):
                found[k] = entry
        return tails, found

    def _read_entry(self, fast: FastEncoder, rtype: int, type_name: str, body: str,
                    looked: bool) -> Rec | None:
        """The entry of the line being fed: read ahead, or read now."""
        ahead = (self._ahead_long if len(body) > MEMO_BODY_MAX else self._ahead).get(body)
        if ahead is not None and ahead[0] == rtype and ahead[1] == type_name:
            return ahead[2]
        return fast.lines.line_rec(rtype, type_name, body, self._bodies, looked=looked)

    def _encode_closed(self, closed: list[_Closed], out: list[Shipment],
                       failed: list[tuple[int, Exception]] | None) -> None:
        """The frames of the events the lane closed while the lines were fed, in their
        order (see :meth:`_feed_from`). One that raises is taken out of ``out`` and put
        in ``failed`` with the index of the line that closed it, as if that line had
        raised; without ``failed``, it raises."""
        fast = self.fast
        assert fast is not None  # (the lane closed them)
        limit = self.framer.max_message_size
        fast.check_options()  # (the builder's: as they are for this round)
        signer = self.framer.signer
        record_at = self._record_at  # (record i of the event at hand: _encoding's)
        framed = 0  # (Framer.frame_encoded's count, moved once)
        try:
            for shipment, index, key, recs, lines in closed:
                node, serial, seconds, milliseconds = key
                self._encoding = lines
                try:
                    encoded = fast.encode_parts(node, serial, seconds, milliseconds, 0, recs,
                                                lines, record_at, limit)
                    if encoded is not None:  # (it fits: encode_parts says so)
                        shipment.frame = frame(encoded, signer, limit)
                        shipment.uuid = encoded[2:18]
                        framed += 1
                        continue
                    event = self._event_of(key, lines)
                    built = self._shipment(event, self._build(event), shipment.position)
                except Exception as exc:
                    if failed is None:
                        raise
                    failed.append((index, exc))
                    out.remove(shipment)
                    continue
                shipment.become(built)  # (the placeholder in ``out``)
        finally:
            self.framer.frames += framed
            self._encoding = []  # (no event's lines held past its encoding)

    def feed_kernel(self, msg_type: int, text: str, now: float) -> list[Shipment]:
        """One record from the netlink stream (``now``: a monotonic clock)."""
        self.lines += 1
        return self._spill() + self._take(parse_kernel(msg_type, text), now, None)

    def feed_record(self, record: Record, now: float,
                    position: int | None = None) -> list[Shipment]:
        """One parsed record."""
        out = self._spill()
        self.records += 1
        return out + self._add(record, now, position)

    def _add(self, record: Record, now: float, position: int | None,
             expired: bool = False) -> list[Shipment]:
        self._last_now = now
        if position is not None and record.type != EOE:
            key: Key = (record.node, record.serial, record.seconds, record.milliseconds)
            self._positions.setdefault(key, deque()).append(position)
        if expired:
            return self._ship(self.assembler.add_expired(record, now, serial_seen=True))
        return self._ship(self.assembler.add(record, now))

    def next_deadline(self) -> float | None:
        """The ``now`` at which :meth:`expire` would complete an event (None: never)."""
        # While input flows, every add() expires what is due; so only the
        # idle case matters, where nothing pending was seen after ``_last_now``.
        if (not self.assembler.in_flight and not self._run) or self._last_now is None:
            return None
        return self._last_now + self.assembler.timeout

    def expire(self, now: float) -> list[Shipment]:
        """Let time pass with no input (events without an EOE time out)."""
        out = self._spill()
        return out + self._ship(self.assembler.expire(now))

    def finish(self) -> list[Shipment]:
        """End of input: every pending event is complete."""
        out = self._spill()
        return out + self._ship(self.assembler.flush())

    def input_gap(self) -> None:
        """Records are missing from the input here for a known, counted reason
        (the journal gave them up): their serials are not lost upstream, so
        they must not count as ``serial_gaps`` too."""
        self.assembler.reset_serials()

    def lowest_pending(self) -> int | None:
        """The lowest position of a record still waiting in the assembler."""
        lowest = [q[0] for q in self._positions.values() if q]
        lowest += [p for p in self._run_positions if p is not None]
        return min(lowest) if lowest else None

    # ------------------------------------------------------------------- lane

    def _lane(self, fast: FastEncoder, text: str, position: int | None,
              now: float | None, match: re.Match[str] | None = None,
              hit: _Entry | None = None) -> list[Shipment] | None:
        """The common case of a log, without a Record per line: None if declined.
        ``hit``: the entry of the line's body, if read ahead.

        Replay reads events whose records follow one another and end with
        their PROCTITLE. Such a run of lines, for an event the assembler may
        let go by (Assembler.may_hold), is held here as text with each
        record's hot-path entry (audit_heka.core.line_entries, found by its body), and
        at the PROCTITLE it is encoded and counted as the assembler would
        have (Assembler.went_by); Records and the Event are made only if
        someone asks (Shipment.event). For each line the assembler's expiry
        step is taken as add() takes it (other events may time out then).
        Anything else -- another event's record in between, a line not in
        canonical form, a record the hot path hands to the general one, a
        call other than feed -- first hands the held lines to the assembler
        (:meth:`_spill`), in order, with the ``now`` they would have had and
        without a second expiry step: the same state as if they had never
        been held.
        """
        if match is None:
            match = CANONICAL_LINE.match(text)
        if match is None or "\x00" in text or self.raw_below is not None:
            return None  # (feed() took the lines of at most MAX_RECORD_LENGTH)
        node, type_name, sec, ms, ser = match.groups()
        rtype = MSG_TYPE_NUMBERS.get(type_name)
        if rtype is None:
            rtype = type_number_for(type_name)
        assembler = self.assembler
        live = assembler.live
        stamp = (node, sec, ms, ser)  # node too: an event is (node, time, serial)
        end = match.end()
        if self._run:
            if stamp != self._run_stamp:  # another event's record in between
                if not live and stands_alone(rtype):
                    return self._alone(fast, rtype, type_name, text, end, stamp, position)
                return None
            return self._lane_next(fast, text, end, type_name, rtype, position, now)
        if not live and stands_alone(rtype):
            return self._alone(fast, rtype, type_name, text, end, stamp, position)
        # (int() of a few digits costs a dict look-up several times over: the seconds of
        # the last run are kept)
        if sec != self._run_sec:
            self._run_sec, self._run_seconds = sec, int(sec)
        seconds, milliseconds, serial = self._run_seconds, int(ms), int(ser)
        key: Key = (node, serial, seconds, milliseconds)
        if (rtype == EOE or seconds > MAX_SECONDS or serial > MAX_SERIAL
                or not assembler.may_hold(key) or key in self._positions):
            return None
        if hit is not None and hit[0] == rtype and hit[1] == type_name:
            rec = hit[2]
        else:
            rec = self._read_entry(fast, rtype, type_name, text[end:], False)
        if rec is None:
            return None
        self._run_key = key
        self._run_stamp = stamp
        name_at, name_end = match.span(2)
        self._run_head = text[:name_at]  # "node=... type=" or "type="
        self._run_mark = text[name_end:end]  # " msg=audit(...): "
        self._run_names = fast.interpreter.names_generation
        self._last_ns = seconds * 1_000_000_000 + milliseconds * 1_000_000
        self._run_now = seconds + milliseconds / 1000.0  # log mode's now: event time
        # live: a record that stands alone, its event complete (events.py)
        return self._hold(text, rec, rtype, position, now, live and stands_alone(rtype))

    def _lane_next(self, fast: FastEncoder, text: str, start: int, type_name: str,
                   rtype: int, position: int | None, now: float | None,
                   body: str | None = None, hit: tuple[int, str, Rec | None] | None = None
                   ) -> list[Shipment] | None:
        """:meth:`_lane` for a line of the event going by (its body at ``start``), in
        canonical form, of at most MAX_RECORD_LENGTH characters, one record, no NUL.
        ``body``: given with ``hit``, what the caller found in the memo for it."""
        assembler = self.assembler
        if now is not None and now - assembler.timeout >= self._run_nows[-1]:
            return None  # the held event times out first: the assembler says how
        if rtype == EOE:  # live: the end of the event going by
            if now is None:
                return None  # log mode: the assembler closes it
            self.records += 1
            self._last_now = now
            out = self._first_step(now)
            return out + self._lane_close(by_eoe=True)
        if assembler.live and stands_alone(rtype):
            return None
        # Most lines of a run repeat a body read before: its entry straight from
        # the hot path's memo. (line_rec checked the memo against the names at the
        # run's first line; names re-read since send the event to the general path
        # at its close.)
        if body is None:
            body = text[start:]
            hit = fast.lines.entries.get(body)
        rec: Rec | None
        if hit is not None and hit[0] == rtype and hit[1] == type_name:
            rec = hit[2]
        elif len(body) > MEMO_BODY_MAX and fast.surely_too_large(
                sum(map(len, self._run)) + len(text), self.framer.max_message_size):
            return None  # (only long records are asked: bodies no memo keeps)
        else:
            rec = self._read_entry(fast, rtype, type_name, body, True)
        if rec is None:
            return None
        return self._hold(text, rec, rtype, position, now, False)

    def _hold(self, text: str, rec: Rec, rtype: int, position: int | None,
              now: float | None, alone: bool) -> list[Shipment]:
        """A line the lane took: held with its entry, the assembler's first step taken,
        and the event closed at its PROCTITLE (log mode) or when it stands ``alone``."""
        record_now = self._run_now if now is None else now
        self._run.append(text)
        self._run_recs.append(rec)
        self._run_positions.append(position)
        if now is not None:  # (log mode: every line has the run's time)
            self._run_nows.append(now)
        self._last_now = record_now
        self.records += 1
        assembler = self.assembler
        due = assembler.first_step_due(record_now)
        self._run_idle = not due
        out = self._first_step(record_now) if due else []
        if alone or (rtype == PROCTITLE and not assembler.live):
            out += self._lane_close()
        return out

    def _alone(self, fast: FastEncoder, rtype: int, type_name: str, text: str, start: int,
               stamp: tuple[str | Any, ...], position: int | None) -> list[Shipment] | None:
        """A record that stands alone (a user message), in log mode: it waits in the
        assembler for its timeout (events.py), but its entry is read here, patched from
        the last record of its program without a parse (LineEntries.line_rec, in
        audit_heka.core.line_entries), and its Record is made of that entry's fields --
        the parse's -- for the assembler; the event's encoding finds the entry by its
        body."""
        seconds, milliseconds, serial = int(stamp[1]), int(stamp[2]), int(stamp[3])
        if seconds > MAX_SECONDS or serial > MAX_SERIAL:
            return None
        body = text[start:]
        rec = fast.lines.line_rec(rtype, type_name, body, self._bodies)
        if rec is None:
            return None
        fast.lines.keep_line(rtype, type_name, body, rec)
        record = Record(rtype, type_name, seconds, milliseconds, serial, stamp[0], rec.fields,
                        rec.enriched, rec.free_text, body, rec.msg_fields, "")
        return self._spill() + self._take(record, None, position)

    def _first_step(self, now: float) -> list[Shipment]:
        """add()'s first step for a record the lane takes: events of other keys that
        timed out, and the serial seen (live)."""
        assembler = self.assembler
        if not assembler.first_step_due(now):
            return []
        return self._ship(assembler.first_step(self._run_key[1], now))

    def _lane_close(self, by_eoe: bool = False) -> list[Shipment]:
        lines, recs, positions = self._run, self._run_recs, self._run_positions
        self._run, self._run_recs, self._run_positions = [], [], []
        if self._run_nows:  # (live only)
            self._run_nows = []
        key = self._run_key
        self.assembler.went_by(key, len(lines), by_eoe)
        self.messages += 1
        try:  # (a None among them: no order)
            position = min(positions)  # type: ignore[type-var]
        except TypeError:
            known = [p for p in positions if p is not None]
            position = min(known) if known else None
        fast = self.fast
        assert fast is not None
        # Names re-read while the event went by: its entries may have the old ones, and
        # the general path interprets the event now.
        if fast.interpreter.names_generation != self._run_names:
            event = self._event_of(key, lines)
            return [self._shipment(event, self._build(event), position)]
        # Its records and Event are made only if asked.
        shipment = Shipment(None, None, None, position,
                            timestamp=key[2] * 1_000_000_000 + key[3] * 1_000_000,
                            event_of=(self, key, lines))
        closed = self._closed
        if closed is not None:  # (feed_lines: encoded after its lines)
            closed.append((shipment, self._feeding, key, recs, lines))
        else:
            self._encode_closed([(shipment, -1, key, recs, lines)], [shipment], None)
        return [shipment]

    def _record_at(self, i: int) -> Record:
        """Record ``i`` of the event :meth:`_encode_closed` is at (the encoder asks few)."""
        return self._record_of(self._encoding[i])

    def _event_of(self, key: Key, lines: list[str]) -> Event:
        """The Event of one the lane closed, made when someone asks (Shipment.event)."""
        node, serial, seconds, milliseconds = key
        return Event(node, serial, seconds, milliseconds,
                     tuple(self._record_of(line) for line in lines), 0)

    def _record_of(self, line: str) -> Record:
        record = parse_line(line, self._bodies)
        assert isinstance(record, Record)  # the lane took only lines that parse
        return record

    def _spill(self) -> list[Shipment]:
        """The lines held by the lane, handed to the assembler as they came."""
        if not self._run:
            return []
        lines, positions, nows = self._run, self._run_positions, self._run_nows
        self._run, self._run_recs, self._run_positions, self._run_nows = [], [], [], []
        if not self.assembler.live:
            nows = [self._run_now] * len(lines)
        out: list[Shipment] = []
        for line, position, now in zip(lines, positions, nows, strict=True):
            # Without add()'s first step: the lane took it when the line came.
            out += self._add(self._record_of(line), now, position, expired=True)
        return out

    def frame_message(self, message: Message) -> bytes | None:
        """Frame a message that does not come from the input (health reports).

        Same rules as for events: degraded to fit, refused (``oversize``)
        only when its header alone is too large.
        """
        return self.framer.frame(message)

    # --------------------------------------------------------------- internals

    def _take(self, parsed: Record | ParseError, now: float | None,
              position: int | None) -> list[Shipment]:
        if isinstance(parsed, ParseError):
            # Never discarded: shipped whole, with the reason (issue 17).
            self.parse_errors[parsed.reason] += 1
            self.error_samples.append(parsed)
            self.messages += 1
            message = self.builder.build_unparsed(parsed, self._last_ns)
            return [self._shipment(None, message, position)]
        if parsed.problem:  # kept and shipped (parse_error field), but counted
            self.parse_errors[parsed.problem] += 1
            self.error_samples.append(ParseError(parsed.problem, parsed.log_line()))
        self._last_ns = parsed.timestamp_ns
        if now is None:
            now = parsed.seconds + parsed.milliseconds / 1000.0
        return self.feed_record(parsed, now, position)

    def _ship(self, events: Sequence[Event]) -> list[Shipment]:
        out = []
        for event in events:
            position = self._position(event)
            self.messages += 1
            if self.raw_below is not None and position is not None and position < self.raw_below:
                self.shipped_raw += 1
                message = self._raw_message(event, "shipped raw: the shipper kept stopping here")
            else:
                fast = self.fast
                encoded = fast.encode(event, self.framer.max_message_size) if fast else None
                if encoded is not None:
                    out.append(Shipment(
                        event, None, self.framer.frame_encoded(encoded), position,
                        uuid=encoded[2:18], timestamp=event.timestamp_ns))
                    continue
                message = self._build(event)
            out.append(self._shipment(event, message, position))
        return out

    def _shipment(self, event: Event | None, message: Message,
                  position: int | None) -> Shipment:
        degraded = self.framer.degraded
        data = self.framer.frame(message)
        return Shipment(event, message, data, position, self.framer.degraded != degraded)

    def _position(self, event: Event) -> int | None:
        key: Key = (event.node, event.serial, event.seconds, event.milliseconds)
        queue = self._positions.get(key)
        if not queue:
            return None
        lowest = queue[0]
        for _ in range(min(len(event.records), len(queue))):
            lowest = min(lowest, queue.popleft())
        if not queue:
            del self._positions[key]
        return lowest

    def _build(self, event: Event) -> Message:
        """The event's message; one that cannot be built goes out raw, never lost.

        An exception while interpreting one event (a bug, a record shape
        nobody foresaw) must not stop the stream nor, on a restart from the
        same journal, stop it again at the same record: the event is shipped
        with its records in Payload and an ``error`` field, and counted.
        """
        try:
            return self.builder.build(event)
        except Exception as exc:  # one event must not stop the stream
            self.build_errors += 1
            error = f"{type(exc).__name__}: {exc}"
            self.build_error_samples.append(f"event {event.serial}: {error}")
            return self._raw_message(event, error)

    def _raw_message(self, event: Event, error: str) -> Message:
        host = event.node if event.node is not None else self.builder.hostname
        return Message(
            uuid=event_uuid(host, event.seconds, event.milliseconds, event.serial, event.part),
            timestamp=event.timestamp_ns,
            type=self.builder.message_type,
            logger=LOGGER,
            severity=4,
            payload="\n".join(r.log_line() for r in event.records),
            hostname=host,
            fields=(
                Field.string("error", error[:1000]),
                Field.integer("serial", event.serial),
            ),
        )

    # -------------------------------------------------------------- reporting

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
            "frames": self.framer.frames,
            "payload_dropped": self.framer.payload_dropped,
            "degraded": self.framer.degraded,
            "oversize": self.framer.oversize,
            "build_errors": self.build_errors,
            "shipped_raw": self.shipped_raw,
            "malformed_records": sum(self.parse_errors.values()),
            "events_in_flight": a.in_flight + (1 if self._run else 0),
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
    it is degraded (audit_heka.core.degrade: the Payload first, then fields by
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
        payload = message.payload
        # A payload longer than the limit (a str is no longer than its UTF-8) makes the
        # message surely too large: degraded without encoding it whole first, the
        # degradation sizing from lengths (an exec of megabytes of arguments).
        encoded = (None if payload is not None and len(payload) > self.max_message_size
                   else encode_message(message))
        if encoded is None or len(encoded) > self.max_message_size:
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

    def frame_encoded(self, encoded: bytes) -> bytes:
        """The frame of a message encoded elsewhere that fits ``max_message_size``."""
        data = frame(encoded, self.signer, self.max_message_size)
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
        from audit_heka.core.degrade import degrade  # noqa: PLC0415 - see _degrade

        degraded = degrade(message, limit)
        if degraded is None:
            return None
        return frame(encode_message(degraded.message), self.signer, self.max_message_size)

    def _degrade(self, message: Message, limit: int) -> bytes | None:
        # Imported by the first message too large (~0.4 ms of start-up that most replays skip).
        from audit_heka.core.degrade import degrade  # noqa: PLC0415

        degraded = degrade(message, limit)
        if degraded is None:
            self.oversize += 1
            return None
        if degraded.payload_dropped:
            self.payload_dropped += 1
        if degraded.fields_cut:
            self.degraded += 1
        return encode_message(degraded.message)

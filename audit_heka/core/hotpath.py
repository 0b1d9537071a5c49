"""The bytes-first hot path: an event's Heka Message bytes from memoised field encodings.

Why: building a Message object per event -- a Record, a dozen Field objects, a
Message, then encoding them -- made replay and the shipper cost ~240 us per
exec event, mostly in CPython's object machinery (issue 13). Audit values
repeat: the same uids, exe, comm, cwd, key, proctitle event after event,
and a storm repeats whole records. So the finished protobuf encodings are
memoised and an event's message is a join of bytes:

* per record, its :class:`~audit_heka.core.entries.Rec`: the record's keys in
  order and, per key, a :class:`~audit_heka.core.entries.Piece` holding the
  encodings of its raw Field and of its interpretation (``<key>_i``) -- plus
  what the event header takes from the record (severity, pid). A log line's
  comes from audit_heka.core.line_entries (by body, by words, or patched from
  one like it), a parsed Record's from audit_heka.core.record_entries (which
  memoises pieces by value for both);
* per event shape (its records' types and keys), the plan
  (audit_heka.core.plans): which key becomes which field, single or aligned on
  repeated records, collision prefixes, where ``argv`` goes; a group of the
  plan's fields is remembered by its records' entries, or patched op by op from
  the last one;
* the header (uuid by hashlib.sha1, timestamp, severity, pid, hostname) is
  encoded directly.

Semantics live in one place: audit_heka.core.schema.MessageBuilder. This module
answers only for the common case and says ``None`` for anything unusual --
a record parsed in part, a repeated key or a forged library field, an
interpretation that raised, an enricher, EXECVE keys spread over records,
a name that is not UTF-8 -- and the caller then takes the builder's general
path. The general path is the reference: the tests compare the two byte for
byte on corpora, fuzz seeds and hypothesis-mutated records.

Memos are bounded (cleared when full) and dropped when their inputs change:
the interpreter's ``names_generation`` (user/group names re-read) and the
builder's hostname, type and payload options. An interpretation naming an id
as ``unknown(...)`` is never memoised (the account may appear: the
interpreter asks again each time, so does this).
"""

from __future__ import annotations

from itertools import compress, count
from operator import is_not

from audit_heka.core.entries import (
    EMPTY_STRING,
    INTEGER,
    LASTING_OF,
    STRING,
    VOLATILE_OF,
    Piece,
    Rec,
    Text,
    field_entry,
    integers_element,
    string_element,
    text_elements,
    utf8,
)
from audit_heka.core.events import Event
from audit_heka.core.interpret import (
    CONTEXT_KINDS,
    Interpreter,
)
from audit_heka.core.line_entries import LineEntries
from audit_heka.core.plans import (
    ALIGNED,
    ALIGNED_MEMO_SIZE,
    MISSING_PLAN,
    SINGLE,
    Aligned,
    Op,
    Plan,
    Recent,
    dependencies,
    make_plan,
)
from audit_heka.core.record_entries import (
    PLAN_MEMO_SIZE,
    RECORD_MEMO_SIZE,
    RecordEntries,
)
from audit_heka.core.records import Record, memo_keeps
from audit_heka.core.schema import (
    AUDIT_HEKA_NAMESPACE,
    LOGGER,
    MessageBuilder,
    integer_key,
)
from audit_heka.heka.message import varint

try:  # hashlib's own SHA-1: hashlib itself starts OpenSSL (~4 ms of replay's start-up)
    from _sha1 import sha1  # type: ignore[import-not-found]
except ImportError:  # a Python built without its bundled hashes
    from hashlib import sha1

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

ARGV_MEMO_SIZE = 1024  # argv encodings remembered, by the EXECVE records' bodies
GROUP_MEMO_SIZE = 4096  # group encodings remembered, all plans together
MEMO_BYTES_MAX = 16384  # bytes of a group's or argv's encoding remembered


class FastEncoder:
    """Event -> encoded Message bytes for the common case; None: use the general path.

    Shares the builder's interpreter, options and counters: an event encoded
    here counts exactly what the builder would have counted.
    """

    @classmethod
    def of(cls, builder: MessageBuilder) -> FastEncoder | None:
        """The hot path of a builder, or None when the builder has rules of its own (a
        subclass) or its interpreter is not ours (a stand-in: the general path asks only
        what InterpreterLike promises)."""
        interpreter = builder.interpreter
        if type(builder) is not MessageBuilder or not isinstance(interpreter, Interpreter):
            return None
        return cls(builder, interpreter)

    def __init__(self, builder: MessageBuilder, interpreter: Interpreter) -> None:
        self.builder = builder
        #: The builder's interpreter (:meth:`of` checks it is one).
        self.interpreter = interpreter
        self.encoded = 0  # events encoded here
        self.general = 0  # events handed to the general path
        #: The entries of parsed records, and the memos of pieces they share with
        #: :attr:`lines`.
        self.records = RecordEntries(interpreter)
        #: The entries of log lines (the session's lane reads them).
        self.lines = LineEntries(self.records)
        self._records: dict[tuple[int, str, str], Rec | None] = {}  # by Record (encode)
        self._plans: dict[tuple[int, ...], Plan | None] = {}
        self._argvs: dict[tuple[Rec, ...], bytes] = {}
        self._group_entries = 0  # in all plans' group memos
        self._generation = -1
        self._malformed: list[str] = []  # counted when the event's bytes are returned
        self._fill = 0
        self._stamp = -1  # the last timestamp and its varint
        self._stamp_bytes = b""
        self._serial_high = -1  # the last serial >> 7, and its varint's bytes after the first
        self._serial_tail = b""
        self._serial_entry = b""  # _SERIAL_ENTRIES of its length
        self._pid: int | None = None  # the last Pid and its entry
        self._pid_entry = b""
        self._options: tuple[str, str, bool] | None = None
        self._type_logger = b""
        self._hostname = b""
        self._name_host: str | None = None  # the host of the last uuid's name
        self._name_prefix = b""  # the namespace's bytes and that host's, "|"
        self._name_seconds = -1  # the seconds of the last uuid's name, and that name
        self._name_head = b""  # up to its "." (events of one second share it)

    # ------------------------------------------------------------------ public

    def encode(self, event: Event, limit: int) -> bytes | None:
        """The event's message bytes, or None when the general path must build it.

        None too for a message over ``limit`` bytes: the general path degrades
        it to fit (audit_heka.core.degrade). Counters move only when bytes are
        returned, so that the general path never counts an event twice.
        """
        records = event.records
        # Its records' bodies, a lower bound of the payload, first: an event of megabytes
        # is not copied into lines only to be declined.
        if self.surely_too_large(sum([len(r.text) for r in records]), limit):
            self.general += 1
            return None
        lines = [r.log_line() for r in records]
        if self.surely_too_large(sum(map(len, lines)), limit):  # (before the entries)
            self.general += 1
            return None
        recs: list[Rec] = []
        self._check_names()
        memo = self._records
        for record in records:
            rec = memo.get((record.type, record.type_name, record.text))
            if rec is None or (rec.fields is not record.fields and not rec.matches(record)):
                rec = self._record(record)
                if rec is None:
                    self.general += 1
                    return None
            recs.append(rec)
        self.check_options()
        return self.encode_parts(event.node, event.serial, event.seconds, event.milliseconds,
                                 event.part, recs, lines, records.__getitem__, limit)

    def surely_too_large(self, payload: int, limit: int) -> bool:
        """Whether an event whose log lines hold ``payload`` characters is left to
        the general path for its size, the hot path's work on it being thrown away.

        Why: a message over ``limit`` is cut to fit by the general path
        (audit_heka.core.degrade), the only one that can; an event written to
        cost us (a long argv) gets there after its records' entries and its whole
        encoding here. A message holds its payload and each value at least once
        more (EXECVE's twice: raw and as text), so with a payload over half the
        limit it hardly ever fits. Where it would have, the general path gives the
        same bytes: a wrong guess costs time, not output.
        """
        return self.builder.payload and payload > limit // 2

    def encode_parts(self, node: str | None, serial: int, seconds: int, milliseconds: int,
                     part: int, recs: list[Rec], lines: list[str],
                     record_at: Callable[[int], Record], limit: int) -> bytes | None:
        """:meth:`encode` from an event's parts: its records' entries and log lines;
        ``record_at(i)`` gives record i when an entry does not say enough (rare). The
        caller asked :meth:`check_options` since the builder's options last changed (once
        for a round of events: the session's lane)."""
        payload = None
        if self.builder.payload:
            payload = "\n".join(lines)  # (its length less its "\n"s: the lines')
            if lines and len(payload) - len(lines) + 1 > limit // 2:  # (surely_too_large)
                self.general += 1  # degraded there, at once
                return None
        self._malformed.clear()
        self._fill = 0
        try:
            data = self._encode(node, serial, seconds, milliseconds, part, recs, payload,
                                record_at)
        except Exception:  # whatever went wrong here, the general path decides (and says)
            data = None
        if data is None or len(data) > limit:
            self.general += 1
            return None
        malformed, fill = self._malformed, self._fill
        if malformed or fill:
            counters = self.builder.counters
            for key in malformed:
                counters.malformed_integer += 1
                counters.by_key[key] = counters.by_key.get(key, 0) + 1
            counters.aligned_fill += fill
        self.encoded += 1
        return data

    def _encode(self, node: str | None, serial: int, seconds: int, milliseconds: int,
                part: int, recs: list[Rec], payload: str | None,
                record_at: Callable[[int], Record]) -> bytes | None:
        """The message of encode_parts; ``payload``: its lines joined, if the builder
        writes one."""
        builder = self.builder
        timestamp = seconds * 1_000_000_000 + milliseconds * 1_000_000
        # (both in 0..2**63-1, Heka's int64: a negative or a larger one has bits past 63)
        if builder.enricher is not None or not recs or (timestamp | serial) >> 63:
            return None
        # The plan's key and the severity (informational; warning if a record says so),
        # in one loop: map() and any() over a few records cost more.
        shapes = []
        severity = b"\x28\x06"
        for rec in recs:
            shapes.append(rec.shape)
            if rec.warn:
                severity = b"\x28\x04"
        shape = tuple(shapes)
        plan = self._plans.get(shape, MISSING_PLAN)
        if plan is MISSING_PLAN:
            if len(self._plans) >= PLAN_MEMO_SIZE:
                self._plans.clear()
            plan = self._plans[shape] = make_plan(recs)
        if plan is None:
            return None
        out = [b"", plan.head]
        if node is not None:
            out.append(field_entry(b"\x0a\x04node" + STRING + string_element(node)))
        malformed = self._malformed
        for step in plan.steps:
            if isinstance(step, int):  # a record's own fields
                rec = recs[step]
                if rec.malformed:
                    malformed.extend(rec.malformed)
                out.append(rec.joined)
                for piece, after in rec.parts:  # (volatile pieces: their texts asked now)
                    out += (piece.single,
                            self._text_field(piece, record_at, step, piece.name_i), after)
                continue
            _, indexes, ops, memo, recent = step
            # A group whose bytes depend on its records only: memoised by them.
            members = tuple([recs[i] for i in indexes])
            hit = memo.get(members)
            if hit is None:
                fill = self._fill
                start = len(malformed)
                data = (self._group_bytes(ops, recs, record_at)
                        if recent is None or any(map(VOLATILE_OF, members))
                        else self._group_patched(ops, recs, record_at, indexes, members,
                                                 recent))
                hit = (data, malformed[start:], self._fill - fill)
                if len(data) <= MEMO_BYTES_MAX and all(map(LASTING_OF, members)):
                    self._count_group_entry()
                    if len(memo) >= ALIGNED_MEMO_SIZE:
                        memo.clear()
                    memo[members] = hit
            else:
                malformed.extend(hit[1])
                self._fill += hit[2]
            out.append(hit[0])
        if serial >> 7 != self._serial_high:  # the next serial: its low byte only changes
            self._serial_high = serial >> 7
            number = varint(serial)
            self._serial_tail = number[1:]
            self._serial_entry = _SERIAL_ENTRIES[len(number)]
        out[0] = (self._serial_entry + _LOW_BYTE[serial & 0x7F] + self._serial_tail
                  if serial >= 0x80 else _SERIAL_ENTRIES[1] + bytes((serial,)))
        # uuid5 of "host|seconds.ms|serial": the namespace and host's bytes made once.
        host = node if node is not None else builder.hostname
        if host != self._name_host:
            self._name_prefix = AUDIT_HEKA_NAMESPACE + f"{host}|".encode()
            self._name_host = host  # (after the encoding: a host it refuses is asked again)
            self._name_seconds = -1
        if seconds != self._name_seconds:
            self._name_seconds = seconds
            self._name_head = b"%s%d." % (self._name_prefix, seconds)
        # (milliseconds are 0-999: the parser takes three digits, and the kernel writes
        # them; past them, the IndexError sends the event to the general path)
        name = b"%b%b%d" % (self._name_head, _MILLIS[milliseconds], serial)
        if part:
            name += b"#%d" % part
        digest = sha1(name, usedforsecurity=False).digest()
        pid = recs[plan.pid_rec].pid if plan.pid_rec >= 0 else None
        if timestamp != self._stamp:  # events of one millisecond share it
            self._stamp, self._stamp_bytes = timestamp, varint(timestamp)
        head = [
            b"\x0a\x10", digest[:6], _VERSION5[digest[6] & 0x0F], digest[7:8],
            _VARIANT[digest[8] & 0x3F], digest[9:16], b"\x10", self._stamp_bytes,
            self._type_logger, severity,
        ]
        if payload is not None:
            data = utf8(payload)
            head += (b"\x32", varint(len(data)), data)
        if pid is not None:
            if pid != self._pid:  # (a process's events follow one another)
                self._pid, self._pid_entry = pid, b"\x40" + varint(pid)
            head.append(self._pid_entry)
        head.append(self._hostname if node is None else _host(node))
        head += out
        return b"".join(head)

    # --------------------------------------------------------------- internals

    def _check_names(self) -> None:
        """Drop the memos of interpreted texts when the user/group names were re-read."""
        if self.interpreter.names_generation != self._generation:
            self._generation = self.interpreter.names_generation
            self._records.clear()
            self.lines.check_names()  # (and the records' memos)

    def check_options(self) -> None:
        """The header's encodings follow the builder's options (its message type, hostname
        and payload: a caller may change them between events)."""
        builder = self.builder
        options = (builder.message_type, builder.hostname, builder.payload)
        if options != self._options:
            self._options = options
            self._type_logger = (b"\x1a" + _len_str(builder.message_type)
                                 + b"\x22" + _len_str(LOGGER))
            self._hostname = _host(builder.hostname)

    def _record(self, record: Record) -> Rec | None:
        key = (record.type, record.type_name, record.text)
        memo = self._records
        if key in memo:
            hit = memo[key]
            if hit is None or hit.matches(record):
                return hit
        # The lane's entry of this body, when it read the line before handing it to the
        # assembler (a record that stands alone, a user message: it waits for its timeout).
        read = self.lines.entries.get(record.text)
        rec = read[2] if read is not None and read[0] == record.type and (
            read[1] == record.type_name) else None
        if rec is None or not rec.matches(record):
            rec = self.records.entry(record)
        if not memo_keeps(record.text, record.fields):
            if rec is not None:  # no memo keeps it: nor will one keep what is keyed by it
                rec.lasting = False
            return rec
        if rec is None or rec.matches(record):  # (a hand-made record may not match its text)
            if len(memo) >= RECORD_MEMO_SIZE:
                memo.clear()
            memo[key] = rec
        return rec

    def _count_group_entry(self) -> None:
        """One more group or aligned field remembered: all plans' together are bounded."""
        self._group_entries += 1
        if self._group_entries > GROUP_MEMO_SIZE:
            for plan in self._plans.values():
                if plan is not None:
                    for group in plan.groups:
                        group[3].clear()
                        for op in group[2]:
                            op[7].clear()
            self._group_entries = 1

    def _group_bytes(self, ops: tuple[Op, ...], recs: list[Rec],
                     record_at: Callable[[int], Record]) -> bytes:
        """A group's fields (and their ``_i``), in plan order.

        An aligned field is first looked up by its pieces (most keys of a PATH
        group carry values seen before even when one record is new).
        """
        out = []
        for op in ops:
            kind, name, name_i, key, where, index, plain, memo = op
            if kind == ALIGNED:
                pieces = tuple([recs[i].pieces[j] if i is not None and j is not None else None
                                for i, j in zip(where, index, strict=True)])
                hit = memo.get(pieces)
                if hit is None:
                    out.append(self._aligned(pieces, record_at, name, name_i, key, where, memo))
                    continue
                data, bad, filled = hit
                if bad:
                    self._malformed.extend([key] * bad)
                self._fill += filled
                out.append(data)
            elif kind == SINGLE:
                i = where[0]
                assert i is not None
                piece = recs[i].pieces[index[0] or 0]
                if piece.malformed:
                    self._malformed.append(key)
                if plain and not piece.volatile:
                    out.append(piece.single)
                else:
                    out.append(piece.raw_field(name)
                               + self._text_field(piece, record_at, i, name_i))
            else:
                out.append(self._argv(recs))
        return b"".join(out)

    def _group_patched(self, ops: tuple[Op, ...], recs: list[Rec],
                       record_at: Callable[[int], Record], indexes: tuple[int, ...],
                       members: tuple[Rec, ...], recent: Recent) -> bytes:
        """:meth:`_group_bytes` of records none of them volatile, from the group's last
        encoding: only the ops that read a piece not in the last records are done."""
        last = recent.members
        if last is None:
            if not recent.primed:  # a plan's first miss: most plans of a log are seen once
                recent.primed = True
                return self._group_bytes(ops, recs, record_at)
            if recent.deps is None:
                recent.deps, recent.always = dependencies(ops)
            redo: Iterable[int] = range(len(ops))
            recent.parts = [b""] * len(ops)
            recent.bad = [[] for _ in ops]
            recent.fills = [0] * len(ops)
        else:
            again = set(recent.always)
            deps = recent.deps
            assert deps is not None  # (made before the first ``members``)
            for i, new, old in zip(indexes, members, last, strict=True):
                # (an EXECVE patched for new arguments has its base's pieces: argv is
                # in ``always``, and nothing else was redone)
                if new is not old and new.pieces is not old.pieces:
                    for j in compress(count(), map(is_not, new.pieces, old.pieces)):
                        again.update(deps.get((i, j), ()))
            redo = again
        parts, bad, fills = recent.parts, recent.bad, recent.fills
        malformed = self._malformed
        for n in redo:
            mark, fill = len(malformed), self._fill
            parts[n] = self._group_bytes((ops[n],), recs, record_at)
            bad[n] = malformed[mark:]
            del malformed[mark:]
            fills[n] = self._fill - fill
            self._fill = fill
        if any(bad):
            for keys in bad:
                malformed += keys
        self._fill += sum(fills)
        data = b"".join(parts)
        if len(data) <= MEMO_BYTES_MAX:  # memory bounded by size, as the memos'
            recent.members = members
        else:
            recent.members = None
            recent.parts, recent.bad, recent.fills = [], [], []
        return data

    def _text_field(self, piece: Piece, record_at: Callable[[int], Record], i: int,
                    name_i: bytes) -> bytes:
        if not piece.volatile:
            return piece.text_field(name_i)
        text = self._volatile_text(piece, record_at, i)
        if text is None:
            return b""
        asked = piece.asked
        if text == asked[0] and name_i == asked[1]:
            return asked[2]
        field = field_entry(name_i + STRING + text_elements(text)[0])
        piece.asked = (text, name_i, field)
        return field

    def _volatile_text(self, piece: Piece, record_at: Callable[[int], Record], i: int) -> Text:
        """A text that names an id found unknown before: asked again, as the interpreter
        does (of the record only when the text depends on its other fields)."""
        interpreter = self.interpreter
        if piece.kind in _NAME_KINDS:  # asked of the map again: the same text while unknown
            name = interpreter.known_name(piece.kind, piece.raw)
            return piece.text if name is None else name
        if piece.kind is not None and piece.kind not in CONTEXT_KINDS:
            return interpreter.plain(piece.kind, piece.raw)
        return interpreter.field_text(record_at(i), piece.key, piece.raw, None)

    def _aligned(self, pieces: tuple[Piece | None, ...], record_at: Callable[[int], Record],
                 name: bytes, name_i: bytes, key: str, where: tuple[int | None, ...],
                 memo: Aligned) -> bytes:
        """A key of a repeated record type: arrays aligned on its records (as schema's),
        remembered by its pieces (see :meth:`_group_bytes`)."""
        # One pass, no generator per step: this runs for every new item of a group.
        values: list[bytes] = []  # the raw array's STRING elements (a filler where missing)
        packed: list[bytes] = []  # its INTEGER values (of the pieces present)
        texts: list[bytes] = []  # the ``_i`` array's elements (a filler where no text)
        missing = bad = no_text = 0
        volatile = once = False
        for p, i in zip(pieces, where, strict=True):
            if p is None or i is None:
                missing += 1
                no_text += 1
                values.append(EMPTY_STRING)
                texts.append(EMPTY_STRING)
                continue
            if p.malformed:
                bad += 1
            values.append(p.value)
            packed.append(p.packed)
            if p.once:
                once = True
            if p.volatile:
                volatile = True
                text = self._volatile_text(p, record_at, i)
                element = text_elements(text)[1] if text is not None else None
            else:
                element = p.text_joined if p.text is not None else None
            if element is None:
                no_text += 1
                texts.append(EMPTY_STRING)
            else:
                texts.append(element)
        if bad:
            self._malformed += [key] * bad
        filled = 0
        if integer_key(key) and not missing and not bad:
            out = field_entry(name + INTEGER + integers_element(b"".join(packed)))
        else:
            filled = missing
            out = field_entry(name + STRING + b"".join(values))
        if no_text < len(texts):  # a text for some: the others' are fillers
            filled += no_text
            out += field_entry(name_i + STRING + b"".join(texts))
        self._fill += filled
        if len(out) <= MEMO_BYTES_MAX and not volatile and not once:
            self._count_group_entry()
            if len(memo) >= ALIGNED_MEMO_SIZE:
                memo.clear()
            memo[pieces] = (out, bad, filled)
        return out

    def _argv(self, recs: list[Rec]) -> bytes:
        key = tuple([r for r in recs if r.execve])  # entries stand for their fields
        data = self._argvs.get(key)
        if data is None:
            one = key[0] if len(key) == 1 else None
            elements = None if one is None else self.lines.argv_elements(one)
            if elements is None:
                elements = list(map(string_element,
                                    self.interpreter.argv_of([r.fields for r in key])))
            data = field_entry(b"\x0a\x04argv" + STRING + b"".join(elements))
            if len(data) > MEMO_BYTES_MAX:
                if one is not None:
                    one.argv_elements = None  # (memory bounded by size, as the memos')
                return data
            if not all(map(LASTING_OF, key)):
                return data  # an entry no memo keeps (a new command line) is not asked again
            if len(self._argvs) >= ARGV_MEMO_SIZE:
                self._argvs.clear()
            self._argvs[key] = data
        return data


def _len_str(text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape")
    return varint(len(data)) + data


def _host(hostname: str) -> bytes:
    return b"\x4a" + _len_str(hostname)


_NAME_KINDS = frozenset({"UID", "GID"})  # texts naming an id: uid() and gid()
# The ``serial`` field's entry up to its value, by the value's length (a varint of at
# most 10 bytes): tag, length, name, INTEGER, packed value_integer of that length.
_SERIAL_ENTRIES = tuple(
    b"\x52" + bytes((12 + n,)) + b"\x0a\x06serial" + INTEGER + b"\x32" + bytes((n,))
    for n in range(11))
_LOW_BYTE = tuple(bytes((b | 0x80,)) for b in range(0x80))  # a varint's first of several
_MILLIS = tuple(b"%03d|" % ms for ms in range(1000))  # a uuid name's milliseconds
_VERSION5 = tuple(bytes(((b & 0x0F) | 0x50,)) for b in range(16))
_VARIANT = tuple(bytes(((b & 0x3F) | 0x80,)) for b in range(64))

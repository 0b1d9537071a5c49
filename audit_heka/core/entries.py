"""What an event's message takes from one record: its fields, encoded once.

Why: the hot path (audit_heka.core.hotpath) joins finished protobuf bytes rather than
building Field objects per event. A :class:`Piece` is one key of one record -- its raw
Field and its interpretation (``<key>_i``), encoded -- and a :class:`Rec` is a record's
pieces in order, with what the event's header takes from it (severity, pid) and, in
the common case, all its fields joined into one string of bytes. Each is made once per
new value or record; the hot path's memos find them again.
"""

from __future__ import annotations

from itertools import compress
from operator import attrgetter

from audit_heka.core.records import Record
from audit_heka.core.schema import (
    EXECVE,
    FAILURE_VALUES,
    SECCOMP,
    integer_key,
    to_decimal,
    type_warns,
)
from audit_heka.heka.message import varint

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from audit_heka.core.interpret import CallContext
    from audit_heka.core.records import Pairs

FIELD_MEMO_SIZE = 16384  # field pieces (and names) remembered

_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
STRING = b"\x10\x00"
INTEGER = b"\x10\x02"
EMPTY_STRING = b"\x22\x00"  # one "" value (an aligned array's filler)

Text = str | list[str] | None
FieldKey = tuple[object, ...]
# Getters for map() over pieces and entries (C speed, no lambda per call).
_SINGLE_OF = attrgetter("single")
_MALFORMED_OF = attrgetter("malformed")
VOLATILE_OF = attrgetter("volatile")
_FAILS_OF = attrgetter("fails")
LASTING_OF = attrgetter("lasting")


def field_entry(body: bytes) -> bytes:
    """A ``Message.fields`` entry: tag 10, length, the encoded Field."""
    return b"\x52" + varint(len(body)) + body


def field_name(name: str) -> bytes:
    """A Field's name, encoded (memoised: names are few)."""
    data = _NAMES.get(name)
    if data is None:
        raw = name.encode()  # strict, as the general encoder: a bad name raises there too
        data = b"\x0a" + varint(len(raw)) + raw
        if len(_NAMES) >= FIELD_MEMO_SIZE:
            _NAMES.clear()
        _NAMES[name] = data
    return data


_NAMES: dict[str, bytes] = {}
SMALL_VARINTS = tuple(bytes((i,)) for i in range(0x80))  # a length below 128: one byte
#: A STRING element's and a fields entry's tag with a length below 128: one look-up
#: where a concatenation would cost an allocation (Piece, per new value).
_STRING_TAGS = tuple(b"\x22" + bytes((i,)) for i in range(0x80))
_ENTRY_TAGS = tuple(b"\x52" + bytes((i,)) for i in range(0x80))
NOT_ASKED: tuple[Text, bytes, bytes] = (None, b"", b"")
#: key -> the head of its STRING field (name, type), of its INTEGER field (name, type,
#: the packed values' tag), its ``_i`` field's name and head, integer_key(key),
#: FAILURE_VALUES[key].
_KEY_FACTS: dict[str, tuple[bytes, bytes, bytes, bytes, bool, frozenset[str] | None]] = {}
_QUOTES = frozenset({'"', "'"})


def _key_facts(key: str) -> tuple[bytes, bytes, bytes, bytes, bool, frozenset[str] | None]:
    if len(_KEY_FACTS) >= FIELD_MEMO_SIZE:
        _KEY_FACTS.clear()
    name, name_i = field_name(key), field_name(key + "_i")
    facts = _KEY_FACTS[key] = (name + STRING, name + INTEGER + b"\x32", name_i, name_i + STRING,
                               integer_key(key), FAILURE_VALUES.get(key))
    return facts


def utf8(value: str) -> bytes:
    """A value's UTF-8, its surrogate escapes (undecodable bytes of the log) as they were.
    The strict codec first: its fast path looks no error handler up."""
    try:
        return value.encode()  # (the strict codec's fast path: no error handler looked up)
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


def string_element(value: str) -> bytes:
    """One ``value_string`` element."""
    data = utf8(value)
    size = len(data)
    return (_STRING_TAGS[size] if size < 0x80 else b"\x22" + varint(size)) + data


def integers_element(packed: bytes) -> bytes:
    return b"\x32" + varint(len(packed)) + packed


class Piece:
    """One key of one record: its raw field and its interpretation, encoded."""

    __slots__ = ("asked", "fails", "key", "kind", "malformed", "name_i", "number", "once",
                 "packed", "plain", "raw", "single", "text", "text_elems", "text_joined",
                 "value", "volatile")

    def __init__(self, key: str, raw: str, text: Text, volatile: bool,
                 kind: str | None = None) -> None:
        # Inline, with the key's facts looked up once: this runs for every new value.
        # Its bytes are put together from tables and joined once, not concatenated
        # level by level (each concatenation is an allocation).
        head, int_head, name_i, head_i, typed, failing = (
            _KEY_FACTS.get(key) or _key_facts(key))
        value = (raw[1:-1] if raw[:1] in _QUOTES and len(raw) >= 2 and raw[-1] == raw[0]
                 else raw)
        try:
            data = value.encode()  # (utf8() in line: this runs for every new value)
        except UnicodeEncodeError:
            data = value.encode("utf-8", "surrogateescape")
        size = len(data)
        element = (_STRING_TAGS[size] if size < 0x80 else b"\x22" + varint(size)) + data
        fails = failing is not None and value in failing  # the event's severity
        self.key = key
        self.raw = raw
        self.kind = kind
        #: Made for one record and kept by no memo (a new inode, a new pointer): an
        #: encoding keyed by it will not be asked again, so none is remembered.
        self.once = False
        self.volatile = volatile
        self.text = text
        self.name_i = name_i  # the fields for the plain name (a collision prefixes it)
        self.fails = fails
        self.value = element  # the STRING element (arrays mix)
        #: A volatile piece's last text asked and its ``_i`` field (asked again at each use).
        self.asked: tuple[Text, bytes, bytes] = NOT_ASKED  # text, name_i, field
        if not typed:
            number = None
        elif len(value) < 19 and value.isdigit() and value.isascii():  # fits int64
            number = int(value)
        else:
            number = to_decimal(value)
        self.number = number
        #: ``plain``: bears on no counter and not on the severity (a record patched here
        #: takes its base's: Rec.patch).
        if number is not None:
            self.malformed = False
            self.plain = not (volatile or fails)
            packed = self.packed = (SMALL_VARINTS[number] if 0 <= number < 0x80
                                    else varint(number))
            values = SMALL_VARINTS[len(packed)] + packed
            head = int_head
        else:
            self.malformed = typed
            self.plain = not (volatile or fails or typed)
            self.packed = b""
            values = element
        size = len(head) + len(values)
        entry = _ENTRY_TAGS[size] if size < 0x80 else b"\x52" + varint(size)
        if text is None:
            self.text_elems = self.text_joined = b""
            self.single = entry + head + values
            return
        if isinstance(text, str):
            if text == value:  # (a name, a path: its text is its value unquoted)
                elems = self.text_elems = self.text_joined = element
            else:
                elems = self.text_elems = self.text_joined = string_element(text)
        else:
            elems, self.text_joined = text_elements(text)
            self.text_elems = elems
        if volatile:  # (its text is asked at each use)
            self.single = entry + head + values
            return
        size = len(head_i) + len(elems)
        self.single = b"".join((entry, head, values,
                                _ENTRY_TAGS[size] if size < 0x80 else b"\x52" + varint(size),
                                head_i, elems))

    def raw_field(self, name: bytes) -> bytes:
        if self.number is not None:
            return field_entry(name + INTEGER + integers_element(self.packed))
        return field_entry(name + STRING + self.value)

    def text_field(self, name_i: bytes) -> bytes:
        if self.text is None:
            return b""
        return field_entry(name_i + STRING + self.text_elems)


def text_elements(text: Text) -> tuple[bytes, bytes]:
    """(the elements of ``<key>_i`` for a single value, the one element of an aligned one)."""
    if text is None:
        return b"", b""
    if isinstance(text, list):
        return b"".join(map(string_element, text)), string_element(" ".join(text))
    element = string_element(text)
    return element, element


class Rec:
    """What an event's message takes from one record, by (type, type name, body)."""

    __slots__ = ("argv_base", "argv_elements", "context", "enriched", "enriched_map", "execve",
                 "fields", "free_text", "has_pid", "joined", "keys", "lasting", "malformed",
                 "msg_fields", "parts", "pid", "pid_index", "pieces", "shape", "singles",
                 "type_name", "volatile", "volatiles", "warn")
    type_name: str
    execve: bool
    fields: Pairs
    enriched: Pairs
    free_text: str
    msg_fields: int
    pid_index: int
    singles: list[bytes]
    malformed: tuple[str, ...]
    volatiles: tuple[int, ...]
    warn: bool
    has_pid: bool
    pid: int | None
    volatile: bool
    #: Whether an event's group or argv may be remembered by this entry: not when a text
    #: of it is asked at each use, nor when no memo keeps the entry (a record with a value
    #: never seen before, line_entries' ``LineEntries._patched_from``; a body over
    #: MEMO_BODY_MAX): it does not come back, and what is keyed by it would only push out
    #: others and hold its fields (a long argv's) in memory.
    lasting: bool
    #: Its fields' bytes: all of them, or those before its first volatile piece (parts).
    joined: bytes
    #: Its volatile pieces in order, each with the bytes of the fields after it up to the
    #: next one (their text is asked at each use); () when none.
    parts: tuple[tuple[Piece, bytes], ...]
    #: ``enriched`` as a dict (the first pair of each name), made by the first patch of an
    #: ENRICHED record from an entry and handed on to those patched from it.
    enriched_map: dict[str, str] | None
    #: The call context of its CONTEXT_KINDS texts (Interpreter.call_context), kept by
    #: line_entries for the records patched from it: they are of the same call.
    context: CallContext | None

    def __init__(self, record: Record | None, keys: tuple[str, ...],
                 pieces: tuple[Piece, ...], shape: int, base: Rec | None = None,
                 changed: Sequence[int] = (), fields: Pairs = ()) -> None:
        """``base``: the entry of a record with the same keys but for the values at
        ``changed``, in ascending order (what record_entries' user-space patches know):
        the rest is taken over when those values are plain (Piece.plain). ``record``
        None: a record like ``base`` (its type name, ENRICHED pairs and free text) but
        for its ``fields``, the change plain (:meth:`patch` makes such entries:
        line_entries' patches)."""
        #: An EXECVE record's: its argv's STRING elements, once made (line_entries'
        #: ``LineEntries.argv_elements``) when argv is its values (interpret.argv_is_values);
        #: and until then, those of the command line it was patched from with the field
        #: indexes that changed (line_entries' ``LineEntries._from_execve_base``).
        self.argv_elements: list[bytes] | None = None
        self.argv_base: tuple[list[bytes], list[int]] | None = None
        self.keys = keys
        self.shape = shape
        self.pieces = pieces
        kept: tuple[tuple[Piece, bytes], ...] | None = None  # parts taken over from base
        if base is not None and (record is None or (
                record.type != SECCOMP and _plain_change(changed, pieces, base.pieces))):
            # One straight line: this runs for every record patched from another.
            if record is None:
                self.type_name = base.type_name
                self.execve = base.execve
                self.fields = fields
                self.enriched = base.enriched
                self.free_text = base.free_text
                self.msg_fields = base.msg_fields
                self.enriched_map = base.enriched_map  # (of the same pairs)
                self.context = base.context  # (of the same call)
            else:
                self._of(record)
                self.enriched_map = None
                self.context = None
            # Its counters and severity are its base's (the change is plain).
            self.pid_index = index = base.pid_index
            singles = self.singles = base.singles.copy()
            for i in changed:
                singles[i] = pieces[i].single
            self.malformed = base.malformed
            self.volatiles = base.volatiles
            self.warn = base.warn
            if index in changed:
                self._pid(pieces[index].number)
            else:
                self.has_pid, self.pid = base.has_pid, base.pid
            volatile = base.volatile
            # A change before the first volatile piece (a new pointer, a new name; not
            # the uid names after them) leaves the bytes from there on as its base's.
            if volatile and (not changed or changed[-1] < base.volatiles[0]):
                kept = base.parts
        else:
            assert record is not None  # (an entry not taken over from a base has its record)
            self._of(record)
            self.enriched_map = None
            self.context = None
            self.pid_index = index = keys.index("pid") if "pid" in keys else -1
            self.singles = list(map(_SINGLE_OF, pieces))
            self.malformed = tuple(compress(keys, map(_MALFORMED_OF, pieces)))
            self.volatiles = tuple(compress(range(len(pieces)), map(VOLATILE_OF, pieces)))
            self.warn = any(map(_FAILS_OF, pieces)) or type_warns(record)
            self._pid(pieces[index].number if index >= 0 else None)
            self.has_pid = index >= 0
            volatile = bool(self.volatiles)
        self.volatile = volatile
        self.lasting = not volatile
        if kept is not None:
            self.joined = b"".join(self.singles[:self.volatiles[0]])
            self.parts = kept
        elif volatile:
            self._join_parts()
        else:  # every key a single field under its plain name: the common case, one join
            self.joined = b"".join(self.singles)
            self.parts = ()

    def _of(self, record: Record) -> None:
        """What it takes from its record as it stands."""
        self.type_name = record.type_name
        self.execve = record.type == EXECVE
        self.fields = record.fields
        self.enriched = record.enriched
        self.free_text = record.free_text
        self.msg_fields = record.msg_fields  # (the general path names fields by it too)

    @staticmethod
    def patch(base: Rec, rtype: int, fields: Pairs, pieces: tuple[Piece, ...],
              changed: Sequence[int]) -> Rec | None:
        """What ``Rec(record, base.keys, pieces, base.shape, base, changed)`` gives for a
        record of ``base``'s type name, ENRICHED pairs and free text whose values at
        ``changed`` alone differ, without its Record: line_entries' patches of such
        records make none. None: a change that bears on a counter or on the severity
        (the caller makes the entry of its Record)."""
        if rtype == SECCOMP or not _plain_change(changed, pieces, base.pieces):
            return None
        return Rec(None, base.keys, pieces, base.shape, base, changed, fields)

    def _join_parts(self) -> None:
        """The bytes of a record with volatile pieces: around them (their text is asked at
        each use), the record encoded by :attr:`joined` and :attr:`parts`."""
        singles = self.singles
        pieces = self.pieces
        volatiles = self.volatiles
        self.joined = b"".join(singles[:volatiles[0]])
        ends = (*volatiles[1:], len(singles))
        self.parts = tuple([(pieces[i], b"".join(singles[i + 1:end]))
                            for i, end in zip(volatiles, ends, strict=True)])

    def _pid(self, number: int | None) -> None:
        """The event's Pid comes from the first record with a pid field (first_pid)."""
        self.has_pid = True
        self.pid = number if number is not None and _INT32_MIN <= number <= _INT32_MAX else None

    def matches(self, record: Record) -> bool:
        """Whether this entry was made from a record parsed as ``record`` was."""
        return ((self.fields is record.fields or self.fields == record.fields)
                and (self.enriched is record.enriched or self.enriched == record.enriched)
                and self.free_text == record.free_text
                and self.msg_fields == record.msg_fields)


def _plain_change(changed: Sequence[int], pieces: Sequence[Piece],
                  before: Sequence[Piece]) -> bool:
    """Whether the values at ``changed`` bear on no counter and not on the severity,
    before and after."""
    for i in changed:  # noqa: SIM110  (a loop: all() of a generator costs more for 1-4)
        if not (pieces[i].plain and before[i].plain):
            return False
    return True

"""Make a message that is too large fit, instead of dropping it.

Why: Heka drops a message above its ``max_message_size`` (64 KiB by default,
8 KiB for a UdpInput's buffer), and a dropped event is an invisible one. Any
user can make their own exec event as large as they like (one 128 KiB
argument, 100,000 short ones, a 60,000-item PATH event), so refusing large
events would let anyone hide any command. An event is therefore never dropped
for its size: it is *degraded* until it fits, keeping first what a responder
needs, and saying exactly what was cut.

The order (docs/fields.md, "Events too large for the target", says the same):

1. the header (Uuid, Timestamp, Type, Logger, Severity, Pid, Hostname) is
   never touched; the Payload goes first (it repeats the fields);
2. class 0, *who did what*: the fields named in :data:`WHO`, ``argc`` among
   them so that the argument count stays exact;
3. class 1, their interpretations (``uid_i``, ``exe_i``, ...): a responder
   can re-derive them from the raw values, not the other way round;
4. class 2, *the command line*: ``argv``, ``proctitle``, ``proctitle_i``;
5. class 3, everything else, record types never seen before included.

Each class gets what the classes before it left, less a reserve for the
classes after it (what they need at one value per field cut at
:data:`MIN_CUT` bytes, at most a quarter of the room). Within a class, if its
fields do not fit whole, two caps are chosen, the same for all its fields:
a *count* cap K (a field with more than K values keeps its first ceil(K/2)
and its last floor(K/2): padding in the middle of argv cannot push out the
script name at its end, and the aligned arrays of repeated records stay
aligned) and then the largest *size* cap C (a string or bytes value longer
than C bytes keeps its first C bytes and gets :data:`MARKER`). When even one
value per field at the smallest cap does not fit, fields are kept while they
fit in the order of :data:`WHO` (then message order) and the others dropped.

What was cut is listed in four aligned arrays (:data:`INFO_FIELDS`): the
field name (``Payload`` for the payload), the bytes it took in the full
message, its number of values, and the number of values kept (0: dropped).
If that list itself would not fit, its tail is summed into one ``*`` entry.

This is the rare path: the caller encodes first and only comes here when the
message is too large, so normal events pay nothing. Sizes are computed from
lengths (prefix sums, binary searches), not by encoding trial messages.
"""

from __future__ import annotations

import bisect
import itertools
import re

from audit_heka.heka.message import Field, FieldValues, Message, ValueType, encode_message
from audit_heka.value import Value

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Final

#: Appended to a value that was cut; ``{}`` is the value's full size in bytes.
MARKER = "...[cut from {} bytes]"
#: The longest marker (sizes are below 10**12 bytes): the sizing assumes it.
MARKER_MAX = len(MARKER.format(10**12 - 1))
#: A cut value keeps at least this many bytes before its marker.
MIN_CUT = 32

#: Class 0: who did what, most telling first (the order matters only when not
#: even one value of each, cut short, fits). Record keys as the scheme names
#: them (docs/fields.md).
WHO: tuple[str, ...] = (
    # what kind of event, done by which program, as whom
    "type", "exe", "comm", "uid", "auid", "pid", "ppid", "key",
    # what it did, on what, and how it ended
    "syscall", "success", "exit", "name", "cwd", "argc",
    # user-space records (login, sudo, account changes)
    "op", "acct", "res", "hostname", "addr", "terminal", "id",
    # the event itself, and the other identities
    "serial", "record_types", "node", "nametype",
    "euid", "suid", "fsuid", "gid", "egid", "ses", "tty", "subj", "arch",
)
_WHO_RANK = {name: rank for rank, name in enumerate(WHO)}
#: Class 2: the command line.
COMMAND_LINE: frozenset[str] = frozenset({"argv", "proctitle"})
#: The classes: who, who interpreted, command line, the rest.
CLASSES = 4

TRUNCATED = "truncated"
TRUNCATED_BYTES = "truncated_bytes"
TRUNCATED_VALUES = "truncated_values"
TRUNCATED_KEPT = "truncated_kept"
INFO_FIELDS = (TRUNCATED, TRUNCATED_BYTES, TRUNCATED_VALUES, TRUNCATED_KEPT)
#: The name of the entry that sums the cut fields the list had no room for.
REST = "*"
PAYLOAD = "Payload"


def importance(name: str) -> int:
    """0 (who), 1 (who, interpreted), 2 (command line) or 3 (the rest)."""
    interpreted = name.endswith("_i")
    base = name[:-2] if interpreted else name
    if base in _WHO_RANK:
        return 1 if interpreted else 0
    if base in COMMAND_LINE:
        return 2
    return 3


def _rank(name: str) -> int:
    """A field's place in :data:`WHO` (others after, in message order)."""
    return _WHO_RANK.get(name[:-2] if name.endswith("_i") else name, len(WHO))


class Cut(Value):
    """One field that was cut or dropped, as the ``truncated*`` fields list it.

    A :class:`~audit_heka.value.Value`, not a dataclass: start-up cost (measured there).
    """

    __slots__ = ("bytes", "kept", "name", "values")

    def __init__(self, name: str, bytes: int, values: int, kept: int) -> None:
        self.name: Final = name
        self.bytes: Final = bytes  # what the field took in the full message (Payload: its text)
        self.values: Final = values  # its number of values
        self.kept: Final = kept  # values kept (0: dropped)

    def _as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.bytes, "values": self.values, "kept": self.kept}


class Degraded(Value):
    """A message made to fit, and what was cut to make it fit."""

    __slots__ = ("cuts", "message")

    def __init__(self, message: Message, cuts: tuple[Cut, ...]) -> None:
        self.message: Final = message
        self.cuts: Final = cuts

    def _as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "cuts": self.cuts}

    @property
    def payload_dropped(self) -> bool:
        return any(c.name == PAYLOAD for c in self.cuts)

    @property
    def fields_cut(self) -> bool:
        return any(c.name != PAYLOAD for c in self.cuts)


def degrade(message: Message, limit: int) -> Degraded | None:
    """``message`` re-made so that it encodes in at most ``limit`` bytes.

    None only when the header alone (with an empty ``truncated`` list) does
    not fit: there is no message to send at all.
    """
    base = message.replace(payload=None, fields=())
    room = limit - len(encode_message(base))
    fields, earlier = _earlier_cuts(message.fields)
    lead: list[Cut] = []
    payload = message.payload
    if payload is not None:  # (its UTF-8 size without a copy of megabytes when ASCII)
        size = len(payload) if payload.isascii() else len(
            payload.encode("utf-8", "surrogateescape"))
        lead.append(Cut(PAYLOAD, size, 1, 0))
    floor = _info_size([Cut(REST, 1 << 40, 1 << 40, 0)])
    if room < floor:
        return None
    cap = max(floor, room // 4)  # the truncated list never takes more than this
    fitter = _Fitter(fields, frozenset(c.name for c in earlier))
    reserve = min(_info_size(lead + earlier), cap) if lead or earlier else floor
    while True:
        kept, cuts = fitter.fit(room - reserve)
        entries = _merge(lead + earlier, cuts)
        need = _info_size(entries)
        if need <= reserve or reserve >= cap:
            break
        reserve = min(max(need, reserve + 16), cap)
    info, listed = _info_fields(entries, reserve)
    out = base.replace(fields=(*kept, *info))
    return Degraded(out, tuple(listed))


# --- sizes ------------------------------------------------------------------


def _vlen(value: int) -> int:
    """Bytes of a non-negative varint."""
    return (value.bit_length() + 6) // 7 or 1


def _int_vlen(value: int) -> int:
    return 10 if value < 0 else _vlen(value)


def _entry(inner: int) -> int:
    """A ``Message.fields`` entry of an encoded Field of ``inner`` bytes."""
    return 1 + _vlen(inner) + inner


def _capped(length: int, cap: int) -> int:
    """Data bytes of a value of ``length`` bytes cut at ``cap`` (upper bound)."""
    return length if length <= cap else cap + MARKER_MAX


def _value_cost(length: int, cap: int) -> int:
    data = _capped(length, cap)
    return 1 + _vlen(data) + data


#: What a value longer than MIN_CUT costs cut at MIN_CUT (the cheapest it can be kept).
_LONG_MIN_COST = _value_cost(MIN_CUT + 1, MIN_CUT)


class _Plan:
    """One field's sizing data, computed once per degradation."""

    __slots__ = ("cuttable", "field", "full", "head", "lengths", "prefix_min")

    def __init__(self, field: Field) -> None:
        self.field = field
        name = len(field.name.encode("utf-8", "surrogateescape"))
        head = 1 + _vlen(name) + name + 2
        if field.representation:
            rep = len(field.representation.encode("utf-8", "surrogateescape"))
            head += 1 + _vlen(rep) + rep
        self.head = head
        vt = field.value_type
        self.cuttable = vt in (ValueType.STRING, ValueType.BYTES)
        if vt is ValueType.STRING:
            texts = list(map(str, field.values))
            # (an argv of 100,000 values: their UTF-8 lengths in C when all are ASCII)
            self.lengths = (list(map(len, texts)) if "".join(texts).isascii() else
                            [len(t.encode("utf-8", "surrogateescape")) for t in texts])
        elif vt is ValueType.BYTES:
            self.lengths = [len(v) for v in field.values if isinstance(v, bytes)]
        elif vt is ValueType.INTEGER:
            self.lengths = [_int_vlen(int(v)) for v in field.values]
        elif vt is ValueType.DOUBLE:
            self.lengths = [8] * len(field.values)
        else:
            self.lengths = [1] * len(field.values)
        if self.cuttable:
            lengths = self.lengths  # (a value of at most MIN_CUT bytes has a 1-byte length)
            self.prefix_min = list(itertools.accumulate(
                [2 + n if n <= MIN_CUT else _LONG_MIN_COST for n in lengths], initial=0))
            short = not lengths or max(lengths) < 0x80  # every length a 1-byte varint
            self.full = _entry(head + sum(lengths) + len(lengths)
                               + (len(lengths) if short else sum(map(_vlen, lengths))))
        else:
            self.prefix_min = list(itertools.accumulate(self.lengths, initial=0))
            self.full = _entry(head + self._packed(self.prefix_min[-1]))

    @property
    def count(self) -> int:
        return len(self.lengths)

    def _packed(self, data: int) -> int:
        return 1 + _vlen(data) + data if self.lengths else 0

    def _wrap(self, values: int) -> int:
        return _entry(self.head + (values if self.cuttable else self._packed(values)))

    def size_min(self, k: int) -> int:
        """The entry with at most ``k`` values, long ones cut at MIN_CUT."""
        n = self.count
        if k >= n:
            return self._wrap(self.prefix_min[n])
        head, tail = (k + 1) // 2, k // 2
        p = self.prefix_min
        return self._wrap(p[head] + p[n] - p[n - tail])

    def kept_lengths(self, k: int) -> list[int]:
        n = self.count
        if k >= n:
            return self.lengths
        head, tail = (k + 1) // 2, k // 2
        return self.lengths[:head] + self.lengths[n - tail:]


class _Sized:
    """A field with its count cap fixed: its size as a function of the size cap."""

    __slots__ = ("fixed", "k", "plan", "prefix_exact", "sorted_lengths")

    def __init__(self, plan: _Plan, k: int) -> None:
        self.plan = plan
        self.k = k
        lengths = plan.kept_lengths(k)
        if plan.cuttable:
            self.sorted_lengths = sorted(lengths)
            self.prefix_exact = list(itertools.accumulate(
                (1 + _vlen(n) + n for n in self.sorted_lengths), initial=0))
            self.fixed = 0
        else:
            self.sorted_lengths = []
            self.prefix_exact = []
            self.fixed = sum(lengths)

    def size(self, cap: int) -> int:
        if not self.plan.cuttable:
            return self.plan._wrap(self.fixed)
        short = bisect.bisect_right(self.sorted_lengths, cap)
        long = len(self.sorted_lengths) - short
        return self.plan._wrap(self.prefix_exact[short] + long * _value_cost(cap + 1, cap))

    @property
    def longest(self) -> int:
        return self.sorted_lengths[-1] if self.sorted_lengths else 0


class _Fitter:
    """The fields of one message, sized once, fitted to any budget."""

    def __init__(self, fields: Sequence[Field], cut_before: frozenset[str]) -> None:
        self.plans = [_Plan(f) for f in fields]
        self.cut_before = cut_before
        self.classes: list[list[int]] = [[] for _ in range(CLASSES)]
        for index, field in enumerate(fields):
            self.classes[importance(field.name)].append(index)
        # floors[c]: what classes c.. need at one value per field, cut at MIN_CUT.
        # A class leaves that much (at most a quarter of its room) to the
        # classes after it, so that a padded argv does not wipe out every
        # small field of the rest (the mode of the executed file, ...).
        self.floors = [0] * (CLASSES + 1)
        for c in reversed(range(CLASSES)):
            own = sum(self.plans[i].size_min(1) for i in self.classes[c])
            self.floors[c] = self.floors[c + 1] + own

    def fit(self, budget: int) -> tuple[list[Field], list[Cut]]:
        """The fields (in message order) and the cuts, within ``budget`` bytes."""
        choice: dict[int, tuple[int, int] | None] = {}  # index -> (K, C), None: dropped
        left = budget
        for c, members in enumerate(self.classes):
            if members:
                reserve = min(self.floors[c + 1], max(left, 0) // 4)
                left -= self._fit_class(members, max(left - reserve, 0), choice)
        kept: list[Field] = []
        cuts: list[Cut] = []
        for index, plan in enumerate(self.plans):
            how = choice.get(index, (plan.count, -1))
            if how is None:
                cuts.append(Cut(plan.field.name, plan.full, plan.count, 0))
                continue
            k, cap = how
            field, changed = _apply(plan, k, cap, plan.field.name in self.cut_before)
            kept.append(field)
            if changed:
                cuts.append(Cut(plan.field.name, plan.full, plan.count, len(field.values)))
        cuts.sort(key=lambda c: importance(c.name))  # stable: message order within a class
        return kept, cuts

    def _fit_class(self, members: list[int], budget: int,
                   choice: dict[int, tuple[int, int] | None]) -> int:
        """Choose (K, C) for the class's fields; return the bytes they take."""
        plans = [self.plans[i] for i in members]
        whole = sum(p.full for p in plans)
        if whole <= budget:
            return whole  # no entry in choice: kept as they are
        if sum(p.size_min(1) for p in plans) > budget:
            used = 0
            for index in sorted(members, key=lambda i: _rank(self.plans[i].field.name)):
                plan = self.plans[index]
                size = plan.size_min(1)
                if used + size <= budget:
                    choice[index] = (1, MIN_CUT)
                    used += size
                else:
                    choice[index] = None
            return used
        k = _largest(1, max(p.count for p in plans),
                     lambda k: sum(p.size_min(k) for p in plans) <= budget)
        sized = [_Sized(p, k) for p in plans]
        longest = max((s.longest for s in sized), default=MIN_CUT)
        cap = _largest(MIN_CUT, max(MIN_CUT, longest),
                       lambda c: sum(s.size(c) for s in sized) <= budget)
        for index in members:
            choice[index] = (k, cap)
        return sum(s.size(cap) for s in sized)


def _largest(low: int, high: int, ok: Callable[[int], bool]) -> int:
    """The largest x in [low, high] with ok(x), given ok(low) and ok monotone."""
    while low < high:
        mid = (low + high + 1) // 2
        if ok(mid):
            low = mid
        else:
            high = mid - 1
    return low


_EARLIER_MARKER = re.compile(re.escape(MARKER).replace(r"\{\}", r"([0-9]{1,12})").encode() + b"$")


def _cut_bytes(data: bytes, cap: int, again: bool = False) -> bytes:
    """``data`` cut at ``cap`` bytes with the marker; ``again``: the field was
    cut by an earlier degradation, so a marker it ends with keeps its size."""
    if len(data) <= cap:
        return data
    size = len(data)
    if again and (found := _EARLIER_MARKER.search(data)) is not None:
        size = int(found.group(1))
    return data[:cap] + MARKER.format(size).encode()


def _cut_text(value: str, cap: int, again: bool = False) -> str:
    data = value.encode("utf-8", "surrogateescape")
    if len(data) <= cap:
        return value
    end = cap
    while end > 0 and (data[end] & 0xC0) == 0x80:  # not inside a UTF-8 sequence
        end -= 1
    cut = _cut_bytes(data, end, again) if end < len(data) else data
    return cut.decode("utf-8", "surrogateescape")


def _apply(plan: _Plan, k: int, cap: int, again: bool) -> tuple[Field, bool]:
    """The field with at most ``k`` values, each cut at ``cap`` (-1: uncut)."""
    field = plan.field
    values: FieldValues = field.values
    n = len(values)
    if k < n:
        head, tail = (k + 1) // 2, k // 2
        values = tuple(itertools.chain(values[:head], values[n - tail:]))  # type: ignore[assignment]
    if cap >= 0 and plan.cuttable and any(length > cap for length in plan.kept_lengths(k)):
        if field.value_type is ValueType.STRING:
            values = tuple(_cut_text(str(v), cap, again) for v in values)
        else:
            values = tuple(_cut_bytes(v, cap, again) for v in values if isinstance(v, bytes))
    if values is field.values:
        return field, False
    return field.replace(values=values), True


# --- the truncated list -------------------------------------------------------


def _earlier_cuts(fields: Sequence[Field]) -> tuple[list[Field], list[Cut]]:
    """Split off the ``truncated*`` fields of a message degraded before.

    A frame degraded for ``max_message_size`` may be degraded again for a
    smaller target (UDP): the sizes it lists are the original ones and must
    stay so. The scheme never names a record key like these (schema.py's
    EVENT_FIELDS), so only a degradation can have written them; anything
    that does not look like its output is left as an ordinary field.
    """
    found = {f.name: f for f in fields if f.name in INFO_FIELDS}
    if len(found) != len(INFO_FIELDS) or sum(f.name in found for f in fields) != len(found):
        return list(fields), []
    names, sizes, counts, kept = (found[n].values for n in INFO_FIELDS)
    types = [found[n].value_type for n in INFO_FIELDS]
    if types != [ValueType.STRING, *[ValueType.INTEGER] * 3] or not (
        len(names) == len(sizes) == len(counts) == len(kept)
    ):
        return list(fields), []
    cuts = [Cut(str(n), b, v, k)
            for n, b, v, k in zip(names, sizes, counts, kept, strict=True)
            if isinstance(b, int) and isinstance(v, int) and isinstance(k, int)]
    return [f for f in fields if f.name not in INFO_FIELDS], cuts


def _merge(earlier: list[Cut], cuts: list[Cut]) -> list[Cut]:
    """Earlier cuts and new ones, one entry per name, original sizes kept."""
    first = {c.name: c for c in earlier}
    again = {c.name for c in cuts}
    out = [c for c in earlier if c.name not in again]
    for c in cuts:
        before = first.get(c.name)
        out.append(c if before is None else Cut(c.name, before.bytes, before.values, c.kept))
    out.sort(key=lambda c: -1 if c.name == PAYLOAD else importance(c.name))
    return out


def _info(entries: Sequence[Cut]) -> tuple[Field, ...]:
    if not entries:
        return ()
    return (
        Field(TRUNCATED, ValueType.STRING, tuple(c.name for c in entries)),
        Field(TRUNCATED_BYTES, ValueType.INTEGER, tuple(c.bytes for c in entries)),
        Field(TRUNCATED_VALUES, ValueType.INTEGER, tuple(c.values for c in entries)),
        Field(TRUNCATED_KEPT, ValueType.INTEGER, tuple(c.kept for c in entries)),
    )


def _info_size(entries: Sequence[Cut]) -> int:
    fields = _info(entries)
    return sum(_Plan(f).full for f in fields)


def _info_fields(entries: list[Cut], room: int) -> tuple[tuple[Field, ...], list[Cut]]:
    """The ``truncated*`` fields in at most ``room`` bytes (a tail summed as ``*``)."""
    if _info_size(entries) <= room:
        return _info(entries), entries
    keep = len(entries)
    while keep > 0:
        keep -= 1
        rest = entries[keep:]
        listed = [*entries[:keep], Cut(REST, sum(c.bytes for c in rest),
                                       sum(c.values for c in rest), sum(c.kept for c in rest))]
        if _info_size(listed) <= room:
            return _info(listed), listed
    raise AssertionError("room is at least the size of a lone * entry")

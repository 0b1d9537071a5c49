"""An event shape's plan: which key of which record becomes which Field.

Why: the layout of an event's message -- a record's own fields under their own names,
or a group of records of one type whose keys become aligned arrays (PATH items) or
EXECVE's argv, with collision prefixes -- depends only on its records' types and keys
(audit_heka.core.schema decides it; :func:`make_plan` says the same for the hot path).
So it is computed once per shape, and a group's bytes are remembered by its records
(:class:`Recent`: or patched from the last ones, op by op).
"""

from __future__ import annotations

from audit_heka.core.entries import STRING, Rec, field_entry, field_name, string_element
from audit_heka.core.schema import EVENT_FIELDS

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from audit_heka.core.entries import Piece

SINGLE, ALIGNED, ARGV = 0, 1, 2
RECORD, GROUP = 0, 1  # a record's own fields; a group of records (aligned, or EXECVE)
ALIGNED_MEMO_SIZE = 256  # per plan: aligned groups remembered by their records
# (op, field name, field name + "_i", key, record indexes (aligned: None where missing),
#  key index in each record (aligned: None where missing), plain name, memo of an aligned
#  field's bytes by its pieces) -- or (ARGV, ...).
Aligned = dict[tuple["Piece | None", ...], tuple[bytes, int, int]]  # bytes, malformed, fill
Op = tuple[int, bytes, bytes, str, tuple[int | None, ...], tuple[int | None, ...], bool,
           Aligned]


class Recent:
    """An aligned group's last encoding, op by op.

    Why: the next event of a plan is most often the last one but for a few
    pieces of one record (the next file of a directory: a PATH's name and
    inode). Its group then misses the memo by its records, and encoding every
    op again cost ~1 us an op; only the ops that read a changed piece are
    encoded again, the others' bytes are taken over.
    """

    __slots__ = ("always", "bad", "deps", "fills", "members", "parts", "primed")

    def __init__(self) -> None:
        #: (record index, piece index) -> the ops that read that piece (made at the
        #: second miss: most plans of a log are seen once).
        self.deps: dict[tuple[int, int], list[int]] | None = None
        self.always: list[int] = []  # ops that read whole records (argv): done at each change
        self.primed = False  # missed once: from the next miss on, kept op by op
        self.members: tuple[Rec, ...] | None = None  # the records of the last encoding
        self.parts: list[bytes] = []  # each op's bytes,
        self.bad: list[list[str]] = []  # the malformed keys it found,
        self.fills: list[int] = []  # and the fillers of its aligned arrays


# (kind, record indexes, ops, memo of the group's bytes by its records, its last encoding)
Group = tuple[int, tuple[int, ...], tuple[Op, ...],
              dict[tuple["Rec", ...], tuple[bytes, list[str], int]], "Recent | None"]


class Plan:
    __slots__ = ("groups", "head", "pid_rec", "steps")

    def __init__(self, head: bytes, groups: tuple[Group, ...], pid_rec: int) -> None:
        self.head = head  # the type and record_types fields
        self.groups = groups
        #: The groups as the encoder takes them: a record's own fields by its index (the
        #: common case, its bytes joined: Rec.joined), the others as they are.
        self.steps: tuple[int | Group, ...] = tuple(
            [group[1][0] if group[0] == RECORD else group for group in groups])
        #: The first record with a pid key (the event's Pid, first_pid), or -1.
        self.pid_rec = pid_rec


def dependencies(ops: tuple[Op, ...]) -> tuple[dict[tuple[int, int], list[int]], list[int]]:
    """Which ops of a group read each (record, piece); and those that read whole records."""
    deps: dict[tuple[int, int], list[int]] = {}
    always: list[int] = []
    for n, (kind, _, _, _, where, index, _, _) in enumerate(ops):
        if kind == ARGV:
            always.append(n)
        for record, piece in zip(where, index, strict=True):
            if record is not None and piece is not None:
                deps.setdefault((record, piece), []).append(n)
    return deps, always


def make_plan(recs: list[Rec]) -> Plan | None:
    """The plan of an event of these records' shape (schema's grouping, prefixes, argv)."""
    groups: dict[str, list[dict[str, int]]] = {}  # type name -> members: key -> record
    firsts: dict[str, list[int]] = {}  # type name -> each member's (first) record
    every: dict[str, list[int]] = {}  # type name -> its records
    for i, rec in enumerate(recs):
        members = groups.get(rec.type_name)
        firsts.setdefault(rec.type_name, [])
        every.setdefault(rec.type_name, []).append(i)
        if members is None or not rec.execve:
            firsts[rec.type_name].append(i)
        if members is None:
            groups[rec.type_name] = [dict.fromkeys(rec.keys, i)]
        elif rec.execve:  # every EXECVE record of the event is one logical record
            first = members[0]
            for k in rec.keys:
                if k in first:
                    return None  # the general path merges their interpretations
                first[k] = i
        else:
            members.append(dict.fromkeys(rec.keys, i))
    used = set(EVENT_FIELDS)
    plan: list[Group] = []
    for type_name, members in groups.items():
        execve = type_name == "EXECVE"  # _make_record: the name says the type
        if len(members) == 1 and not execve and used.isdisjoint(members[0]):
            # A record's own fields under their own names (Rec.joined): the common case
            # needs no ops.
            used.update(members[0])
            plan.append((RECORD, tuple(firsts[type_name]), (), {}, None))
            continue
        keys = list(dict.fromkeys([k for m in members for k in m]))
        prefix = type_name.lower() + "_"
        names = {k: prefix + k if k in used else k for k in keys}
        used.update(names.values())
        ops: list[Op] = []
        positions = {i: {k: j for j, k in enumerate(recs[i].keys)} for i in every[type_name]}
        for k in keys:
            name = names[k]
            where = tuple([m.get(k) for m in members])
            index = tuple([positions[i][k] if i is not None else None for i in where])
            ops.append((SINGLE if len(members) == 1 else ALIGNED, field_name(name),
                        field_name(name + "_i"), k, where, index, name == k, {}))
            if execve and k == "argc":
                ops.append((ARGV, b"", b"", "", (), (), True, {}))
        if execve and "argc" not in keys:
            ops.append((ARGV, b"", b"", "", (), (), True, {}))
        # An aligned group, or EXECVE's: its bytes depend on its records only.
        plan.append((GROUP, tuple(every[type_name]), tuple(ops), {}, Recent()))
    type_field = field_entry(b"\x0a\x04type" + STRING + string_element(recs[0].type_name))
    record_types = field_entry(b"\x0a\x0crecord_types" + STRING
                               + b"".join([string_element(r.type_name) for r in recs]))
    pid_rec = next((i for i, r in enumerate(recs) if r.has_pid), -1)
    return Plan(type_field + record_types, tuple(plan), pid_rec)


MISSING_PLAN = Plan(b"", (), -1)

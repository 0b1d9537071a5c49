"""``-F NAME OP VALUE``: what each field allows, as a table.

Why a table: auditctl's per-field limits (which filter lists, which
operators, which kernel feature, how the value is read) are data, and an
if/elif chain hides both the data and its gaps. ``FIELD_RULES`` has one row
per field id; anything a row does not allow is refused with a message saying
which lists or operators would be accepted. Like h2's stream state machine,
the table is the whole truth: the parser (syntax.py) only looks rows up.

Facts: auditctl 3.0.9 (``audit_rule_fieldpair_data`` in libaudit.c), checked
line for line against auditctl by tests/kernel/test_rules_roundtrip.py.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Callable
from dataclasses import dataclass

from audit_heka.netlink.rules.commands import RuleEnv, RuleError
from audit_heka.netlink.rules.names import AF_MAX, FILE_TYPES, FS_TYPES, LIST_PRINT_NAMES
from audit_heka.netlink.uapi import PATH_MAX, Feature, Field, Filter, Op, Perm
from audit_heka.tables.msgtypes import MSG_TYPE_NUMBERS
from audit_heka.tables.syscalls import ARCH_VALUES, ARCHES, MACHINE_ALIASES

# --- numbers ----------------------------------------------------------------


def c_int(text: str, what: str, *, signed: bool = True) -> int:
    """C ``strtol(text, NULL, 0)``: 0x hex, leading 0 octal, else decimal.

    Unlike C, trailing garbage and overflow are errors, not silent truncation.
    The result is the 32-bit two's-complement value the kernel stores.
    """
    s = text
    neg = s.startswith("-")
    if neg:
        if not signed:
            raise RuleError(f"{what}: {text!r} must not be negative")
        s = s[1:]
    try:
        if s[:2].lower() == "0x":
            n = int(s[2:], 16)
        elif len(s) > 1 and s.startswith("0"):
            n = int(s[1:], 8)
        else:
            n = int(s, 10)
        if not s[:1].isdigit():
            raise ValueError(s)
    except ValueError:
        raise RuleError(f"{what}: {text!r} is not a number") from None
    if neg:
        n = -n
    if not -0x80000000 <= n <= 0xFFFFFFFF:
        raise RuleError(f"{what}: {text} does not fit in 32 bits")
    return n & 0xFFFFFFFF


def _is_number(text: str) -> bool:
    return text[:1].isdigit() or (text[:1] == "-" and text[1:2].isdigit())


def perm_bits(perms: str) -> int:
    """``-p``/``perm=`` letters -> AUDIT_PERM_* bits."""
    if not perms or len(perms) > 4:
        raise RuleError(f"permissions {perms!r}: use one to four of r w x a")
    bits = {"r": Perm.READ, "w": Perm.WRITE, "x": Perm.EXEC, "a": Perm.ATTR}
    value = 0
    for ch in perms.lower():
        if ch not in bits:
            raise RuleError(f"permissions {perms!r}: {ch!r} is not one of r w x a")
        value |= bits[ch]
    return value


def arch_value(text: str, env: RuleEnv) -> tuple[int, str]:
    """``-F arch=`` value -> (AUDIT_ARCH value, machine whose table -S uses)."""
    low = text.lower()
    if low in ("b64", "b32"):
        machine = env.machine
        if low == "b32":
            machine = {"x86_64": "i386", "ppc64": "ppc", "s390x": "s390",
                       "aarch64": "armeb"}.get(machine, machine)
            if machine in ("ppc64le",):
                raise RuleError(f"arch={text}: {env.machine} has no 32-bit syscall table")
        elif machine in ("i386", "ppc", "s390", "armeb"):
            raise RuleError(f"arch={text}: a 32-bit {machine} host has no 64-bit table")
        return ARCH_VALUES[machine], machine
    if low in MACHINE_ALIASES:
        machine = MACHINE_ALIASES[low]
        return ARCH_VALUES[machine], machine
    try:
        value = int(text, 0) if text[:1].isdigit() else int(text, 16)
    except ValueError:
        raise RuleError(f"arch={text}: unknown architecture") from None
    if value not in ARCHES:
        raise RuleError(f"arch={text}: unknown architecture value 0x{value:X}")
    return value, ARCHES[value]


# --- value parsers ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldInput:
    """One ``-F`` value to read: its text, the field name as written, and
    ``where`` (``-F name=value``) to start error messages with."""

    text: str
    name: str
    where: str
    env: RuleEnv


@dataclass(frozen=True, slots=True)
class FieldValue:
    """What a value parser read: ``values[i]``, the string for ``buf``
    (string fields), and for ``arch`` the machine whose syscall table -S uses."""

    value: int
    text: str | None = None
    machine: str | None = None


ValueParser = Callable[[FieldInput], FieldValue]


def _uid(v: FieldInput) -> FieldValue:
    if v.text[:1].isdigit():
        return FieldValue(c_int(v.text, v.where, signed=False))
    if v.text[:1] == "-" and v.text[1:2].isdigit():
        return FieldValue(c_int(v.text, v.where))
    if v.text == "unset":
        return FieldValue(0xFFFFFFFF)
    uid = v.env.uid(v.text)
    if uid is None:
        raise RuleError(f"{v.where}: unknown user {v.text!r}")
    return FieldValue(uid)


def _gid(v: FieldInput) -> FieldValue:
    if v.text[:1].isdigit():
        return FieldValue(c_int(v.text, v.where))
    gid = v.env.gid(v.text)
    if gid is None:
        raise RuleError(f"{v.where}: unknown group {v.text!r}")
    return FieldValue(gid)


def errno_value(name: str) -> int | None:
    """``EPERM``/``-EPERM`` -> the (32-bit) errno number, None if unknown."""
    neg = name.startswith("-")
    number = getattr(_errno, name.lstrip("-"), None)
    if not isinstance(number, int) or not name.lstrip("-").startswith("E"):
        return None
    return (-number if neg else number) & 0xFFFFFFFF


def _exit(v: FieldInput) -> FieldValue:
    if _is_number(v.text):
        return FieldValue(c_int(v.text, v.where))
    number = errno_value(v.text)
    if number is None:
        raise RuleError(f"{v.where}: unknown errno name {v.text!r}")
    return FieldValue(number)


def _msgtype(v: FieldInput) -> FieldValue:
    if v.text[:1].isdigit():
        return FieldValue(c_int(v.text, v.where))
    if v.text in MSG_TYPE_NUMBERS:
        return FieldValue(MSG_TYPE_NUMBERS[v.text])
    raise RuleError(f"{v.where}: unknown message type {v.text!r}")


def _string(v: FieldInput) -> FieldValue:
    size = len(v.text.encode())
    if size > PATH_MAX:
        raise RuleError(f"{v.where}: value is longer than {PATH_MAX}")
    return FieldValue(size, v.text)


def _arch(v: FieldInput) -> FieldValue:
    value, machine = arch_value(v.text, v.env)
    return FieldValue(value, machine=machine)


def _perm(v: FieldInput) -> FieldValue:
    return FieldValue(perm_bits(v.text))


def _filetype(v: FieldInput) -> FieldValue:
    if v.text not in FILE_TYPES:
        raise RuleError(f"{v.where}: unknown file type (one of {', '.join(FILE_TYPES)})")
    return FieldValue(FILE_TYPES[v.text])


def _arg(v: FieldInput) -> FieldValue:
    if v.text[:1].isdigit():
        return FieldValue(c_int(v.text, v.where, signed=False))
    if v.text[:1] == "-" and v.text[1:2].isdigit():
        return FieldValue(c_int(v.text, v.where))
    raise RuleError(f"{v.where}: {v.name} takes a number")


def _sessionid(v: FieldInput) -> FieldValue:
    if v.text == "unset":
        return FieldValue(0xFFFFFFFF)
    if _is_number(v.text):
        return FieldValue(c_int(v.text, v.where))
    raise RuleError(f"{v.where}: sessionid takes a number or unset")


def _fstype(v: FieldInput) -> FieldValue:
    if v.text[:1].isdigit():
        return FieldValue(c_int(v.text, v.where, signed=False))
    if v.text in FS_TYPES:
        return FieldValue(FS_TYPES[v.text])
    raise RuleError(f"{v.where}: unknown file system type (one of"
                    f" {', '.join(FS_TYPES)} or a magic number)")


def _saddr_fam(v: FieldInput) -> FieldValue:
    value = c_int(v.text, v.where) if v.text[:1].isdigit() else -1
    if not 0 <= value < AF_MAX:
        raise RuleError(f"{v.where}: address family must be a number below {AF_MAX}")
    return FieldValue(value)


def _number(v: FieldInput) -> FieldValue:
    if not v.text[:1].isdigit():
        raise RuleError(f"{v.where}: {v.name} takes a non-negative number")
    return FieldValue(c_int(v.text, v.where))


# --- the table ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRule:
    """What one field accepts.

    ``lists``: the filter lists it is valid on (None: any). ``ops``: the
    operators it takes (None: all eight). ``feature``: the kernel feature bit
    it needs. ``keyable``: it makes a rule able to carry a key, as -S does
    (auditctl refuses a key on a rule with none of these). ``before_syscalls``:
    it must come before -S (arch chooses the syscall table).
    """

    parse: ValueParser
    lists: tuple[Filter, ...] | None = None
    ops: tuple[Op, ...] | None = None
    feature: Feature | None = None
    keyable: bool = False
    before_syscalls: bool = False

    def check(self, name: str, where: str, filter_list: int, op: Op, env: RuleEnv,
              syscall_added: bool) -> None:
        """Refuse ``name OP`` on ``filter_list`` if this row does not allow it."""
        if self.before_syscalls and syscall_added:
            raise RuleError(f"{where}: -F {name} must come before -S")
        if self.feature is not None and not env.features & self.feature:
            raise RuleError(f"{where}: this kernel cannot filter on {name}")
        if self.lists is not None and filter_list not in self.lists:
            raise RuleError(f"{where}: {name} is only valid on the {_one_of(self.lists)} list")
        if self.ops is not None and op not in self.ops:
            symbols = [sym for sym, o in _OP_WORDS if o in self.ops]
            raise RuleError(f"{where}: {name} takes only {' or '.join(symbols)}")


_OP_WORDS = (("=", Op.EQUAL), ("!=", Op.NOT_EQUAL))


def _one_of(lists: tuple[Filter, ...]) -> str:
    names = [LIST_PRINT_NAMES[int(f)] for f in lists]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


_EXIT = (Filter.EXIT,)
_EQ_NE = (Op.EQUAL, Op.NOT_EQUAL)

#: One row per field id that ``-F`` takes (``key`` is handled by the parser:
#: it becomes the rule's key, joined with the other -k values).
FIELD_RULES: dict[Field, FieldRule] = {
    **dict.fromkeys(
        (Field.UID, Field.EUID, Field.SUID, Field.FSUID, Field.LOGINUID, Field.OBJ_UID),
        FieldRule(_uid),
    ),
    **dict.fromkeys(
        (Field.GID, Field.EGID, Field.SGID, Field.FSGID, Field.OBJ_GID), FieldRule(_gid)
    ),
    Field.EXIT: FieldRule(_exit, lists=_EXIT),
    Field.MSGTYPE: FieldRule(_msgtype, lists=(Filter.EXCLUDE, Filter.USER)),
    **dict.fromkeys(
        (Field.SUBJ_USER, Field.SUBJ_ROLE, Field.SUBJ_TYPE, Field.SUBJ_SEN, Field.SUBJ_CLR),
        FieldRule(_string),
    ),
    **dict.fromkeys(
        (Field.OBJ_USER, Field.OBJ_ROLE, Field.OBJ_TYPE, Field.OBJ_LEV_LOW, Field.OBJ_LEV_HIGH),
        FieldRule(_string, lists=_EXIT),
    ),
    **dict.fromkeys((Field.WATCH, Field.DIR), FieldRule(_string, lists=_EXIT, keyable=True)),
    Field.EXE: FieldRule(_string, ops=_EQ_NE, feature=Feature.EXECUTABLE_PATH, keyable=True),
    Field.ARCH: FieldRule(_arch, ops=_EQ_NE, before_syscalls=True),
    Field.PERM: FieldRule(_perm, lists=_EXIT, ops=(Op.EQUAL,), keyable=True),
    Field.FILETYPE: FieldRule(_filetype, lists=_EXIT),
    **dict.fromkeys((Field.ARG0, Field.ARG1, Field.ARG2, Field.ARG3), FieldRule(_arg)),
    Field.SESSIONID: FieldRule(
        _sessionid, lists=(Filter.EXIT, Filter.USER, Filter.EXCLUDE),
        feature=Feature.SESSIONID_FILTER,
    ),
    Field.FSTYPE: FieldRule(_fstype, lists=(Filter.FS,), ops=_EQ_NE, keyable=True),
    Field.SADDR_FAM: FieldRule(_saddr_fam),
    **dict.fromkeys(
        (Field.DEVMAJOR, Field.DEVMINOR, Field.SUCCESS, Field.PPID), FieldRule(_number, lists=_EXIT)
    ),
    Field.INODE: FieldRule(_number, lists=_EXIT, ops=_EQ_NE),
    **dict.fromkeys((Field.PID, Field.PERS, Field.FIELD_COMPARE), FieldRule(_number)),
}

#: Fields allowed on the exclude list when the kernel has EXCLUDE_EXTEND
#: (without it, only msgtype).
EXCLUDE_EXTENDED = frozenset(
    {Field.PID, Field.UID, Field.GID, Field.LOGINUID, Field.MSGTYPE, Field.SUBJ_USER,
     Field.SUBJ_ROLE, Field.SUBJ_TYPE, Field.SUBJ_SEN, Field.SUBJ_CLR, Field.EXE}
)

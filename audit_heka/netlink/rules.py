"""Audit rules: auditctl syntax <-> ``struct audit_rule_data`` bytes (sans-IO).

Why this exists: users already write rules for auditctl, and ``auditctl -l``
is the text they compare against. This module reads one auditctl line into a
``Command`` (a rule to add or delete, or a control change), encodes rules to
the exact bytes auditctl sends, decodes the kernel's AUDIT_LIST_RULES
payloads, and prints rules the way ``auditctl -l`` (audit 3.0.9) does.

Nothing here touches the kernel, the clock or the file system. What auditctl
looks up on the host (user and group names, whether a watched path is a
directory, the machine, the kernel's feature bitmap) comes in through a
``RuleEnv``; ``RuleEnv.system()`` builds the real one at the I/O edge.

Facts: /work/shared/reference/kernel-audit.md §1.3 and §3, checked against
auditctl on Debian 12 (tests/kernel/test_rules_roundtrip.py).
"""

from __future__ import annotations

import errno as _errno
import os
import platform
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from audit_heka.netlink.uapi import (
    ALL_FEATURES,
    AUDIT_BITMASK_SIZE,
    AUDIT_FILTER_PREPEND,
    AUDIT_KEY_SEPARATOR,
    AUDIT_MAX_FIELDS,
    AUDIT_MAX_KEY_LEN,
    AUDIT_OPERATORS,
    AUDIT_SYSCALL_CLASSES,
    PATH_MAX,
    Action,
    Compare,
    Feature,
    Field,
    Filter,
    Op,
    Perm,
)
from audit_heka.tables.msgtypes import MSG_TYPE_NUMBERS, MSG_TYPES
from audit_heka.tables.syscalls import (
    ARCH_VALUES,
    ARCHES,
    MACHINE_ALIASES,
    SYSCALL_NUMBERS,
    SYSCALLS,
)

# --- names -------------------------------------------------------------------

#: auditctl's field names (libaudit fieldtab.h). "loginuid" is an alias of
#: "auid"; there is no "loginuid_set" (the kernel makes it from auid=-1).
FIELD_NAMES: dict[str, Field] = {
    "pid": Field.PID, "uid": Field.UID, "euid": Field.EUID, "suid": Field.SUID,
    "fsuid": Field.FSUID, "gid": Field.GID, "egid": Field.EGID, "sgid": Field.SGID,
    "fsgid": Field.FSGID, "auid": Field.LOGINUID, "loginuid": Field.LOGINUID,
    "pers": Field.PERS, "arch": Field.ARCH, "msgtype": Field.MSGTYPE,
    "subj_user": Field.SUBJ_USER, "subj_role": Field.SUBJ_ROLE,
    "subj_type": Field.SUBJ_TYPE, "subj_sen": Field.SUBJ_SEN, "subj_clr": Field.SUBJ_CLR,
    "ppid": Field.PPID, "obj_user": Field.OBJ_USER, "obj_role": Field.OBJ_ROLE,
    "obj_type": Field.OBJ_TYPE, "obj_lev_low": Field.OBJ_LEV_LOW,
    "obj_lev_high": Field.OBJ_LEV_HIGH, "devmajor": Field.DEVMAJOR,
    "devminor": Field.DEVMINOR, "inode": Field.INODE, "exit": Field.EXIT,
    "success": Field.SUCCESS, "path": Field.WATCH, "perm": Field.PERM, "dir": Field.DIR,
    "filetype": Field.FILETYPE, "obj_uid": Field.OBJ_UID, "obj_gid": Field.OBJ_GID,
    "field_compare": Field.FIELD_COMPARE, "a0": Field.ARG0, "a1": Field.ARG1,
    "a2": Field.ARG2, "a3": Field.ARG3, "key": Field.FILTERKEY, "exe": Field.EXE,
    "sessionid": Field.SESSIONID, "fstype": Field.FSTYPE, "saddr_fam": Field.SADDR_FAM,
}
#: The name auditctl prints for a field id (the first name in fieldtab.h).
FIELD_PRINT_NAMES: dict[int, str] = {}
for _name, _field in FIELD_NAMES.items():
    FIELD_PRINT_NAMES.setdefault(_field, _name)

#: Operators in the order auditctl looks for them (two-character ones first).
OPERATORS: tuple[tuple[str, Op], ...] = (
    ("!=", Op.NOT_EQUAL), (">=", Op.GREATER_THAN_OR_EQUAL),
    ("<=", Op.LESS_THAN_OR_EQUAL), ("&=", Op.BIT_TEST), ("=", Op.EQUAL),
    (">", Op.GREATER_THAN), ("<", Op.LESS_THAN), ("&", Op.BIT_MASK),
)
OP_SYMBOLS: dict[int, str] = {int(op): sym for sym, op in OPERATORS}

LIST_NAMES: dict[str, Filter] = {
    "task": Filter.TASK, "exit": Filter.EXIT, "user": Filter.USER,
    "exclude": Filter.EXCLUDE, "filesystem": Filter.FS, "io_uring": Filter.URING_EXIT,
}
LIST_PRINT_NAMES: dict[int, str] = {
    **{int(f): n for n, f in LIST_NAMES.items()}, int(Filter.ENTRY): "entry",
    int(Filter.WATCH): "watch",
}
ACTION_NAMES: dict[str, Action] = {"never": Action.NEVER, "always": Action.ALWAYS}
ACTION_PRINT_NAMES = {0: "never", 1: "possible", 2: "always"}

#: File types for ``-F filetype=`` (libaudit ftypetab.h; S_IF* values).
FILE_TYPES: dict[str, int] = {
    "block": 0o060000, "character": 0o020000, "dir": 0o040000, "fifo": 0o010000,
    "file": 0o100000, "link": 0o120000, "socket": 0o140000,
}
#: File system magic numbers auditctl 3.0.9 knows by name (fstypetab.h).
FS_TYPES: dict[str, int] = {"debugfs": 0x64626720, "tracefs": 0x74726163}
FS_TYPE_NAMES = {v: k for k, v in FS_TYPES.items()}

#: ``-C`` pairs: AUDIT_COMPARE_<A>_TO_<B> is symmetric in auditctl.
_CMP_FIELD = {"AUID": Field.LOGINUID}
COMPARE_PAIRS: dict[frozenset[int], Compare] = {}
COMPARE_PRINT: dict[int, tuple[str, str]] = {}
for _cmp in Compare:
    _a, _b = _cmp.name.split("_TO_")
    _fa = _CMP_FIELD.get(_a, Field[_a] if _a in Field.__members__ else None)
    _fb = _CMP_FIELD.get(_b, Field[_b] if _b in Field.__members__ else None)
    assert _fa is not None and _fb is not None
    COMPARE_PAIRS[frozenset((int(_fa), int(_fb)))] = _cmp
    COMPARE_PRINT[int(_cmp)] = (_a.lower(), _b.lower())

#: Fields whose value is a string carried in ``buf`` (values[i] = its length).
STRING_FIELDS = frozenset(
    {
        Field.SUBJ_USER, Field.SUBJ_ROLE, Field.SUBJ_TYPE, Field.SUBJ_SEN, Field.SUBJ_CLR,
        Field.OBJ_USER, Field.OBJ_ROLE, Field.OBJ_TYPE, Field.OBJ_LEV_LOW,
        Field.OBJ_LEV_HIGH, Field.WATCH, Field.DIR, Field.FILTERKEY, Field.EXE,
    }
)
_UID_FIELDS = frozenset(
    {Field.UID, Field.EUID, Field.SUID, Field.FSUID, Field.LOGINUID, Field.OBJ_UID}
)
_GID_FIELDS = frozenset({Field.GID, Field.EGID, Field.SGID, Field.FSGID, Field.OBJ_GID})
_EXIT_ONLY_STRINGS = frozenset(
    {Field.OBJ_USER, Field.OBJ_ROLE, Field.OBJ_TYPE, Field.OBJ_LEV_LOW,
     Field.OBJ_LEV_HIGH, Field.WATCH, Field.DIR}
)
#: Fields allowed on the exclude list when the kernel has EXCLUDE_EXTEND.
_EXCLUDE_EXTENDED = frozenset(
    {Field.PID, Field.UID, Field.GID, Field.LOGINUID, Field.MSGTYPE, Field.SUBJ_USER,
     Field.SUBJ_ROLE, Field.SUBJ_TYPE, Field.SUBJ_SEN, Field.SUBJ_CLR, Field.EXE}
)
#: Lists on which a rule takes no syscall mask and auditctl prints no -S.
_NO_SYSCALL_LISTS = frozenset({Filter.USER, Filter.TASK, Filter.EXCLUDE, Filter.FS})
AF_MAX = 46  # glibc 2.36 <bits/socket.h>

ALL_MASK: tuple[int, ...] = (0xFFFFFFFF,) * AUDIT_BITMASK_SIZE
EMPTY_MASK: tuple[int, ...] = (0,) * AUDIT_BITMASK_SIZE

# --- values ------------------------------------------------------------------


class RuleError(ValueError):
    """A rule line that auditctl would refuse, with a message saying why."""


@dataclass(frozen=True, slots=True)
class RuleField:
    """One ``fields[i]/fieldflags[i]/values[i]`` triple; ``text`` for string fields."""

    field: int
    op: int
    value: int
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A ``struct audit_rule_data`` as a value.

    ``flags`` is the filter list, possibly with AUDIT_FILTER_PREPEND (which
    the kernel does not report back when listing).
    """

    flags: int
    action: int
    mask: tuple[int, ...] = EMPTY_MASK
    fields: tuple[RuleField, ...] = ()

    @property
    def filter_list(self) -> int:
        return self.flags & ~AUDIT_FILTER_PREPEND

    def syscalls(self) -> list[int]:
        return [
            w * 32 + b for w, word in enumerate(self.mask) if word for b in range(32)
            if word >> b & 1
        ]


@dataclass(frozen=True, slots=True)
class AddRule:
    rule: Rule


@dataclass(frozen=True, slots=True)
class DeleteRule:
    rule: Rule


@dataclass(frozen=True, slots=True)
class DeleteAll:
    """``-D`` (with ``-k KEY``: only the rules carrying that key)."""

    key: str | None = None


@dataclass(frozen=True, slots=True)
class SetStatus:
    """``-e -f -r -b --backlog_wait_time``: AUDIT_SET of these fields."""

    changes: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ResetLost:
    pass


@dataclass(frozen=True, slots=True)
class SetLoginuidImmutable:
    pass


@dataclass(frozen=True, slots=True)
class ContinueOnError:
    """``-c`` / ``-i`` in a rules file: keep going after a failed line."""


Command = (
    AddRule | DeleteRule | DeleteAll | SetStatus | ResetLost | SetLoginuidImmutable
    | ContinueOnError
)


def _system_uid(name: str) -> int | None:
    import pwd  # noqa: PLC0415 - only the system environment reads passwd

    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _system_gid(name: str) -> int | None:
    import grp  # noqa: PLC0415 - only the system environment reads group

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


@dataclass(frozen=True, slots=True)
class RuleEnv:
    """What auditctl looks up on the host, injected so parsing stays pure."""

    machine: str = "x86_64"
    features: int = int(ALL_FEATURES)
    uid: Callable[[str], int | None] = field(default=lambda name: None)
    gid: Callable[[str], int | None] = field(default=lambda name: None)
    is_dir: Callable[[str], bool] = field(default=lambda path: False)

    @classmethod
    def system(cls, features: int = int(ALL_FEATURES)) -> RuleEnv:
        """The running host: uname machine, passwd/group, stat()."""
        machine = MACHINE_ALIASES.get(platform.machine(), platform.machine())
        return cls(machine, features, _system_uid, _system_gid, os.path.isdir)


# --- parsing -----------------------------------------------------------------


def _c_int(text: str, what: str, *, signed: bool = True) -> int:
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


def _errno_value(name: str) -> int | None:
    neg = name.startswith("-")
    number = getattr(_errno, name.lstrip("-"), None)
    if not isinstance(number, int) or not name.lstrip("-").startswith("E"):
        return None
    return (-number if neg else number) & 0xFFFFFFFF


def _split_pair(pair: str) -> tuple[str, Op, str]:
    for sym, op in OPERATORS:
        at = pair.find(sym)
        if at >= 0:
            name, value = pair[:at], pair[at + len(sym):]
            if not name:
                raise RuleError(f"-F {pair}: field name is missing")
            if not value:
                raise RuleError(f"-F {pair}: value is missing")
            return name, op, value
    raise RuleError(f"-F {pair}: no operator (one of = != < > <= >= & &=)")


def _arch_value(text: str, env: RuleEnv) -> tuple[int, str]:
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


@dataclass
class _Builder:
    """Accumulates one line's options in auditctl's order."""

    env: RuleEnv
    kind: str | None = None  # "add" or "delete"
    flags: int | None = None
    action: int | None = None
    mask: list[int] = field(default_factory=lambda: [0] * AUDIT_BITMASK_SIZE)
    fields: list[RuleField] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    machine: str | None = None
    syscall_added: bool = False
    perm_added: bool = False
    exe_added: bool = False
    fstype_added: bool = False
    watch: bool = False

    def set_list(self, option: str, value: str) -> None:
        if self.kind is not None:
            raise RuleError(f"{option}: only one -a/-A/-d/-w/-W is allowed per rule")
        self.kind = "delete" if option in ("-d", "-W") else "add"
        parts = value.split(",")
        if len(parts) != 2:
            raise RuleError(f"{option} {value}: expected LIST,ACTION (e.g. always,exit)")
        lst = next((LIST_NAMES[p] for p in parts if p in LIST_NAMES), None)
        act = next((ACTION_NAMES[p] for p in parts if p in ACTION_NAMES), None)
        if "entry" in parts:
            raise RuleError("the entry list is deprecated; use exit")
        if "possible" in parts:
            raise RuleError("the possible action is deprecated; use always")
        if lst is None:
            raise RuleError(f"{option} {value}: unknown filter list (task exit user exclude"
                            " filesystem io_uring)")
        if act is None:
            raise RuleError(f"{option} {value}: unknown action (always or never)")
        self.flags = int(lst) | (AUDIT_FILTER_PREPEND if option == "-A" else 0)
        self.action = int(act)

    def add_watch(self, option: str, path: str) -> None:
        if self.kind is not None:
            raise RuleError(f"{option}: a watch cannot be combined with -a/-d")
        if not path.startswith("/"):
            raise RuleError(f"{option} {path}: the watch path must be absolute")
        trimmed = path.rstrip("/") or "/"
        if len(trimmed) > PATH_MAX:
            raise RuleError(f"{option}: path is longer than {PATH_MAX}")
        self.kind = "delete" if option == "-W" else "add"
        self.flags, self.action, self.watch = int(Filter.EXIT), int(Action.ALWAYS), True
        self.mask = list(ALL_MASK)
        kind = Field.DIR if self.env.is_dir(trimmed) else Field.WATCH
        self.fields.append(RuleField(int(kind), int(Op.EQUAL), len(trimmed.encode()), trimmed))
        self.fields.append(RuleField(int(Field.PERM), int(Op.EQUAL), 0xF))
        self.perm_added = True

    def set_perm(self, perms: str) -> None:
        if not self.watch:
            raise RuleError("-p is only valid with a watch (-w/-W)")
        value = _perm_bits(perms)
        self.fields = [
            replace(f, value=value) if f.field == Field.PERM else f for f in self.fields
        ]

    def add_syscalls(self, names: str) -> None:
        if self.watch:
            raise RuleError("-S cannot be used with a watch")
        machine = self.machine or self.env.machine
        for name in names.split(","):
            if not name:
                raise RuleError(f"-S {names}: empty syscall name")
            if name == "all":
                self.mask = list(ALL_MASK)
                continue
            nr = SYSCALL_NUMBERS.get(machine, {}).get(name)
            if nr is None:
                if not name[:1].isdigit():
                    raise RuleError(f"-S {name}: unknown syscall for {machine}")
                nr = _c_int(name, f"-S {name}")
            if nr >= AUDIT_BITMASK_SIZE * 32:
                raise RuleError(f"-S {name}: syscall number {nr} is out of range")
            self.mask[nr // 32] |= 1 << (nr % 32)
        self.syscall_added = True

    def add_compare(self, pair: str) -> None:
        if "!=" in pair:
            a, b, op = *pair.split("!=", 1), Op.NOT_EQUAL
        elif "=" in pair:
            a, b, op = *pair.split("=", 1), Op.EQUAL
        else:
            raise RuleError(f"-C {pair}: expected FIELD=FIELD or FIELD!=FIELD")
        fa, fb = FIELD_NAMES.get(a), FIELD_NAMES.get(b)
        if fa is None or fb is None:
            raise RuleError(f"-C {pair}: unknown field {a if fa is None else b!r}")
        if self.flags is None or self.flags & ~AUDIT_FILTER_PREPEND != Filter.EXIT:
            raise RuleError(f"-C {pair}: field comparisons are only valid on the exit list")
        cmp = COMPARE_PAIRS.get(frozenset((int(fa), int(fb))))
        if cmp is None:
            raise RuleError(f"-C {pair}: {a} and {b} cannot be compared")
        self._append(RuleField(int(Field.FIELD_COMPARE), int(op), int(cmp)))

    def _append(self, f: RuleField) -> None:
        if len(self.fields) >= AUDIT_MAX_FIELDS - 1:
            raise RuleError(f"too many fields (the kernel allows {AUDIT_MAX_FIELDS - 1})")
        self.fields.append(f)

    def add_field(self, pair: str) -> None:
        if self.flags is None:
            raise RuleError(f"-F {pair}: give -a/-A/-d (the list) before -F")
        name, op, v = _split_pair(pair)
        if name == "key":
            self.keys.append(v)
            return
        fid = FIELD_NAMES.get(name)
        if fid is None:
            raise RuleError(f"-F {pair}: unknown field {name!r}")
        lst = self.flags & ~AUDIT_FILTER_PREPEND
        where = f"-F {pair}"
        if lst == Filter.EXCLUDE:
            if not self.env.features & Feature.EXCLUDE_EXTEND:
                if fid != Field.MSGTYPE:
                    raise RuleError(f"{where}: only msgtype is allowed on the exclude list")
            elif fid not in _EXCLUDE_EXTENDED:
                raise RuleError(
                    f"{where}: only msgtype, pid, uid, gid, auid, exe and subj_* fields can be"
                    " used with the exclude list"
                )
        exit_only = f"{where}: {name} is only valid on the exit list"
        value: int
        text: str | None = None
        if fid in _UID_FIELDS:
            if v[:1].isdigit():
                value = _c_int(v, where, signed=False)
            elif v[:1] == "-" and v[1:2].isdigit():
                value = _c_int(v, where)
            elif v == "unset":
                value = 0xFFFFFFFF
            else:
                uid = self.env.uid(v)
                if uid is None:
                    raise RuleError(f"{where}: unknown user {v!r}")
                value = uid
        elif fid in _GID_FIELDS:
            if v[:1].isdigit():
                value = _c_int(v, where)
            else:
                gid = self.env.gid(v)
                if gid is None:
                    raise RuleError(f"{where}: unknown group {v!r}")
                value = gid
        elif fid == Field.EXIT:
            if lst != Filter.EXIT:
                raise RuleError(exit_only)
            if v[:1].isdigit() or (v[:1] == "-" and v[1:2].isdigit()):
                value = _c_int(v, where)
            else:
                number = _errno_value(v)
                if number is None:
                    raise RuleError(f"{where}: unknown errno name {v!r}")
                value = number
        elif fid == Field.MSGTYPE:
            if lst not in (Filter.EXCLUDE, Filter.USER):
                raise RuleError(f"{where}: msgtype is only valid on the exclude or user list")
            if v[:1].isdigit():
                value = _c_int(v, where)
            elif v in MSG_TYPE_NUMBERS:
                value = MSG_TYPE_NUMBERS[v]
            else:
                raise RuleError(f"{where}: unknown message type {v!r}")
        elif fid in STRING_FIELDS:
            if fid in _EXIT_ONLY_STRINGS and lst != Filter.EXIT:
                raise RuleError(exit_only)
            if fid in (Field.WATCH, Field.DIR):
                self.perm_added = True
            if fid == Field.EXE:
                if not self.env.features & Feature.EXECUTABLE_PATH:
                    raise RuleError(f"{where}: this kernel cannot filter on exe")
                if op not in (Op.EQUAL, Op.NOT_EQUAL):
                    raise RuleError(f"{where}: exe takes only = or !=")
                self.exe_added = True
            if len(v.encode()) > PATH_MAX:
                raise RuleError(f"{where}: value is longer than {PATH_MAX}")
            text, value = v, len(v.encode())
        elif fid == Field.ARCH:
            if self.syscall_added:
                raise RuleError(f"{where}: -F arch must come before -S")
            if op not in (Op.EQUAL, Op.NOT_EQUAL):
                raise RuleError(f"{where}: arch takes only = or !=")
            value, self.machine = _arch_value(v, self.env)
        elif fid == Field.PERM:
            if lst != Filter.EXIT:
                raise RuleError(exit_only)
            if op != Op.EQUAL:
                raise RuleError(f"{where}: perm takes only =")
            value = _perm_bits(v)
            self.perm_added = True
        elif fid == Field.FILETYPE:
            if lst != Filter.EXIT:
                raise RuleError(exit_only)
            if v not in FILE_TYPES:
                raise RuleError(f"{where}: unknown file type (one of {', '.join(FILE_TYPES)})")
            value = FILE_TYPES[v]
        elif fid in (Field.ARG0, Field.ARG1, Field.ARG2, Field.ARG3):
            if v[:1].isdigit():
                value = _c_int(v, where, signed=False)
            elif v[:1] == "-" and v[1:2].isdigit():
                value = _c_int(v, where)
            else:
                raise RuleError(f"{where}: {name} takes a number")
        elif fid == Field.SESSIONID:
            if not self.env.features & Feature.SESSIONID_FILTER:
                raise RuleError(f"{where}: this kernel cannot filter on sessionid")
            if lst not in (Filter.EXCLUDE, Filter.USER, Filter.EXIT):
                raise RuleError(f"{where}: sessionid is only valid on the exit, user or"
                                " exclude list")
            if v == "unset":
                value = 0xFFFFFFFF
            elif v[:1].isdigit() or (v[:1] == "-" and v[1:2].isdigit()):
                value = _c_int(v, where)
            else:
                raise RuleError(f"{where}: sessionid takes a number or unset")
        elif fid == Field.FSTYPE:
            if lst != Filter.FS:
                raise RuleError(f"{where}: fstype is only valid on the filesystem list")
            if op not in (Op.EQUAL, Op.NOT_EQUAL):
                raise RuleError(f"{where}: fstype takes only = or !=")
            if v[:1].isdigit():
                value = _c_int(v, where, signed=False)
            elif v in FS_TYPES:
                value = FS_TYPES[v]
            else:
                raise RuleError(f"{where}: unknown file system type (one of"
                                f" {', '.join(FS_TYPES)} or a magic number)")
            self.fstype_added = True
        elif fid == Field.SADDR_FAM:
            value = _c_int(v, where) if v[:1].isdigit() else -1
            if not 0 <= value < AF_MAX:
                raise RuleError(f"{where}: address family must be a number below {AF_MAX}")
        else:
            exit_fields = (Field.DEVMAJOR, Field.DEVMINOR, Field.INODE, Field.SUCCESS, Field.PPID)
            if fid in exit_fields and lst != Filter.EXIT:
                raise RuleError(exit_only)
            if fid == Field.INODE and op not in (Op.EQUAL, Op.NOT_EQUAL):
                raise RuleError(f"{where}: inode takes only = or !=")
            if not v[:1].isdigit():
                raise RuleError(f"{where}: {name} takes a non-negative number")
            value = _c_int(v, where)
        self._append(RuleField(int(fid), int(op), value, text))

    def finish(self) -> AddRule | DeleteRule:
        assert self.flags is not None and self.action is not None
        lst = self.flags & ~AUDIT_FILTER_PREPEND
        if self.syscall_added and lst in _NO_SYSCALL_LISTS:
            raise RuleError(f"-S is not allowed on the {LIST_PRINT_NAMES[lst]} list")
        if not self.syscall_added and lst != Filter.TASK and not self.watch:
            self.mask = list(ALL_MASK)
        for k in self.keys:
            # auditctl adds keys as "key=VALUE" through its -F parser, which
            # looks for "!=" ">=" "<=" "&=" before "=": such keys mis-split.
            if _split_pair(f"key={k}")[:2] != ("key", Op.EQUAL):
                raise RuleError(f"key {k!r} contains an operator (!= >= <= &=), which auditctl"
                                " cannot load")
        if self.keys:
            if not (self.syscall_added or self.perm_added or self.exe_added
                    or self.fstype_added):
                raise RuleError("a key needs a syscall, watch, perm, exe or fstype before it")
            key = AUDIT_KEY_SEPARATOR.join(self.keys)
            if len(key.encode()) > AUDIT_MAX_KEY_LEN:
                raise RuleError(f"key is longer than {AUDIT_MAX_KEY_LEN} bytes")
            self._append(RuleField(int(Field.FILTERKEY), int(Op.EQUAL), len(key.encode()), key))
        rule = Rule(self.flags, self.action, tuple(self.mask), tuple(self.fields))
        return AddRule(rule) if self.kind == "add" else DeleteRule(rule)


def _perm_bits(perms: str) -> int:
    if not perms or len(perms) > 4:
        raise RuleError(f"permissions {perms!r}: use one to four of r w x a")
    bits = {"r": Perm.READ, "w": Perm.WRITE, "x": Perm.EXEC, "a": Perm.ATTR}
    value = 0
    for ch in perms.lower():
        if ch not in bits:
            raise RuleError(f"permissions {perms!r}: {ch!r} is not one of r w x a")
        value |= bits[ch]
    return value


_STATUS_OPTIONS = {
    "-e": ("enabled", 2), "-f": ("failure", 2), "-r": ("rate_limit", None),
    "-b": ("backlog_limit", None), "--backlog_wait_time": ("backlog_wait_time", None),
}
_TAKES_VALUE = {"-a", "-A", "-d", "-w", "-W", "-p", "-k", "-S", "-F", "-C", *_STATUS_OPTIONS}
_NOT_IN_FILES = {"-l", "-s", "-R", "-m", "-t", "-q", "-h", "-v", "--signal", "--help"}


def parse_line(line: str, env: RuleEnv | None = None) -> Command | None:
    """One auditctl line -> a Command, or None for a blank/comment line.

    Raises RuleError with a message naming the offending option.
    """
    env = env or RuleEnv()
    words = line.split()
    if not words or words[0].startswith("#"):
        return None
    # getopt also takes "-Fx=y"; split attached short-option values.
    args: list[str] = []
    for w in words:
        if len(w) > 2 and w[0] == "-" and w[1] != "-" and w[:2] in _TAKES_VALUE:
            args += [w[:2], w[2:]]
        elif w.startswith("--") and "=" in w:
            args += w.split("=", 1)
        else:
            args.append(w)
    b = _Builder(env)
    status: list[tuple[str, int]] = []
    other: list[Command] = []
    delete_all = False
    i = 0
    while i < len(args):
        opt = args[i]
        if opt in _TAKES_VALUE:
            if i + 1 >= len(args):
                raise RuleError(f"option {opt} needs a value")
            val = args[i + 1]
            i += 2
        else:
            val = ""
            i += 1
        if opt in ("-a", "-A", "-d"):
            b.set_list(opt, val)
        elif opt in ("-w", "-W"):
            b.add_watch(opt, val)
        elif opt == "-p":
            b.set_perm(val)
        elif opt == "-k":
            b.keys.append(val)
        elif opt == "-S":
            b.add_syscalls(val)
        elif opt == "-F":
            b.add_field(val)
        elif opt == "-C":
            b.add_compare(val)
        elif opt in _STATUS_OPTIONS:
            name, top = _STATUS_OPTIONS[opt]
            number = _c_int(val, opt, signed=False)
            if top is not None and number > top:
                raise RuleError(f"{opt} {val}: must be 0..{top}")
            status.append((name, number))
        elif opt == "-D":
            delete_all = True
        elif opt in ("--reset-lost", "--reset_lost"):
            other.append(ResetLost())
        elif opt == "--loginuid-immutable":
            other.append(SetLoginuidImmutable())
        elif opt in ("-c", "-i"):
            other.append(ContinueOnError())
        elif opt in _NOT_IN_FILES:
            raise RuleError(f"option {opt} is not a rule (it is not accepted here)")
        else:
            raise RuleError(f"unknown option {opt!r}")
    kinds = sum(bool(x) for x in (b.kind, status, delete_all, other))
    if kinds > 1:
        raise RuleError("put each rule or control option on a line of its own")
    if delete_all:
        if b.fields or b.syscall_added:
            raise RuleError("-D takes only -k")
        return DeleteAll(AUDIT_KEY_SEPARATOR.join(b.keys) or None)
    if status:
        return SetStatus(tuple(status))
    if other:
        if len(other) > 1:
            raise RuleError("put each control option on a line of its own")
        return other[0]
    if b.kind is None:
        if b.keys or b.fields or b.syscall_added:
            raise RuleError("a rule needs -a/-A/-d LIST,ACTION or -w/-W PATH")
        raise RuleError(f"nothing to do in {line.strip()!r}")
    return b.finish()


# --- wire format -------------------------------------------------------------

_HEAD = struct.Struct("=3I")
_ARRAYS = struct.Struct(f"={AUDIT_BITMASK_SIZE}I{AUDIT_MAX_FIELDS * 3}I")
_BUFLEN = struct.Struct("=I")
RULE_DATA_SIZE = _HEAD.size + _ARRAYS.size + _BUFLEN.size  # 1040


def encode_rule(rule: Rule) -> bytes:
    """The AUDIT_ADD_RULE/DEL_RULE payload auditctl sends for ``rule``."""
    n = len(rule.fields)
    if n > AUDIT_MAX_FIELDS:
        raise RuleError(f"{n} fields; the kernel takes at most {AUDIT_MAX_FIELDS}")
    pad = [0] * (AUDIT_MAX_FIELDS - n)
    buf = b"".join(
        (f.text or "").encode("utf-8", "surrogateescape")
        for f in rule.fields if f.field in STRING_FIELDS
    )
    return b"".join((
        _HEAD.pack(rule.flags, rule.action, n),
        _ARRAYS.pack(
            *rule.mask,
            *[f.field for f in rule.fields], *pad,
            *[f.value for f in rule.fields], *pad,
            *[f.op for f in rule.fields], *pad,
        ),
        _BUFLEN.pack(len(buf)),
        buf,
    ))


def decode_rule(payload: bytes) -> Rule:
    """An AUDIT_LIST_RULES payload (or an encoded rule) -> Rule."""
    if len(payload) < RULE_DATA_SIZE:
        raise RuleError(f"rule data is {len(payload)} bytes; at least {RULE_DATA_SIZE} needed")
    flags, action, count = _HEAD.unpack_from(payload)
    if count > AUDIT_MAX_FIELDS:
        raise RuleError(f"rule data claims {count} fields; at most {AUDIT_MAX_FIELDS}")
    arrays = _ARRAYS.unpack_from(payload, _HEAD.size)
    (buflen,) = _BUFLEN.unpack_from(payload, _HEAD.size + _ARRAYS.size)
    buf = payload[RULE_DATA_SIZE:]
    if buflen > len(buf):
        raise RuleError(f"rule data buflen {buflen} exceeds the {len(buf)} bytes sent")
    mask = arrays[:AUDIT_BITMASK_SIZE]
    base = AUDIT_BITMASK_SIZE
    fids = arrays[base:base + count]
    values = arrays[base + AUDIT_MAX_FIELDS:base + AUDIT_MAX_FIELDS + count]
    ops = arrays[base + 2 * AUDIT_MAX_FIELDS:base + 2 * AUDIT_MAX_FIELDS + count]
    out: list[RuleField] = []
    offset = 0
    for raw_fid, value, op in zip(fids, values, ops, strict=True):
        fid = raw_fid & ~AUDIT_OPERATORS
        text = None
        if fid in STRING_FIELDS:
            if offset + value > buflen:
                raise RuleError("rule data string fields overrun buflen")
            text = buf[offset:offset + value].decode("utf-8", "surrogateescape")
            offset += value
        out.append(RuleField(fid, op & AUDIT_OPERATORS, value, text))
    return Rule(flags, action, tuple(mask), tuple(out))


# --- printing (auditctl -l) --------------------------------------------------


def _signed(value: int) -> int:
    return value - 0x100000000 if value & 0x80000000 else value


def is_watch(rule: Rule) -> bool:
    """auditctl's test: only path/dir/perm/key fields, a perm, and all syscalls."""
    fids = {f.field for f in rule.fields}
    if Field.PERM not in fids:
        return False
    if fids - {Field.PERM, Field.FILTERKEY, Field.DIR, Field.WATCH}:
        return False
    if rule.filter_list in (Filter.USER, Filter.TASK, Filter.EXCLUDE):
        return True
    return all(w == 0xFFFFFFFF for w in rule.mask[: AUDIT_BITMASK_SIZE - 1])


@dataclass
class Formatter:
    """Prints rules as ``auditctl -l`` does, one listing at a time.

    Why a class: auditctl 3.0.9 remembers the last ``-F arch`` it printed and
    names the syscalls of later rules without an arch from that table. The
    state reproduces that, so our listing equals its listing line for line.
    """

    machine: str = "x86_64"
    _elf: int = 0

    def format(self, rule: Rule) -> str:
        watch = is_watch(rule)
        out: list[str] = []
        if not watch:
            out.append(
                f"-a {ACTION_PRINT_NAMES.get(rule.action, str(rule.action))},"
                f"{LIST_PRINT_NAMES.get(rule.filter_list, str(rule.filter_list))}"
            )
            for f in rule.fields:
                if f.field == Field.ARCH:
                    self._elf = f.value
                    sym = OP_SYMBOLS.get(f.op, "")
                    if f.value in ARCHES:
                        bits = "b64" if f.value & 0x80000000 else "b32"
                        out.append(f" -F arch{sym}{bits}")
                    else:
                        out.append(f" -F arch{sym}0x{f.value:X}")
            out.append(self._syscalls(rule))
        for f in rule.fields:
            out.append(self._field(f, watch))
        return "".join(out)

    def _syscalls(self, rule: Rule) -> str:
        if rule.filter_list in _NO_SYSCALL_LISTS:
            return ""
        if all(w == 0xFFFFFFFF for w in rule.mask[: AUDIT_BITMASK_SIZE - 1]):
            return " -S all"
        machine = ARCHES.get(self._elf, self.machine) if self._elf else self.machine
        table = SYSCALLS.get(machine, {})
        names = [table.get(nr, str(nr)) for nr in rule.syscalls()]
        return f" -S {','.join(names)}" if names else ""

    def _field(self, f: RuleField, watch: bool) -> str:
        sym = OP_SYMBOLS.get(f.op, "")
        fid = f.field
        name = FIELD_PRINT_NAMES.get(fid)
        if fid == Field.ARCH:
            return ""
        if name is None:
            return f" f{fid}{sym}{_signed(f.value)}"
        if fid == Field.MSGTYPE:
            return f" -F {name}{sym}{MSG_TYPES.get(f.value, _signed(f.value))}"
        if fid == Field.EXE:
            # auditctl 3.0.9 prints exe with "=" whatever the operator.
            return f" -F exe={f.text}"
        if fid == Field.WATCH:
            return f"-w {f.text}" if watch else f" -F path={f.text}"
        if fid == Field.DIR:
            return f"-w {f.text}" if watch else f" -F dir={f.text}"
        if fid in STRING_FIELDS and fid != Field.FILTERKEY:
            return f" -F {name}{sym}{f.text}"
        if fid == Field.FILTERKEY:
            parts = [p for p in (f.text or "").split(AUDIT_KEY_SEPARATOR) if p]
            return "".join(f" -k {p}" if watch else f" -F key={p}" for p in parts)
        if fid == Field.PERM:
            letters = "".join(
                ch for ch, bit in (("r", 4), ("w", 2), ("x", 1), ("a", 8)) if f.value & bit
            )
            return f" -p {letters}" if watch else f" -F perm={letters}"
        if fid == Field.INODE:
            return f" -F {name}{sym}{f.value}"
        if fid == Field.FIELD_COMPARE:
            pair = COMPARE_PRINT.get(f.value)
            return f" -C {pair[0]}{sym}{pair[1]}" if pair else ""
        if fid in (Field.ARG0, Field.ARG1, Field.ARG2, Field.ARG3):
            return f" -F {name}{sym}0x{f.value:X}"
        if fid == Field.FSTYPE and f.value in FS_TYPE_NAMES:
            return f" -F {name}{sym}{FS_TYPE_NAMES[f.value]}"
        if fid == Field.EXIT and _signed(f.value) < 0:
            ename = _errno.errorcode.get(-_signed(f.value))
            if ename:
                return f" -F {name}{sym}-{ename}"
        return f" -F {name}{sym}{_signed(f.value)}"


def format_rules(rules: Iterable[Rule], machine: str = "x86_64") -> list[str]:
    """A whole ``auditctl -l`` listing (``["No rules"]`` when empty)."""
    fmt = Formatter(machine)
    lines = [fmt.format(r) for r in rules]
    return lines or ["No rules"]


def rule_has_key(rule: Rule, key: str) -> bool:
    """auditctl's -k match for -D/-l: the key text contains ``key``."""
    return any(f.field == Field.FILTERKEY and key in (f.text or "") for f in rule.fields)


def as_watch_fallback(rule: Rule) -> Rule | None:
    """auditctl retries a refused DIR watch as a plain WATCH; this is that rule."""
    if not any(f.field == Field.DIR for f in rule.fields):
        return None
    return replace(rule, fields=tuple(
        replace(f, field=int(Field.WATCH)) if f.field == Field.DIR else f for f in rule.fields
    ))


def kernel_form(rule: Rule) -> Rule:
    """``rule`` as the kernel lists it back after adding it.

    The kernel normalises two things: the PREPEND bit is not kept in flags,
    and the top AUDIT_SYSCALL_CLASSES bits of the mask (syscall classes, set
    by "all") are cleared and folded into the real syscall bits, which "all"
    already has.
    """
    mask = list(rule.mask)
    mask[-1] &= (1 << (32 - AUDIT_SYSCALL_CLASSES)) - 1
    return replace(rule, flags=rule.filter_list, mask=tuple(mask))


def canonical(rules: Sequence[Rule]) -> list[Rule]:
    """Rules as the kernel reports them back."""
    return [kernel_form(r) for r in rules]

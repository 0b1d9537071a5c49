"""auditctl's names for fields, operators, lists, actions and value words.

Why a module of its own: the parser (syntax.py), the per-field table
(fields.py) and the printer (text.py) all translate between these names and
the kernel's numbers, in both directions; one table each way, side by side,
is what keeps ``auditctl -l`` output and our input in step. Facts: libaudit's
fieldtab.h, ftypetab.h, fstypetab.h (audit 3.0.9), glibc 2.36 for AF_MAX.
"""

from __future__ import annotations

from audit_heka.netlink.uapi import (
    AUDIT_BITMASK_SIZE,
    Action,
    Compare,
    Field,
    Filter,
    Op,
)

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
#: Lists on which a rule takes no syscall mask and auditctl prints no -S.
NO_SYSCALL_LISTS = frozenset({Filter.USER, Filter.TASK, Filter.EXCLUDE, Filter.FS})
AF_MAX = 46  # glibc 2.36 <bits/socket.h>

ALL_MASK: tuple[int, ...] = (0xFFFFFFFF,) * AUDIT_BITMASK_SIZE
EMPTY_MASK: tuple[int, ...] = (0,) * AUDIT_BITMASK_SIZE

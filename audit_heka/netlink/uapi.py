"""The kernel's audit ABI: numbers from include/uapi/linux/audit.h.

Why a module of its own: the status codec, the rule codec and the socket code
all speak the same numbers, and keeping them here (with enums where the value
is printed or matched) means one place to check against the header. Facts are
from /work/shared/reference/kernel-audit.md §1.
"""

from __future__ import annotations

import enum

NETLINK_AUDIT = 9
#: enum audit_nlgrps: the read-only multicast group (needs CAP_AUDIT_READ).
AUDIT_NLGRP_READLOG = 1

NLMSG_HDRLEN = 16
NLMSG_ERROR = 2
NLMSG_DONE = 3


class MsgType(enum.IntEnum):
    """Control message types (1000-1019)."""

    GET = 1000
    SET = 1001
    LIST_RULES = 1013
    ADD_RULE = 1011
    DEL_RULE = 1012
    SIGNAL_INFO = 1010
    TRIM = 1014
    MAKE_EQUIV = 1015
    TTY_GET = 1016
    TTY_SET = 1017
    SET_FEATURE = 1018
    GET_FEATURE = 1019
    USER = 1005
    REPLACE = 1329


class StatusMask(enum.IntFlag):
    """AUDIT_STATUS_* bits of audit_status.mask: which fields an AUDIT_SET sets."""

    ENABLED = 0x01
    FAILURE = 0x02
    PID = 0x04
    RATE_LIMIT = 0x08
    BACKLOG_LIMIT = 0x10
    BACKLOG_WAIT_TIME = 0x20
    LOST = 0x40
    BACKLOG_WAIT_TIME_ACTUAL = 0x80


class Feature(enum.IntFlag):
    """AUDIT_FEATURE_BITMAP_*: what this kernel's audit supports."""

    BACKLOG_LIMIT = 0x01
    BACKLOG_WAIT_TIME = 0x02
    EXECUTABLE_PATH = 0x04
    EXCLUDE_EXTEND = 0x08
    SESSIONID_FILTER = 0x10
    LOST_RESET = 0x20
    FILTER_FS = 0x40


ALL_FEATURES = Feature(0x7F)


class FailureMode(enum.IntEnum):
    """What the kernel does when it loses a record (audit_status.failure)."""

    SILENT = 0
    PRINTK = 1
    PANIC = 2


class Filter(enum.IntEnum):
    """Filter lists (audit_rule_data.flags, low bits)."""

    USER = 0
    TASK = 1
    ENTRY = 2
    WATCH = 3
    EXIT = 4
    EXCLUDE = 5
    FS = 6
    URING_EXIT = 7


AUDIT_FILTER_PREPEND = 0x10


class Action(enum.IntEnum):
    """Rule actions (audit_rule_data.action)."""

    NEVER = 0
    POSSIBLE = 1
    ALWAYS = 2


class Op(enum.IntEnum):
    """Comparison operators, stored in fieldflags."""

    BIT_MASK = 0x08000000
    LESS_THAN = 0x10000000
    GREATER_THAN = 0x20000000
    NOT_EQUAL = 0x30000000
    EQUAL = 0x40000000
    BIT_TEST = 0x48000000
    LESS_THAN_OR_EQUAL = 0x50000000
    GREATER_THAN_OR_EQUAL = 0x60000000


AUDIT_OPERATORS = 0x78000000
AUDIT_NEGATE = 0x80000000


class Field(enum.IntEnum):
    """Rule field ids (audit_rule_data.fields)."""

    PID = 0
    UID = 1
    EUID = 2
    SUID = 3
    FSUID = 4
    GID = 5
    EGID = 6
    SGID = 7
    FSGID = 8
    LOGINUID = 9
    PERS = 10
    ARCH = 11
    MSGTYPE = 12
    SUBJ_USER = 13
    SUBJ_ROLE = 14
    SUBJ_TYPE = 15
    SUBJ_SEN = 16
    SUBJ_CLR = 17
    PPID = 18
    OBJ_USER = 19
    OBJ_ROLE = 20
    OBJ_TYPE = 21
    OBJ_LEV_LOW = 22
    OBJ_LEV_HIGH = 23
    LOGINUID_SET = 24
    SESSIONID = 25
    FSTYPE = 26
    DEVMAJOR = 100
    DEVMINOR = 101
    INODE = 102
    EXIT = 103
    SUCCESS = 104
    WATCH = 105
    PERM = 106
    DIR = 107
    FILETYPE = 108
    OBJ_UID = 109
    OBJ_GID = 110
    FIELD_COMPARE = 111
    EXE = 112
    SADDR_FAM = 113
    ARG0 = 200
    ARG1 = 201
    ARG2 = 202
    ARG3 = 203
    FILTERKEY = 210


class Compare(enum.IntEnum):
    """AUDIT_COMPARE_*: the value of a FIELD_COMPARE field."""

    UID_TO_OBJ_UID = 1
    GID_TO_OBJ_GID = 2
    EUID_TO_OBJ_UID = 3
    EGID_TO_OBJ_GID = 4
    AUID_TO_OBJ_UID = 5
    SUID_TO_OBJ_UID = 6
    SGID_TO_OBJ_GID = 7
    FSUID_TO_OBJ_UID = 8
    FSGID_TO_OBJ_GID = 9
    UID_TO_AUID = 10
    UID_TO_EUID = 11
    UID_TO_FSUID = 12
    UID_TO_SUID = 13
    AUID_TO_FSUID = 14
    AUID_TO_SUID = 15
    AUID_TO_EUID = 16
    EUID_TO_SUID = 17
    EUID_TO_FSUID = 18
    SUID_TO_FSUID = 19
    GID_TO_EGID = 20
    GID_TO_FSGID = 21
    GID_TO_SGID = 22
    EGID_TO_FSGID = 23
    EGID_TO_SGID = 24
    SGID_TO_FSGID = 25


class Perm(enum.IntFlag):
    """AUDIT_PERM_* bits of a perm field (a watch's -p)."""

    EXEC = 1
    WRITE = 2
    READ = 4
    ATTR = 8


AUDIT_BITMASK_SIZE = 64
AUDIT_MAX_FIELDS = 64
AUDIT_MAX_KEY_LEN = 256
AUDIT_KEY_SEPARATOR = "\x01"
AUDIT_UID_UNSET = 0xFFFFFFFF
#: The top AUDIT_SYSCALL_CLASSES bits of the mask name syscall classes; the
#: kernel folds them into real syscall bits, so a listed "all" rule has the
#: last mask word without them.
AUDIT_SYSCALL_CLASSES = 16
PATH_MAX = 4096

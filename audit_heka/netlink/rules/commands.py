"""What one auditctl line means, as values: rules and control commands.

Why a module of its own: the parser produces these, the wire codec encodes
``Rule``, the printer prints it, and rule files (rulefile.py) apply the
commands to the kernel; none of them should need the others to say what a
rule is. ``RuleEnv`` is here too: it is what a line's meaning depends on
besides its text (the host's users, groups, directories, machine and the
kernel's features), injected so that parsing stays pure.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field

from audit_heka.netlink.rules.names import EMPTY_MASK
from audit_heka.netlink.uapi import ALL_FEATURES, AUDIT_FILTER_PREPEND, Field
from audit_heka.tables.syscalls import MACHINE_ALIASES


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

    @property
    def prepend(self) -> bool:
        return bool(self.flags & AUDIT_FILTER_PREPEND)

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


def rule_has_key(rule: Rule, key: str) -> bool:
    """auditctl's -k match for -D/-l: the key text contains ``key``."""
    return any(f.field == Field.FILTERKEY and key in (f.text or "") for f in rule.fields)


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

"""``Rule`` -> the text ``auditctl -l`` (audit 3.0.9) prints for it.

Why exact: operators compare our listing with auditctl's line for line
(tests/kernel/test_rules_roundtrip.py checks 211 rules), so every quirk of
auditctl's printer is reproduced here, each with its reason.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Iterable
from dataclasses import dataclass

from audit_heka.netlink.rules.commands import Rule, RuleField
from audit_heka.netlink.rules.names import (
    ACTION_PRINT_NAMES,
    COMPARE_PRINT,
    FIELD_PRINT_NAMES,
    FS_TYPE_NAMES,
    LIST_PRINT_NAMES,
    NO_SYSCALL_LISTS,
    OP_SYMBOLS,
    STRING_FIELDS,
)
from audit_heka.netlink.uapi import AUDIT_BITMASK_SIZE, AUDIT_KEY_SEPARATOR, Field, Filter
from audit_heka.tables.msgtypes import MSG_TYPES
from audit_heka.tables.syscalls import ARCHES, SYSCALLS


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
        if rule.filter_list in NO_SYSCALL_LISTS:
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

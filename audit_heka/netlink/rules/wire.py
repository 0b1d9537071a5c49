"""``Rule`` <-> ``struct audit_rule_data`` bytes, and how the kernel keeps a rule.

Why a module of its own: these are the exact bytes auditctl sends
(AUDIT_ADD_RULE/DEL_RULE) and the kernel lists back (AUDIT_LIST_RULES), and
what the kernel changes in between (``kernel_form``). Comparing the kernel's
rules with a file's (rulefile.py's sync) depends on exactly that.
Facts: /work/shared/reference/kernel-audit.md §1.3 and §3.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace

from audit_heka.netlink.rules.commands import Rule, RuleError, RuleField
from audit_heka.netlink.rules.names import STRING_FIELDS
from audit_heka.netlink.uapi import (
    AUDIT_BITMASK_SIZE,
    AUDIT_MAX_FIELDS,
    AUDIT_OPERATORS,
    AUDIT_SYSCALL_CLASSES,
    Field,
)

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

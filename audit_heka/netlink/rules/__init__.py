"""Audit rules: auditctl syntax <-> ``struct audit_rule_data`` bytes (sans-IO).

Why this exists: users already write rules for auditctl, and ``auditctl -l``
is the text they compare against. One module per concept:

- ``names``: auditctl's names for fields, operators, lists, value words;
- ``commands``: what a line means (``Rule``, ``AddRule``, ``SetStatus``, ...)
  and ``RuleEnv``, what it depends on besides its text;
- ``fields``: what each ``-F`` field accepts, as a table;
- ``syntax``: one auditctl line -> a ``Command``;
- ``wire``: ``Rule`` <-> the bytes auditctl sends and the kernel lists;
- ``text``: ``Rule`` -> what ``auditctl -l`` prints.

Nothing here touches the kernel, the clock or the file system. What auditctl
looks up on the host comes in through a ``RuleEnv``; ``RuleEnv.system()``
builds the real one at the I/O edge. This package re-exports the public API.
"""

from __future__ import annotations

from audit_heka.netlink.rules.commands import (
    AddRule,
    Command,
    ContinueOnError,
    DeleteAll,
    DeleteRule,
    ResetLost,
    Rule,
    RuleEnv,
    RuleError,
    RuleField,
    SetLoginuidImmutable,
    SetStatus,
    rule_has_key,
)
from audit_heka.netlink.rules.fields import FIELD_RULES, FieldRule
from audit_heka.netlink.rules.names import (
    ALL_MASK,
    EMPTY_MASK,
    FIELD_NAMES,
    STRING_FIELDS,
)
from audit_heka.netlink.rules.syntax import parse_line
from audit_heka.netlink.rules.text import Formatter, format_rules, is_watch
from audit_heka.netlink.rules.wire import (
    RULE_DATA_SIZE,
    as_watch_fallback,
    canonical,
    decode_rule,
    encode_rule,
    kernel_form,
)

__all__ = [
    "ALL_MASK",
    "EMPTY_MASK",
    "FIELD_NAMES",
    "FIELD_RULES",
    "RULE_DATA_SIZE",
    "STRING_FIELDS",
    "AddRule",
    "Command",
    "ContinueOnError",
    "DeleteAll",
    "DeleteRule",
    "FieldRule",
    "Formatter",
    "ResetLost",
    "Rule",
    "RuleEnv",
    "RuleError",
    "RuleField",
    "SetLoginuidImmutable",
    "SetStatus",
    "as_watch_fallback",
    "canonical",
    "decode_rule",
    "encode_rule",
    "format_rules",
    "is_watch",
    "kernel_form",
    "parse_line",
    "rule_has_key",
]

"""The per-field table (netlink/rules/fields.py) covers every field and says what it allows."""

from __future__ import annotations

import pytest

from audit_heka.netlink.rules import FIELD_NAMES, FIELD_RULES, RuleEnv, RuleError, parse_line
from audit_heka.netlink.uapi import Field

ENV = RuleEnv("x86_64", 0x7F, {"root": 0}.get, {"root": 0}.get, lambda path: False)


def test_every_field_name_has_a_row() -> None:
    missing = {name for name, fid in FIELD_NAMES.items() if fid not in FIELD_RULES}
    assert missing == {"key"}  # -F key= becomes the rule's key, not a field row
    assert set(FIELD_RULES) <= set(FIELD_NAMES.values())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-a always,user -F exit=1", "exit is only valid on the exit list"),
        ("-a always,task -F sessionid=1", "only valid on the exit, user or exclude list"),
        ("-a always,exit -F fstype=debugfs", "only valid on the filesystem list"),
        ("-a always,exit -S openat -F perm>=r", "perm takes only ="),
        ("-a always,exit -S openat -F exe<=/bin/x", "exe takes only = or !="),
    ],
)
def test_refusals_name_what_the_row_allows(line: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_line(line, ENV)


def test_features_come_from_the_kernel() -> None:
    no_exe = RuleEnv("x86_64", 0x7F & ~0x04)
    with pytest.raises(RuleError, match="this kernel cannot filter on exe"):
        parse_line("-a always,exit -F exe=/bin/ls -k x", no_exe)
    assert FIELD_RULES[Field.EXE].keyable and not FIELD_RULES[Field.UID].keyable

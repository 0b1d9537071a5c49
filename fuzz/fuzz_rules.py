"""Fuzz the rule parser: auditctl rule files in, audit_rule_data bytes and listings out.

The input is a rules file (any text). Checked: ``parse_rules`` collects a
RuleError per bad line and never raises anything else; every rule it accepts
encodes to bytes that decode back to the same rule, lists (``auditctl -l``
form) without error, and fits the kernel's limits; the rules.d merge order
and the ``ls -v`` sort key take any line as a file name.
"""

from __future__ import annotations

from fuzz.harness import instrumented, run, text

with instrumented(__name__ == "__main__"):
    from audit_heka.netlink.rulefile import augenrules_order, parse_rules, version_key
    from audit_heka.netlink.rules import (
        AddRule,
        DeleteRule,
        RuleEnv,
        decode_rule,
        encode_rule,
        format_rules,
        kernel_form,
    )
    from audit_heka.netlink.uapi import AUDIT_MAX_FIELDS

ENV = RuleEnv(
    machine="x86_64",
    uid={"root": 0, "alice": 1000}.get,
    gid={"root": 0, "users": 100}.get,
    is_dir=lambda path: path.endswith("/"),
)


def check_rules_text(source: str) -> None:
    parsed = parse_rules(source, "fuzz.rules", ENV)
    for error in parsed.errors:
        assert str(error)
    rules = [c.command.rule for c in parsed.commands
             if isinstance(c.command, AddRule | DeleteRule)]
    for rule in rules:
        assert len(rule.fields) <= AUDIT_MAX_FIELDS
        data = encode_rule(rule)
        assert decode_rule(data) == rule, (decode_rule(data), rule)
        assert decode_rule(encode_rule(kernel_form(rule))) == kernel_form(rule)
    listing = format_rules(rules)
    assert len(listing) == max(len(rules), 1)
    assert len(augenrules_order(parsed.commands)) <= len(parsed.commands)
    for line in source.splitlines()[:64]:
        version_key(line)


def one_input(data: bytes) -> None:
    check_rules_text(text(data))


if __name__ == "__main__":
    run(one_input)

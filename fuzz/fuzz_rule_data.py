"""Fuzz the audit_rule_data decoder with arbitrary bytes (AUDIT_LIST_RULES replies).

A reply comes from the kernel, but the decoder must not trust its counts
and lengths. Checked: ``decode_rule`` raises only RuleError; a decoded rule
lists without error and re-encodes to bytes that decode to the same rule.
"""

from __future__ import annotations

from fuzz.harness import instrumented, run

with instrumented(__name__ == "__main__"):
    from audit_heka.netlink.rules import (
        RuleError,
        decode_rule,
        encode_rule,
        format_rules,
        is_watch,
    )


def check_rule_data(data: bytes) -> None:
    try:
        rule = decode_rule(data)
    except RuleError as exc:
        assert str(exc)
        return
    format_rules([rule])
    is_watch(rule)
    assert decode_rule(encode_rule(rule)) == rule


def one_input(data: bytes) -> None:
    check_rule_data(data)


if __name__ == "__main__":
    run(one_input)

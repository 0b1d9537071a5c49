"""Fuzz the record parser: auditd log lines and kernel netlink texts.

Properties checked on every input (not only "does not raise"):

* ``parse_line`` / ``parse_kernel`` return a Record or a ParseError, never
  raise; a ParseError names its reason (the counter it goes to);
* a Record's keys are non-empty words, its time fits Heka's int64 nanosecond
  Timestamp and its serial Heka's int64 INTEGER field;
* ``parse_line(record.log_line())`` gives the same record (Payload and the
  ``log:`` output rely on log_line() being faithful);
* the kernel form of a logged record (the text after ``msg=``, without an
  ENRICHED section: the kernel never sends one) parses to the same fields,
  as the live source would see it.
"""

from __future__ import annotations

from fuzz.harness import instrumented, run, text

with instrumented(__name__ == "__main__"):
    from audit_heka.core.records import (
        ParseError,
        Record,
        parse_kernel,
        parse_line,
        split_enriched,
    )

INT64_MAX = (1 << 63) - 1
REASONS = frozenset(
    {"too_long", "binary", "bad_header", "unterminated_quote", "unterminated_brace"}
)


def check_result(result: Record | ParseError) -> None:
    """The invariants of one parse result."""
    if isinstance(result, ParseError):
        assert result.reason in REASONS, result.reason
        return
    assert isinstance(result, Record)
    assert 0 <= result.timestamp_ns <= INT64_MAX, result.timestamp_ns
    assert 0 <= result.serial <= INT64_MAX, result.serial
    assert 0 <= result.milliseconds <= 999
    for key, value in (*result.fields, *result.enriched):
        assert key and " " not in key, key
        assert isinstance(value, str)


def check_line(line: str) -> Record | ParseError:
    """Parse one log line both ways and check every invariant; return the parse."""
    result = parse_line(line)
    check_result(result)
    if isinstance(result, Record):
        again = parse_line(result.log_line())
        assert again == result, (again, result)
        # "[node=N ]type=T msg=audit(...": N and T have no spaces.
        words = 2 if result.node is not None else 1
        stamped = line.rstrip("\r\n").split(" ", words)[words]
        kernel_text = stamped.removeprefix("msg=")
        if result.enriched:  # auditd's section is not in what the kernel sent
            head, _ = split_enriched(result.text)
            kernel_text = kernel_text[: len(kernel_text) - len(result.text) + len(head)]
        kernel = parse_kernel(result.type, kernel_text)
        check_result(kernel)
        assert isinstance(kernel, Record), kernel
        assert kernel.fields == result.fields and kernel.serial == result.serial
    return result


def check_kernel(msg_type: int, body: str) -> Record | ParseError:
    """Parse one netlink record text and check every invariant."""
    result = parse_kernel(msg_type, body)
    check_result(result)
    if isinstance(result, Record):
        assert result.type == msg_type
    return result


def one_input(data: bytes) -> None:
    line = text(data)
    check_line(line)
    # The live source decodes with backslashreplace and never strips newlines.
    check_kernel(1300, data.decode("utf-8", "backslashreplace"))


if __name__ == "__main__":
    run(one_input)

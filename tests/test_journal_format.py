"""The journal line codec: lossless, one record per line, kernel text untouched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_heka.journal.format import (
    BadLine,
    Cursor,
    JournalLine,
    LineBuilder,
    build_line,
    escape,
    format_cursor,
    needs_escape,
    node_prefix,
    parse_cursor,
    parse_line,
    split_lines,
    type_name,
    unescape,
)
from audit_heka.records import Record
from audit_heka.records import parse_line as parse_record

KERNEL_TEXT = (
    b'audit(1700000000.123:42): arch=c000003e syscall=2 success=no exit=-2 a0=7ffd'
    b' comm="cat" exe="/usr/bin/cat" key="storm"'
)


def test_kernel_text_is_written_unchanged() -> None:
    assert escape(KERNEL_TEXT) is KERNEL_TEXT
    assert not needs_escape(KERNEL_TEXT)
    line = LineBuilder().line(1300, KERNEL_TEXT)
    assert line == b"type=SYSCALL msg=" + KERNEL_TEXT + b"\n"


def test_node_prefix_and_unknown_type() -> None:
    line = LineBuilder("web-1").line(1399, b"audit(1.002:3): x=1")
    assert line == b"node=web-1 type=UNKNOWN[1399] msg=audit(1.002:3): x=1\n"
    assert type_name(1320) == b"EOE"


@pytest.mark.parametrize("bad", ["two words", "a=b", "", "tab\there"])
def test_node_name_must_be_one_token(bad: str) -> None:
    with pytest.raises(ValueError, match="node name"):
        node_prefix(bad)


def test_build_line_from_parts() -> None:
    assert build_line(1320, b"1.002:3", b"") == b"type=EOE msg=audit(1.002:3): \n"
    assert build_line(1320, b"1.002:3", b"", "n") == b"node=n type=EOE msg=audit(1.002:3): \n"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        (b"a\nb", b"a\\x0ab"),
        (b"a\x1db", b"a\\x1db"),
        (b"\x00\x1f\x7f", b"\\x00\\x1f\\x7f"),
        (b"\r\t", b"\\x0d\\x09"),
        (b"c:\\x41", b"c:\\x5cx41"),  # a literal backslash-x is not an escape
        (b"\\\\x", b"\\\\x5cx"),
        (b"\\y \\", b"\\y \\"),  # other backslashes stay
        (b"\x80\xff caf\xc3\xa9", b"\x80\xff caf\xc3\xa9"),  # high bytes stay raw
    ],
)
def test_escape_cases(raw: bytes, escaped: bytes) -> None:
    assert escape(raw) == escaped
    assert unescape(escaped) == raw


def test_forged_record_stays_inside_its_line() -> None:
    """A user message with a newline and a forged record tail (``auditctl -m``)."""
    forged = (
        b"audit(1700000000.200:77): pid=1 uid=1000 auid=1000 ses=1 msg='hi\n"
        b"type=USER_LOGIN msg=audit(1700000000.200:78): pid=1 uid=0 res=success'"
    )
    line = LineBuilder().line(1107, forged)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    lines, used = split_lines(line + line)
    assert used == 2 * len(line)
    assert len(lines) == 2
    parsed = parse_line(lines[0])
    assert isinstance(parsed, JournalLine)
    assert parsed.type_name == b"USER_AVC"
    assert parsed.text == forged
    record = parse_record(lines[0].decode())
    assert isinstance(record, Record)
    assert record.serial == 77


def test_split_lines_keeps_partial_tail() -> None:
    assert split_lines(b"") == ([], 0)
    assert split_lines(b"abc") == ([], 0)
    assert split_lines(b"a\nb\nc") == ([b"a", b"b"], 4)
    assert split_lines(bytearray(b"a\n\x1c\x85\n")) == ([b"a", b"\x1c\x85"], 5)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"node=x", "bad_node"),
        (b"garbage", "no_type"),
        (b"type=SYSCALL audit(1.1:1)", "no_msg"),
        (b"type= msg=audit(1.1:1): ", "bad_type"),
    ],
)
def test_parse_line_rejects(line: bytes, reason: str) -> None:
    result = parse_line(line)
    assert isinstance(result, BadLine)
    assert result.reason == reason


def test_parse_line_node() -> None:
    result = parse_line(b"node=h type=EOE msg=audit(1.001:2): ")
    assert result == JournalLine(b"h", b"EOE", b"audit(1.001:2): ")


@given(st.binary(max_size=300))
def test_roundtrip(raw: bytes) -> None:
    out = escape(raw)
    assert unescape(out) == raw
    assert not needs_escape(out) or b"\\x" in out
    assert all(b >= 0x20 and b != 0x7F for b in out)


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=0xFFFF))
def test_line_roundtrip(raw: bytes, msgtype: int) -> None:
    line = LineBuilder("n1").line(msgtype, raw)
    lines, used = split_lines(line)
    assert used == len(line) and len(lines) == 1
    parsed = parse_line(lines[0])
    assert isinstance(parsed, JournalLine)
    assert parsed.node == b"n1"
    assert parsed.type_name == type_name(msgtype)
    assert parsed.text == raw


@given(st.lists(st.binary(max_size=50), max_size=10), st.integers(min_value=0, max_value=400))
def test_split_anywhere(texts: list[bytes], cut: int) -> None:
    """Records survive any split of the stream into reads."""
    builder = LineBuilder()
    stream = b"".join(builder.line(1300, t) for t in texts)
    cut = min(cut, len(stream))
    first, used = split_lines(stream[:cut])
    second, used2 = split_lines(stream[used:])
    assert used + used2 == len(stream)
    got = [p.text for p in map(parse_line, first + second) if isinstance(p, JournalLine)]
    assert got == texts


def test_cursor_line() -> None:
    cursor = Cursor(2049, 131, 8192)
    assert format_cursor(cursor) == b"v1 2049 131 8192\n"
    assert parse_cursor(format_cursor(cursor)) == cursor
    for bad in (b"", b"v2 1 2 3\n", b"v1 1 2\n", b"v1 1 2 -3\n", b"v1 a b c\n"):
        assert parse_cursor(bad) is None

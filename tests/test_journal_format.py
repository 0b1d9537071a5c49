"""The journal line codec: lossless, one record per line, kernel text untouched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_heka.core.records import Record
from audit_heka.core.records import parse_line as parse_record
from audit_heka.journal.format import (
    HEAD_BYTES,
    NO_HEAD,
    BadLine,
    Cursor,
    JournalLine,
    LineBuilder,
    build_line,
    escape,
    file_head,
    format_cursor,
    lines_need_escape,
    needs_escape,
    node_prefix,
    parse_cursor,
    parse_line,
    split_lines,
    type_name,
    unescape,
)

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


@pytest.mark.parametrize("byte", range(256))
def test_needs_escape_exactly_control_bytes_and_backslash_x(byte: int) -> None:
    text = b"a=1 " + bytes((byte,)) + b"x b=2"
    assert needs_escape(text) == (byte < 0x20 or byte == 0x7F or byte == ord("\\"))
    assert needs_escape(text) == (escape(text) != text)


@given(st.binary(max_size=300))
def test_needs_escape_iff_escape_changes_the_text(raw: bytes) -> None:
    assert needs_escape(raw) == (escape(raw) is not raw)
    assert needs_escape(raw) == (escape(raw) != raw)


@given(st.lists(st.binary(max_size=60).filter(lambda t: b"\n" not in t), max_size=8),
       st.sampled_from([b"", b"type=SYSCALL msg="]))
def test_lines_need_escape_iff_a_line_does(texts: list[bytes], prefix: bytes) -> None:
    region = b"".join(prefix + text + b"\n" for text in texts)
    assert lines_need_escape(region, len(texts)) == any(needs_escape(t) for t in texts)
    assert lines_need_escape(bytearray(region), len(texts)) == any(needs_escape(t) for t in texts)


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
    cursor = Cursor(2049, 131, 8192, "0123456789abcdef")
    assert format_cursor(cursor) == b"v2 2049 131 8192 0123456789abcdef\n"
    assert parse_cursor(format_cursor(cursor)) == cursor
    empty = Cursor(2049, 131, 0, NO_HEAD)
    assert format_cursor(empty) == b"v2 2049 131 0 -\n"
    assert parse_cursor(format_cursor(empty)) == empty
    # An upgrade keeps the position: v1 files (no head) are still read, and written back
    # as v1 only for a cursor that has no head.
    assert parse_cursor(b"v1 2049 131 8192\n") == Cursor(2049, 131, 8192, None)
    assert format_cursor(Cursor(2049, 131, 8192)) == b"v1 2049 131 8192\n"
    for bad in (b"", b"v2 1 2 3\n", b"v1 1 2\n", b"v1 1 2 -3\n", b"v1 a b c\n",
                b"v1 1 2 3 0123456789abcdef\n", b"v2 1 2 3 0123456789ABCDEF\n",
                b"v2 1 2 3 0123456789abcde\n", b"v2 1 2 -3 0123456789abcdef\n",
                b"v3 1 2 3 0123456789abcdef\n", b"v2 1 2 3 --\n"):
        assert parse_cursor(bad) is None, bad


def test_a_files_head_is_its_first_line_and_final_once_written() -> None:
    first = build_line(1300, b"1700000000.001:1", b"pid=1")
    head = file_head(first)
    assert head is not None and len(head) == 16
    # What follows the first line, and how much of it was read, does not matter ...
    assert file_head(first + build_line(1300, b"1700000000.002:2", b"pid=2")) == head
    assert file_head((first + b"x" * HEAD_BYTES)[:HEAD_BYTES]) == head
    # ... another first record (another time stamp or serial) does.
    assert file_head(build_line(1300, b"1700000000.001:2", b"pid=1")) != head
    # Not final without a whole line: an empty file, a torn first line.
    assert file_head(b"") is None
    assert file_head(first[:-1]) is None
    # A first line longer than HEAD_BYTES: its first HEAD_BYTES bytes, final.
    long = b"type=USER msg=audit(1.000:1): " + b"a" * 2 * HEAD_BYTES + b"\n"
    assert file_head(long[:HEAD_BYTES]) == file_head(long) is not None


def test_a_cursor_names_its_file_by_identity_and_head() -> None:
    v2 = Cursor(1, 7, 100, "0123456789abcdef")
    assert v2.names_file(1, 7, "0123456789abcdef")
    # A newer file with the inode number of the cursor's deleted file:
    assert not v2.names_file(1, 7, "fedcba9876543210")
    assert not v2.names_file(1, 7, None)  # still empty: not a file that had a first line
    assert not v2.names_file(2, 7, "0123456789abcdef")
    v1 = Cursor(1, 7, 100)
    assert v1.names_file(1, 7, "fedcba9876543210") and v1.names_file(1, 7, None)
    assert not v1.names_file(1, 8, None)
    assert not Cursor(1, 7, 0, NO_HEAD).names_file(1, 7, None)  # a guess is never a match

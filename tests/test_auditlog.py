"""The daemon's log output: auditd log form, end markers, rotation without loss."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit_heka.auditlog import AuditLogWriter, end_marker, format_event, rotated_paths
from audit_heka.core.records import Record, parse_line

LINES = (
    'type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=0 '
    'a0=55d5 a1=55d6 a2=55d7 a3=0 items=2 ppid=1 pid=77 auid=4242 uid=0 gid=0 euid=0 suid=0 '
    'fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=3 comm="true" exe="/usr/bin/true" key="exec"',
    'type=EXECVE msg=audit(1700000000.123:42): argc=2 a0="/bin/true" a1=68656C6C6F20776F726C64',
    'type=CWD msg=audit(1700000000.123:42): cwd="/tmp"',
    'type=PROCTITLE msg=audit(1700000000.123:42): proctitle=2F62696E2F74727565',
)


@dataclass(frozen=True)
class FakeEvent:
    """The one attribute the writer reads from events.Event."""

    records: tuple[Record, ...]


def _records(lines: tuple[str, ...]) -> tuple[Record, ...]:
    out = []
    for line in lines:
        r = parse_line(line)
        assert isinstance(r, Record), r
        out.append(r)
    return tuple(out)


def _event(serial: int, node: str | None = None, pad: int = 0) -> FakeEvent:
    prefix = f"node={node} " if node else ""
    lines = tuple(prefix + line.replace(":42)", f":{serial})") for line in LINES)
    if pad:
        lines = (*lines, f'{prefix}type=CWD msg=audit(1700000000.123:{serial}): cwd="{"p" * pad}"')
    return FakeEvent(_records(lines))


def test_format_event_is_the_records_then_an_eoe_marker() -> None:
    text = format_event(_event(42))
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    assert lines[:-1] == list(LINES)
    assert lines[-1] == "type=EOE msg=audit(1700000000.123:42): "
    # The marker parses as an ordinary EOE record of the same event.
    eoe = parse_line(lines[-1])
    assert isinstance(eoe, Record)
    assert (eoe.type_name, eoe.type, eoe.serial, eoe.fields) == ("EOE", 1320, 42, ())


def test_node_prefix_is_kept_on_records_and_marker() -> None:
    text = format_event(_event(7, node="web-1"))
    lines = text.split("\n")[:-1]
    assert all(line.startswith("node=web-1 type=") for line in lines)
    assert lines[-1] == "node=web-1 type=EOE msg=audit(1700000000.123:7): "
    assert end_marker(_event(7, node="web-1").records[0]) == lines[-1]


def test_empty_event_writes_nothing() -> None:
    assert format_event(FakeEvent(())) == ""


def test_a_newline_inside_a_record_cannot_split_it() -> None:
    r = parse_line("type=USER msg=audit(1.002:3): pid=1 uid=0 msg='text=a'")
    assert isinstance(r, Record)
    evil = r.replace(text="pid=1 uid=0 msg='a\nb'")
    lines = format_event(FakeEvent((evil,))).split("\n")[:-1]
    assert len(lines) == 2
    assert lines[0].endswith("msg='a b'")


def test_files_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text("")
    path.chmod(0o644)
    with AuditLogWriter(path, max_bytes=1000, num_logs=3) as w:
        for serial in range(20):
            w.write_event(_event(serial))
    files = [p for p in rotated_paths(path, 3) if p.exists()]
    assert len(files) == 3
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


@pytest.mark.parametrize("num_logs", [1, 2, 4])
def test_rotation_keeps_num_logs_files_and_loses_no_line(tmp_path: Path, num_logs: int) -> None:
    path = tmp_path / "audit.log"
    max_bytes = 2500
    written: list[str] = []
    with AuditLogWriter(path, max_bytes=max_bytes, num_logs=num_logs) as w:
        for serial in range(1, 200):
            event = _event(serial, pad=serial % 7 * 100)
            written.append(format_event(event))
            w.write_event(event)
        rotations = w.rotations
    assert rotations > num_logs  # the test really rotated past the limit
    kept = rotated_paths(path, num_logs)
    assert all(p.exists() for p in kept)
    assert sorted(tmp_path.iterdir()) == sorted(kept)  # nothing beyond num_logs
    # Oldest file first, the kept text is exactly the tail of what was written,
    # every file starts and ends on an event boundary, and each respects max_bytes.
    texts = [p.read_text() for p in reversed(kept)]
    joined = "".join(texts)
    assert "".join(written).endswith(joined)
    boundaries = set()
    offset = 0
    for chunk in written:
        boundaries.add(offset)
        offset += len(chunk)
    tail_start = offset - len(joined)
    pos = tail_start
    for text in texts:
        assert pos in boundaries
        assert len(text.encode()) <= max_bytes
        pos += len(text)
    # No loss while a rotated file still exists: the kept files hold every event
    # from the first one they start with, in order.
    first = texts[0].split("\n")[0]
    index = next(i for i, chunk in enumerate(written) if chunk.startswith(first + "\n"))
    assert "".join(written[index:]) == joined


def test_rotation_with_enough_files_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    written = []
    with AuditLogWriter(path, max_bytes=4000, num_logs=100) as w:
        for serial in range(1, 120):
            e = _event(serial)
            written.append(format_event(e))
            w.write_event(e)
    files = [p for p in rotated_paths(path, 100) if p.exists()]
    assert len(files) > 5
    assert "".join(p.read_text() for p in reversed(files)) == "".join(written)


def test_an_event_bigger_than_max_bytes_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    with AuditLogWriter(path, max_bytes=300, num_logs=3) as w:
        w.write_event(_event(1, pad=1000))
        w.write_event(_event(2))
    assert path.with_name("audit.log.1").read_text() == format_event(_event(1, pad=1000))
    assert path.read_text() == format_event(_event(2))


def test_appends_to_an_existing_log_and_counts_its_size(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text("x" * 900 + "\n")
    with AuditLogWriter(path, max_bytes=1000, num_logs=2) as w:
        w.write_event(_event(1))
    assert path.with_name("audit.log.1").read_text() == "x" * 900 + "\n"


def test_bad_arguments_and_closed_writer(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="num_logs"):
        AuditLogWriter(tmp_path / "a.log", num_logs=0)
    with pytest.raises(ValueError, match="max_bytes"):
        AuditLogWriter(tmp_path / "a.log", max_bytes=-1)
    w = AuditLogWriter(tmp_path / "a.log")
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write_event(_event(1))

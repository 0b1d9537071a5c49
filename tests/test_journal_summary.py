"""``audit-heka status``'s journal summary: unshipped records from the cursor on."""

from __future__ import annotations

from pathlib import Path

from audit_heka.journal.cursor import write_cursor
from audit_heka.journal.format import Cursor, LineBuilder, file_head
from audit_heka.journal.summary import journal_summary


def record(serial: int) -> bytes:
    return LineBuilder().line(1300, b"audit(1700000000.%03d:%d): pid=1" % (serial, serial))


def test_unshipped_counts_from_the_cursor_and_all_when_its_inode_is_reused(
        tmp_path: Path) -> None:
    (tmp_path / "audit.log.1").write_bytes(record(1) + record(2))
    (tmp_path / "audit.log").write_bytes(record(3) + record(4) + record(5))
    active = (tmp_path / "audit.log").stat()
    head = file_head((tmp_path / "audit.log").read_bytes())
    write_cursor(tmp_path, Cursor(active.st_dev, active.st_ino, len(record(3)), head))
    summary = journal_summary(tmp_path, 1700000010.0)
    assert summary["unshipped_records"] == 2
    assert summary["oldest_unshipped_age"] == 9.996  # record 4: 1700000000.004
    assert summary["cursor"] == {"dev": active.st_dev, "ino": active.st_ino,
                                 "offset": len(record(3)), "head": head}
    # The cursor's file was deleted and audit.log got its inode number: it is not
    # the cursor's file, so every record present is unshipped.
    write_cursor(tmp_path, Cursor(active.st_dev, active.st_ino, len(record(3)), "0" * 16))
    assert journal_summary(tmp_path, 1700000010.0)["unshipped_records"] == 5
    # A v1 cursor (no head) is taken by identity, as before.
    write_cursor(tmp_path, Cursor(active.st_dev, active.st_ino, len(record(3))))
    assert journal_summary(tmp_path, 1700000010.0)["unshipped_records"] == 2

"""Following the journal: order, rotation by identity, cursors, wake-ups (no sockets)."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from audit_heka.host.private_files import UnsafePathError
from audit_heka.journal.consumed import MarkWriter
from audit_heka.journal.cursor import CursorError, read_cursor, write_cursor
from audit_heka.journal.follower import (
    ACTIVE_NAME,
    Inotify,
    JournalFollower,
    _Segment,
    find_file,
    journal_files,
)
from audit_heka.journal.format import NO_HEAD, Cursor, LineBuilder, file_head
from audit_heka.journal.gaps import GAPS_FILE
from audit_heka.journal.policy import FullAction
from audit_heka.journal.writer import FlushPolicy, JournalConfig, JournalWriter


def record(serial: int, body: bytes = b"pid=1 uid=0") -> bytes:
    return LineBuilder().line(1300, b"audit(1700000000.%03d:%d): " % (serial % 1000, serial) + body)


def read_all(follower: JournalFollower) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    while True:
        lines, at_end = follower.read(4096)
        out += lines
        if at_end and not lines:
            return out


def writer(directory: Path, file_bytes: int = 1 << 20) -> JournalWriter:
    w = JournalWriter(JournalConfig(directory, file_bytes=file_bytes, max_bytes=64 * file_bytes,
                                    full=FullAction.DROP_OLDEST, flush=FlushPolicy.NONE),
                      log=lambda _: None)
    w.open()
    return w


def test_lines_in_order_unescaped_split_on_newline_only(tmp_path: Path) -> None:
    w = writer(tmp_path)
    hostile = b"msg='x\ntype=USER_LOGIN msg=audit(1.000:1): forged \x1c\x1d\x1e \\x41'"
    w.buffer += record(1) + LineBuilder().line(1100, b"audit(1700000000.002:2): " + hostile)
    w.buffer += record(3)
    w.flush(0.0)
    follower = JournalFollower(tmp_path)
    lines = read_all(follower)
    assert [line for _, line in lines] == [
        record(1)[:-1],
        b"type=USER_AUTH msg=audit(1700000000.002:2): " + hostile,
        record(3)[:-1],
    ]
    assert [p for p, _ in lines] == [0, len(record(1)), (tmp_path / ACTIVE_NAME).stat().st_size
                                     - len(record(3))]
    assert follower.position == (tmp_path / ACTIVE_NAME).stat().st_size
    assert follower.counters["journal_lines"] == 3


def test_a_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    (tmp_path / ACTIVE_NAME).write_bytes(record(1) + record(2)[:10])
    follower = JournalFollower(tmp_path)
    assert [p for p, _ in read_all(follower)] == [0]
    assert follower.position == len(record(1))  # the cursor never passes a partial line
    with (tmp_path / ACTIVE_NAME).open("ab") as f:
        f.write(record(2)[10:])
    assert read_all(follower) == [(len(record(1)), record(2)[:-1])]


def test_follows_rotation_by_identity_without_loss_or_repeat(tmp_path: Path) -> None:
    w = writer(tmp_path, file_bytes=2000)
    follower = JournalFollower(tmp_path)
    got: list[bytes] = []
    for serial in range(1, 301):
        w.buffer += record(serial)
        if serial % 7 == 0:
            w.flush(0.0)
        if serial % 23 == 0:
            got += [line for _, line in read_all(follower)]
    w.flush(0.0)
    got += [line for _, line in read_all(follower)]
    assert got == [record(s)[:-1] for s in range(1, 301)]
    assert w.counters.rotations >= 5
    assert follower.counters["journal_files"] == w.counters.rotations + 1
    w.close()


def test_positions_map_back_to_cursors_across_files(tmp_path: Path) -> None:
    w = writer(tmp_path, file_bytes=1000)
    for serial in range(1, 60):
        w.buffer += record(serial)
    w.flush(0.0)
    follower = JournalFollower(tmp_path)
    lines = read_all(follower)
    files = {(st.st_dev, st.st_ino): path for path, st in journal_files(tmp_path)}
    for position, line in lines:
        cursor = follower.cursor_at(position)
        assert cursor is not None
        with files[(cursor.dev, cursor.ino)].open("rb") as f:
            f.seek(cursor.offset)
            assert f.readline()[:-1] == line
    assert len({follower.cursor_at(p).ino for p, _ in lines}) > 1  # type: ignore[union-attr]


def test_resumes_at_a_cursor_with_warmup_context(tmp_path: Path) -> None:
    w = writer(tmp_path, file_bytes=1500)
    for serial in range(1, 60):
        w.buffer += record(serial)
    w.flush(0.0)
    first = JournalFollower(tmp_path)
    lines = read_all(first)
    position, line = lines[30]
    cursor = first.cursor_at(position)
    assert cursor is not None
    again = JournalFollower(tmp_path, cursor, warmup=200)
    resumed = read_all(again)
    # Positions are the follower's own; the cursor's maps back to the same spot.
    assert again.cursor_at(again.start_position) == cursor
    # Lines before the cursor come only as context (positions < start_position) ...
    before = [x for x in resumed if x[0] < again.start_position]
    assert 0 < len(before) <= 200 // len(record(1)) + 1
    # ... and from the cursor on, exactly the rest of the journal.
    assert [x[1] for x in resumed if x[0] >= again.start_position] == [x[1] for x in lines[30:]]
    assert read_all(JournalFollower(tmp_path, cursor))[0][1] == line


def test_a_vanished_cursor_file_starts_at_the_oldest_file_counted(tmp_path: Path) -> None:
    (tmp_path / ACTIVE_NAME).write_bytes(record(1))
    follower = JournalFollower(tmp_path, Cursor(1, 1, 5))
    assert follower.counters["journal_lost_files"] == 1
    assert [line for _, line in read_all(follower)] == [record(1)[:-1]]


def test_a_file_deleted_under_the_follower_is_read_to_its_end(tmp_path: Path) -> None:
    (tmp_path / ACTIVE_NAME).write_bytes(record(1))
    follower = JournalFollower(tmp_path)
    assert len(read_all(follower)) == 1
    with (tmp_path / ACTIVE_NAME).open("ab") as f:
        f.write(record(2) + record(3)[:5])  # the last line torn (a crash mid-write)
    (tmp_path / ACTIVE_NAME).unlink()
    (tmp_path / ACTIVE_NAME).write_bytes(record(4))
    got = [line for _, line in read_all(follower)]
    assert got == [record(2)[:-1], record(3)[:5], record(4)[:-1]]
    assert follower.counters["journal_partial_lines"] == 1
    assert follower.counters["journal_gaps"] == 1
    assert follower.take_gap() and not follower.take_gap()


def test_a_gap_is_reported_between_the_reads_it_separates(tmp_path: Path) -> None:
    """drop-oldest deleted the file being read and the next one: the lines
    before the gap and after it never come back from the same read, and
    take_gap() says so in between (the shipper then resets its serials).
    The deletions are by hand, without the writer's gap note (the writer
    names such places there: tests/test_journal_gaps.py): the old rule."""
    w = writer(tmp_path, file_bytes=256)
    for serial in range(1, 4):
        w.buffer += record(serial)
        w.flush(0.0)
        w._rotate(0.0)  # one record per file: audit.log.3, .2, .1, then audit.log
    w.buffer += record(4)
    w.flush(0.0)
    (tmp_path / GAPS_FILE).unlink()
    follower = JournalFollower(tmp_path)
    lines, _ = follower.read(len(record(1)))  # inside the oldest file
    assert [line for _, line in lines] == [record(1)[:-1]]
    (tmp_path / "audit.log.3").unlink()  # being read: it stays readable
    (tmp_path / "audit.log.2").unlink()  # never read: records 2 given up
    first, _ = follower.read(1 << 20)
    assert first == [] and follower.take_gap()
    rest = [line for _, line in read_all(follower)]
    assert rest == [record(3)[:-1], record(4)[:-1]]
    assert not follower.take_gap()
    assert follower.counters["journal_gaps"] == 1


def test_inotify_wakes_on_a_write_and_sleeps_otherwise(tmp_path: Path) -> None:
    """Only journal files wake it: the shipper writes its consumed mark after
    every round, and its cursor, into the same directory (the reader its
    status, without a status directory); waking on those would cost a
    second wake-up per round."""
    (tmp_path / ACTIVE_NAME).write_bytes(b"")
    notify = Inotify(tmp_path)
    marks = MarkWriter(tmp_path)
    try:
        notify.drain()
        marks.publish(Cursor(1, 2, 3, "0123456789abcdef"))
        write_cursor(tmp_path, Cursor(1, 2, 3, "0123456789abcdef"))
        (tmp_path / "reader.status").write_text("{}")
        began = time.monotonic()
        assert not notify.wait(0.2)
        assert time.monotonic() - began >= 0.19

        def later() -> None:
            time.sleep(0.1)
            marks.publish(Cursor(1, 2, 4, "0123456789abcdef"))
            with (tmp_path / ACTIVE_NAME).open("ab") as f:
                f.write(record(1))

        thread = threading.Thread(target=later)
        began = time.monotonic()
        thread.start()
        assert notify.wait(5.0)
        woke = time.monotonic() - began
        thread.join()
        assert woke < 1.0
    finally:
        marks.close()
        notify.close()


def test_cursor_is_written_atomically_0600_and_never_through_a_link(tmp_path: Path) -> None:
    assert read_cursor(tmp_path) is None
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / f".cursor.{os.getpid()}").symlink_to(victim)  # planted at the temporary
    write_cursor(tmp_path, Cursor(1, 2, 3))
    assert victim.read_bytes() == b"precious"
    assert read_cursor(tmp_path) == Cursor(1, 2, 3)
    assert stat.S_IMODE((tmp_path / "cursor").stat().st_mode) == 0o600
    write_cursor(tmp_path, Cursor(1, 2, 4))
    assert (tmp_path / "cursor").read_bytes() == b"v1 1 2 4\n"
    (tmp_path / "cursor").write_bytes(b"garbage")
    with pytest.raises(CursorError):
        read_cursor(tmp_path)
    (tmp_path / "cursor").unlink()
    (tmp_path / "cursor").symlink_to(victim)
    with pytest.raises(UnsafePathError):
        read_cursor(tmp_path)


def test_a_planted_symlink_in_the_journal_is_counted_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"type=USER msg=audit(1.000:1): forged\n")
    journal = tmp_path / "journal"
    journal.mkdir(mode=0o700)
    (journal / f"{ACTIVE_NAME}.2").symlink_to(victim)
    (journal / f"{ACTIVE_NAME}.1").write_bytes(record(1))
    (journal / ACTIVE_NAME).write_bytes(record(2))
    follower = JournalFollower(journal)
    assert [line for _, line in read_all(follower)] == [record(1)[:-1], record(2)[:-1]]
    assert follower.counters["journal_unsafe_files"] == 1


def test_a_reused_inode_number_is_not_taken_for_a_finished_file(tmp_path: Path) -> None:
    """The reader deletes shipped files and the file system reuses their inode
    numbers for new ones: a new file with a finished file's (dev, ino) must be
    read, not skipped (measured: a 2,000,000-event storm lost 850,000 events
    to this before the follower compared the files' first bytes too)."""
    w = writer(tmp_path, file_bytes=3 * len(record(1)))
    for serial in range(1, 7):
        w.buffer += record(serial)
        w.flush(0.0)
    follower = JournalFollower(tmp_path)
    assert len(read_all(follower)) == 6
    files = journal_files(tmp_path)
    newest_path, newest = files[-1]
    # The follower finished the newest file and a later file reuses its inode:
    follower._close_file()
    follower._last = _Segment(newest.st_dev, newest.st_ino, 0, "0123456789abcdef")
    assert follower._open_next()
    assert follower._segment is not None
    oldest = files[0][1]
    assert (follower._segment.dev, follower._segment.ino) == (oldest.st_dev, oldest.st_ino)
    # With its true first bytes, the newest file is recognised: nothing newer yet.
    follower._close_file()
    follower._last = _Segment(newest.st_dev, newest.st_ino, 0,
                              file_head(newest_path.read_bytes()[:256]))
    assert not follower._open_next()
    w.close()


def head(path: Path) -> str | None:
    return file_head(path.read_bytes()[:256])


def test_a_restart_at_a_cursor_naming_a_reused_inode_reads_every_record(
        tmp_path: Path) -> None:
    """Simulated reuse: the persisted cursor names a deleted file whose inode
    number the active file now has (same dev/ino, another head). Resuming in
    the active file at OFFSET would skip its first records; the cursor's file
    is gone instead: logged, counted, and every file present is read."""
    w = writer(tmp_path, file_bytes=3 * len(record(1)))
    for serial in range(1, 9):
        w.buffer += record(serial)
        w.flush(0.0)
    active = (tmp_path / ACTIVE_NAME).stat()
    stale = Cursor(active.st_dev, active.st_ino, len(record(1)), "0123456789abcdef")
    follower = JournalFollower(tmp_path, stale, warmup=200)
    assert follower.counters["journal_lost_files"] == 1
    assert follower.start_position == 0
    assert [line for _, line in read_all(follower)] == [record(s)[:-1] for s in range(1, 9)]
    # With the active file's true head the same cursor resumes inside it.
    exact = Cursor(active.st_dev, active.st_ino, len(record(1)), head(tmp_path / ACTIVE_NAME))
    resumed = JournalFollower(tmp_path, exact)
    assert resumed.counters["journal_lost_files"] == 0
    assert [line for _, line in read_all(resumed)] == [record(8)[:-1]]
    w.close()


def test_a_v1_cursor_still_resumes_by_identity(tmp_path: Path) -> None:
    """An upgrade must not lose the position: v1 cursors (no head) resume as before."""
    w = writer(tmp_path, file_bytes=3 * len(record(1)))
    for serial in range(1, 8):
        w.buffer += record(serial)
        w.flush(0.0)
    w.close()
    files = journal_files(tmp_path)
    _path, middle = files[1]
    v1 = Cursor(middle.st_dev, middle.st_ino, len(record(1)))
    follower = JournalFollower(tmp_path, v1)
    assert follower.counters["journal_lost_files"] == 0
    assert [line for _, line in read_all(follower)] == [record(s)[:-1] for s in range(5, 8)]
    # The cursor the shipper writes back is v2, naming the same place.
    again = follower.cursor_at(follower.start_position)
    assert again == Cursor(middle.st_dev, middle.st_ino, len(record(1)), head(_path))
    assert find_file(files, v1) == find_file(files, again) == 1


def test_a_cursor_at_the_start_of_an_empty_file_names_the_end_of_the_one_before(
        tmp_path: Path) -> None:
    """An empty file has no head: a cursor into it could not tell it from a later
    file with its inode number. Its start is the end of the previous file, which
    has a final head; once the file holds a line the cursor names it."""
    (tmp_path / f"{ACTIVE_NAME}.1").write_bytes(record(1) + record(2))
    (tmp_path / ACTIVE_NAME).write_bytes(b"")
    follower = JournalFollower(tmp_path)
    assert len(read_all(follower)) == 2
    position = follower.position
    previous = (tmp_path / f"{ACTIVE_NAME}.1").stat()
    stand_in = Cursor(previous.st_dev, previous.st_ino, len(record(1) + record(2)),
                      head(tmp_path / f"{ACTIVE_NAME}.1"))
    assert follower.cursor_at(position) == stand_in
    assert not follower.settled(position)
    assert follower.position_of(stand_in) == position
    # A restart at the stand-in goes on with the empty file, reading everything in it.
    restarted = JournalFollower(tmp_path, stand_in)
    with (tmp_path / ACTIVE_NAME).open("ab") as f:
        f.write(record(3))
    assert [line for _, line in read_all(restarted)] == [record(3)[:-1]]
    assert restarted.counters["journal_lost_files"] == 0
    # Once the file holds a line, the same position is named by the file itself.
    active = (tmp_path / ACTIVE_NAME).stat()
    assert follower.settled(position)
    assert follower.cursor_at(position) == Cursor(active.st_dev, active.st_ino, 0,
                                                  head(tmp_path / ACTIVE_NAME))


def test_a_cursor_into_a_first_empty_file_is_no_head_and_starts_at_the_oldest(
        tmp_path: Path) -> None:
    (tmp_path / ACTIVE_NAME).write_bytes(b"")
    follower = JournalFollower(tmp_path)
    assert read_all(follower) == []
    active = (tmp_path / ACTIVE_NAME).stat()
    cursor = follower.cursor_at(follower.position)
    assert cursor == Cursor(active.st_dev, active.st_ino, 0, NO_HEAD)
    assert not follower.settled(follower.position)
    # Every file present is that file or newer: start at the oldest, no loss counted.
    (tmp_path / ACTIVE_NAME).rename(tmp_path / f"{ACTIVE_NAME}.1")
    (tmp_path / f"{ACTIVE_NAME}.1").write_bytes(record(1))
    (tmp_path / ACTIVE_NAME).write_bytes(record(2))
    restarted = JournalFollower(tmp_path, cursor)
    assert [line for _, line in read_all(restarted)] == [record(1)[:-1], record(2)[:-1]]
    assert restarted.counters["journal_lost_files"] == 0


def test_a_real_inode_reuse_is_caught_at_restart(tmp_path: Path) -> None:
    """On the real file system: the cursor's file is deleted and the next new
    journal file gets its inode number (ext4 does at once; tmpfs does not)."""
    old = tmp_path / ACTIVE_NAME
    old.write_bytes(record(1) + record(2) + record(3))
    st = old.stat()
    cursor = Cursor(st.st_dev, st.st_ino, len(record(1) + record(2)), head(old))
    old.unlink()
    new = tmp_path / ACTIVE_NAME
    new.write_bytes(record(4) + record(5) + record(6))
    if (new.stat().st_dev, new.stat().st_ino) != (cursor.dev, cursor.ino):
        pytest.skip(f"{tmp_path}'s file system did not reuse the inode number (tmpfs does "
                    "not); the simulated test covers the logic")
    follower = JournalFollower(tmp_path, cursor)
    assert [line for _, line in read_all(follower)] == [record(s)[:-1] for s in (4, 5, 6)]
    assert follower.counters["journal_lost_files"] == 1
    assert follower.position_of(cursor) is None

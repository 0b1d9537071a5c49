"""What drop-oldest gives up, exactly, and what a restart takes for lost.

The journal writer counts ``journal_dropped_records`` when it deletes a file
whose records are not all acknowledged. Given up are exactly the records no
shipper will ship: not those a live follower holds (it reads a deleted file
to its end through its descriptor), not those the shipper has consumed
(handed to its session; its consumed mark says how far), all the others.
And a restart at a cursor whose file was deleted *as shipped* has lost
nothing (the writer's shipped note). No shipper process here: the follower
and the mark play it (tests/test_shipper.py runs the real one).
"""

from __future__ import annotations

import os
from pathlib import Path

from audit_heka.journal.consumed import (
    MARK_BYTES,
    MARK_FILE,
    MarkWriter,
    decode_mark,
    encode_mark,
    hold_for_reading,
    read_mark,
    take_for_deletion,
)
from audit_heka.journal.cursor import read_cursor, write_cursor
from audit_heka.journal.follower import ACTIVE_NAME, JournalFollower
from audit_heka.journal.format import SHIPPED_FILE, Cursor, file_head, format_cursor
from audit_heka.journal.policy import FullAction, JournalFile, given_up_from
from audit_heka.journal.writer import FlushPolicy, JournalConfig, JournalWriter

SIZE = 40  # bytes per line


def line(i: int) -> bytes:
    text = b"type=SYSCALL msg=audit(1.000:%d): " % i
    return text + b"x" * (SIZE - len(text) - 1) + b"\n"


class Journal:
    """A drop-oldest journal of ``per_file`` lines per file and ``files`` files."""

    def __init__(self, tmp_path: Path, per_file: int = 5, files: int = 2,
                 full: FullAction = FullAction.DROP_OLDEST) -> None:
        self.dir = tmp_path / "j"
        self.logs: list[str] = []
        self.writer = JournalWriter(
            JournalConfig(self.dir, file_bytes=per_file * SIZE, max_bytes=files * per_file * SIZE,
                          full=full, flush=FlushPolicy.NONE), self.logs.append)
        self.writer.open()
        self.written = 0

    def write(self, count: int, skip: int = 0) -> None:
        """``count`` lines, one flush each; ``skip`` serials lost upstream first."""
        self.written += skip
        for _ in range(count):
            self.writer.buffer += line(self.written)
            self.written += 1
            self.writer.flush(0.0)

    @property
    def dropped(self) -> int:
        return self.writer.counters.records_dropped

    def cursor(self, name: str, lines: int) -> Cursor:
        """The cursor ``lines`` lines into the journal file ``name``."""
        path = self.dir / name
        st = path.stat()
        return Cursor(st.st_dev, st.st_ino, lines * SIZE, file_head(path.read_bytes()[:256]))

    def acknowledge(self, name: str, lines: int) -> None:
        write_cursor(self.dir, self.cursor(name, lines))


def read_all(follower: JournalFollower) -> list[bytes]:
    out: list[bytes] = []
    while True:
        lines, at_end = follower.read(1 << 20)
        out += [raw for _, raw in lines]
        if at_end and not lines:
            return out


def numbers(lines: list[bytes]) -> list[int]:
    return [int(raw.split(b":", 1)[1].split(b")", 1)[0]) for raw in lines]


# ------------------------------------------------------------------ the mark


def test_the_mark_reads_back_and_a_torn_one_is_refused(tmp_path: Path) -> None:
    assert read_mark(tmp_path) is None
    mark = Cursor(2049, 1234567, 8_388_608, "0123456789abcdef")
    data = encode_mark(mark)
    assert len(data) == MARK_BYTES and decode_mark(data) == mark
    writer = MarkWriter(tmp_path)
    assert writer.previous is None
    writer.publish(mark)
    assert read_mark(tmp_path) == mark
    shorter = Cursor(2049, 7, 0, "fedcba9876543210")
    writer.publish(shorter)  # in place, shorter: nothing of the longer one is left
    assert read_mark(tmp_path) == shorter
    writer.close()
    assert MarkWriter(tmp_path).previous == shorter
    # A read that overlaps a rewrite mixes two marks: the CRC refuses it.
    torn = data[:20] + encode_mark(Cursor(2049, 1234567, 9_999_999, "0123456789abcdef"))[20:]
    assert decode_mark(torn) is None
    assert decode_mark(b"") is None and decode_mark(b"v2 1 2 3 -\n") is None
    (tmp_path / MARK_FILE).write_bytes(torn)
    assert read_mark(tmp_path) is None


def test_given_up_from_takes_the_further_of_mark_and_cursor() -> None:
    files = [JournalFile(1, 3, 100, "c" * 16), JournalFile(1, 2, 100, "b" * 16),
             JournalFile(1, 1, 100, "a" * 16)]
    in_a = Cursor(1, 1, 20, "a" * 16)
    assert given_up_from(files, 2, in_a, None) == 20  # no mark: the cursor, as before
    assert given_up_from(files, 2, in_a, Cursor(1, 1, 60, "a" * 16)) == 60
    assert given_up_from(files, 2, in_a, Cursor(1, 2, 0, "b" * 16)) is None  # consumed all
    assert given_up_from(files, 2, Cursor(1, 1, 70, "a" * 16), in_a) == 70  # a stale mark
    assert given_up_from(files, 2, None, in_a) == 20
    assert given_up_from(files, 2, None, Cursor(1, 9, 0, "z" * 16)) == 0  # a gone file
    assert given_up_from(files, 2, Cursor(1, 3, 0, "c" * 16), None) is None  # shipped


# ------------------------------------------------------- what drop-oldest counts


def test_a_file_deleted_under_a_live_follower_gives_up_nothing_in_it(tmp_path: Path) -> None:
    """The follower has read 2 of the 5 lines of the oldest file, none is
    acknowledged, and drop-oldest deletes the file: the follower still reads
    the other 3 through its descriptor, so none of them is given up; the
    files it never opened are. Every line is read or counted, none both."""
    j = Journal(tmp_path)
    j.write(2)
    j.acknowledge(ACTIVE_NAME, 0)
    follower = JournalFollower(j.dir)
    assert numbers(read_all(follower)) == [0, 1]
    j.write(28)  # 6 files' worth: the one being read and later ones are deleted
    assert not (j.dir / "audit.log.3").exists()
    got = numbers(read_all(follower))
    assert got[:3] == [2, 3, 4]  # the rest of the deleted file, read to its end
    assert follower.counters["journal_gaps"] >= 1
    assert 2 + len(got) + j.dropped == j.written == 30
    assert len(set(got)) == len(got) and not {0, 1} & set(got)  # nothing twice
    assert any("while the shipper reads it" in m for m in j.logs)
    follower.close()
    j.writer.close()


def test_a_dead_shippers_records_are_given_up_after_its_consumed_mark(tmp_path: Path) -> None:
    """The shipper consumed 2 lines of the oldest file (its mark), none is
    acknowledged (the cursor at 0), and it died. Deleting the file gives up
    the 3 lines after the mark, not the 2 the shipper had: exactly the lines
    no shipper will ship (the count from the cursor said 5)."""
    j = Journal(tmp_path)
    j.write(2)
    j.acknowledge(ACTIVE_NAME, 0)
    follower = JournalFollower(j.dir)
    assert numbers(read_all(follower)) == [0, 1]
    marks = MarkWriter(j.dir)
    mark = follower.cursor_at(follower.position)
    assert mark == j.cursor(ACTIVE_NAME, 2)
    marks.publish(mark)
    follower.close()  # the shipper dies: its lock goes with its descriptors
    marks.close()
    j.write(9)  # fills the file (3 more), rotates twice: the oldest is deleted
    assert not (j.dir / "audit.log.2").exists()
    assert j.dropped == 3
    rest = numbers(read_all(JournalFollower(j.dir)))
    assert rest == list(range(5, 11))
    assert 2 + j.dropped + len(rest) == j.written
    j.writer.close()


def test_records_in_flight_after_the_cursor_are_not_given_up(tmp_path: Path) -> None:
    """A finished file the shipper has consumed but not had acknowledged (the
    cursor still in it): its mark names the next file, so deleting it gives
    nothing up, while the cursor alone said 4 lines."""
    j = Journal(tmp_path)
    j.write(7)  # audit.log.1: lines 0-4, audit.log: 5-6
    j.acknowledge("audit.log.1", 1)
    follower = JournalFollower(j.dir)
    assert numbers(read_all(follower)) == list(range(7))
    marks = MarkWriter(j.dir)
    mark = follower.cursor_at(follower.position)
    assert mark == j.cursor(ACTIVE_NAME, 2)
    marks.publish(mark)
    follower.release(follower.position)
    j.write(3)  # audit.log fills, rotates: audit.log.2 (lines 0-4) goes
    assert not (j.dir / "audit.log.2").exists()
    assert j.dropped == 0
    follower.close()
    marks.close()
    j.writer.close()


def test_a_finished_file_stays_held_until_the_mark_passes_it(tmp_path: Path) -> None:
    """Between finishing a file and publishing a mark past it, the follower
    still holds it: otherwise the writer would see neither lock nor mark and
    count lines the shipper already has."""
    j = Journal(tmp_path)
    j.write(7)
    follower = JournalFollower(j.dir)
    read_all(follower)
    oldest = os.open(j.dir / "audit.log.1", os.O_RDWR)
    try:
        assert not take_for_deletion(oldest)  # finished, still held
        follower.release(5 * SIZE - 1)  # the mark not past its end yet
        assert not take_for_deletion(oldest)
        follower.release(5 * SIZE)
        assert take_for_deletion(oldest)
    finally:
        os.close(oldest)
    follower.close()
    j.writer.close()


def test_the_follower_passes_over_a_file_the_writer_is_deleting(tmp_path: Path) -> None:
    """The writer holds the oldest file for deletion (it counts it given up):
    a follower starting now must not read it (its records would be shipped
    and counted lost); it passes over it, a gap, and reads on."""
    j = Journal(tmp_path, files=4)
    j.write(7)
    fd = os.open(j.dir / "audit.log.1", os.O_RDWR)
    try:
        assert take_for_deletion(fd)
        follower = JournalFollower(j.dir)
        assert numbers(read_all(follower)) == [5, 6]
        assert follower.counters["journal_gaps"] == 1 and follower.take_gap()
        follower.close()
    finally:
        os.close(fd)
    # Deleted after the follower opened it but before its lock: the same.
    j.write(3)
    follower = JournalFollower(j.dir)
    lines, _ = follower.read(1)
    assert numbers([raw for _, raw in lines])[0] == 0
    follower.close()
    probe = os.open(j.dir / "audit.log.1", os.O_RDONLY)
    assert hold_for_reading(probe)  # a read lock with no writer holding it
    os.close(probe)
    j.writer.close()


def test_without_a_mark_the_cursor_still_bounds_the_count(tmp_path: Path) -> None:
    """No mark (a shipper of an earlier version, or none at all): the count is
    from the cursor, as before; without a cursor every line counts."""
    j = Journal(tmp_path)
    j.write(5)
    j.write(1)
    j.acknowledge("audit.log.1", 2)
    j.write(5)  # audit.log.1 (0-4) is deleted: 2 shipped, 3 given up
    assert j.dropped == 3
    k = Journal(tmp_path / "k")
    k.write(16)
    assert k.dropped + len(read_all(JournalFollower(k.dir))) == 16
    j.writer.close()
    k.writer.close()


# ------------------------------------------------------- lost files at restart


def test_a_restart_after_the_cursors_file_was_deleted_as_shipped_loses_nothing(
        tmp_path: Path) -> None:
    """The shipper's cursor is the end of audit.log.1 (audit.log holds no line
    yet, so the end of the file before names the position); it dies; the
    writer deletes audit.log.1 as shipped. The restart finds the cursor's
    file gone, but the writer's shipped note names its end: nothing lost,
    and every line after it is read."""
    j = Journal(tmp_path, full=FullAction.BLOCK)
    j.write(5)
    j.writer._rotate(0.0)  # audit.log.1 finished, audit.log empty
    j.acknowledge("audit.log.1", 5)
    cursor = read_cursor(j.dir)
    assert cursor is not None
    j.write(6)  # audit.log fills and rotates: audit.log.2 (shipped) is deleted
    assert not (j.dir / "audit.log.2").exists() and j.writer.blocked is None
    assert read_cursor(j.dir, SHIPPED_FILE) == cursor
    restarted = JournalFollower(j.dir, cursor)
    assert restarted.counters["journal_lost_files"] == 0
    assert numbers(read_all(restarted)) == list(range(5, 11))
    j.writer.close()


def test_a_cursors_file_that_vanished_unshipped_is_still_lost(tmp_path: Path) -> None:
    """drop-oldest deletes the cursor's file before its end: lost, counted,
    even with a shipped note of an earlier file (or one claiming the file
    was longer than the cursor: a note is only about the end it names)."""
    j = Journal(tmp_path, full=FullAction.DROP_OLDEST)
    j.write(7)
    cursor = j.cursor("audit.log.1", 3)
    write_cursor(j.dir, cursor)
    earlier = Cursor(cursor.dev, cursor.ino + 1000, 2 * SIZE, "0123456789abcdef")
    write_cursor(j.dir, earlier, SHIPPED_FILE)
    j.write(5)
    assert not (j.dir / "audit.log.2").exists() and j.dropped == 2
    assert read_cursor(j.dir, SHIPPED_FILE) == earlier  # not deleted as shipped: no note
    restarted = JournalFollower(j.dir, cursor)
    assert restarted.counters["journal_lost_files"] == 1
    (j.dir / SHIPPED_FILE).write_bytes(b"not a cursor")
    assert JournalFollower(j.dir, cursor).counters["journal_lost_files"] == 1
    (j.dir / SHIPPED_FILE).write_bytes(format_cursor(Cursor(cursor.dev, cursor.ino, 5 * SIZE,
                                                            cursor.head)))
    assert JournalFollower(j.dir, cursor).counters["journal_lost_files"] == 1  # 3 < 5 lines
    j.writer.close()

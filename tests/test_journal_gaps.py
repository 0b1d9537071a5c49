"""Where records were given up, and only there: the follower's gaps.

A gap (``take_gap``) makes the shipper forget its serial history
(``Session.input_gap``), so that records ``journal_dropped_records`` counts
do not count again as ``serial_gaps``. It must come exactly where records
were given up: a gap where nothing was lost hides a real upstream loss at
that point, and a given-up stretch without a gap counts twice. And records a
dead shipper never read in a file deleted under it are given up too: counted.
No shipper process here (tests/test_shipper.py runs the real one).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_journal_consumed import Journal
from test_journal_writer import FakeDisk

from audit_heka.journal.consumed import MarkWriter, take_for_deletion
from audit_heka.journal.cursor import read_cursor
from audit_heka.journal.follower import ACTIVE_NAME, JournalFollower
from audit_heka.journal.format import SHIPPED_FILE, Cursor, format_cursor
from audit_heka.journal.gaps import (
    GAPS_FILE,
    LONGEST_ENTRY,
    MAX_GAPS,
    MAX_HELD,
    NOTE_BYTES,
    Note,
    decode_note,
    encode_note,
)
from audit_heka.journal.policy import FullAction


def number(raw: bytes) -> int:
    return int(raw.split(b":", 1)[1].split(b")", 1)[0])


class Reading:
    """The shipper's side of a follower: lines in batches, and where it reset."""

    def __init__(self, follower: JournalFollower) -> None:
        self.follower = follower
        self.lines: list[int] = []
        self.resets: list[int] = []  # index into lines where a gap was taken

    def drain(self) -> list[int]:
        """Read to the end as the shipper's rounds do: take_gap() before each read."""
        got: list[int] = []
        while True:
            if self.follower.take_gap():
                self.resets.append(len(self.lines))
            batch, at_end = self.follower.read(1 << 20)
            got += [number(raw) for _, raw in batch]
            self.lines += [number(raw) for _, raw in batch]
            if at_end and not batch:
                if self.follower.take_gap():
                    self.resets.append(len(self.lines))
                return got

    def publish(self, marks: MarkWriter) -> None:
        """The shipper's consumed mark after a round, then the release behind it."""
        position = self.follower.position
        cursor = self.follower.cursor_at(position)
        assert cursor is not None
        marks.publish(cursor)
        self.follower.release(position)


# ------------------------------------------------------------------ the note


def test_the_note_reads_back_and_a_torn_one_is_refused() -> None:
    gaps = (Cursor(2049, 77, 400, "0123456789abcdef"), Cursor(2049, 78, 0, "fedcba9876543210"))
    held = (Cursor(2049, 70, 0, "00112233445566aa"),)
    note = Note(3, gaps, held, pending=True)
    data = encode_note(note)
    assert len(data) == NOTE_BYTES
    assert decode_note(data) == note
    torn = data[:100] + encode_note(Note(4, gaps[:1]))[100:]
    assert decode_note(torn) is None
    assert decode_note(b"") is None and decode_note(b"gaps v1 0\n") is None
    with pytest.raises(ValueError):
        encode_note(Note(5, gaps * 300))
    # The most entries the writer keeps fit at their longest.
    longest = Cursor((1 << 64) - 1, (1 << 64) - 1, (1 << 63) - 1, "f" * 16)
    assert len(b"held " + format_cursor(longest)) == LONGEST_ENTRY
    assert len(encode_note(Note((1 << 64) - 1, (longest,) * MAX_GAPS, (longest,) * MAX_HELD,
                                True))) == NOTE_BYTES


# ------------------------------------------------- fault 1: no gap where nothing was lost


def test_a_file_deleted_while_it_is_read_is_no_gap(tmp_path: Path) -> None:
    """drop-oldest deletes the file the follower reads (its lock: nothing in
    it is given up) and no other: nothing is missing, so no gap, and a serial
    lost upstream right after that file stays visible (no reset there)."""
    j = Journal(tmp_path)
    j.write(2)
    reading = Reading(JournalFollower(j.dir))
    assert reading.drain() == [0, 1]
    j.write(3)  # audit.log full (0-4)
    j.write(6, skip=1)  # serial 5 lost upstream; 6-10 in .1, 11 in audit.log: 0-4 go
    assert not any(p.name == "audit.log.2" for p in j.dir.iterdir()) and j.dropped == 0
    assert reading.drain() == [2, 3, 4, *range(6, 12)]
    assert reading.resets == []
    assert reading.follower.counters["journal_gaps"] == 0
    assert any("while the shipper reads it" in m for m in j.logs)
    reading.follower.close()
    j.writer.close()


def test_a_file_deleted_as_shipped_at_its_end_is_no_gap(tmp_path: Path) -> None:
    """The follower read a file to its end and stays on it until the
    rotation; the writer deletes it meanwhile as shipped (the cursor at its
    end): no gap."""
    j = Journal(tmp_path)
    j.write(5)
    reading = Reading(JournalFollower(j.dir))
    assert reading.drain() == list(range(5))
    j.acknowledge(ACTIVE_NAME, 5)
    end = read_cursor(j.dir)
    j.write(6)  # rotates twice: the file read to its end goes, shipped
    assert j.dropped == 0 and read_cursor(j.dir, SHIPPED_FILE) == end
    assert reading.drain() == list(range(5, 11))
    assert reading.resets == [] and reading.follower.counters["journal_gaps"] == 0
    reading.follower.close()
    j.writer.close()


def test_files_given_up_behind_a_deleted_file_are_one_gap_there(tmp_path: Path) -> None:
    """The file being read is deleted (held) and the two after it are given
    up unread: one gap, exactly between the end of the held file and the
    first file still present; every line is read or counted, once."""
    j = Journal(tmp_path)
    j.write(2)
    reading = Reading(JournalFollower(j.dir))
    assert reading.drain() == [0, 1]
    j.write(19)  # 0-4 held, 5-9 and 10-14 given up, 15-19 in .1, 20 in audit.log
    assert j.dropped == 10
    assert reading.drain() == [2, 3, 4, *range(15, 21)]
    assert reading.resets == [5]  # after 0-4, before 15
    assert reading.follower.counters["journal_gaps"] == 1
    reading.follower.close()
    j.writer.close()


# ------------------------------------------------ fault 2: a full disk's drops, once


def test_records_a_full_disk_never_wrote_are_a_gap_where_they_were(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills with only the active file left: drop-oldest gives up
    what waits (never written). The gap is inside the file, between the last
    line written before and the first after; the follower stops there."""
    j = Journal(tmp_path, per_file=100)
    j.write(3)
    reading = Reading(JournalFollower(j.dir))
    assert reading.drain() == [0, 1, 2]
    disk = FakeDisk(0)
    monkeypatch.setattr(os, "write", disk)
    j.write(4)  # 3-6: never written, counted
    assert j.dropped == 4
    disk.room = 1 << 20
    j.write(3)  # 7-9
    j.write(2, skip=1)  # serial 10 lost upstream: 11, 12
    assert reading.drain() == [7, 8, 9, 11, 12]
    assert reading.resets == [3]  # before 7, not before 11
    assert reading.follower.counters["journal_gaps"] == 1
    reading.follower.close()
    j.writer.close()


def test_a_full_disk_gap_before_the_first_line_of_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records given up while the active file is still empty: the gap is
    before its first line, which the writer names once it writes it."""
    j = Journal(tmp_path, per_file=2, files=2)
    j.write(2)
    reading = Reading(JournalFollower(j.dir))
    assert reading.drain() == [0, 1]
    disk = FakeDisk(0)
    monkeypatch.setattr(os, "write", disk)
    j.write(3)  # rotation to an empty audit.log, then nothing written: 2-4 given up
    assert j.dropped == 3
    disk.room = 1 << 20
    j.write(1)
    assert reading.drain() == [5]
    assert reading.resets == [2]
    reading.follower.close()
    j.writer.close()


def test_a_reader_restarted_after_a_full_disk_still_names_the_gap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records given up, then the reader stops before it writes again: the
    next run's first line is still after the gap (the note says so)."""
    j = Journal(tmp_path, per_file=100)
    j.write(3)
    reading = Reading(JournalFollower(j.dir))
    assert reading.drain() == [0, 1, 2]
    monkeypatch.setattr(os, "write", FakeDisk(0))
    j.write(2)
    monkeypatch.undo()
    j.writer.close()
    j.writer.open()  # a new run of the reader
    j.write(2)
    assert reading.drain() == [5, 6]
    assert reading.resets == [3]
    reading.follower.close()
    j.writer.close()


def test_a_gap_found_while_opening_a_file_stops_the_read_there(tmp_path: Path) -> None:
    """A read that passes over a given-up file (the writer holds it) must not
    go on with the lines after it: the caller takes the gap between reads."""
    (tmp_path / "j").mkdir(mode=0o700)
    follower = JournalFollower(tmp_path / "j")  # no journal file yet
    j = Journal(tmp_path, files=4)
    j.write(7)  # audit.log.1: 0-4, audit.log: 5, 6
    fd = os.open(j.dir / "audit.log.1", os.O_RDWR)
    try:
        assert take_for_deletion(fd)
        assert not follower.take_gap()
        lines, at_end = follower.read(1 << 20)
        assert lines == [] and not at_end and follower.take_gap()
        lines, _ = follower.read(1 << 20)
        assert [number(raw) for _, raw in lines] == [5, 6]
        assert follower.counters["journal_gaps"] == 1
        follower.close()
    finally:
        os.close(fd)
    j.writer.close()


# ------------------------------------------- fault 3: a dead shipper's deleted file


def deleted_under_a_follower(tmp_path: Path) -> tuple[Journal, Reading, MarkWriter]:
    """A follower that read 2 lines of the oldest file (its consumed mark
    says so) when drop-oldest deleted that file under it (held: nothing
    counted), with 5-9 in audit.log.1 and 10 in audit.log."""
    j = Journal(tmp_path)
    j.write(2)
    reading = Reading(JournalFollower(j.dir))
    marks = MarkWriter(j.dir)
    assert reading.drain() == [0, 1]
    reading.publish(marks)
    j.write(9)
    assert j.dropped == 0 and not (j.dir / "audit.log.2").exists()
    return j, reading, marks


def test_a_dead_followers_deleted_file_is_counted_from_its_mark(tmp_path: Path) -> None:
    """The follower dies in a file deleted under it: the writer counts the 3
    lines after its mark once the lock is gone."""
    j, reading, marks = deleted_under_a_follower(tmp_path)
    reading.follower.close()  # dies: its locks go with its descriptors
    j.writer.flush(1.0)
    assert j.dropped == 3
    marks.close()
    j.writer.close()


def test_a_follower_that_read_its_deleted_file_to_the_end_gave_up_nothing(
        tmp_path: Path) -> None:
    j, reading, marks = deleted_under_a_follower(tmp_path)
    assert reading.drain() == list(range(2, 11))
    reading.publish(marks)  # past the deleted file: released
    j.writer.flush(1.0)
    reading.follower.close()
    j.writer.flush(2.0)
    assert j.dropped == 0
    marks.close()
    j.writer.close()


def test_the_note_names_the_held_file_until_it_is_settled(tmp_path: Path) -> None:
    """A restarted shipper must not replace the dead one's mark while the
    writer still has to count from it: the note names the file until then,
    and a follower that never opened it says so (others_held)."""
    j, reading, marks = deleted_under_a_follower(tmp_path)
    first = reading.follower.cursor_at(0)
    note = decode_note((j.dir / GAPS_FILE).read_bytes())
    assert first is not None and note is not None and [c.head for c in note.held] == [first.head]
    assert not reading.follower.others_held()  # its own
    restarted = JournalFollower(j.dir)
    assert restarted.others_held()
    reading.follower.close()
    j.writer.flush(1.0)
    note = decode_note((j.dir / GAPS_FILE).read_bytes())
    assert note is not None and note.held == ()
    assert not restarted.others_held()
    restarted.close()
    marks.close()
    j.writer.close()


def test_a_planted_link_at_the_note_is_refused_and_the_old_rule_stands(tmp_path: Path) -> None:
    """The note is never written through a link; without it the follower
    takes a file deleted before it finished it for a gap (the old rule)."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "j").mkdir(mode=0o700)
    (tmp_path / "j" / GAPS_FILE).symlink_to(victim)
    j = Journal(tmp_path)
    assert victim.read_bytes() == b"precious" and not (j.dir / GAPS_FILE).exists()
    assert any("cannot keep the gap note" in m for m in j.logs)
    j.write(2)
    reading = Reading(JournalFollower(j.dir))
    assert reading.drain() == [0, 1]
    j.write(9)  # the file being read is deleted (held): a gap by the old rule
    assert reading.drain() == list(range(2, 11))
    assert reading.resets == [5]  # after it
    reading.follower.close()
    j.writer.close()


def test_records_given_up_at_a_stop_are_a_gap_where_the_next_run_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader stops with records it could not write (a full disk under
    block): they are lost and counted (dropped_at_stop); the next run's first
    line is after a gap, so the shipper does not count them again as serial_gaps."""
    j = Journal(tmp_path, per_file=100, full=FullAction.BLOCK)
    j.write(3)
    reading = Reading(JournalFollower(j.dir))
    assert reading.drain() == [0, 1, 2]
    monkeypatch.setattr(os, "write", FakeDisk(0))
    j.write(2)  # blocked: still in the buffer
    monkeypatch.undo()
    assert j.writer.give_up_buffer() == 2 and not j.writer.buffer
    assert j.writer.give_up_buffer() == 0
    j.writer.close()
    j.writer.open()  # the next run of the reader
    j.write(2)
    j.writer.flush(60.0)  # (past the full disk's retry time)
    assert reading.drain() == [5, 6]
    assert reading.resets == [3]
    reading.follower.close()
    j.writer.close()

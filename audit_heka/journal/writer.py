"""The journal writer: append-only auditd-format files, rotated and bounded (the I/O edge).

The reader appends complete lines to :attr:`JournalWriter.buffer` (a
bytearray; one ``+=`` per record, no call) and calls :meth:`flush` when the
buffer passes :attr:`JournalWriter.buffer_limit` or the socket is idle, so at
light load a record is in the file within a millisecond and under a storm
the writes are large.

Files (auditd's naming and rotation): ``audit.log`` is active; rotation
renames ``audit.log.N-1`` -> ``audit.log.N`` ... ``audit.log`` ->
``audit.log.1`` and opens a new ``audit.log``. The shipper follows files by
identity (st_dev, st_ino) and head (a digest of the first line: the file
system reuses a deleted file's inode number for the next new one), so renames
never move its cursor and a new file is never taken for a deleted one. The
writer knows each file's head: it wrote the first line (rotated files found
at open are read once). What to delete and when to stop is decided by
:class:`~audit_heka.journal.policy.JournalPolicy`.

Never a torn line: a write cut short (disk full, quota) is truncated back
to its last complete line and the rest stays in the buffer, so a follower
never reads half a record and nothing is written twice. At open, a torn
tail left by a crash (power loss mid-write) is truncated the same way.

Flush policy (auditd's ``flush``/``freq``): ``none`` (write(2) only; the
kernel writes back), ``incremental`` (fdatasync every ``freq`` records, by a
helper thread: :mod:`audit_heka.journal.syncer`, as auditd's incremental_async),
``data`` (O_DSYNC: each write is on disk when it returns), ``sync``
(O_SYNC: data and metadata).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audit_heka.host.private_files import UnsafePathError, ensure_private_dir, open_private
from audit_heka.journal.consumed import read_mark, take_for_deletion
from audit_heka.journal.cursor import head_of, read_head, write_cursor
from audit_heka.journal.format import (
    CURSOR_FILE,
    HEAD_BYTES,
    SHIPPED_FILE,
    Cursor,
    file_head,
    parse_cursor,
)
from audit_heka.journal.gaps import GAPS_FILE, MAX_HELD, GapNote, names
from audit_heka.journal.policy import (
    FullAction,
    JournalFile,
    JournalPolicy,
    Plan,
    given_up_from,
)
from audit_heka.journal.syncer import Syncer

ACTIVE_NAME = "audit.log"
#: Large writes: one write(2) per 256 KiB under a storm.
DEFAULT_BUFFER_LIMIT = 256 * 1024
#: A full disk is retried this often (seconds) while blocked.
DISK_RETRY = 0.5
#: A full journal re-reads the cursor this often (seconds) while blocked.
CURSOR_RETRY = 0.05
#: Files deleted while the shipper read them are looked at this often (seconds):
#: once it has let go of one, what it left unread there is counted.
SETTLE_INTERVAL = 0.05
_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class FlushPolicy(enum.Enum):
    """``--flush``, as auditd's ``flush``."""

    NONE = "none"
    INCREMENTAL = "incremental"
    DATA = "data"
    SYNC = "sync"


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """Where the journal lives and how it is bounded and flushed."""

    directory: Path
    file_bytes: int = 8 * 1024 * 1024
    max_bytes: int = 1024 * 1024 * 1024
    full: FullAction = FullAction.BLOCK
    flush: FlushPolicy = FlushPolicy.INCREMENTAL
    freq: int = 1000
    owners: frozenset[int] | None = None


@dataclass(slots=True)
class JournalCounters:
    """Every loss and every pause, counted (reader.status shows them)."""

    bytes_written: int = 0
    writes: int = 0
    rotations: int = 0
    files_deleted: int = 0
    #: Records no shipper will ship: deleted by drop-oldest after the shipper's
    #: consumed mark (or cursor) in a file no live follower holds, left unread
    #: in a file deleted while a follower held it when that follower stopped
    #: (a shipper that died there), or never written (a full disk with nothing
    #: to free). See JournalWriter._remove and _settle_held.
    records_dropped: int = 0
    write_errors: int = 0  # failed write(2)/fsync calls (disk full, quota, I/O error)
    disk_full: int = 0  # of which ENOSPC/EDQUOT
    blocks: int = 0  # times the writer stopped the reader
    blocked_seconds: float = 0.0
    torn_bytes_repaired: int = 0  # partial lines truncated (a cut write, or a crash's tail)
    syncs: int = 0  # fdatasync calls made by the syncer (--flush incremental)


def rotated_name(index: int) -> str:
    """``audit.log`` for 0, ``audit.log.N`` for N (auditd's naming)."""
    return ACTIVE_NAME if index == 0 else f"{ACTIVE_NAME}.{index}"


@dataclass(slots=True)
class _Held:
    """A file deleted while a follower held it: kept open until it lets go."""

    fd: int
    file: JournalFile

    @property
    def entry(self) -> Cursor:
        """The file in the gap note: identity, size, head."""
        return Cursor(self.file.dev, self.file.ino, self.file.size, self.file.head)


def count_lines(fd: int, start: int) -> int:
    """Records (lines) in the open file ``fd`` from byte ``start``: what deleting it
    gives up (the writer writes whole lines only)."""
    count = 0
    offset = start
    while chunk := os.pread(fd, 1 << 20, offset):
        count += chunk.count(b"\n")
        offset += len(chunk)
    return count


class JournalWriter:
    """Appends lines to the journal; rotates, bounds and flushes it.

    ``log`` receives one-line messages for the operator (start/end of a
    block, disk full, records given up). ``now`` is passed in by the caller
    where time matters (blocked time, retries).
    """

    def __init__(
        self,
        config: JournalConfig,
        log: Callable[[str], None],
        *,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
    ) -> None:
        self.config = config
        self.policy = JournalPolicy(config.file_bytes, config.max_bytes, config.full)
        self.log = log
        self.buffer = bytearray()
        self.buffer_limit = buffer_limit
        self.counters = JournalCounters()
        #: Why the reader must not read now ("journal full", "disk full"), or None.
        self.blocked: str | None = None
        self._blocked_since = 0.0
        self._in_block = False
        self._retry_at = 0.0
        self._dir = config.directory
        self._fd = -1
        #: Newest first; [0] is the active file. Only this writer creates or deletes files.
        self._files: list[JournalFile] = []
        self._unsynced_records = 0
        self._syncer: Syncer | None = None
        self._disk_full_logged = False
        self._dropped_logged = 0
        self._held_deletions = 0  # files deleted while a follower read them (logged)
        self._room_made = False
        #: Where records were given up, for the follower (None: not kept).
        self._gaps: GapNote | None = None
        #: Records were given up just before the next line to be written, whose
        #: place is known only then (its file is still empty): see _locate_gap.
        self._gap_pending = False
        #: Files deleted while a follower read them, oldest first (see _settle_held).
        self._held: list[_Held] = []
        self._settle_at = 0.0

    # ------------------------------------------------------------------ files

    def open(self) -> None:
        """Create/check the private directory, take stock of the files, open
        ``audit.log`` for appending (repairing a torn tail)."""
        ensure_private_dir(self._dir, self.config.owners)
        files: list[JournalFile] = []
        index = 1
        while True:
            path = self._dir / rotated_name(index)
            try:
                st = path.lstat()
            except FileNotFoundError:
                break
            if not stat.S_ISREG(st.st_mode):
                raise UnsafePathError(f"{path} is not a regular file")
            files.append(JournalFile(st.st_dev, st.st_ino, st.st_size, head_of(path)))
            index += 1
        self._open_active()
        self._files = [self._files[0], *files]
        try:
            self._gaps = GapNote(self._dir, self.log, self._present)
            self._gap_pending = self._gaps.pending  # the last run gave records up last
        except OSError as exc:  # a planted link, an unwritable directory
            self.log(f"journal: cannot keep the gap note: {exc} (the shipper takes every "
                     "file deleted under it for a gap)")
            with contextlib.suppress(OSError):  # a last run's note must not be trusted now
                (self._dir / GAPS_FILE).unlink()

    def _present(self, entry: Cursor) -> bool:
        """Whether a gap note entry names a journal file still here."""
        return any(names(entry, f.dev, f.ino, f.head) for f in self._files)

    def _readable(self, entry: Cursor) -> bool:
        """Whether a gap note entry names a file a follower may still read."""
        return self._present(entry) or any(
            names(entry, h.file.dev, h.file.ino, h.file.head) for h in self._held)

    def _open_active(self) -> None:
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT  # read: to check the tail at open
        if self.config.flush is FlushPolicy.DATA:
            flags |= os.O_DSYNC
        elif self.config.flush is FlushPolicy.SYNC:
            flags |= os.O_SYNC
        fd = open_private(self._dir / ACTIVE_NAME, flags)
        st = os.fstat(fd)
        size = st.st_size
        if size:
            size = self._repair_tail(fd, size)
        self._fd = fd
        if self.config.flush is FlushPolicy.INCREMENTAL:
            if self._syncer is None:
                self._syncer = Syncer(self.log)
            self._syncer.follow(fd)
        active = JournalFile(st.st_dev, st.st_ino, size, read_head(fd) if size else None)
        if self._files:
            self._files[0] = active
        else:
            self._files.append(active)

    def _repair_tail(self, fd: int, size: int) -> int:
        """Truncate a partial last line (a crash mid-write); return the new size."""
        start = max(0, size - 65536)
        tail = os.pread(fd, size - start, start)
        if tail.endswith(b"\n"):
            return size
        keep = start + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
        if keep == 0 and start > 0:
            return size  # one line longer than 64 KiB: not ours to judge; leave it
        os.ftruncate(fd, keep)
        self.counters.torn_bytes_repaired += size - keep
        self.log(f"journal: truncated a torn last line ({size - keep} bytes) in {ACTIVE_NAME}")
        return keep

    def close(self) -> None:
        """Write what is buffered (best effort), sync if asked, close."""
        if self._fd < 0:
            return
        if self._held:
            self.log(f"journal: {len(self._held)} file(s) deleted while the shipper reads them "
                     "are let go: if it dies before their end, their rest is not counted")
            for held in self._held:
                os.close(held.fd)
            self._held.clear()
        if self._gaps is not None:
            self._gaps.held = []
            self._gaps.publish()  # no shipper waits for a writer that is gone
            self._gaps.close()
        if self._syncer is not None:
            self._syncer.close()  # its last fdatasync covers what was written
            self.counters.syncs = self._syncer.syncs
            self._syncer = None
        os.close(self._fd)
        self._fd = -1

    @property
    def sync_errors(self) -> int:
        """fdatasync calls of the syncer that failed (each logged)."""
        return self._syncer.errors if self._syncer is not None else 0

    @property
    def files(self) -> list[JournalFile]:
        """The journal files, newest first (for status)."""
        return list(self._files)

    def read_cursor(self) -> Cursor | None:
        """The shipper's cursor (None when it has not written one or it is unreadable)."""
        try:
            fd = open_private(self._dir / CURSOR_FILE, os.O_RDONLY)
        except OSError:
            return None
        try:
            return parse_cursor(os.read(fd, 256))
        except OSError:
            return None
        finally:
            os.close(fd)

    # ----------------------------------------------------------------- writes

    def give_up_buffer(self) -> int:
        """Give up the records still buffered (a stop that cannot wait any longer
        for the disk or the shipper): how many. The caller counts them lost; the
        gap note says they were given up before the next line written, by this
        run or the next, so the shipper does not count them again as serial gaps."""
        count = self.buffer.count(b"\n")
        if count:
            self.buffer.clear()
            self._give_up_next()
        return count

    def flush(self, now: float) -> None:
        """Write the buffer to the files (rotating as needed), unless blocked.

        Returns with data still buffered when a rotation is blocked or the
        disk is full; :attr:`blocked` then says why, and the next call after
        :meth:`next_retry` tries again.
        """
        if self._held and now >= self._settle_at:
            self._settle_at = now + SETTLE_INTERVAL
            self._settle_held()
        if self.blocked is not None:
            if now < self._retry_at:
                return
            self.blocked = None  # try again; _block() sets it back if still stuck
        self._write_buffer(now)
        if self.blocked is None and self._in_block:
            self._in_block = False
            waited = now - self._blocked_since
            self.counters.blocked_seconds += waited
            self.log(f"journal: no longer blocked after {waited:.1f} s; reading the kernel again")

    def _write_buffer(self, now: float) -> None:
        buf = self.buffer
        while buf and self.blocked is None:
            active = self._files[0]
            room = self.policy.room(active.size)
            if len(buf) <= room:
                cut = len(buf)
            else:
                cut = buf.rfind(b"\n", 0, room) + 1
                if cut == 0:
                    if active.size:
                        self._rotate(now)
                        continue
                    cut = buf.find(b"\n") + 1 or len(buf)  # a line longer than a file
            if self._write(cut, now) < cut:
                if self._room_made:  # a shipped (or, drop-oldest, any) old file went: retry
                    self._room_made = False
                    continue
                return
            if buf and self.policy.room(self._files[0].size) == 0:
                self._rotate(now)

    def next_retry(self) -> float:
        """When the next retry is due (only meaningful while blocked)."""
        return self._retry_at

    def _write(self, cut: int, now: float) -> int:
        """write(2) ``buffer[:cut]``; returns the bytes kept in the file (whole lines)."""
        if self._gap_pending:
            self._locate_gap()
        view = memoryview(self.buffer)
        done = 0
        error: OSError | None = None
        try:
            while done < cut:
                done += os.write(self._fd, view[done:cut])
        except OSError as exc:
            error = exc.with_traceback(None)  # its frames may hold slices of the buffer
        finally:
            view.release()
        keep = done
        if error is not None and done:
            keep = self.buffer.rfind(b"\n", 0, done) + 1
            if keep != done:
                os.ftruncate(self._fd, self._files[0].size + keep)
                self.counters.torn_bytes_repaired += done - keep
        if keep:
            records = self.buffer.count(b"\n", 0, keep)
            active = self._files[0]
            head = active.head
            if head is None:  # the file's first line: written just now, whole
                head = (file_head(self.buffer[:min(keep, HEAD_BYTES)]) if active.size == 0
                        else read_head(self._fd))
            del self.buffer[:keep]
            self._files[0] = JournalFile(active.dev, active.ino, active.size + keep, head)
            self.counters.bytes_written += keep
            self.counters.writes += 1
            self._after_write(records)
        if error is not None:
            self._write_failed(error, now)
        elif self._disk_full_logged:
            self._disk_full_logged = False
            self.log("journal: writing again (the disk has room)")
        return keep

    def _after_write(self, records: int) -> None:
        if self.config.flush is not FlushPolicy.INCREMENTAL:
            return
        self._unsynced_records += records
        if self._unsynced_records >= self.config.freq and self._syncer is not None:
            self._unsynced_records = 0
            self._syncer.request()
            self.counters.syncs = self._syncer.syncs

    def _write_failed(self, exc: OSError, now: float) -> None:
        self.counters.write_errors += 1
        space = exc.errno in _SPACE_ERRNOS
        if space:
            self.counters.disk_full += 1
        what = "disk full" if space else f"write error ({exc.strerror})"
        if not self._disk_full_logged:
            self._disk_full_logged = True
            self.log(
                f"journal: {what} in {self._dir}: {len(self.buffer)} bytes wait "
                f"(--journal-full {self.config.full.value})"
            )
        cursor = self.read_cursor()
        plan = self.policy.plan_make_room(self._files, cursor)
        if not plan.blocked:
            self._remove(plan, cursor)
            self._room_made = True
            return
        if self.config.full is FullAction.DROP_OLDEST:
            # Nothing older to give up: what waits is the oldest record we can
            # still give up without touching the file a follower reads.
            dropped = self.buffer.count(b"\n")
            self.buffer.clear()
            self._give_up_next()
            self._drop(dropped, "the disk is full and no older journal file is left")
            return
        self._block("disk full", now, DISK_RETRY)

    def _rotate(self, now: float) -> bool:
        """Make ``audit.log`` a rotated file and open a new one; False if blocked."""
        cursor = self.read_cursor()
        plan = self.policy.plan_rotation(self._files, cursor)
        self._remove(plan, cursor)
        if plan.blocked:
            self._block("journal full", now, CURSOR_RETRY)
            return False
        # data/sync: every write is on disk already; incremental: the syncer
        # gives the old file its last fdatasync when _open_active hands it the new one.
        for index in range(len(self._files) - 1, -1, -1):
            (self._dir / rotated_name(index)).rename(self._dir / rotated_name(index + 1))
        os.close(self._fd)
        self._fd = -1
        self._files.insert(0, JournalFile(0, 0, 0))
        self._open_active()
        self.counters.rotations += 1
        return True

    def _remove(self, plan: Plan, cursor: Cursor | None) -> None:
        """Delete the plan's files (oldest first), counting what that gives up.

        Given up are exactly the records no shipper will ship: a file a live
        follower holds (its read lock) is read to its end through its
        descriptor, so nothing; otherwise the records from where the shipper's
        consumption stopped (:func:`~audit_heka.journal.policy.given_up_from`:
        its consumed mark, or the cursor if further). The write lock taken
        for the count keeps a follower from starting on the file until it is
        deleted (it then passes over it: a gap).
        """
        mark: Cursor | None = None
        marked = False
        for removal in plan.removals:  # oldest first, always the last in the list
            assert removal.index == len(self._files) - 1
            path = self._dir / rotated_name(removal.index)
            if removal.unshipped_from is None:
                self._note_shipped(self._files[removal.index], cursor)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            else:
                if not marked:
                    mark, marked = read_mark(self._dir), True
                start = given_up_from(self._files, removal.index, cursor, mark)
                self._delete_unshipped(path, removal.index, start)
            self._files.pop()
            self.counters.files_deleted += 1

    def _delete_unshipped(self, path: Path, index: int, start: int | None) -> None:
        """Delete the file ``index`` with unacknowledged records; count those no
        shipper will ship, and say where they were (the gap note).

        A file a live follower holds gives up nothing now; it is kept open
        (:meth:`_hold`) so that what a follower that dies in it leaves unread
        is counted later (:meth:`_settle_held`).
        """
        try:
            fd = open_private(path, os.O_RDWR)  # a write lock needs a writable descriptor
        except FileNotFoundError:
            return  # deleted behind our back (an operator): the shipper counts it lost
        except OSError as exc:  # not our regular file (a planted link), or unreadable
            self.log(f"journal: {path.name}: {exc}; deleted without counting its records")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        kept = False
        try:
            held = start is not None and not take_for_deletion(fd)
            given_up = 0 if start is None or held else count_lines(fd, start)
            if given_up:
                self._given_up_before(index - 1)  # noted before the file goes
            elif held:
                kept = self._hold(fd, self._files[index])
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # under the write lock: no follower starts on it now
        finally:
            if not kept:
                os.close(fd)
        if given_up:
            self._drop(given_up, f"{path.name} deleted before it was shipped")
        elif held:
            self._held_deletions += 1
            if self._held_deletions in (1, 10, 100) or not self._held_deletions % 1000:
                self.log(f"journal: {path.name} deleted while the shipper reads it (it reads "
                         f"it to its end: nothing given up; {self._held_deletions} so far)")

    def _given_up_before(self, index: int) -> None:
        """Records were given up just before the first line of the file
        ``index``: say so in the gap note (now, or before that line is written
        when the file is still empty)."""
        if self._gaps is None:
            return
        f = self._files[index]
        if f.head is None:  # the empty active file: its first line is not known yet
            self._give_up_next()
            return
        self._gaps.add_gap(Cursor(f.dev, f.ino, 0, f.head), self._readable)

    def _give_up_next(self) -> None:
        """Records were given up just before the next line to be written."""
        self._gap_pending = True
        if self._gaps is not None:
            self._gaps.mark_pending()  # a reader restarted before that line still names it

    def _locate_gap(self) -> None:
        """Records were given up just before the line about to be written:
        name its place in the gap note before it is written."""
        self._gap_pending = False
        if self._gaps is None:
            return
        active = self._files[0]
        head = active.head
        if head is None:  # this write holds the file's first line
            head = (file_head(self.buffer[:HEAD_BYTES]) if active.size == 0
                    else read_head(self._fd))
        if head is not None:
            self._gaps.add_gap(Cursor(active.dev, active.ino, active.size, head),
                               self._readable)

    def _hold(self, fd: int, f: JournalFile) -> bool:
        """Keep a file deleted under a follower open, and name it in the gap
        note before it is unlinked (a restarted shipper looks there)."""
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (f.dev, f.ino):
            return False  # not the file we know (replaced by hand): nothing to settle
        if len(self._held) >= MAX_HELD:
            oldest = self._held.pop(0)
            os.close(oldest.fd)
            self.log(f"journal: more than {MAX_HELD} files deleted while the shipper reads "
                     "them: the oldest is let go (if it dies before its end, its rest is not "
                     "counted)")
        self._held.append(_Held(fd, f))
        self._publish_held()
        return True

    def _publish_held(self) -> None:
        if self._gaps is not None:
            self._gaps.held = [h.entry for h in self._held]
            self._gaps.publish()

    def _settle_held(self) -> None:
        """Count what was left unread in the files deleted under a follower
        that no follower holds any more.

        A live follower lets go of a file only once its consumed mark is past
        the file's end (:meth:`~audit_heka.journal.follower.JournalFollower.release`):
        nothing then. A dead one let go wherever it was: the records after its
        consumed mark (the cursor without a mark) are given up. A restarted
        shipper does not replace that mark while the gap note names the file.
        """
        cursor: Cursor | None = None
        mark: Cursor | None = None
        looked = False
        files = [h.file for h in self._held]  # oldest first, before any is let go
        keep: list[_Held] = []
        for index, held in enumerate(self._held):
            if not take_for_deletion(held.fd):
                keep.append(held)  # still read
                continue
            if not looked:
                cursor, mark, looked = self.read_cursor(), read_mark(self._dir), True
            newer = [*self._files, *reversed(files[index + 1:])]  # newest first
            # The mark alone when there is one: a restarted shipper's cursor
            # names the file it started at, past this one, and says nothing of
            # what the last run read here (the new run keeps that run's mark).
            start = given_up_from([*newer, held.file], len(newer),
                                  cursor if mark is None else None, mark)
            given_up = 0 if start is None else count_lines(held.fd, start)
            os.close(held.fd)
            if given_up:
                self._drop(given_up, "a journal file deleted while the shipper read it: "
                           "the shipper stopped before its end")
        settled = len(keep) != len(self._held)
        self._held = keep
        if settled:
            self._publish_held()

    def _note_shipped(self, f: JournalFile, cursor: Cursor | None) -> None:
        """Before deleting the cursor's own file as shipped (the cursor at its end):
        say so in the shipped note, so that a shipper restarted at that cursor
        does not take the file for lost (:mod:`audit_heka.journal.follower`)."""
        if cursor is None or not cursor.names_file(f.dev, f.ino, f.head):
            return
        try:
            write_cursor(self._dir, Cursor(f.dev, f.ino, f.size, f.head), SHIPPED_FILE)
        except OSError as exc:
            self.log(f"journal: cannot write the shipped note: {exc} (a shipper restarted "
                     "now would count its cursor's file lost)")

    def _drop(self, records: int, why: str) -> None:
        before = self.counters.records_dropped
        self.counters.records_dropped += records
        if before and self.counters.records_dropped < 2 * self._dropped_logged:
            return  # logged again each time the total doubles: visible, not a flood
        self._dropped_logged = self.counters.records_dropped
        self.log(
            f"journal: {records} records given up ({why}; --journal-full drop-oldest); "
            f"{self.counters.records_dropped} so far"
        )

    # --------------------------------------------------------------- blocking

    def _block(self, why: str, now: float, retry: float) -> None:
        self.blocked = why
        self._retry_at = now + retry
        if self._in_block:
            return
        self._in_block = True
        self._blocked_since = now
        self.counters.blocks += 1
        until = "the shipper catches up" if why == "journal full" else "the disk has room"
        self.log(
            f"journal: {why}: reading the kernel slows to a trickle held in memory until "
            f"{until} (--journal-full block)"
        )

    def blocked_for(self, now: float) -> float:
        """Seconds blocked so far, this block and previous ones (for status)."""
        current = now - self._blocked_since if self._in_block else 0.0
        return self.counters.blocked_seconds + current

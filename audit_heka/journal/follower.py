"""Follow the journal: lines in order, across rotation, from a cursor (I/O edge).

The reader appends to ``audit.log`` and rotates the way auditd does
(``audit.log`` -> ``audit.log.1`` -> ... ; the oldest is deleted). The
follower holds the file it is reading open and knows it by identity
(``st_dev``, ``st_ino``) and head (a digest of its first line), never by
name: a rename by rotation does not move it, a deleted file can still be
read to its end through the open descriptor, and a new file that the file
system gave a deleted file's inode number is not taken for that file. At the
end of a file that is no longer ``audit.log`` it goes on with the oldest file
it has not read yet.

Positions: every line gets an integer *journal position* that only grows
(the offset of the line start in its file plus a base per file), so the
shipper can compare "where is the oldest record not yet acknowledged" across
files; :meth:`JournalFollower.cursor_at` turns a position back into the
persisted :class:`~audit_heka.journal.format.Cursor` (file identity, offset,
head). A persisted cursor whose file is gone -- deleted, or its inode number
now used by a newer file -- is logged and counted (``journal_lost_files``),
and the follower starts at the oldest file present: never a skip. Not
counted: a file the writer deleted as shipped with the cursor at its end
(its shipped note names that end).

Given up: every file the follower reads is held by an OFD read lock
(:mod:`audit_heka.journal.consumed`), kept on a finished file until the
caller's consumed mark is past it (:meth:`JournalFollower.release`), so that
drop-oldest counts nothing the follower has or will still read. A file the
writer holds for deletion, or deleted before the lock, is passed over: its
records are counted as given up, so reading them would ship records counted
lost.

Gaps (:meth:`JournalFollower.take_gap`): where records were given up, and
only there -- a file passed over, or a place the writer's gap note names
(:mod:`audit_heka.journal.gaps`: files given up before the follower reached
them, records a full disk never took). A file deleted while the follower
reads it is read to its end: no gap. A read never returns lines from both
sides of a gap, so the caller, asking before each read, learns of it
between the last line before and the first line after. Without a gap note
(another writer) the old rule stands: a file deleted before the follower
finished it is a gap.

Waking up: an inotify watch on the journal directory (ctypes: ``IN_MODIFY``,
``IN_CREATE``, ``IN_MOVED_TO``, ``IN_CLOSE_WRITE``), so the shipper sleeps in
``poll`` until the reader writes, with no sleep-polling. Work is bounded:
:meth:`JournalFollower.read` returns at most about ``max_bytes`` of lines.
Lines are split on ``b"\\n"`` only and unescaped with the journal codec.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
import select
import struct
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from audit_heka.host.private_files import UnsafePathError, open_private
from audit_heka.journal.consumed import hold_for_reading
from audit_heka.journal.cursor import CursorError, head_of, read_cursor, read_head
from audit_heka.journal.format import NO_HEAD, SHIPPED_FILE, Cursor, split_lines, unescape
from audit_heka.journal.gaps import GapReader, names

log = logging.getLogger(__name__)

ACTIVE_NAME = "audit.log"
READ_CHUNK = 1 << 20
#: Finished files kept open for :meth:`JournalFollower.release` at most.
MAX_FINISHED = 64

#: The follower's counters (meanings in audit_heka.core.counters).
COUNTER_NAMES = ("journal_lines", "journal_bytes", "journal_files", "journal_lost_files",
                 "journal_partial_lines", "journal_unsafe_files", "journal_gaps")

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_Q_OVERFLOW = 0x00004000
#: ``struct inotify_event`` before its name: wd, mask, cookie, len.
_EVENT = struct.Struct("iIII")
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
WATCH_MASK = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_DELETE


class Inotify:
    """A minimal inotify directory watch (libc through ctypes): wake-ups only.

    Only events on journal files (names starting with ``prefix``) wake the
    sleeper: the shipper writes its cursor and consumed mark into the same
    directory (and the reader its status, without a status directory), and a
    Python process's wake-up costs more than the records of a short round.
    """

    def __init__(self, directory: Path, mask: int = WATCH_MASK,
                 prefix: str | None = ACTIVE_NAME) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self.fd: int = fd
        self._prefix = None if prefix is None else os.fsencode(prefix)
        wd = libc.inotify_add_watch(fd, os.fsencode(directory), mask)
        if wd < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, f"inotify_add_watch {directory}: {os.strerror(err)}")

    def fileno(self) -> int:
        return self.fd

    def drain(self) -> bool:
        """Consume the queued events; whether one concerns a journal file."""
        relevant = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return relevant
            if not data:
                return relevant
            relevant = relevant or self._concerns_journal(data)

    def _concerns_journal(self, data: bytes) -> bool:
        """Whether one of the ``struct inotify_event``s in ``data`` names a
        journal file (or the queue overflowed: events were lost, so yes)."""
        offset = 0
        while offset + _EVENT.size <= len(data):
            _wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            name = data[offset:offset + length]
            offset += length
            if mask & IN_Q_OVERFLOW or self._prefix is None or name.startswith(self._prefix):
                return True
        return False

    def wait(self, timeout: float | None, wake_fd: int = -1) -> bool:
        """Sleep until a journal file changes or ``timeout`` seconds pass; True if woken.

        ``wake_fd`` (e.g. the signal wake-up pipe) also ends the sleep: Python
        retries ``poll`` after a signal, so without it a SIGTERM would wait
        for the timeout.
        """
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        if wake_fd >= 0:
            poller.register(wake_fd, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = poller.poll(None if left is None else int(left * 1000 + 0.999))
            if not ready:
                return False
            woken = False
            for fd, _ in ready:
                if fd == self.fd:
                    woken = self.drain() or woken
                else:
                    _drain_fd(fd)
                    woken = True
            if woken:
                return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _drain_fd(fd: int) -> None:
    """Empty a non-blocking pipe."""
    while True:
        try:
            if not os.read(fd, 4096):
                return
        except (BlockingIOError, InterruptedError):
            return


@dataclass(slots=True)
class _Segment:
    """One journal file as followed: its identity, head and where its offset 0 sits."""

    dev: int
    ino: int
    base: int  # journal position of offset 0
    head: str | None  # None until the file holds a line


_ROTATED = re.compile(r"^" + re.escape(ACTIVE_NAME) + r"\.([1-9][0-9]{0,5})$")


def journal_files(directory: Path) -> list[tuple[Path, os.stat_result]]:
    """The journal's files, oldest first (``audit.log.N`` ... ``audit.log.1``, ``audit.log``)."""
    found: list[tuple[int, Path, os.stat_result]] = []
    try:
        names = [entry.name for entry in directory.iterdir()]
    except FileNotFoundError:
        return []
    for name in names:
        if name == ACTIVE_NAME:
            index = 0
        else:
            match = _ROTATED.match(name)
            if match is None:
                continue
            index = int(match.group(1))
        path = directory / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        found.append((index, path, st))
    found.sort(key=lambda item: -item[0])
    return [(path, st) for _, path, st in found]


def find_file(files: list[tuple[Path, os.stat_result]], cursor: Cursor) -> int | None:
    """The index in ``files`` (:func:`journal_files`) of the cursor's file, or None.

    Reads the head of a file only when its identity matches: one small read.
    """
    for index, (path, st) in enumerate(files):
        if (st.st_dev, st.st_ino) == (cursor.dev, cursor.ino) and cursor.names_file(
                st.st_dev, st.st_ino, head_of(path)):
            return index
    return None


class JournalFollower:
    """Lines of the journal in order, from a cursor, across rotation."""

    def __init__(self, directory: Path, cursor: Cursor | None = None, *,
                 warmup: int = 0) -> None:
        self.directory = directory
        self._active_path = str(directory / ACTIVE_NAME)  # lstat()ed every round
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self._fd = -1
        self._gap = False
        self._segment: _Segment | None = None
        self._segments: deque[_Segment] = deque(maxlen=256)
        self._offset = 0  # bytes of the current file consumed into _buf
        self._buf = bytearray()
        self._buf_offset = 0  # file offset of _buf[0]
        # Identities are reused: the reader deletes shipped files and the file
        # system hands their inode numbers to new ones. So "done" is not a set
        # of (dev, ino): the follower remembers the last file it finished, by
        # identity and head, and goes on with the file after it.
        self._last: _Segment | None = None
        self._unsafe: set[tuple[int, int]] = set()  # passed over (not our files)
        self._passed: tuple[int, int] | None = None  # the last file passed over as given up
        self._refused = False  # the last _open_fd passed over a given-up file
        self._note = GapReader(directory)
        self._filled = False  # bytes read since the note was last looked at
        self._gap_passed = -1  # offset in the current file of the last gap passed
        self._lines_since_gap = 1  # lines returned since the last gap (1: a first gap counts)
        self._halt = False  # a gap was found inside this read: return before the lines after
        # Finished files stay open (and locked) until the shipper's consumed
        # mark is past them: (descriptor, position of its end). See release().
        self._finished: deque[tuple[int, int]] = deque()
        self._next_base = 0
        #: The position of the cursor given at start (lines before it are re-read
        #: only as context: the caller does not ship what comes from them).
        self.start_position = 0
        self._open_start(cursor, warmup)

    # --------------------------------------------------------------- opening
    def _open_start(self, cursor: Cursor | None, warmup: int) -> None:
        if cursor is not None and cursor.head == NO_HEAD:
            # Written while the follower's first file was still empty, so that
            # file was the oldest one: every file present is it or newer.
            log.info("journal: the cursor names a file that was empty: starting at the "
                     "oldest journal file")
        elif cursor is not None:
            for path, st in journal_files(self.directory):
                if (st.st_dev, st.st_ino) != (cursor.dev, cursor.ino):
                    continue
                fd = self._open_fd(path, st)
                if fd is None:
                    continue
                head = read_head(fd)
                if not cursor.names_file(st.st_dev, st.st_ino, head):
                    os.close(fd)  # a newer file with the inode number of the cursor's
                    break
                self._adopt(fd, head)
                offset = min(cursor.offset, st.st_size)
                self._seek(max(0, offset - warmup))
                self.start_position = self._position(offset)
                return
            if self._deleted_as_shipped(cursor):
                log.info("journal: the cursor's file was deleted once shipped to its end: "
                         "starting at the oldest journal file")
            else:
                log.warning("journal: the cursor's file (dev %d ino %d head %s) is gone%s: "
                            "starting at the oldest journal file", cursor.dev, cursor.ino,
                            cursor.head, "" if cursor.head is None else
                            " (deleted; its inode number may name a newer file now)")
                self.counters["journal_lost_files"] += 1
        self._open_next()

    def _deleted_as_shipped(self, cursor: Cursor) -> bool:
        """Whether the writer's shipped note says the cursor's (gone) file was
        deleted with the cursor at its end: nothing in it was left to ship.

        Why a note: the shipper writes a cursor at the end of a finished file
        while the next one holds no line yet; the writer may delete the file
        as shipped before the shipper writes a cursor naming the next one,
        and a shipper that dies in between restarts at a cursor whose file
        is gone, although it skipped nothing.
        """
        try:
            note = read_cursor(self.directory, SHIPPED_FILE)
        except (CursorError, OSError):
            return False
        return (note is not None and note.head is not None
                and cursor.names_file(note.dev, note.ino, note.head)
                and cursor.offset >= note.offset)

    def _open_fd(self, path: Path, st: os.stat_result) -> int | None:
        """``path`` opened for reading if it is still the file ``st`` describes."""
        try:
            fd = open_private(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except UnsafePathError as exc:
            # Not a regular file of ours (a planted symlink, a FIFO): never read
            # through it; counted, logged, and passed over.
            log.error("journal: %s", exc)
            self.counters["journal_unsafe_files"] += 1
            self._unsafe.add((st.st_dev, st.st_ino))
            return None
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)  # renamed between listing and opening: list again
            return None
        if not hold_for_reading(fd) or os.fstat(fd).st_nlink == 0:
            # The writer is deleting it (drop-oldest), or did before our lock:
            # either way it counted the file's records as given up. Reading
            # them now would ship records counted lost; pass over it: a gap.
            os.close(fd)
            self._refused = True
            if self._passed != (st.st_dev, st.st_ino):
                self._passed = (st.st_dev, st.st_ino)
                self._signal_gap()
            return None
        return fd

    def _open(self, path: Path, st: os.stat_result) -> bool:
        fd = self._open_fd(path, st)
        if fd is None:
            return False
        self._adopt(fd, read_head(fd))
        return True

    def _adopt(self, fd: int, head: str | None) -> None:
        """Make the open file ``fd`` the one being read, from its start."""
        opened = os.fstat(fd)
        os.set_blocking(fd, True)
        self._close_file()
        self._fd = fd
        self._segment = _Segment(opened.st_dev, opened.st_ino, self._next_base, head)
        self._segments.append(self._segment)
        self._offset = 0
        self._buf.clear()
        self._buf_offset = 0
        self._gap_passed = -1
        self.counters["journal_files"] += 1

    def _seek(self, offset: int) -> None:
        """Start reading at ``offset``, at a line start (skip a partial line first)."""
        if offset == 0:
            return
        os.lseek(self._fd, offset - 1, os.SEEK_SET)
        # Read from offset-1: if that byte is a newline, offset starts a line.
        self._offset = offset - 1
        self._buf_offset = offset - 1
        self._fill()
        newline = self._buf.find(b"\n")
        while newline < 0 and self._fill():
            newline = self._buf.find(b"\n")
        skip = len(self._buf) if newline < 0 else newline + 1
        del self._buf[:skip]
        self._buf_offset += skip

    def _open_next(self) -> bool:
        """Open the oldest journal file not read yet (False: none)."""
        for _ in range(3):  # a rotation between listing and opening: list again
            files = journal_files(self.directory)
            start = 0
            last = self._last
            if last is not None:
                for index, (path, st) in enumerate(files):
                    if (st.st_dev, st.st_ino) == (last.dev, last.ino) and \
                            head_of(path) == last.head:
                        start = index + 1
                        break
                # else: the last file is gone (deleted once shipped, oldest
                # first), so every file listed is newer: start at the oldest.
            for path, st in files[start:]:
                if (st.st_dev, st.st_ino) in self._unsafe:
                    continue
                self._refused = False
                if self._open(path, st):
                    return True
                if not self._refused:
                    break  # renamed or gone since the listing: list again
                # given up by the writer: go on with the next file
        return False

    def _close_file(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        self._close_file()
        self.release(1 << 62)
        self._note.close()

    # ---------------------------------------------------------------- reading
    def _position(self, offset: int) -> int:
        assert self._segment is not None
        return self._segment.base + offset

    def _fill(self) -> bool:
        """Read one chunk into the buffer; False at end of file."""
        try:
            data = os.read(self._fd, READ_CHUNK)
        except InterruptedError:
            return True
        if not data:
            return False
        self._buf += data
        self._offset += len(data)
        self._filled = True
        self.counters["journal_bytes"] += len(data)
        return True

    def _rotated_away(self) -> bool:
        """Whether the current file is no longer the active ``audit.log``."""
        assert self._segment is not None
        try:
            st = os.lstat(self._active_path)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != (self._segment.dev, self._segment.ino)

    def read(self, max_bytes: int = READ_CHUNK) -> tuple[list[tuple[int, bytes]], bool]:
        """Up to about ``max_bytes`` of complete lines as (position, unescaped line).

        The second value is True when the journal is read to its end (wait
        for a wake-up before calling again), False when more is there now.
        """
        out: list[tuple[int, bytes]] = []
        taken = 0
        while taken < max_bytes:
            if self._fd < 0 and not self._open_next():
                return out, True
            if self._stop_here():  # passed over a file on the way: the lines after it wait
                return out, False
            if not self._buf or self._buf.find(b"\n") < 0:
                if self._fill():
                    continue
                # End of this file: is it finished (rotated away)?
                if not self._rotated_away():
                    return out, True
                if self._fill():  # written just before the rotation
                    continue
                self._finish_file(out)
                if self._stop_here():
                    return out, False  # the caller learns of the gap between two reads
                continue
            lines, consumed = split_lines(self._buf)
            gap = self._gap_among(consumed)
            if gap is not None:
                lines, consumed = self._lines_before(lines, gap)
            position = self._position(self._buf_offset)
            escaped = self._buf.find(b"\\x", 0, consumed) >= 0  # rare: one look per chunk
            for line in lines:
                out.append((position, unescape(line) if escaped else line))
                position += len(line) + 1
            del self._buf[:consumed]
            self._buf_offset += consumed
            taken += consumed
            self.counters["journal_lines"] += len(lines)
            self._lines_since_gap += len(lines)
            if gap is not None:
                self._gap_passed = gap
                self._signal_gap()
                if self._stop_here():
                    return out, False
        return out, False

    def _stop_here(self) -> bool:
        """Whether a gap found since the last look ends this read (clears it)."""
        halt, self._halt = self._halt, False
        return halt

    def _signal_gap(self) -> None:
        """Records are missing before the next line: count it, tell the caller
        (take_gap) and end the read here, unless no line came since the last
        gap (the same stretch, seen twice: a file passed over that the note
        names too, or files given up one after the other)."""
        if self._lines_since_gap == 0:
            return
        self._lines_since_gap = 0
        self.counters["journal_gaps"] += 1
        self._gap = True
        self._halt = True

    def _gap_among(self, consumed: int) -> int | None:
        """The file offset of the first gap the note names before one of the
        lines in the next ``consumed`` bytes of the buffer (None: none).

        The writer names a gap before it writes the line after it, so a look
        at the note after the read that brought the line finds it.
        """
        if self._filled:
            self._filled = False
            self._note.refresh()
        if not self._note.gaps:
            return None
        segment = self._segment
        assert segment is not None
        head = self._head_of(segment)
        low, high = max(self._buf_offset, self._gap_passed + 1), self._buf_offset + consumed
        found = [at.offset for at in self._note.gaps
                 if low <= at.offset < high and names(at, segment.dev, segment.ino, head)]
        return min(found, default=None)

    def _lines_before(self, lines: list[bytes], offset: int) -> tuple[list[bytes], int]:
        """The lines that start before the file ``offset``, and the bytes they span."""
        end = self._buf_offset
        for count, line in enumerate(lines):
            if end >= offset:
                return lines[:count], end - self._buf_offset
            end += len(line) + 1
        return lines, end - self._buf_offset

    def _finish_file(self, out: list[tuple[int, bytes]]) -> None:
        assert self._segment is not None
        if self._buf:
            # A torn last line (the writer died mid-write): passed on as it is,
            # counted; the parser counts it malformed if it is not a record.
            self.counters["journal_partial_lines"] += 1
            out.append((self._position(self._buf_offset), unescape(bytes(self._buf))))
            self._buf_offset += len(self._buf)
            self._buf.clear()
        if self._segment.head is None:
            self._segment.head = read_head(self._fd)
        if not self._note.refresh() and os.fstat(self._fd).st_nlink == 0:
            # No gap note (another writer): the old rule. Deleted before we
            # were done with it, so the files after it may have gone unread;
            # the reader counts what it gave up, and the caller must not count
            # it again as lost serials (see take_gap). With the note, the
            # writer names such places, and this file was read to its end.
            self._signal_gap()
        self._last = self._segment
        self._next_base = self._segment.base + self._offset
        self._finished.append((self._fd, self._next_base))
        self._fd = -1
        while len(self._finished) > MAX_FINISHED:
            os.close(self._finished.popleft()[0])  # a caller that never releases
        self._open_next()  # nothing newer yet: read() tries again

    def release(self, position: int) -> None:
        """Close the finished files that end at or before ``position``.

        Why they stay open until then: their read lock tells the journal
        writer that a live shipper has them. Once the shipper's consumed mark
        (:mod:`audit_heka.journal.consumed`) says ``position``, the mark tells
        it instead; closing a file earlier would leave a moment where the
        writer sees neither and counts records the shipper already has.
        """
        while self._finished and self._finished[0][1] <= position:
            os.close(self._finished.popleft()[0])

    def take_gap(self) -> bool:
        """Whether lines are missing between the last read and the next one:
        records the reader gave up (counted there, journal_dropped_records),
        so a jump in serials there is not an upstream loss. Asking clears it.
        Ask before every read: a read stops where it finds a gap."""
        gap, self._gap = self._gap, False
        return gap

    def others_held(self) -> bool:
        """Whether the writer's gap note names a file deleted while a follower
        read it that this follower never opened: an earlier shipper's, which
        stopped in it. Until the writer has counted what it left unread there
        (from its consumed mark), that mark must stay."""
        if not self._note.refresh():
            return False
        return any(self.position_of(f) is None for f in self._note.held)

    # -------------------------------------------------------------- positions
    @property
    def position(self) -> int:
        """The position of the first line not yet returned."""
        if self._segment is None:
            return self._next_base
        if self._fd < 0:
            return self._next_base
        return self._position(self._buf_offset)

    def _head_of(self, segment: _Segment) -> str | None:
        """The segment's head; the current file's is read once it holds a line."""
        if segment.head is None and segment is self._segment and self._fd >= 0:
            segment.head = read_head(self._fd)
        return segment.head

    def cursor_at(self, position: int) -> Cursor | None:
        """The cursor (file identity, offset, head) of a journal position.

        A position at the start of a file that holds no line yet has no head
        to name the file by; it is the end of the file before it, which is
        named instead (a file is finished before the next one is read, so its
        head is final). Only without such a file is the cursor NO_HEAD.
        """
        fallback: Cursor | None = None
        for segment in reversed(self._segments):
            if segment.base > position:
                continue
            offset = position - segment.base
            head = self._head_of(segment)
            if head is not None:
                return Cursor(segment.dev, segment.ino, offset, head)
            if fallback is None:
                fallback = Cursor(segment.dev, segment.ino, offset, NO_HEAD)
            if offset:
                break  # a file with bytes but no whole line (torn): no earlier end
        return fallback

    def settled(self, position: int) -> bool:
        """Whether :meth:`cursor_at` names the file that holds ``position`` by a
        head that is final, so the cursor cannot get better without moving.

        Not settled: the file holding ``position`` has no line yet (the cursor
        is the end of the file before, or NO_HEAD), or ``position`` is the end
        of a finished file and the next one is not open yet. The shipper
        writes such a cursor again once it is settled, so that the file it
        names is the one being read (a finished file may be deleted at once).
        """
        for segment in reversed(self._segments):
            if segment.base <= position:
                if self._head_of(segment) is None:
                    return False
                return not (segment is self._segment and self._fd < 0
                            and position >= self._next_base)
        return False

    def position_of(self, cursor: Cursor) -> int | None:
        """The position of ``cursor`` if its file has been opened (else None)."""
        for segment in self._segments:
            if cursor.names_file(segment.dev, segment.ino, self._head_of(segment)):
                return segment.base + cursor.offset
        return None

    def segments(self) -> Iterator[tuple[int, int, int, str | None]]:
        """(dev, ino, base, head) of the files followed so far (status, tests)."""
        for segment in self._segments:
            yield segment.dev, segment.ino, segment.base, segment.head

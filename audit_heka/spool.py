"""A bounded on-disk spool: at-least-once delivery over an acknowledgement-less protocol.

Heka's stream protocol has no acknowledgement, so a frame handed to a socket
that then breaks is simply gone. The spool keeps every frame on disk from the
moment the source hands it over until the delivery side *releases* it (it was
written to a connected receiver, see ``delivery``). A crash, a receiver
restart or an audit-heka restart therefore only causes duplicates (harmless:
uuids are deterministic), never loss.

Layout of a spool directory (created 0700, files 0600). The directory must be
private: a symlink, a directory owned by another user, or one that others
may write to is refused (``SpoolError``), and every file in it is opened with
``O_NOFOLLOW`` (see ``private_files``), so a planted symlink is never
written through:

``<first-seq, 20 digits>.seg``
    Segment files (a few MiB each) of records::

        magic "AHs1" | seq u64 | length u32 | crc32 u32 | frame (length bytes)

    The CRC covers seq, length and the frame, so a torn write (a crash in the
    middle of ``write``) or a damaged block is detected. A bad record at the
    tail is truncated at start-up; a bad record in the middle is skipped by
    resynchronising on the next magic whose CRC checks. Both are counted as
    ``corrupt``; neither is fatal.
``cursor``
    The release point (next unreleased seq, segment, offset), replaced
    atomically (write + rename) every ``cursor_every`` releases, whenever a
    segment is reclaimed, and at close. After a crash the frames released
    since the last persisted cursor are sent again (duplicates, not loss).
``lock``
    ``flock``-ed while a process owns the spool: two daemons appending to the
    same segments would corrupt each other.

Space is reclaimed a whole segment at a time, when the release point has moved
past it. The spool is bounded by ``max_bytes`` (the sum of its segment
files); when a frame does not fit, the ``FullAction`` decides: ``block``
(``append`` returns False so the source applies backpressure), ``drop-oldest``
(the oldest segment goes, each unreleased frame in it counted), or
``drop-newest`` (the new frame is counted and not stored).

If the disk fails (directory unwritable, ENOSPC, EIO), the spool logs a clear
message, counts ``spool_errors`` and keeps going with a bounded in-memory
queue behind the records already on disk (order is kept); it goes back to
disk once the memory queue has drained.

Nothing here is thread-safe: the delivery layer serialises access. Memory use
is bounded by one read buffer and the memory fallback's ``max_bytes``,
whatever the receiver does.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import errno
import fcntl
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from audit_heka.private_files import (
    UnsafePathError,
    create_exclusive,
    ensure_private_dir,
    file_problem,
    open_private,
)

log = logging.getLogger(__name__)

RECORD_MAGIC = b"AHs1"
RECORD_HEADER = struct.Struct("<4sQII")  # magic, seq, length, crc32
CURSOR_MAGIC = b"AHc1"
CURSOR_STRUCT = struct.Struct("<4sQQQI")  # magic, next seq, segment, offset, crc32
SEGMENT_SUFFIX = ".seg"
#: Largest frame the spool accepts: Heka's MAX_RECORD_SIZE is 3 + 255 + 64 KiB
#: by default; a generous cap still lets a damaged length field be rejected.
MAX_RECORD_PAYLOAD = 16 * 1024 * 1024
READ_CHUNK = 256 * 1024
DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024
MIN_MAX_BYTES = 4096


class FullAction(enum.Enum):
    """What ``append`` does when the frame does not fit in ``max_bytes``."""

    BLOCK = "block"
    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"

    @classmethod
    def parse(cls, text: str) -> FullAction:
        try:
            return cls(text)
        except ValueError:
            accepted = ", ".join(a.value for a in cls)
            raise ValueError(f"unknown spool full action {text!r} (accepted: {accepted})") from None


class SpoolError(Exception):
    """The spool cannot be used as configured (e.g. another process owns it)."""


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One frame read from a spool, with what ``release`` needs to find the next one.

    ``segment``/``next_offset`` locate the byte after this record on disk;
    ``segment`` is -1 for a record held in memory.
    """

    seq: int
    frame: bytes
    segment: int = -1
    next_offset: int = 0


class Spool(Protocol):
    """What the delivery side needs from a spool (disk or memory)."""

    full_action: FullAction

    def append(self, frame: bytes) -> bool: ...
    def read_next(self) -> SpoolRecord | None: ...
    def rewind(self) -> None: ...
    def release(self, record: SpoolRecord) -> None: ...
    def has_room(self, size: int) -> bool: ...
    def pending(self) -> bool: ...
    def used_bytes(self) -> int: ...
    def close(self) -> None: ...
    @property
    def counters(self) -> collections.Counter[str]: ...


def record_size(frame: bytes) -> int:
    """Bytes a frame takes in a spool (header included); the unit of ``max_bytes``."""
    return RECORD_HEADER.size + len(frame)


def encode_record(seq: int, frame: bytes) -> bytes:
    """The on-disk form of one record."""
    crc = zlib.crc32(frame, zlib.crc32(struct.pack("<QI", seq, len(frame))))
    return RECORD_HEADER.pack(RECORD_MAGIC, seq, len(frame), crc) + frame


def decode_record(buf: bytes, offset: int) -> tuple[int, bytes, int] | None:
    """Decode the record at ``offset`` of ``buf``: (seq, frame, end offset), or None.

    None means "no valid record here": too short, wrong magic, implausible
    length, or CRC mismatch. Sans-IO so the torn-write cases are testable.
    """
    end_header = offset + RECORD_HEADER.size
    if end_header > len(buf):
        return None
    magic, seq, length, crc = RECORD_HEADER.unpack_from(buf, offset)
    if magic != RECORD_MAGIC or length > MAX_RECORD_PAYLOAD or end_header + length > len(buf):
        return None
    frame = bytes(buf[end_header : end_header + length])
    if zlib.crc32(frame, zlib.crc32(struct.pack("<QI", seq, length))) != crc:
        return None
    return seq, frame, end_header + length


def resync(buf: bytes, offset: int) -> int | None:
    """Offset of the next valid record after a bad one at ``offset``, or None."""
    pos = offset + 1
    while True:
        pos = buf.find(RECORD_MAGIC, pos)
        if pos < 0:
            return None
        if decode_record(buf, pos) is not None:
            return pos
        pos += 1


def valid_end(buf: bytes, offset: int = 0) -> tuple[int, int | None]:
    """Scan ``buf`` from ``offset``: (end of the last valid record, its seq or None).

    Bad regions in the middle are skipped (the reader counts them when it
    gets there); whatever follows the last valid record is a torn tail.
    """
    end, last_seq = offset, None
    pos: int | None = offset
    while pos is not None and pos < len(buf):
        decoded = decode_record(buf, pos)
        if decoded is None:
            pos = resync(buf, pos)
            continue
        last_seq, end = decoded[0], decoded[2]
        pos = end
    return end, last_seq


class MemorySpool:
    """A bounded in-memory queue with the spool API.

    Used when no spool directory is configured and as the fallback of
    ``DiskSpool`` when the disk fails. It loses its contents on a crash,
    which is why it is the fallback, not the default.
    """

    def __init__(
        self,
        max_bytes: int = DEFAULT_MEMORY_BYTES,
        full_action: FullAction = FullAction.BLOCK,
        first_seq: int = 0,
        counters: collections.Counter[str] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.full_action = full_action
        self._items: collections.deque[tuple[int, bytes]] = collections.deque()
        self._read_index = 0
        self._used = 0
        self.next_seq = first_seq
        self._counters = counters if counters is not None else collections.Counter()

    @property
    def counters(self) -> collections.Counter[str]:
        return self._counters

    def has_room(self, size: int) -> bool:
        return self._used + size <= self.max_bytes

    def append(self, frame: bytes) -> bool:
        size = record_size(frame)
        if size > self.max_bytes:
            self._counters["spool_drops_newest"] += 1
            log.error(
                "frame of %d bytes exceeds the memory spool (%d bytes): dropped",
                len(frame),
                self.max_bytes,
            )
            return True
        while not self.has_room(size):
            if self.full_action is FullAction.BLOCK:
                self._counters["spool_full"] += 1
                return False
            if self.full_action is FullAction.DROP_NEWEST:
                self._counters["spool_drops_newest"] += 1
                return True
            self._drop_oldest()
        self._items.append((self.next_seq, frame))
        self.next_seq += 1
        self._used += size
        return True

    def _drop_oldest(self) -> None:
        _seq, frame = self._items.popleft()
        self._used -= record_size(frame)
        self._read_index = max(0, self._read_index - 1)
        self._counters["spool_drops_oldest"] += 1

    def read_next(self) -> SpoolRecord | None:
        if self._read_index >= len(self._items):
            return None
        seq, frame = self._items[self._read_index]
        self._read_index += 1
        return SpoolRecord(seq, frame)

    def rewind(self) -> None:
        self._read_index = 0

    def release(self, record: SpoolRecord) -> None:
        while self._items and self._items[0][0] <= record.seq:
            _seq, frame = self._items.popleft()
            self._used -= record_size(frame)
            self._read_index = max(0, self._read_index - 1)

    def pending(self) -> bool:
        return bool(self._items)

    def first_seq(self) -> int | None:
        return self._items[0][0] if self._items else None

    def used_bytes(self) -> int:
        return self._used

    def close(self) -> None:
        self._items.clear()
        self._used = 0


def _read_private(path: Path) -> bytes:
    """The whole of a spool file, never through a symlink."""
    fd = open_private(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SEGMENT_SUFFIX}"


class DiskSpool:
    """The on-disk spool described in the module docstring."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_bytes: int = DEFAULT_MAX_BYTES,
        full_action: FullAction = FullAction.BLOCK,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        cursor_every: int = 256,
        retry_disk_after: float = 5.0,
        clock: Callable[[], float] | None = None,
        owners: Iterable[int] | None = None,
    ) -> None:
        if max_bytes < MIN_MAX_BYTES:
            raise ValueError(f"spool max_bytes must be at least {MIN_MAX_BYTES}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.full_action = full_action
        # Four segments at least, so drop-oldest frees a quarter, not all.
        self.segment_bytes = max(1024, min(segment_bytes, max_bytes // 4))
        self.cursor_every = cursor_every
        self.retry_disk_after = retry_disk_after
        self._clock = clock
        #: uids allowed to own the directory (default: our euid); see private_files.
        self._owners = None if owners is None else frozenset(owners)
        self._counters: collections.Counter[str] = collections.Counter()
        self._mem = MemorySpool(memory_bytes, full_action, counters=self._counters)
        self._disk_ok = False
        self._failed_at = 0.0
        self._lock_fd = -1
        self._segments: list[int] = []
        self._sizes: dict[int, int] = {}
        self._wfd = -1
        self._next_seq = 0
        self._rel_seq = 0
        self._rel_pos = (0, 0)
        self._rd_pos = (0, 0)
        self._released_unsaved = 0
        self._rbuf = b""
        self._rbuf_at = (-1, 0)
        self._rfd = -1
        self._rfd_seg = -1
        try:
            self._open()
            self._disk_ok = True
        except SpoolError:
            self._release_lock()
            raise
        except UnsafePathError as exc:
            # Someone else could control what is in there: refuse, do not degrade.
            self._release_lock()
            raise SpoolError(f"spool: {exc}") from None
        except OSError as exc:
            self._release_lock()
            self._segments, self._sizes = [], {}
            self._disk_failed("cannot open spool directory", exc)

    # ----------------------------------------------------------------- set-up
    def _open(self) -> None:
        # A private directory (ours, 0700, not a symlink) and files opened
        # with O_NOFOLLOW: a planted symlink is refused, never written through.
        ensure_private_dir(self.directory, self._owners)
        self._lock_fd = open_private(self.directory / "lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpoolError(
                f"spool directory {self.directory} is in use by another process",
            ) from None
        for path in self.directory.iterdir():
            if path.name.endswith(SEGMENT_SUFFIX) and path.name[: -len(SEGMENT_SUFFIX)].isdigit():
                first = int(path.name[: -len(SEGMENT_SUFFIX)])
                st = path.lstat()
                problem = file_problem(st)
                if problem is not None:
                    raise UnsafePathError(f"{path} {problem}")
                self._segments.append(first)
                self._sizes[first] = st.st_size
        self._segments.sort()
        self._load_cursor()
        # Segments wholly before the release point were released before a crash.
        while self._segments and self._segments[0] < self._rel_pos[0]:
            self._unlink_segment(self._segments[0])
        if self._segments:
            self._recover_tail()
        self._next_seq = max(self._next_seq, self._rel_seq)
        self._mem.next_seq = self._next_seq
        self._rd_pos = self._rel_pos

    def _load_cursor(self) -> None:
        path = self.directory / "cursor"
        first = self._segments[0] if self._segments else 0
        self._rel_seq, self._rel_pos = first, (first, 0)
        try:
            data = _read_private(path)
        except FileNotFoundError:
            return
        body, crc_bytes = data[:-4], data[-4:]
        if len(data) != CURSOR_STRUCT.size or struct.pack("<I", zlib.crc32(body)) != crc_bytes:
            self._counters["corrupt"] += 1
            log.error("spool cursor %s is corrupt: resending from the oldest segment", path)
            return
        magic, seq, seg, off, _crc = CURSOR_STRUCT.unpack(data)
        if magic != CURSOR_MAGIC:
            self._counters["corrupt"] += 1
            log.error("spool cursor %s has a wrong magic: resending from the oldest segment", path)
            return
        self._rel_seq = seq
        if seg in self._sizes:
            self._rel_pos = (seg, min(off, self._sizes[seg]))
        else:
            # The segment named by the cursor is gone: start at the next one
            # (older ones, if any, were released before the crash).
            later = [s for s in self._segments if s >= seg]
            self._rel_pos = (later[0], 0) if later else (seg, 0)

    def _recover_tail(self) -> None:
        last = self._segments[-1]
        start = self._rel_pos[1] if self._rel_pos[0] == last else 0
        data = _read_private(self.directory / _segment_name(last))
        end, last_seq = valid_end(data, start)
        if end < len(data):
            self._counters["corrupt"] += 1
            log.warning(
                "spool segment %s: %d bytes of torn tail truncated",
                _segment_name(last),
                len(data) - end,
            )
            os.truncate(self.directory / _segment_name(last), end)
            self._sizes[last] = end
        if last_seq is not None:
            self._next_seq = last_seq + 1
        else:
            # Nothing valid after the start point: the previous segments (if any)
            # end before this one's first seq.
            self._next_seq = max(last, self._rel_seq)
        if self._rel_pos[0] == last and self._rel_pos[1] > end:
            self._rel_pos = (last, end)

    # --------------------------------------------------------------- failures
    def _now(self) -> float:
        return self._clock() if self._clock is not None else time.monotonic()

    def _disk_failed(self, what: str, exc: OSError) -> None:
        self._counters["spool_errors"] += 1
        if self._disk_ok or not self._counters["spool_memory_mode"]:
            hint = " (disk full)" if exc.errno == errno.ENOSPC else ""
            log.error(
                "spool %s: %s: %s%s; continuing with a bounded memory queue",
                self.directory,
                what,
                exc.strerror or exc,
                hint,
            )
        self._counters["spool_memory_mode"] = 1
        self._disk_ok = False
        self._failed_at = self._now()
        self._close_write()

    def _maybe_back_to_disk(self) -> None:
        """Go back to disk once memory has drained (order is then trivially kept)."""
        if self._disk_ok or self._mem.pending():
            return
        if self._now() - self._failed_at < self.retry_disk_after:
            return
        next_seq = max(self._next_seq, self._mem.next_seq)
        try:
            if self._lock_fd < 0:
                self._segments, self._sizes = [], {}
                self._open()
            probe = self.directory / "probe.tmp"
            fd = create_exclusive(probe)
            try:
                os.write(fd, b"\0" * 4096)
            finally:
                os.close(fd)
                probe.unlink()
        except (OSError, SpoolError) as exc:
            self._failed_at = self._now()
            if isinstance(exc, OSError):
                self._counters["spool_errors"] += 1
            return
        self._next_seq = max(self._next_seq, next_seq)
        self._mem.next_seq = self._next_seq
        self._disk_ok = True
        self._counters["spool_memory_mode"] = 0
        log.warning("spool %s: writing to disk again", self.directory)

    # ----------------------------------------------------------------- append
    def used_bytes(self) -> int:
        return sum(self._sizes.values()) + self._mem.used_bytes()

    def has_room(self, size: int) -> bool:
        if not self._disk_ok:
            return self._mem.has_room(size)
        return sum(self._sizes.values()) + size <= self.max_bytes

    def append(self, frame: bytes) -> bool:
        """Store ``frame``; False only under ``block`` when it does not fit."""
        self._maybe_back_to_disk()
        if not self._disk_ok:
            self._mem.next_seq = max(self._mem.next_seq, self._next_seq)
            return self._mem.append(frame)
        size = record_size(frame)
        if len(frame) > MAX_RECORD_PAYLOAD or size > self.max_bytes:
            self._counters["spool_drops_newest"] += 1
            log.error("frame of %d bytes can never fit the spool: dropped", len(frame))
            return True
        while not self.has_room(size):
            if self.full_action is FullAction.BLOCK:
                self._counters["spool_full"] += 1
                return False
            if self.full_action is FullAction.DROP_NEWEST:
                self._counters["spool_drops_newest"] += 1
                return True
            if not self._drop_oldest_segment():
                self._counters["spool_drops_newest"] += 1
                return True
        try:
            self._write(self._next_seq, frame)
        except OSError as exc:
            self._disk_failed("write failed", exc)
            self._mem.next_seq = self._next_seq
            return self._mem.append(frame)
        self._next_seq += 1
        return True

    def _write(self, seq: int, frame: bytes) -> None:
        record = encode_record(seq, frame)
        if self._wfd < 0 or (
            self._sizes[self._segments[-1]] > 0
            and self._sizes[self._segments[-1]] + len(record) > self.segment_bytes
        ):
            self._rotate(seq)
        last = self._segments[-1]
        before = self._sizes[last]
        try:
            written = os.write(self._wfd, record)
            if written != len(record):
                raise OSError(errno.ENOSPC, "short write to spool segment")
        except OSError:
            # Cut a torn record so the segment stays parseable.
            with contextlib.suppress(OSError):
                os.ftruncate(self._wfd, before)
            raise
        self._sizes[last] = before + len(record)

    def _rotate(self, first_seq: int) -> None:
        """Start writing a new segment (or reopen an empty last one)."""
        self._close_write()
        previous = self._segments[-1] if self._segments else None
        name = previous if previous is not None and self._sizes[previous] == 0 else first_seq
        self._wfd = open_private(
            self.directory / _segment_name(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND
        )
        if name not in self._sizes:
            self._segments.append(name)
            self._sizes[name] = 0
            if previous is not None and self._rel_pos == (previous, self._sizes[previous]):
                self._rel_pos = (name, 0)  # the old segment is wholly released
        self._reclaim()

    def _close_write(self) -> None:
        if self._wfd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._wfd)
            self._wfd = -1

    def _drop_oldest_segment(self) -> bool:
        """Drop the oldest segment, counting its unreleased frames; False if impossible."""
        if not self._segments:
            return False
        if len(self._segments) == 1:
            if self._sizes[self._segments[0]] == 0:
                return False
            self._rotate(self._next_seq)
            if len(self._segments) == 1:
                return False
        oldest, following = self._segments[0], self._segments[1]
        dropped = max(0, following - max(oldest, self._rel_seq))
        self._counters["spool_drops_oldest"] += dropped
        log.warning("spool full: dropped %d oldest frames", dropped)
        if self._rel_pos[0] <= oldest:
            self._rel_seq, self._rel_pos = max(self._rel_seq, following), (following, 0)
        if self._rd_pos[0] <= oldest:
            self._rd_pos = (following, 0)
        self._save_cursor()
        self._unlink_segment(oldest)
        return True

    def _unlink_segment(self, first: int) -> None:
        if self._rfd_seg == first:
            os.close(self._rfd)
            self._rfd, self._rfd_seg = -1, -1
        if self._rbuf_at[0] == first:
            self._rbuf, self._rbuf_at = b"", (-1, 0)
        try:
            (self.directory / _segment_name(first)).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._counters["spool_errors"] += 1
            log.error("spool: cannot delete %s: %s", _segment_name(first), exc)
        self._segments.remove(first)
        del self._sizes[first]

    # ------------------------------------------------------------------- read
    def _read_at(self, seg: int, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes of segment ``seg`` from ``offset`` (via one buffer)."""
        at_seg, at_off = self._rbuf_at
        if at_seg == seg and at_off <= offset and offset + size <= at_off + len(self._rbuf):
            return self._rbuf[offset - at_off : offset - at_off + size]
        if self._rfd_seg != seg:
            if self._rfd >= 0:
                os.close(self._rfd)
            self._rfd = open_private(self.directory / _segment_name(seg), os.O_RDONLY)
            self._rfd_seg = seg
        self._rbuf = os.pread(self._rfd, max(size, READ_CHUNK), offset)
        self._rbuf_at = (seg, offset)
        return self._rbuf[:size]

    def read_next(self) -> SpoolRecord | None:
        """The next unread record (disk first, then the memory fallback), or None."""
        while self._segments:
            seg, off = self._rd_pos
            if seg not in self._sizes:
                later = [s for s in self._segments if s > seg]
                if not later:
                    break
                self._rd_pos = (later[0], 0)
                continue
            end = self._sizes[seg]
            if off >= end:
                index = self._segments.index(seg)
                if index + 1 >= len(self._segments):
                    break
                self._rd_pos = (self._segments[index + 1], 0)
                continue
            try:
                record = self._read_record(seg, off, end)
            except OSError as exc:
                self._disk_failed("read failed", exc)
                return None
            if record is not None:
                self._rd_pos = (seg, record.next_offset)
                return record
        return self._mem.read_next()

    def _read_record(self, seg: int, off: int, end: int) -> SpoolRecord | None:
        header = self._read_at(seg, off, RECORD_HEADER.size)
        if len(header) == RECORD_HEADER.size:
            magic, _seq, length, _crc = RECORD_HEADER.unpack(header)
            if magic == RECORD_MAGIC and off + RECORD_HEADER.size + length <= end:
                data = self._read_at(seg, off, RECORD_HEADER.size + length)
                decoded = decode_record(data, 0)
                if decoded is not None:
                    return SpoolRecord(decoded[0], decoded[1], seg, off + decoded[2])
        # Damaged record: skip to the next one that checks (bounded by a segment).
        self._counters["corrupt"] += 1
        rest = self._read_at(seg, off, end - off)
        found = resync(rest, 0)
        log.error(
            "spool segment %s: corrupt record at offset %d, %s",
            _segment_name(seg),
            off,
            "resynchronised" if found is not None else "rest of segment skipped",
        )
        self._rd_pos = (seg, off + found if found is not None else end)
        return None

    def rewind(self) -> None:
        """Read again from the release point (after a reconnect)."""
        self._rd_pos = self._rel_pos
        self._mem.rewind()

    def release(self, record: SpoolRecord) -> None:
        """Everything up to and including ``record`` reached the receiver."""
        if record.segment < 0:
            self._mem.release(record)
            return
        if record.seq < self._rel_seq or record.segment not in self._sizes:
            return
        self._released_unsaved += record.seq + 1 - self._rel_seq
        self._rel_seq = record.seq + 1
        self._rel_pos = (record.segment, record.next_offset)
        index = self._segments.index(record.segment)
        if record.next_offset >= self._sizes[record.segment] and index + 1 < len(self._segments):
            self._rel_pos = (self._segments[index + 1], 0)
        if self._segments[0] < self._rel_pos[0]:
            self._reclaim()
        elif self._released_unsaved >= self.cursor_every:
            self._save_cursor()

    def _reclaim(self) -> None:
        if self._segments and self._segments[0] < self._rel_pos[0]:
            self._save_cursor()
            while self._segments and self._segments[0] < self._rel_pos[0]:
                self._unlink_segment(self._segments[0])

    def _save_cursor(self) -> None:
        if self._lock_fd < 0:
            return
        body = CURSOR_STRUCT.pack(CURSOR_MAGIC, self._rel_seq, *self._rel_pos, 0)[:-4]
        data = body + struct.pack("<I", zlib.crc32(body))
        tmp = self.directory / "cursor.tmp"
        try:
            fd = create_exclusive(tmp)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            tmp.replace(self.directory / "cursor")
        except OSError as exc:
            self._counters["spool_errors"] += 1
            log.error("spool %s: cannot save cursor: %s", self.directory, exc)
            return
        self._released_unsaved = 0

    def pending(self) -> bool:
        """Whether anything is stored and not yet released."""
        if self._mem.pending():
            return True
        if not self._segments:
            return False
        seg, off = self._rel_pos
        last = self._segments[-1]
        return seg < last or (seg == last and off < self._sizes[last])

    @property
    def counters(self) -> collections.Counter[str]:
        return self._counters

    def _release_lock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def close(self) -> None:
        """Persist the cursor and close files. Memory-held frames are lost (logged)."""
        if self._mem.pending():
            log.error(
                "spool %s: %d bytes held in memory (disk failed) are lost at exit",
                self.directory,
                self._mem.used_bytes(),
            )
        self._save_cursor()
        self._close_write()
        if self._rfd >= 0:
            os.close(self._rfd)
            self._rfd, self._rfd_seg = -1, -1
        self._release_lock()

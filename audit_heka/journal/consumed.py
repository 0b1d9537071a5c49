"""What the shipper has consumed of the journal, told to the reader (I/O edge).

Why: under ``--journal-full drop-oldest`` the reader deletes journal files
the shipper has not acknowledged yet, and ``journal_dropped_records`` must
count exactly the records that will never be shipped. The cursor cannot say
which those are: it is the first record not yet *acknowledged* (and saved
once a second), while the shipper has usually read further, and a record it
has handed to its session is not given up by deleting its file. Two facts
settle it, each kept where it cannot go stale:

* **the file the follower reads**: it holds an OFD read lock on every journal
  file it has open (``F_OFD_SETLK``; the kernel drops it with the last
  descriptor, so a dead shipper holds nothing). A file deleted while a live
  follower holds it is still read to its end through the descriptor: nothing
  in it is given up -- unless the follower dies first: the writer keeps such
  a file open and, once it can take the write lock, counts what is left after
  the mark (``JournalWriter._settle_held``; a restarted shipper keeps the
  dead one's mark until then, as the gap note says:
  :mod:`audit_heka.journal.gaps`). The writer takes a write lock before it
  counts and deletes an unshipped file, so a follower cannot start reading a file in
  between (its read lock fails, or it finds the file already deleted: it
  passes over it, a gap, and the writer has counted it).
* **how far the shipper has consumed**: the *consumed mark*,
  ``JOURNAL_DIR/consumed``, the journal position (as a cursor line: file
  identity, offset, head) of the first record the shipper has not yet handed
  to its session, written in place after every round (no fsync: it matters
  while the machine is up; after a crash the cursor still bounds it) with a
  CRC so that a torn read is rejected, never misread. A file the follower no
  longer holds is given up from there, or from the cursor if that is further
  (a stale mark); the follower keeps a finished file locked until the mark
  has passed it.

Locks: ``struct flock`` is ``short l_type, l_whence; off_t l_start, l_len;
pid_t l_pid`` (32 bytes on Linux's 64-bit ABIs); OFD locks need l_pid 0.
"""

from __future__ import annotations

import binascii
import errno
import fcntl
import os
import struct
from pathlib import Path

from audit_heka.host.private_files import open_private
from audit_heka.journal.format import Cursor, format_cursor, parse_cursor

MARK_FILE = "consumed"
#: The mark is rewritten in place at this fixed size, so a shorter line
#: never leaves the tail of a longer one behind.
MARK_BYTES = 128
_FLOCK = struct.Struct("hhxxxxqqixxxx")
_BUSY = frozenset({errno.EAGAIN, errno.EACCES})


def _lock(fd: int, kind: int) -> bool:
    """An OFD lock of ``kind`` on the whole file; False when another holder conflicts.

    A file system without OFD locks (an error other than a conflict) counts
    as no conflict: the follower reads, and the writer counts from the mark
    or the cursor -- an over-count at worst, as before locks, never a skip.
    """
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(kind, os.SEEK_SET, 0, 0, 0))
    except OSError as exc:
        return exc.errno not in _BUSY
    return True


def hold_for_reading(fd: int) -> bool:
    """Take the follower's read lock on the journal file ``fd``.

    False: the writer holds it for deletion at this moment (it counts the
    file's records as given up): do not read it.
    """
    return _lock(fd, fcntl.F_RDLCK)


def take_for_deletion(fd: int) -> bool:
    """Take the writer's write lock on the journal file ``fd`` before deleting it.

    False: a live follower reads it (and will read it to its end whatever
    happens to its name). Never waits: the reader must not block on the
    shipper.
    """
    return _lock(fd, fcntl.F_WRLCK)


def encode_mark(cursor: Cursor) -> bytes:
    """The mark's fixed-size content: the cursor line, its CRC-32, padding."""
    line = format_cursor(cursor).rstrip(b"\n")
    data = b"%s %08x\n" % (line, binascii.crc32(line))
    if len(data) > MARK_BYTES:
        raise ValueError(f"mark longer than {MARK_BYTES} bytes: {data!r}")
    return data.ljust(MARK_BYTES, b" ")


def decode_mark(data: bytes) -> Cursor | None:
    """The cursor in a mark, or None (no mark yet, torn by a concurrent write, not ours)."""
    line, _, rest = data.partition(b"\n")
    body, _, crc = line.rpartition(b" ")
    if len(crc) != 8 or rest.strip(b" ") or b"%08x" % binascii.crc32(body) != crc:
        return None
    return parse_cursor(body)


def read_mark(directory: Path, tries: int = 3) -> Cursor | None:
    """The consumed mark in ``directory`` (None: there is none, or none readable).

    A read that overlaps a rewrite fails its CRC and is tried again.
    """
    try:
        fd = open_private(directory / MARK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        for _ in range(tries):
            mark = decode_mark(os.pread(fd, MARK_BYTES + 1, 0))
            if mark is not None:
                return mark
        return None
    except OSError:
        return None
    finally:
        os.close(fd)


class MarkWriter:
    """The shipper's side: the mark file kept open and rewritten in place."""

    def __init__(self, directory: Path) -> None:
        self.fd = open_private(directory / MARK_FILE, os.O_RDWR | os.O_CREAT)
        #: The mark found at start (the last run's), or None.
        self.previous = decode_mark(os.pread(self.fd, MARK_BYTES + 1, 0))
        self.writes = 0

    def publish(self, cursor: Cursor) -> None:
        """Replace the mark: one pwrite of a fixed size at offset 0."""
        os.pwrite(self.fd, encode_mark(cursor), 0)
        self.writes += 1

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

"""Where the journal writer gave records up, told to the follower (I/O edge).

Why: at a *gap* the shipper forgets its serial history
(``Session.input_gap``), so that records ``journal_dropped_records`` counts
are not counted again as ``serial_gaps``. The gap must be exactly where
records were given up: one where nothing was lost hides a real upstream loss
at that point, and a given-up stretch without one is counted twice. The
follower cannot see those places itself: a file drop-oldest deleted before
the follower reached it leaves no trace, records a full disk never took
leave none in the file, and a file deleted while the follower read it (its
read lock: :mod:`audit_heka.journal.consumed`) gave up nothing at all.

So the writer says where, in the *gap note* ``JOURNAL_DIR/gaps``: for each
stretch it gave up, the journal location (a cursor: file identity, offset,
head) of the first line after it. It writes the entry before that line is
written, or before the given-up file is unlinked, so a follower that reaches
the line (or finds the file gone) finds the entry. The note also names the
files deleted while a follower held them (*held* files): the writer keeps
them open and, once no follower holds one, counts what was left unread in it
from the shipper's consumed mark (a shipper that died there); a restarted
shipper leaves the dead one's mark in place until the note no longer names
the file.

Format: ``NOTE_BYTES`` bytes rewritten in place by one pwrite (a full disk
needs no new block for it), so a reader checks the fixed-width first line
(its generation) and reads the rest only when it changed; a CRC-32 refuses a
read torn by a concurrent rewrite::

    gaps v1 GENERATION          (16 hex digits)
    gap v2 DEV INO OFFSET HEAD  (one per given-up stretch, oldest first)
    held v2 DEV INO SIZE HEAD   (one per held file, oldest first)
    pending                     (records given up before the next line written)
    end CRC                     (8 hex digits, over everything before it)

then spaces up to the size. A journal without the note (another writer, or
one that could not keep it) is followed by the old rule: a file deleted
before the follower finished it is a gap.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audit_heka.host.private_files import open_private
from audit_heka.journal.format import Cursor, format_cursor, parse_cursor

GAPS_FILE = "gaps"
#: Entries kept at most: gaps (the oldest go first) and held files.
MAX_GAPS = 128
MAX_HELD = 64
#: The longest entry line (64-bit device and inode numbers, a 63-bit offset).
LONGEST_ENTRY = len(b"held v2 %d %d %d %s\n" % ((1 << 64) - 1, (1 << 64) - 1, (1 << 63) - 1,
                                                b"f" * 16))
#: Room for every entry at its longest, rounded up to pages.
NOTE_BYTES = 20480
_HEADER = re.compile(rb"gaps v1 ([0-9a-f]{16})\n")
HEADER_BYTES = len(b"gaps v1 %016x\n" % 0)


@dataclass(frozen=True, slots=True)
class Note:
    """The gap note's content."""

    generation: int
    #: The first line after each stretch given up (oldest first).
    gaps: tuple[Cursor, ...] = ()
    #: Files deleted while a follower read them, not yet settled (size as offset).
    held: tuple[Cursor, ...] = ()
    #: Records were given up just before the next line the writer writes, whose
    #: place it names when it writes it: a writer restarted meanwhile still must.
    pending: bool = False


def encode_note(note: Note) -> bytes:
    """The note's fixed-size content; ValueError when the entries do not fit."""
    parts = [b"gaps v1 %016x\n" % (note.generation & ((1 << 64) - 1))]
    parts += [b"gap " + format_cursor(at) for at in note.gaps]
    parts += [b"held " + format_cursor(f) for f in note.held]
    if note.pending:
        parts.append(b"pending\n")
    body = b"".join(parts)
    data = body + b"end %08x\n" % binascii.crc32(body)
    if len(data) > NOTE_BYTES:
        raise ValueError(f"gap note longer than {NOTE_BYTES} bytes ({len(data)})")
    return data.ljust(NOTE_BYTES, b" ")


def decode_note(data: bytes) -> Note | None:
    """The note in ``data``, or None: torn, not a note, not ours."""
    header = _HEADER.match(data)
    end = data.rfind(b"end ")
    if header is None or end < 0:
        return None
    body, tail = data[:end], data[end + 4:]
    crc, newline, rest = tail[:8], tail[8:9], tail[9:]
    if newline != b"\n" or rest.strip(b" ") or b"%08x" % binascii.crc32(body) != crc:
        return None
    gaps: list[Cursor] = []
    held: list[Cursor] = []
    pending = False
    for line in body[HEADER_BYTES:].split(b"\n")[:-1]:
        if line == b"pending":
            pending = True
            continue
        kind, _, text = line.partition(b" ")
        cursor = parse_cursor(text)
        if cursor is None or kind not in (b"gap", b"held"):
            return None
        (gaps if kind == b"gap" else held).append(cursor)
    return Note(int(header.group(1), 16), tuple(gaps), tuple(held), pending)


def names(entry: Cursor, dev: int, ino: int, head: str | None) -> bool:
    """Whether a note entry names the file (dev, ino, head).

    Entries always carry the head of their file's first line; a file whose
    head is not known yet (empty, to whoever asks) is matched by identity:
    the writer writes the entry before that first line.
    """
    return (entry.dev, entry.ino) == (dev, ino) and (head is None or head == entry.head)


class GapNote:
    """The writer's side: the note kept open, rewritten in place.

    A failed write (a copy-on-write file system out of space, an I/O error)
    unlinks the note and stops keeping it: followers then use the old rule,
    rather than trust a note that lacks a gap.
    """

    def __init__(self, directory: Path, log: Callable[[str], None],
                 present: Callable[[Cursor], bool]) -> None:
        self.path = directory / GAPS_FILE
        self._log = log
        self.fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        previous = decode_note(os.pread(self.fd, NOTE_BYTES + 1, 0))
        self.generation = previous.generation + 1 if previous is not None else 1
        #: The last run's gaps in files still here (their lines are still to be
        #: read), and whether it gave up records before the line written next;
        #: its held files are not ours to settle (their descriptors went with it).
        self.gaps: list[Cursor] = [] if previous is None else [
            at for at in previous.gaps if present(at)]
        self.pending = previous is not None and previous.pending
        self.held: list[Cursor] = []
        self._evicted = 0
        self.publish()

    @property
    def kept(self) -> bool:
        return self.fd >= 0

    def add_gap(self, at: Cursor, keep: Callable[[Cursor], bool]) -> None:
        """Note a gap before the line at ``at`` (the pending one, if any, is
        this one); ``keep`` says which older entries still name a file a
        follower may read."""
        changed, self.pending = self.pending, False
        if at not in self.gaps:
            self.gaps = [g for g in self.gaps if keep(g)]
            self.gaps.append(at)
            changed = True
        if len(self.gaps) > MAX_GAPS:
            del self.gaps[0]
            self._evicted += 1
            if self._evicted in (1, 10, 100) or not self._evicted % 1000:
                self._log(f"journal: gap note full ({MAX_GAPS} gaps not yet read); the oldest "
                          f"is forgotten: records given up there may count as serial_gaps too "
                          f"({self._evicted} so far)")
        if changed:
            self.publish()

    def mark_pending(self) -> None:
        """Records were given up just before the next line to be written."""
        if not self.pending:
            self.pending = True
            self.publish()

    def publish(self) -> None:
        """Replace the note: one pwrite of a fixed size at offset 0."""
        if self.fd < 0:
            return
        try:
            os.pwrite(self.fd, encode_note(Note(self.generation, tuple(self.gaps),
                                                tuple(self.held), self.pending)), 0)
        except (OSError, ValueError) as exc:
            self._log(f"journal: cannot write the gap note: {exc}; removed: the shipper "
                      "takes every file deleted under it for a gap from now on")
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.close()
            return
        self.generation += 1

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class GapReader:
    """The follower's side: the note re-read when its generation changes."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / GAPS_FILE
        self._fd = -1
        self._header = b""
        #: Whether the last look found a note (else the old rule applies).
        self.available = False
        self.gaps: tuple[Cursor, ...] = ()
        self.held: tuple[Cursor, ...] = ()

    def refresh(self, tries: int = 3) -> bool:
        """Look again (a small read unless it changed); whether a note is there."""
        if self._fd >= 0 and os.fstat(self._fd).st_nlink == 0:
            self.close()  # removed (the writer gave it up) or replaced
        if self._fd < 0:
            try:
                self._fd = open_private(self.path, os.O_RDONLY)
            except OSError:
                self.available = False
                return False
            self._header = b""
        header = os.pread(self._fd, HEADER_BYTES, 0)
        if header == self._header and self.available:
            return True
        for _ in range(tries):
            note = decode_note(os.pread(self._fd, NOTE_BYTES + 1, 0))
            if note is not None:
                self._header = b"gaps v1 %016x\n" % note.generation
                self.gaps, self.held = note.gaps, note.held
                self.available = True
                return True
        self.available = False  # torn every time, or not a note: the old rule
        self._header = b""
        return False

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

"""The shipper's cursor file: read it, replace it atomically (I/O edge).

The line format is :mod:`audit_heka.journal.format`'s (``v2 DEV INO OFFSET
HEAD``; ``v1 DEV INO OFFSET`` files of earlier versions are still read);
this module only moves it to and from disk, and reads the heads of journal
files that cursors are compared with. A cursor is replaced the safe
way -- a fresh temporary (``O_EXCL``, never through a planted link), fsync,
rename over the old one, fsync of the directory -- so a crash at any point
leaves either the old cursor or the new one, never half a line. The reader
reads the same file to learn what it may not delete.
"""

from __future__ import annotations

import os
from pathlib import Path

from audit_heka.host.private_files import create_exclusive, open_private
from audit_heka.journal.format import (
    CURSOR_FILE,
    HEAD_BYTES,
    Cursor,
    file_head,
    format_cursor,
    parse_cursor,
)


class CursorError(ValueError):
    """The cursor file exists but does not hold a cursor (it is then ignored, counted)."""


def read_head(fd: int) -> str | None:
    """The head of the open journal file ``fd`` (None while it holds no line)."""
    return file_head(os.pread(fd, HEAD_BYTES, 0))


def head_of(path: Path) -> str | None:
    """The head of the journal file at ``path`` (None: no line yet, or unreadable)."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return read_head(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_cursor(directory: Path, name: str = CURSOR_FILE) -> Cursor | None:
    """The cursor in ``directory`` (None when there is none yet).

    Raises :class:`CursorError` for a file that is not a cursor: the caller
    decides (the shipper logs it and starts from the oldest journal file, so
    nothing is skipped). ``name``: another file of cursor lines (the writer's
    shipped note, :data:`~audit_heka.journal.format.SHIPPED_FILE`).
    """
    try:
        fd = open_private(directory / name, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, 256)
    finally:
        os.close(fd)
    cursor = parse_cursor(data)
    if cursor is None:
        raise CursorError(f"{directory / name}: not a cursor: {data[:80]!r}")
    return cursor


def write_cursor(directory: Path, cursor: Cursor, name: str = CURSOR_FILE) -> None:
    """Replace the cursor (or the file ``name`` of one cursor line) in ``directory``
    atomically and durably."""
    path = directory / name
    tmp = directory / f".{name}.{os.getpid()}"
    fd = create_exclusive(tmp)  # unlinks a leftover of a crash first
    try:
        os.write(fd, format_cursor(cursor))
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)

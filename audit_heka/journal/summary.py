"""What the journal holds, for ``audit-heka status`` (read-only I/O).

Files and bytes, and what matters to an operator: how many records are not
yet shipped (every line from the shipper's cursor to the end) and how old
the oldest of them is (the time stamp of the line at the cursor). Counting
is a C-speed scan of newlines, done only when someone asks.
"""

from __future__ import annotations

import re
from pathlib import Path

from audit_heka.journal.cursor import CursorError, read_cursor
from audit_heka.journal.follower import find_file, journal_files

_STAMP = re.compile(rb"msg=audit\((\d+)\.(\d{3}):")
_CHUNK = 1 << 20


def _lines_from(path: Path, offset: int) -> tuple[int, bytes]:
    """Newlines in ``path`` from ``offset``, and the first line there."""
    count = 0
    first = b""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            first = f.readline(4096)
            count = first.count(b"\n")
            while chunk := f.read(_CHUNK):
                count += chunk.count(b"\n")
    except OSError:
        pass
    return count, first


def journal_summary(directory: Path, now: float) -> dict[str, object]:
    """Files (oldest first), bytes, unshipped records and the oldest one's age (seconds)."""
    files = journal_files(directory)
    try:
        cursor = read_cursor(directory)
        cursor_problem = None
    except (CursorError, OSError) as exc:
        cursor, cursor_problem = None, str(exc)
    unshipped = 0
    first: bytes | None = None
    # Without a cursor, or with one whose file is gone (deleted, or its inode
    # number reused by a newer file), every record present counts.
    at = None if cursor is None else find_file(files, cursor)
    start = cursor.offset if at is not None and cursor is not None else 0
    for path, _st in files[at or 0 :]:
        count, head = _lines_from(path, start)
        start = 0
        unshipped += count
        if first is None and count:
            first = head
    age = None
    if first is not None and (m := _STAMP.search(first)) is not None:
        age = round(max(0.0, now - (int(m.group(1)) + int(m.group(2)) / 1000)), 3)
    return {
        "directory": str(directory),
        "files": [{"name": p.name, "bytes": st.st_size} for p, st in files],
        "bytes": sum(st.st_size for _p, st in files),
        "unshipped_records": unshipped,
        "oldest_unshipped_age": age,
        "cursor": None if cursor is None else
        {"dev": cursor.dev, "ino": cursor.ino, "offset": cursor.offset, "head": cursor.head},
        "cursor_problem": cursor_problem,
    }

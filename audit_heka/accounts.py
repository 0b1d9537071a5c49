"""User and group names for the interpreter, read from passwd/group files (the I/O edge).

Why a separate module: interpret.py is sans-IO and takes these maps as arguments, so the same
interpreter runs on replayed logs from another host (with that host's files) and in tests.
"""

from __future__ import annotations

from pathlib import Path


def _read(path: str | Path) -> dict[int, str]:
    """name:x:id:... lines -> {id: name}; the first entry for an id wins, as getpwuid's does.

    Malformed lines (too few fields, non-numeric ids, comments, blanks, undecodable bytes)
    are skipped: a damaged file must not stop the daemon, it only loses names.
    """
    names: dict[int, str] = {}
    try:
        text = Path(path).read_bytes().decode("utf-8", "replace")
    except OSError:
        return names
    for line in text.splitlines():
        if not line or line.startswith(("#", "+", "-")):
            continue
        parts = line.split(":")
        if len(parts) < 3 or not parts[0] or not parts[2].isdigit():
            continue
        number = int(parts[2])
        if number > 0xFFFFFFFF:
            continue
        names.setdefault(number, parts[0])
    return names


def read_users(path: str | Path = "/etc/passwd") -> dict[int, str]:
    """Uid -> user name from a passwd(5) file ({} if it cannot be read)."""
    return _read(path)


def read_groups(path: str | Path = "/etc/group") -> dict[int, str]:
    """Gid -> group name from a group(5) file ({} if it cannot be read)."""
    return _read(path)

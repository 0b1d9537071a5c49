"""Private directories and files: the spool, the status file, their directories.

audit-heka runs as root (or as a dropped user holding audit capabilities)
and writes frames of security events to disk. A directory that someone
else can write into lets them plant a symlink (``cursor -> /etc/shadow``)
or a file of their own; following it would make the daemon overwrite a file
of the attacker's choosing, or ship frames the attacker wrote. So:

- every directory we keep state in must be a real directory (not a
  symlink), owned by us (or by the user we drop to), and writable by nobody
  else (no group/other write bit). A directory that fails is *refused* with
  a message that says how to fix it, not silently repaired: its contents
  may already be hostile.
- every file in it is opened with ``O_NOFOLLOW`` and created ``0600``;
  temporary files are created with ``O_EXCL`` so a planted hard link is
  never truncated.

The checks are pure functions of an ``os.stat_result`` (testable without
root or special files); the I/O wrappers are at the bottom.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


class UnsafePathError(OSError):
    """A directory or file we would write to could be controlled by someone else.

    An ``OSError`` so that code which already degrades on I/O errors at run
    time (the spool's memory fallback, the status writer's warning) treats
    it the same way; at start-up it is caught and turned into a refusal.
    """


def dir_problem(st: os.stat_result, owners: Iterable[int]) -> str | None:
    """Why a directory with ``lstat`` result ``st`` is not private, or None if it is.

    ``owners`` are the uids allowed to own it: the daemon's euid and the
    ``--user`` it drops to.
    """
    allowed = set(owners)
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid not in allowed:
        names = " or ".join(str(uid) for uid in sorted(allowed))
        return f"is owned by uid {st.st_uid}, not {names}"
    if st.st_mode & stat.S_IWOTH:
        return f"is world-writable (mode {stat.S_IMODE(st.st_mode):04o})"
    if st.st_mode & stat.S_IWGRP:
        return f"is group-writable (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def file_problem(st: os.stat_result) -> str | None:
    """Why an existing entry with ``lstat`` result ``st`` must not be opened, or None."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    return None


def default_owners(extra: Iterable[int] = ()) -> frozenset[int]:
    """The uids a private directory may belong to: ours and ``extra``."""
    return frozenset({os.geteuid(), *extra})


def ensure_private_dir(
    path: Path, owners: Iterable[int] | None = None, *, follow: bool = False
) -> None:
    """Create ``path`` (mode 0700) if missing, then check that it is private.

    Raises :class:`UnsafePathError` naming the problem and the fix.
    ``follow``: accept a symlink at ``path`` itself (an operator's choice
    for the top-level directory) and check what it points to. Other
    ``OSError``s (permission denied, not a directory on the way) propagate.
    """
    allowed = default_owners() if owners is None else frozenset(owners)
    try:
        st = path.stat(follow_symlinks=follow)
    except FileNotFoundError:
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # a race: check what is there now
            path.mkdir(mode=DIR_MODE)
        st = path.stat(follow_symlinks=follow)
    problem = dir_problem(st, allowed)
    if problem is not None:
        raise UnsafePathError(
            f"{path} {problem}: refusing to keep audit data there "
            f"(use a directory owned by the daemon's user, mode 0700)"
        )


def open_private(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """``os.open`` that never follows a symlink at ``path`` (``O_NOFOLLOW``, ``O_CLOEXEC``).

    A symlink raises :class:`UnsafePathError`; a FIFO or device is refused
    too (``O_NONBLOCK`` keeps a FIFO from blocking the open; it changes
    nothing for regular files).
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{path} is a symbolic link: refusing to open it") from None
        raise
    problem = file_problem(os.fstat(fd))
    if problem is not None:
        os.close(fd)
        raise UnsafePathError(f"{path} {problem}: refusing to use it")
    return fd


def create_exclusive(path: Path, mode: int = FILE_MODE) -> int:
    """A fresh file at ``path`` for writing (a temporary to rename into place).

    Whatever is at ``path`` (a stale temporary, a planted symlink or hard
    link) is unlinked first, and the new file is created with ``O_EXCL``,
    so no existing file is ever truncated or written through.
    """
    path.unlink(missing_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def write_private_json(path: Path, data: Mapping[str, object], *, indent: int | None = 1) -> None:
    """Replace ``path`` atomically with ``data`` as JSON, mode 0600.

    The temporary is created afresh (:func:`create_exclusive`: never through
    a symlink or a planted hard link) and renamed over ``path``: a rename
    replaces a symlink at ``path`` instead of writing through it. Status
    files and run.json are written this way; readers see the old or the new
    document, never half of one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = create_exclusive(tmp)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=indent, sort_keys=True)
    tmp.replace(path)


def hand_over(
    path: Path, uid: int, gid: int, *, recursive: bool, files: Iterable[Path] = ()
) -> None:
    """Give the private directory ``path`` (and what is in it) to ``uid``:``gid``.

    Used just before dropping root, so the dropped daemon can still rotate
    its spool segments, status file and logs. Only a directory that nobody
    else can even read (mode 0700-ish: no group/other bits) is handed over:
    chowning a shared directory such as ``/run`` to the daemon's user would
    give it away. ``recursive`` walks the tree without following symlinks
    and chowns only directories and regular files; ``files`` names single
    files in ``path`` to chown (the status file, the log and its rotations).
    """
    st = path.lstat()
    problem = dir_problem(st, {os.geteuid(), uid})
    if problem is None and stat.S_IMODE(st.st_mode) & 0o077:
        problem = f"is not private (mode {stat.S_IMODE(st.st_mode):04o}, want 0700)"
    if problem is not None:
        raise UnsafePathError(f"{path} {problem}: cannot hand it to uid {uid}")
    for parent in path.absolute().parents:
        if not traversable(parent.stat(), uid, gid):
            raise UnsafePathError(
                f"{path}: uid {uid} could not reach it after the drop ({parent} is "
                f"mode {stat.S_IMODE(parent.stat().st_mode):04o}); choose a directory "
                "whose parents others may traverse"
            )
    os.chown(path, uid, gid, follow_symlinks=False)
    entries: list[Path] = [*files]
    if recursive:
        for top, dirs, names in os.walk(path):  # never follows symlinked directories
            entries.extend(Path(top) / name for name in (*dirs, *names))
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):
            mode = entry.lstat().st_mode
            if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
                os.chown(entry, uid, gid, follow_symlinks=False)


def traversable(st: os.stat_result, uid: int, gid: int) -> bool:
    """Whether ``uid``/``gid`` (without capabilities) may search a directory with ``st``."""
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)

"""User and group names for the interpreter, read from passwd/group files (the I/O edge).

``read_users``/``read_groups`` read a file once (replay: another host's files);
``AccountNames`` keeps the local ones current for the daemon.

Why a separate module: interpret.py is sans-IO and takes these maps as arguments, so the same
interpreter runs on replayed logs from another host (with that host's files) and in tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _read(path: str | os.PathLike[str]) -> dict[int, str]:
    """name:x:id:... lines -> {id: name}; the first entry for an id wins, as getpwuid's does.

    Malformed lines (too few fields, non-numeric ids, comments, blanks, undecodable bytes)
    are skipped: a damaged file must not stop the daemon, it only loses names.
    """
    names: dict[int, str] = {}
    try:
        with open(path, "rb") as f:  # noqa: PTH123 - pathlib is start-up cost replay avoids
            text = f.read().decode("utf-8", "replace")
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


def read_users(path: str | os.PathLike[str] = "/etc/passwd") -> dict[int, str]:
    """Uid -> user name from a passwd(5) file ({} if it cannot be read)."""
    return _read(path)


def read_groups(path: str | os.PathLike[str] = "/etc/group") -> dict[int, str]:
    """Gid -> group name from a group(5) file ({} if it cannot be read)."""
    return _read(path)


def _passwd_lookup(number: int) -> str | None:
    import pwd  # noqa: PLC0415 - the system's user database, at the I/O edge

    try:
        return pwd.getpwuid(number).pw_name
    except (KeyError, OverflowError):
        return None


def _group_lookup(number: int) -> str | None:
    import grp  # noqa: PLC0415 - the system's group database, at the I/O edge

    try:
        return grp.getgrgid(number).gr_name
    except (KeyError, OverflowError):
        return None


class AccountNames(Mapping[int, str]):
    """Id -> name from a passwd/group file that stays current while the daemon runs.

    Why: accounts are created after the daemon starts; a name read once at
    start leaves every new account ``unknown(1501)`` forever. The file is
    re-read when it changes (mtime, inode or size: ``useradd`` renames a new
    file into place), checked by ``refresh`` and before any id is called
    unknown, and always on ``reload`` (SIGHUP). An id the file lacks is then
    asked of the system's database once more (NSS: LDAP/sssd users, as
    ``ausearch -i`` sees them).

    Bounded, so that an attacker running as many ids cannot cause a lookup
    storm: the file is stat()ed at most once per ``recheck`` seconds, an id
    found unknown is not asked again for ``negative_ttl`` seconds, and at
    most ``lookups_per_second`` database lookups are made. ``generation``
    grows at every re-read, so a caller memoising names knows to forget them.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        lookup: Callable[[int], str | None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        recheck: float = 0.1,
        negative_ttl: float = 60.0,
        lookups_per_second: int = 10,
        cache_size: int = 4096,
    ) -> None:
        self.path = os.fspath(path)
        self.lookup = lookup
        self.clock = clock
        self.recheck = recheck
        self.negative_ttl = negative_ttl
        self.lookups_per_second = lookups_per_second
        self.cache_size = cache_size
        self.generation = 0
        self.lookups = 0  # database lookups made (a counter for tests and status)
        self._names: dict[int, str] = {}
        self._found: dict[int, str] = {}  # ids the database knew and the file did not
        self._unknown: dict[int, float] = {}  # id -> when it may be asked again
        self._signature: tuple[int, int, int] | None = None
        self._next_check = 0.0
        self._budget_window = 0.0
        self._budget = lookups_per_second
        self.reload()

    @classmethod
    def users(cls, path: str | os.PathLike[str] = "/etc/passwd") -> AccountNames:
        return cls(path, _passwd_lookup)

    @classmethod
    def groups(cls, path: str | os.PathLike[str] = "/etc/group") -> AccountNames:
        return cls(path, _group_lookup)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)  # noqa: PTH116 - see _read
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def reload(self) -> None:
        """Read the file again, whatever its mtime says (SIGHUP)."""
        self._signature = self._stat()
        self._names = _read(self.path)
        self._found.clear()
        self._unknown.clear()
        self._next_check = self.clock() + self.recheck
        self.generation += 1

    def refresh(self) -> bool:
        """Re-read the file if it changed; at most one stat() per ``recheck``."""
        now = self.clock()
        if now < self._next_check:
            return False
        self._next_check = now + self.recheck
        if self._stat() == self._signature:
            return False
        self.reload()
        return True

    def __getitem__(self, number: int) -> str:
        name = self.name(number)
        if name is None:
            raise KeyError(number)
        return name

    def get(self, key: int, /, default: Any = None) -> Any:  # (Mapping.get's overloads)
        """Mapping.get without its KeyError: the interpreter asks this of every id it
        finds unknown, at each use (an exception per ask cost more than the ask)."""
        name = self.name(key)
        return default if name is None else name

    def name(self, number: int) -> str | None:
        """The id's name, or None: the file (re-read if it changed), then the database."""
        name = self._names.get(number)
        if name is not None:
            return name
        name = self._found.get(number)
        if name is not None:
            return name
        if self.refresh():
            name = self._names.get(number)
            if name is not None:
                return name
        return self._ask(number)

    def _ask(self, number: int) -> str | None:
        if self.lookup is None:
            return None
        now = self.clock()
        if self._unknown.get(number, 0.0) > now:
            return None
        if now >= self._budget_window:
            self._budget_window, self._budget = now + 1.0, self.lookups_per_second
        if self._budget <= 0:
            return None  # asked again once the budget refills
        self._budget -= 1
        self.lookups += 1
        name = self.lookup(number)
        if name is None:
            if len(self._unknown) >= self.cache_size:
                self._unknown.clear()
            self._unknown[number] = now + self.negative_ttl
            return None
        if len(self._found) >= self.cache_size:
            self._found.clear()
        self._found[number] = name
        return name

    def __iter__(self) -> Iterator[int]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

"""fdatasync off the reader's path: ``--flush incremental`` (auditd's incremental_async).

Why a thread: an fdatasync on a busy disk takes milliseconds to tens of
milliseconds. Done by the reader itself every ``freq`` records under a storm,
it stopped the reader often enough for the kernel's backlog to overflow, and
then every audited task waits (backlog_wait_time) -- measured: the storm ran at
a fraction of its rate. auditd met the same problem and made incremental_async
its default. The syncer holds its own duplicate of each journal file's
descriptor, so the reader can rotate (close its descriptor, open the next
file) without waiting: the syncer syncs the old file one last time and closes
its duplicate.

fdatasync releases the GIL, so the reader keeps receiving while it runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable


class Syncer:
    """A thread that fdatasyncs the journal file when asked (never blocks the asker)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.syncs = 0
        self.errors = 0
        self._cond = threading.Condition()
        self._fd = -1
        self._retired: list[int] = []
        self._wanted = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="journal-syncer", daemon=True)
        self._thread.start()

    def follow(self, fd: int) -> None:
        """The journal's active file is now ``fd`` (the previous one gets a last sync)."""
        mine = os.dup(fd)
        with self._cond:
            if self._fd >= 0:
                self._retired.append(self._fd)
            self._fd = mine
            self._cond.notify()

    def request(self) -> None:
        """Sync the active file soon (returns at once)."""
        with self._cond:
            self._wanted = True
            self._cond.notify()

    def close(self) -> None:
        """Sync what is pending, then stop the thread and close the duplicates."""
        with self._cond:
            self._stopping = True
            self._wanted = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._wanted or self._retired or self._stopping):
                    self._cond.wait()
                retired, self._retired = self._retired, []
                fd = self._fd if self._wanted else -1
                self._wanted = False
                stopping = self._stopping
            for old in retired:
                self._sync(old)
                os.close(old)
            if fd >= 0:
                self._sync(fd)
            if stopping:
                with self._cond:
                    if self._fd >= 0:
                        os.close(self._fd)
                        self._fd = -1
                return

    def _sync(self, fd: int) -> None:
        try:
            os.fdatasync(fd)
            self.syncs += 1
        except OSError as exc:
            self.errors += 1
            with contextlib.suppress(Exception):
                self.log(f"journal: fdatasync failed: {exc.strerror}")

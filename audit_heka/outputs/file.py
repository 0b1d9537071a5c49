"""A framed stream appended to a file (for a Heka LogstreamerInput, or archives).

The file holds exactly what a TCP receiver would read, so ``audit-heka
decode`` or Heka's ``heka-cat`` read it back. The fsync policy trades
durability for speed: ``never`` leaves flushing to the kernel, ``every N``
syncs after N frames, ``interval S`` at most S seconds after a write. Bytes
written since the last fsync count as *unacknowledged*, so the delivery loop
counts a frame as delivered only once it is as durable as the policy
promises.
"""

from __future__ import annotations

import collections
import os
import time

from audit_heka.value import Value

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any, Final


class FsyncPolicy(Value):
    """``never`` (0/0), every ``frames`` frames, or every ``interval`` seconds."""

    __slots__ = ("frames", "interval")

    def __init__(self, frames: int = 0, interval: float = 0.0) -> None:
        self.frames: Final = frames
        self.interval: Final = interval

    def _as_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "interval": self.interval}

    @classmethod
    def parse(cls, text: str) -> FsyncPolicy:
        """``never``, ``every:N`` (frames) or ``interval:SECONDS``."""
        kind, _, value = text.partition(":")
        try:
            if kind == "never" and not value:
                return cls()
            if kind == "every" and int(value) > 0:
                return cls(frames=int(value))
            if kind == "interval" and float(value) > 0:
                return cls(interval=float(value))
        except ValueError:
            pass
        raise ValueError(f"invalid fsync policy {text!r} (accepted: never, every:N, interval:S)")

    @property
    def never(self) -> bool:
        return self.frames == 0 and self.interval == 0.0


def unwritable_reason(path: Path) -> str | None:
    """Why ``path`` can never be appended to (missing directory, ...), else None.

    Checked at start so that ``file:/nonexistent/dir/x`` is a clear error, as a
    ``log:`` target's is, and not a connect retried forever. Transient trouble
    (a full disk) is the delivery loop's to retry.
    """
    parent = path.parent
    if path.is_dir():
        return f"{path} is a directory"
    if not parent.exists():
        return f"directory {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK):
        return f"{target} is not writable"
    return None


class FileTransport:
    """Append frames to ``path`` (created 0600 if missing)."""

    max_frame: int | None = None
    joins_frames = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        policy: FsyncPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.policy = policy or FsyncPolicy()
        self._clock = clock
        self._fd = -1
        self._unsynced_bytes = 0
        self._unsynced_frames = 0
        self._first_unsynced = 0.0
        self.errors: collections.Counter[str] = collections.Counter()

    @property
    def name(self) -> str:
        return f"file:{os.fspath(self.path)}"

    @property
    def connected(self) -> bool:
        return self._fd >= 0

    def connect(self) -> None:
        self.close()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def send(self, frame: bytes) -> None:
        if self._fd < 0:
            raise ConnectionError(f"{self.name}: not open")
        view = memoryview(frame)
        try:
            while view:
                # A short write (disk full) leaves a partial frame: a reader's
                # splitter skips it, and the frame is written whole again later.
                view = view[os.write(self._fd, view) :]
        except OSError:
            self.close()
            raise
        if not self.policy.never:
            if self._unsynced_frames == 0:
                self._first_unsynced = self._clock()
            self._unsynced_bytes += len(frame)
            self._unsynced_frames += 1
            self.tick()

    def tick(self) -> None:
        if self._fd < 0 or self._unsynced_frames == 0:
            return
        due = (self.policy.frames and self._unsynced_frames >= self.policy.frames) or (
            self.policy.interval and self._clock() - self._first_unsynced >= self.policy.interval
        )
        if due:
            self.sync()

    def sync(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            self._unsynced_bytes = 0
            self._unsynced_frames = 0

    def unacked_bytes(self) -> int:
        return self._unsynced_bytes

    def alive(self) -> bool:
        return self._fd >= 0

    def abort(self) -> None:
        """File writes are not interruptible; nothing to do."""

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:  # not contextlib.suppress: ~0.4 ms of replay's start-up
                if self._unsynced_frames:
                    os.fsync(fd)
            except OSError:
                pass
            os.close(fd)
        self._unsynced_bytes = 0
        self._unsynced_frames = 0

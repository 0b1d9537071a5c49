"""Where a running ``audit-heka run`` keeps its counters, and whether they are live.

Why a module: ``run`` writes the file and ``status`` reads it, and two
daemons may run at once (one registered as the audit daemon, one reading the
multicast group), so the file is named by mode and both are shown. A file
outlives its daemon after a crash or SIGKILL: it is live only while the pid
in it is alive *and* is an audit-heka process (pids are reused), so a dead
run's counters are never shown as current.

The assessment is pure: the caller passes the process lookup and the time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUS_DIR = Path("/run/audit-heka")
MODES = ("unicast", "multicast")
#: A live daemon rewrites its file about every second; this old is "not updating".
STALL_SECONDS = 30.0


def status_file_for(multicast: bool, directory: Path = STATUS_DIR) -> Path:
    """The default status file of a daemon in that mode."""
    return directory / f"status-{'multicast' if multicast else 'unicast'}.json"


def default_status_files(directory: Path = STATUS_DIR) -> list[Path]:
    """Every status file ``status`` looks at by default, unicast first."""
    return [status_file_for(mode == "multicast", directory) for mode in MODES]


def proc_cmdline(pid: int) -> list[str] | None:
    """The command line of a live process (None if there is no such process)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode("utf-8", "replace").split("\0")


def is_audit_heka(cmdline: list[str]) -> bool:
    """Whether a command line is an audit-heka process (console script or ``-m audit_heka``)."""
    return any(Path(arg).name == "audit-heka" or arg.startswith("audit_heka")
               for arg in cmdline[:3])


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    """One status file, read and judged."""

    path: Path
    doc: dict[str, Any]
    running: bool
    why_not: str  # "" when running, else why the file is stale
    age: float | None  # seconds since the daemon last wrote it

    @property
    def stalled(self) -> bool:
        """Running, but the file has not been rewritten for a while (daemon stuck?)."""
        return self.running and self.age is not None and self.age > STALL_SECONDS


def assess(
    path: Path,
    doc: dict[str, Any],
    now: float,
    cmdline_of: Callable[[int], list[str] | None] = proc_cmdline,
) -> DaemonStatus:
    """Judge a status document: is the daemon that wrote it still running?"""
    pid = doc.get("pid")
    updated = doc.get("updated")
    age = now - updated if isinstance(updated, (int, float)) else None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return DaemonStatus(path, doc, False, "no pid in it", age)
    cmdline = cmdline_of(pid)
    if cmdline is None:
        return DaemonStatus(path, doc, False, f"pid {pid} is not running", age)
    if not is_audit_heka(cmdline):
        return DaemonStatus(path, doc, False,
                            f"pid {pid} is now another program ({cmdline[0] or '?'})", age)
    return DaemonStatus(path, doc, True, "", age)


def read_status(path: Path, now: float | None = None,
                cmdline_of: Callable[[int], list[str] | None] = proc_cmdline,
                ) -> DaemonStatus | None:
    """Read and judge ``path``; None if it does not exist. Raises OSError if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return DaemonStatus(path, {}, False, "not a status file (unreadable JSON)", None)
    return assess(path, doc, time.time() if now is None else now, cmdline_of)


def describe_age(seconds: float) -> str:
    """``42 s``, ``7 min``, ``3 h``, ``5 days``: how long ago, briefly."""
    if seconds < 120:
        return f"{max(0, int(seconds))} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"

"""The kernel's audit state, as tests share it.

Kernel tests share one machine-wide resource: the audit subsystem (one audit
pid, one rule list, one backlog limit). :func:`owned_kernel` serialises them
with a file lock that every test process (and every developer's shell, via
``flock /run/audit-heka-test.lock``) takes, snapshots the state with auditctl,
and puts it back even when the test fails. :func:`require` skips a test whose
capability is missing, or fails it under ``AUDIT_HEKA_REQUIRE_KERNEL=1``.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

KERNEL_LOCK = Path("/run/audit-heka-test.lock")
REQUIRE_KERNEL = os.environ.get("AUDIT_HEKA_REQUIRE_KERNEL") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip when a capability is missing, or fail when CI says it must be there."""
    if condition:
        return
    if REQUIRE_KERNEL:
        pytest.fail(f"{reason} (AUDIT_HEKA_REQUIRE_KERNEL=1 forbids skipping)")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    sbin = Path("/usr/sbin") / name
    path = shutil.which(name) or (str(sbin) if sbin.exists() else None)
    require(path is not None, f"{name} is not installed")
    assert path is not None
    return path


@dataclass(frozen=True)
class AuditState:
    """What auditctl shows of the machine-wide audit state."""

    status: dict[str, int]
    rules: tuple[str, ...]

    @classmethod
    def read(cls) -> AuditState:
        out = subprocess.run(
            ["auditctl", "-s"], check=True, capture_output=True, text=True
        ).stdout
        status: dict[str, int] = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].lstrip("-").isdigit():
                status[parts[0]] = int(parts[1])
        listing = subprocess.run(
            ["auditctl", "-l"], check=True, capture_output=True, text=True
        ).stdout
        rules = tuple(r for r in listing.splitlines() if r and r != "No rules")
        return cls(status, rules)


def restore(saved: AuditState) -> None:
    """Put the audit state back as ``saved`` (rules, settings; a leftover daemon is stopped)."""
    now = AuditState.read()
    pid = now.status.get("pid", 0)
    if pid and pid != saved.status.get("pid", 0):
        # A test daemon left itself registered: stop it so the kernel drops it.
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if now.rules != saved.rules:
        subprocess.run(["auditctl", "-D"], check=True, capture_output=True)
        for rule in saved.rules:
            subprocess.run(["auditctl", *shlex.split(rule)], check=False, capture_output=True)
    s = saved.status
    subprocess.run(
        [
            "auditctl",
            "-f", str(s["failure"]),
            "-r", str(s["rate_limit"]),
            "-b", str(s["backlog_limit"]),
            "--backlog_wait_time", str(s["backlog_wait_time"]),
            "-e", str(s["enabled"]),
        ],
        check=False,
        capture_output=True,
    )


@contextmanager
def owned_kernel() -> Iterator[AuditState]:
    """Exclusive use of the kernel's audit state, restored afterwards (and checked)."""
    require(os.geteuid() == 0, "kernel audit tests need root")
    require_tool("auditctl")
    probe = subprocess.run(["auditctl", "-s"], capture_output=True, text=True)
    require(probe.returncode == 0, f"no usable kernel audit support: {probe.stderr.strip()}")
    KERNEL_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with KERNEL_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = AuditState.read()
        try:
            yield saved
        finally:
            restore(saved)
            after = AuditState.read()
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert after.rules == saved.rules, "audit rules were not restored"
    for key in ("enabled", "backlog_limit", "failure", "rate_limit", "backlog_wait_time"):
        assert after.status.get(key) == saved.status.get(key), f"audit {key} was not restored"


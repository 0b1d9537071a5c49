"""Hardening end to end against the live kernel (issue 8): the dropped daemon.

``run --user nobody`` is started for real; its /proc/PID/status is read while
it runs, events must still flow, SIGHUP must still reload the rules (with
only CAP_AUDIT_CONTROL left), and the spool and status file it keeps must be
the user's, private, and accepted again at the next start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from audit_heka.privileges import CAP_AUDIT_CONTROL, CAP_AUDIT_READ

# pytest puts tests/kernel on sys.path (the module is ``test_run``); mypy names
# modules by their path under tests/ (``kernel.test_run``). Same file.
if TYPE_CHECKING:
    from kernel.test_run import Daemon, Marker, Receiver, cli, free_port
else:
    from test_run import Daemon, Marker, Receiver, cli, free_port

pytestmark = pytest.mark.kernel

NOBODY = 65534


def proc_status(pid: int) -> dict[str, list[str]]:
    with Path(f"/proc/{pid}/status").open() as f:
        return {k: v.split() for k, v in (line.split(":", 1) for line in f)}


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A directory `nobody` can traverse (pytest's tmp_path is 0700 root)."""
    base = Path(tempfile.mkdtemp(prefix="audit-heka-user-", dir="/tmp"))
    base.chmod(0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def wait_until(predicate: object, what: str, timeout: float = 30) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_run_as_nobody_keeps_only_audit_control_and_still_works(
    audit_kernel: object, reachable_dir: Path
) -> None:
    rules = reachable_dir / "marker.rules"
    spool = reachable_dir / "spool"
    state = reachable_dir / "state"
    first = Marker("user1", 50)
    rules.write_text(first.rule())
    rules.chmod(0o644)
    receiver = Receiver(free_port())
    daemon = Daemon(
        state,
        "--user", "nobody",
        "--target", f"127.0.0.1:{receiver.port}",
        "--rules", str(rules),
        "--spool", str(spool),
    )
    try:
        status = proc_status(daemon.proc.pid)
        assert status["Uid"] == [str(NOBODY)] * 4 and status["Gid"] == [str(NOBODY)] * 4
        assert status["Groups"] == []
        for name in ("CapEff", "CapPrm", "CapBnd"):
            assert int(status[name][0], 16) == 1 << CAP_AUDIT_CONTROL, (name, status[name])
        assert int(status["CapInh"][0], 16) == 0 and int(status["CapAmb"][0], 16) == 0
        assert status["NoNewPrivs"] == ["1"]

        first.go()
        first.wait()
        got = receiver.wait_for(first.names(), timeout=30)
        assert set(got) == first.names()

        # SIGHUP with a changed rule file: the old rule goes, the new one is in force.
        second = Marker("user2", 50)
        rules.write_text(second.rule())
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("rule_reloads", 1, timeout=30)
        assert daemon.counters()["rule_reload_errors"] == 0, "".join(daemon.errors)
        listing = subprocess.run(["auditctl", "-l"], capture_output=True, text=True).stdout
        assert f"pid={second.proc.pid}" in listing and f"pid={first.proc.pid}" not in listing
        second.go()
        second.wait()
        got = receiver.wait_for(second.names(), timeout=30)
        assert second.names() <= set(got)

        # A bad reload is refused and the rules in force stay.
        rules.write_text("-a always,exit -F nosuchfield=1\n")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("rule_reload_errors", 1, timeout=30)
        listing = subprocess.run(["auditctl", "-l"], capture_output=True, text=True).stdout
        assert f"pid={second.proc.pid}" in listing
    finally:
        code = daemon.stop()
        receiver.kill()
    assert code == 0, "".join(daemon.errors)
    assert "Traceback" not in "".join(daemon.errors)

    # What it kept on disk is the user's and private.
    for path in [spool, *spool.rglob("*"), state, *state.iterdir()]:
        st = path.lstat()
        assert st.st_uid == NOBODY, path
        assert st.st_mode & 0o077 == 0, (path, oct(st.st_mode))

    # The next start as root without --user refuses the user's spool ...
    refused = subprocess.run(
        cli("run", "--target", "127.0.0.1:1", "--spool", str(spool),
            "--status-file", str(reachable_dir / "other" / "s.json")),
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0
    assert f"owned by uid {NOBODY}" in refused.stderr and "Traceback" not in refused.stderr
    # ... and a world-writable spool is refused whoever runs it.
    shared = reachable_dir / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    refused = subprocess.run(
        cli("run", "--user", "nobody", "--target", "127.0.0.1:1", "--spool", str(shared),
            "--status-file", str(reachable_dir / "other" / "s.json")),
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0 and "world-writable" in refused.stderr


def test_run_as_nobody_multicast_keeps_audit_read(
    audit_kernel: object, reachable_dir: Path
) -> None:
    daemon = Daemon(reachable_dir / "state", "--user", "nobody", "--multicast", "--target", "-")
    try:
        status = proc_status(daemon.proc.pid)
        expected = (1 << CAP_AUDIT_CONTROL) | (1 << CAP_AUDIT_READ)
        for name in ("CapEff", "CapPrm", "CapBnd"):
            assert int(status[name][0], 16) == expected, (name, status[name])
        assert status["NoNewPrivs"] == ["1"]
    finally:
        assert daemon.stop() == 0, "".join(daemon.errors)


def test_status_directory_shared_with_others_is_refused(reachable_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (run)")
    shared = reachable_dir / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    r = subprocess.run(
        cli("run", "--target", "-", "--status-file", str(shared / "status.json")),
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode != 0 and "world-writable" in r.stderr and "Traceback" not in r.stderr

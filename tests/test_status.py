"""``audit-heka status``: live vs stale status files, both modes, systemctl exit codes, non-root.

The kernel part is faked here (a status reply decoded by the real codec) so
that the daemon-file logic is tested without root; the non-root check runs
the real command as ``nobody`` (needs root to switch, skipped otherwise).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from audit_state import require_tool
from click.testing import CliRunner

from audit_heka.cli import main
from audit_heka.host.private_files import write_private_json
from audit_heka.netlink.control import AuditError
from audit_heka.netlink.status import AuditFeatures, AuditStatus, decode_status
from audit_heka.statusfile import assess, describe_age, is_audit_heka, status_file_for

status_module = importlib.import_module("audit_heka.cli.status")


class FakeControl:
    refuse: int | None = None

    def __init__(self) -> None:
        if FakeControl.refuse is not None:
            raise AuditError(FakeControl.refuse, "reading audit status")

    def __enter__(self) -> FakeControl:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass

    def get_status(self) -> AuditStatus:
        return decode_status(bytes(44))

    def get_features(self) -> AuditFeatures:
        raise AuditError(95, "features")


@pytest.fixture
def fake_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeControl.refuse = None
    monkeypatch.setattr(status_module, "AuditControl", FakeControl)


def daemon_doc(pid: int, mode: str, messages: int, updated: float | None = None) -> dict[str, Any]:
    now = time.time()
    return {"pid": pid, "mode": mode, "started": now - 60,
            "updated": now if updated is None else updated,
            "targets": ["-"], "counters": {"messages": messages, "kernel_lost": 0}}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def status(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["status", *args])
    return result.exit_code, result.output


def test_assess_needs_a_live_audit_heka_pid() -> None:
    doc = daemon_doc(42, "unicast", 1, updated=1000.0)
    path = Path("s.json")
    alive = assess(path, doc, 1005.0, lambda pid: ["/usr/bin/audit-heka", "run"])
    assert alive.running and alive.age == 5.0 and not alive.stalled
    assert assess(path, doc, 1100.0, lambda pid: ["python3", "-m", "audit_heka", "run"]).stalled
    gone = assess(path, doc, 1005.0, lambda pid: None)
    assert not gone.running and gone.why_not == "pid 42 is not running"
    reused = assess(path, doc, 1005.0, lambda pid: ["/usr/sbin/sshd", "-D"])
    assert not reused.running and "another program (/usr/sbin/sshd)" in reused.why_not
    assert is_audit_heka(["/work/.venv/bin/audit-heka", "run"])
    assert not is_audit_heka(["vim", "audit-heka.toml"])
    assert [describe_age(s) for s in (5, 600, 7300, 400000)] == ["5 s", "10 min", "2 h", "4 days"]


def test_live_daemon_exit_0_stale_file_exit_3_without_counters(
    tmp_path: Path, fake_kernel: None,
) -> None:
    live, stale = tmp_path / "live.json", tmp_path / "stale.json"
    write_private_json(live, daemon_doc(os.getpid(), "unicast", 7))  # pytest: not audit-heka
    code, out = status("--status-file", str(live))
    assert code == 3 and "is now another program" in out and "daemon.messages" not in out
    # a dead run's file: one line, no counters, exit 3
    write_private_json(stale, daemon_doc(dead_pid(), "unicast", 123456, time.time() - 600))
    code, out = status("--status-file", str(stale))
    assert code == 3
    (line,) = [x for x in out.splitlines() if x.startswith("daemon")]
    assert line.startswith(f"daemon: not running (stale status file {stale}, unicast, last "
                           "written ") and "10 min ago: pid" in line and "is not running" in line
    assert "123456" not in out
    code, out = status("--json", "--status-file", str(stale))
    doc = json.loads(out)
    assert code == 3 and "daemon" not in doc
    (only,) = doc["daemons"]
    assert only["running"] is False and "is not running" in only["stale"]
    assert "counters" not in only and only["last_counters"]["messages"] == 123456


def test_unicast_and_multicast_daemons_have_a_file_each(tmp_path: Path, fake_kernel: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert status_file_for(False).name == "status-unicast.json"
    assert status_file_for(True).name == "status-multicast.json"
    monkeypatch.setattr(status_module, "default_status_files",
                        lambda: [status_file_for(m, tmp_path) for m in (False, True)])
    code, out = status()
    assert code == 3 and "daemon: not running (no status file in" in out
    helper = subprocess.Popen([sys.executable, "-m", "audit_heka", "listen", "--address",
                               "127.0.0.1:0"], stderr=subprocess.PIPE)  # an audit-heka pid
    try:
        assert helper.stderr is not None and helper.stderr.readline()
        write_private_json(status_file_for(False, tmp_path), daemon_doc(dead_pid(), "unicast", 5))
        write_private_json(status_file_for(True, tmp_path),
                          daemon_doc(helper.pid, "multicast", 9))
        code, out = status()
        assert code == 0
        assert f"daemon.pid {helper.pid} running (multicast, since " in out
        assert "daemon.messages 9" in out and "daemon.messages 5" not in out
        assert "daemon: not running (stale status file" in out and "unicast" in out
        doc = json.loads(status("--json")[1])
        assert doc["daemon"]["pid"] == helper.pid and len(doc["daemons"]) == 2
    finally:
        helper.terminate()
        helper.communicate(timeout=10)


def test_not_root_says_so_like_auditctl(fake_kernel: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    FakeControl.refuse = 1  # EPERM
    monkeypatch.setattr(status_module.os, "geteuid", lambda: 1000)
    code, out = status()
    assert code == 4 and out.strip() == "You must be root to run this program."


def test_not_root_on_the_real_kernel() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the command as nobody")
    setpriv = require_tool("setpriv")
    cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
           sys.executable, "-m", "audit_heka", "status"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip() == "You must be root to run this program."
    assert "locked" not in result.stderr and "Traceback" not in result.stderr

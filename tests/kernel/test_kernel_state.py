"""``run --rules`` on the live kernel: crashes, refused lines, settings (issue 14, items 1, 2, 4).

Each test owns the kernel through ``audit_kernel`` (serialised, restored and
checked afterwards). The scenarios are the ones an operator met: a SIGKILL
of ``run`` then the same command again; a watch on a path this host lacks;
``-f``/``-r``/``--backlog_wait_time`` in the rules file; a rules.d with a bad
file.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from audit_state import AuditState
from conftest import require_tool

pytestmark = pytest.mark.kernel

NX = "-w /nonexistent/audit-heka-dir/file -p wa -k nx"
GOOD = "-a always,exit -F arch=b64 -S fchownat -F exit=-EPERM -k hosts"
BEFORE = "-a always,exit -F arch=b64 -S lchown -k before"  # in the kernel before run
SETTINGS = ("enabled", "failure", "rate_limit", "backlog_limit", "backlog_wait_time")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "audit_heka", *args]


def auditctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("auditctl"), *args], capture_output=True, text=True)


def listing() -> list[str]:
    return [r for r in auditctl("-l").stdout.splitlines() if r != "No rules"]


class Run:
    """``audit-heka run`` as a child, started and waited for."""

    def __init__(self, tmp: Path, *args: str, expect_running: bool = True) -> None:
        self.status_file = tmp / "run" / "status.json"
        self.out_path = tmp / f"out-{time.monotonic_ns()}.jsonl"
        self.stdout = self.out_path.open("w")
        self.proc = subprocess.Popen(
            cli("run", "--target", "-", "--status-file", str(self.status_file),
                "--state-dir", str(tmp / "state"), "--health-interval", "1", *args),
            stdout=self.stdout, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stderr is not None
        self.log: list[str] = []
        if not expect_running:
            return
        while "running" not in (line := self.proc.stderr.readline()):
            assert line, "run exited: " + "".join(self.log)
            self.log.append(line)

    def counters(self) -> dict[str, int]:
        for _ in range(100):
            try:
                counters: dict[str, int] = json.loads(self.status_file.read_text())["counters"]
                return counters
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        raise AssertionError("no status file")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        _out, err = self.proc.communicate(timeout=60)
        self.log.append(err)
        self.stdout.close()
        return self.proc.returncode

    def wait(self) -> int:
        _out, err = self.proc.communicate(timeout=60)
        self.log.append(err)
        self.stdout.close()
        return self.proc.returncode


def prepare_found_state() -> AuditState:
    """A kernel state the run must give back: a rule and odd settings."""
    assert auditctl(*BEFORE.split()).returncode == 0
    assert auditctl("-r", "7", "-f", "1", "--backlog_wait_time", "15000").returncode == 0
    return AuditState.read()


def assert_state(expected: AuditState) -> None:
    now = AuditState.read()
    assert now.rules == expected.rules
    assert {k: now.status[k] for k in SETTINGS} == {k: expected.status[k] for k in SETTINGS}


def test_sigkill_then_the_same_run_starts_and_restores_the_first_found_state(
    audit_kernel: AuditState, tmp_path: Path
) -> None:
    rules = tmp_path / "hosts.rules"
    rules.write_text(f"-f 0\n-r 100\n--backlog_wait_time 60000\n{NX}\n{GOOD}\n")
    found = prepare_found_state()
    first = Run(tmp_path, "--rules", str(rules))
    assert listing() == [GOOD.replace("-F exit=-EPERM -k hosts", "-F exit=-EPERM -F key=hosts")]
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    crashed = AuditState.read()
    assert crashed.status["enabled"] == 1 and crashed.status["rate_limit"] == 100
    state_file = tmp_path / "state" / "kernel-state.json"
    assert state_file.exists(), "the state found must survive the crash"

    second = Run(tmp_path, "--rules", str(rules))  # the same command: it must start
    log = "".join(second.log)
    assert "did not exit cleanly" in log and "EEXIST" not in log
    assert "1 rule in force (1 kept, 0 added, 0 deleted)" in log, log
    assert tuple(listing()) == crashed.rules  # nothing changed: no window without rules
    assert second.counters()["rules_refused"] == 1
    assert second.stop() == 0
    assert_state(found)  # the state the FIRST run found, not the crashed run's
    assert not state_file.exists()


def test_a_refused_watch_is_reported_in_auditctl_words_and_the_rest_runs(
    audit_kernel: AuditState, tmp_path: Path
) -> None:
    said = auditctl(*NX.split())
    assert said.returncode != 0
    auditctl_words = said.stderr.strip()  # "Error sending add rule data request (No such ...)"
    assert "No such file or directory" in auditctl_words
    rules = tmp_path / "hosts.rules"
    rules.write_text(f"{NX}\n{GOOD}\n")
    run = Run(tmp_path, "--rules", str(rules))
    assert len(listing()) == 1  # the good rule is in force
    counters = run.counters()
    assert counters["rules_refused"] == 1
    # A reload does the same: the refused line is reported again, the rest is loaded.
    rules.write_text(f"{NX}\n{GOOD}\n{BEFORE}\n")
    run.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while run.counters()["rule_reloads"] < 1:
        assert time.monotonic() < deadline, "no reload"
        time.sleep(0.1)
    assert len(listing()) == 2 and run.counters()["rules_refused"] == 2
    assert run.counters()["rule_reload_errors"] == 0
    assert run.stop() == 0
    log = "".join(run.log)
    assert f"{rules}:1: {auditctl_words}" in log, log
    assert "Traceback" not in log
    health = [json.loads(line) for line in run.out_path.read_text().splitlines()
              if "audit_heka_health" in line]
    assert health and health[-1]["Fields"]["rules_refused"] == 2

    strict = Run(tmp_path, "--rules", str(rules), "--strict-rules", expect_running=False)
    assert strict.wait() == 1
    assert "--strict-rules: 1 rule line(s) not loaded" in "".join(strict.log)
    assert_state(audit_kernel)  # failing closed left the kernel as found


def test_settings_from_the_rules_file_are_restored_at_exit(
    audit_kernel: AuditState, tmp_path: Path
) -> None:
    found = prepare_found_state()
    rules = tmp_path / "settings.rules"
    rules.write_text(f"-b 1024\n-f 0\n-r 100\n--backlog_wait_time 60000\n{GOOD}\n-e 1\n")
    run = Run(tmp_path, "--rules", str(rules))
    during = AuditState.read().status
    assert (during["failure"], during["rate_limit"], during["backlog_wait_time"],
            during["backlog_limit"]) == (0, 100, 60000, 1024)
    assert run.stop() == 0
    assert_state(found)
    # --keep-rules keeps the rules and what their file set, and gives back the rest.
    run = Run(tmp_path, "--rules", str(rules), "--keep-rules")
    assert run.stop() == 0
    kept = AuditState.read()
    assert kept.rules == (GOOD.replace("-k hosts", "-F key=hosts"),)
    assert kept.status["rate_limit"] == 100 and kept.status["pid"] == 0


def test_rules_load_of_a_rules_d_with_a_bad_file_loads_the_good_ones(
    audit_kernel: AuditState, tmp_path: Path
) -> None:
    rules_d = tmp_path / "rules.d"
    rules_d.mkdir()
    (rules_d / "10-bad.rules").write_text(f"{NX}\n-a always,exit -F arch=b64 -S lchown -k bad\n")
    (rules_d / "20-hosts.rules").write_text(f"{GOOD}\n")
    result = subprocess.run(cli("rules", "load", str(rules_d)), capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{rules_d}/10-bad.rules:1: Error sending add rule data request (No such file" \
        in result.stderr
    assert f"loaded: {rules_d}/20-hosts.rules: 1 line" in result.stderr
    assert f"NOT loaded: {rules_d}/10-bad.rules: the kernel refused a line" in result.stderr
    assert listing() == [GOOD.replace("-k hosts", "-F key=hosts")]


def test_user_with_a_root_only_rules_d_still_reloads_on_sighup(
    audit_kernel: AuditState,
) -> None:
    """--user runs the reader and the shipper as the user; the supervisor keeps
    root, so a rules.d only root may read (as Debian ships it) reloads on SIGHUP."""
    base = Path(tempfile.mkdtemp(prefix="audit-heka-user-", dir="/tmp"))
    base.chmod(0o711)  # nobody may traverse it (pytest's tmp_path is 0700 root)
    try:
        rules_d = base / "rules.d"  # as Debian ships /etc/audit/rules.d
        rules_d.mkdir(mode=0o750)
        (rules_d / "audit.rules").write_text(f"{GOOD}\n")
        (rules_d / "audit.rules").chmod(0o640)
        run = Run(base, "--user", "nobody", "--rules", str(rules_d))
        assert listing() == [GOOD.replace("-k hosts", "-F key=hosts")]
        (rules_d / "audit.rules").write_text(f"{GOOD}\n{BEFORE}\n")
        run.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while run.counters().get("rule_reloads", 0) < 1:
            assert time.monotonic() < deadline, "no reload"
            time.sleep(0.1)
        assert run.counters()["rule_reload_errors"] == 0
        assert len(listing()) == 2
        assert run.stop() == 0
        log = "".join(run.log)
        assert "cannot read" not in log and "Traceback" not in log
    finally:
        shutil.rmtree(base, ignore_errors=True)

"""``audit-heka run`` as an operator sees it (issue 14, item 8), against the live kernel.

Log lines (timestamps, levels, no library netlink dumps with ``-v``, INFO for
rules loaded/reloaded and for the stop), an HMAC key from a file, and a
stdout target whose reader went away.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from kernel.test_run import Marker, cli

from audit_heka.heka.framing import Signer, Unframer

pytestmark = pytest.mark.kernel

STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4} audit-heka: "
                     r"(DEBUG|INFO|WARNING|ERROR) ")


def wait_for_line(lines: list[str], pattern: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(re.search(pattern, line) for line in list(lines)):
        assert time.monotonic() < deadline, f"no {pattern!r} in {lines}"
        time.sleep(0.05)


def collect(stream: object, into: list[str]) -> threading.Thread:
    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def test_verbose_log_is_stamped_quiet_about_netlink_and_says_reload_and_stop(
    audit_kernel: object, tmp_path: Path,
) -> None:
    marker = Marker("logs", 20)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    key = tmp_path / "hmac.key"
    key.write_text("ops:4=from-a-file\n")
    key.chmod(0o600)
    out = tmp_path / "out.heka"
    proc = subprocess.Popen(
        cli("run", "-v", "--rules", str(rules), "--target", f"file:{out}", "--hmac-key-file",
            str(key), "--status-file", str(tmp_path / "status.json"), "--state-dir",
            str(tmp_path / "state")),
        stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    pump = collect(proc.stderr, lines)
    try:
        wait_for_line(lines, r"INFO audit-heka running")
        marker.go()
        marker.wait()
        proc.send_signal(signal.SIGHUP)
        wait_for_line(lines, rf"INFO rules reloaded from {re.escape(str(rules))}")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        pump.join(10)
        assert proc.stderr is not None
        proc.stderr.close()
    assert code == 0, "".join(lines)
    assert lines, "no log at all"
    bad = [line for line in lines if not STAMPED.match(line)]
    assert bad == [], bad  # every line stamped (stderr is not the journal here)
    assert not [line for line in lines if "pyroute2" in line or "'header'" in line]
    assert any(re.search(rf"INFO rules loaded from {re.escape(str(rules))}", x) for x in lines)
    assert re.search(r"INFO audit-heka stopped: \d+ events shipped", lines[-1]), lines[-1]
    signer = Signer("ops", 4, b"from-a-file")
    unframer = Unframer(signers={signer.lookup_key: signer}, require_signature=True)
    frames = unframer.feed(out.read_bytes())
    assert len(frames) >= 20 and {f.signer for f in frames} == {"ops"}
    assert not unframer.errors


def test_stdout_closed_pipe_is_one_error_and_the_daemon_keeps_running(
    audit_kernel: object, tmp_path: Path,
) -> None:
    marker = Marker("epipe", 50)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    status = tmp_path / "status.json"
    proc = subprocess.Popen(
        cli("run", "--rules", str(rules), "--target", "-", "--status-file", str(status),
            "--health-interval", "0.5", "--state-dir", str(tmp_path / "state")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    pump = collect(proc.stderr, lines)
    try:
        wait_for_line(lines, r"INFO audit-heka running")
        assert proc.stdout is not None
        proc.stdout.close()  # `run | head` after head exited
        marker.go()
        marker.wait()
        wait_for_line(lines, r"stdout is closed \(broken pipe\)")
        time.sleep(2)  # health messages keep coming: no error for each
        assert proc.poll() is None, "".join(lines)
        counters = json.loads(status.read_text())["counters"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        pump.join(10)
        assert proc.stderr is not None
        proc.stderr.close()
    assert code == 0, "".join(lines)
    assert sum("stdout is closed" in line for line in lines) == 1, lines
    assert not [line for line in lines if "Broken pipe" in line or "Traceback" in line]
    assert counters["delivery_discarded"] >= 50

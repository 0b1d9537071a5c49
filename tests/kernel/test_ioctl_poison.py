"""Issue 16 item 1 on the live kernel: an ioctl request missing from the tables.

`ioctl(fd, 0x8914, ...)` under `-a always,exit -F arch=b64 -S ioctl -k x` used to end
`run` with a KeyError traceback (and `replay` lost every later event). Any local user can
make that record, so both paths are checked on records the kernel wrote: the event is
delivered, `a1_i` is what `ausearch -i` prints for it (`0x8914`), nothing is counted in
`interpret_errors`, and every value of the capture agrees with ausearch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from audit_state import owned_kernel, require, require_tool
from ausearch_oracle import agreement, ausearch_text
from capture import run_auditd
from click.testing import CliRunner

from audit_heka.cli import main
from audit_heka.core.interpret import Interpreter
from audit_heka.heka.framing import Unframer
from audit_heka.heka.message import decode_message, message_to_json
from audit_heka.host.accounts import read_groups, read_users

pytestmark = pytest.mark.kernel

RULE = ["-a", "always,exit", "-F", "arch=b64", "-S", "ioctl", "-k", "x"]
UNKNOWN_REQUEST = 0x8914  # SIOCSIFFLAGS: not in auparse's ioctl table
TCGETS = 0x5401  # in the table

# Calls ioctl with both requests (they fail: not a tty, no interface given), then says
# which pid it was.
WORKLOAD = f"""
import fcntl, os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for request in ({UNKNOWN_REQUEST}, {TCGETS}):
    try:
        fcntl.ioctl(s.fileno(), request, bytes(40))
    except OSError:
        pass
print(os.getpid(), flush=True)
"""


def ioctl_events(messages: list[dict[str, Any]], pid: int) -> dict[str, dict[str, Any]]:
    """The workload's ioctl events by their raw a1."""
    out: dict[str, dict[str, Any]] = {}
    for m in messages:
        fields = m.get("Fields", {})
        if fields.get("syscall_i") == "ioctl" and fields.get("pid") == pid:
            out[fields["a1"]] = fields
    return out


def test_replay_of_a_capture_interprets_an_unknown_request(tmp_path: Path) -> None:
    ausearch = require_tool("ausearch")
    require_tool("auditd")
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    with owned_kernel() as saved:
        require(saved.status.get("pid", 0) == 0, "another audit daemon is registered")
        log = run_auditd(tmp_path / "capture", [RULE], [sys.executable, str(script)])
    result = CliRunner().invoke(main, ["replay", str(log), "--target", "-"])
    assert result.exit_code in (0, 1), result.output  # 1: only for malformed records
    assert "interpret_errors" not in result.output
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    pids = {m["Fields"].get("pid") for m in messages
            if m["Fields"].get("a1") == f"{UNKNOWN_REQUEST:x}"
            and m["Fields"].get("syscall_i") == "ioctl"}
    assert len(pids) == 1, pids
    events = ioctl_events(messages, pids.pop())
    assert events[f"{UNKNOWN_REQUEST:x}"]["a1_i"] == "0x8914"
    assert events[f"{TCGETS:x}"]["a1_i"] == "TCGETS"
    assert all("interpret_error" not in m["Fields"] for m in messages)
    assert "a1=0x8914" in ausearch_text(ausearch, log)
    agreed = agreement(ausearch, log, Interpreter(read_users(), read_groups(), os.uname().machine))
    print(f"\nausearch -i agreement (ioctl capture): {agreed.summary()}")
    assert not agreed.unknown, agreed.examples


def test_run_delivers_the_event(audit_kernel: object, tmp_path: Path) -> None:
    rules = tmp_path / "ioctl.rules"
    rules.write_text(" ".join(RULE) + "\n")
    out = tmp_path / "out.heka"
    status = tmp_path / "status.json"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "audit_heka", "run", "--target", f"file:{out}", "--rules",
         str(rules), "--status-file", str(status), "--health-interval", "1"],
        stderr=subprocess.PIPE, text=True)
    assert daemon.stderr is not None
    errors: list[str] = []
    try:
        while "running" not in (line := daemon.stderr.readline()):
            errors.append(line)
            assert line, "the daemon exited: " + "".join(errors)
        done = subprocess.run([sys.executable, "-c", WORKLOAD], capture_output=True,
                              text=True, check=True, timeout=60)
        pid = int(done.stdout.strip())
        deadline = time.monotonic() + 60
        while len(ioctl_events(read_frames(out), pid)) < 2:
            assert daemon.poll() is None, "the daemon exited"
            assert time.monotonic() < deadline, "the ioctl events never arrived"
            time.sleep(0.2)
        counters = json.loads(status.read_text())["counters"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        errors += daemon.stderr.readlines()
        daemon.stderr.close()
        daemon.wait(60)
    assert daemon.returncode == 0, "".join(errors)
    events = ioctl_events(read_frames(out), pid)
    assert events[f"{UNKNOWN_REQUEST:x}"]["a1_i"] == "0x8914"
    assert events[f"{TCGETS:x}"]["a1_i"] == "TCGETS"
    assert counters["interpret_errors"] == 0
    assert "Traceback" not in "".join(errors)


def read_frames(path: Path) -> list[dict[str, Any]]:
    """The messages a file: target wrote so far, as JSON objects."""
    if not path.exists():
        return []
    frames = Unframer().feed(path.read_bytes())
    return [message_to_json(decode_message(f.message)) for f in frames]

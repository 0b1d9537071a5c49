"""Issue 17, item 1 against the live kernel: padding an exec cannot hide it.

An unprivileged user (uid 65534 here) runs ``/bin/true`` with one 131,071-byte
argument, or with 100,000 short ones. The kernel writes the event (its
EXECVE records spanning many records); its message is far above Heka's
64 KiB (and UDP's 8 KiB). ``audit-heka run`` must deliver it anyway, degraded:
who ran what (uid, exe, argc exact) kept, the argv cut, ``truncated`` saying so.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# The same file under two names (see test_hardening.py).
if TYPE_CHECKING:
    from kernel.test_run import Receiver, free_port, running
else:
    from test_run import Receiver, free_port, running

pytestmark = pytest.mark.kernel

NOBODY = 65534
ATTACKER = """
import os, sys
sys.stdin.readline()
for kind in sys.argv[1:]:
    if kind == "huge":
        argv = ["true", "B" * 131071, "--after-the-padding"]
    else:
        argv = ["true", *(["x"] * 100_000), "--after-the-padding"]
    pid = os.fork()
    if pid == 0:
        os.setgid(65534)
        os.setuid(65534)
        os.execv("/bin/true", argv)
    os.waitpid(pid, 0)
print("done", flush=True)
"""


def attack_events(receiver: Receiver) -> list[dict[str, Any]]:
    return [m["Fields"] for m in list(receiver.messages)
            if m.get("Type") == "audit_log" and m["Fields"].get("key") == "evasion"
            and m["Fields"].get("type") == "SYSCALL"]


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_padded_execs_arrive_degraded(audit_kernel: object, tmp_path: Path,
                                      transport: str) -> None:
    attacker = subprocess.Popen([sys.executable, "-c", ATTACKER, "huge", "many"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rules = tmp_path / "evasion.rules"
    rules.write_text(f"-a always,exit -F arch=b64 -S execve -F ppid={attacker.pid} -k evasion\n")
    udp = transport == "udp"
    port = free_port(socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    receiver = Receiver(port, *(["--udp"] if udp else []))
    target = f"udp://127.0.0.1:{port}" if udp else f"127.0.0.1:{port}"
    try:
        with running(tmp_path, "--target", target, "--rules", str(rules)) as daemon:
            assert attacker.stdin is not None and attacker.stdout is not None
            attacker.stdin.write("go\n")
            attacker.stdin.flush()
            assert attacker.stdout.readline().strip() == "done"
            attacker.wait(60)
            daemon.wait_for("degraded", 2, timeout=60)
            deadline = time.monotonic() + 30
            while len(attack_events(receiver)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            counters = daemon.counters()
    finally:
        receiver.kill()
        if attacker.poll() is None:
            attacker.kill()
        attacker.wait(10)
        for pipe in (attacker.stdin, attacker.stdout):
            if pipe is not None:
                pipe.close()
    events = attack_events(receiver)
    assert len(events) == 2, f"{len(events)} of the 2 padded execs arrived; {counters}"
    assert counters["oversize"] == 0 and counters["delivery_oversize"] == 0
    by_argc = {e["argc"]: e for e in events}
    assert set(by_argc) == {3, 100_002}  # argc exact
    for event in events:
        assert event["uid"] == NOBODY and event["exe"] == "/usr/bin/true"
        assert event["syscall_i"] == "execve" and event["success"] == "yes"
        assert "argv" in event["truncated"] and "Payload" in event["truncated"]
        assert event["argv"][0] == "true"
        assert event["argv"][-1] == "--after-the-padding"  # padding hid nothing after it
    huge = by_argc[3]["argv"][1]
    assert huge.startswith("BBBB") and huge.endswith("...[cut from 131071 bytes]")
    many = by_argc[100_002]
    at = many["truncated"].index("argv")
    assert many["truncated_values"][at] == 100_002
    assert many["truncated_kept"][at] == len(many["argv"]) < 100_002
    print(f"{transport}: 131071-byte argument kept {len(huge)} chars; "
          f"100,002 arguments kept {len(many['argv'])}")

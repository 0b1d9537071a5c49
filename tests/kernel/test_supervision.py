"""The supervisor on the live kernel: systemd notify, dead children restarted, stop order.

``run`` is started with ``NOTIFY_SOCKET``/``WATCHDOG_USEC`` pointing at a
datagram socket of the test (what systemd gives a Type=notify service), so
READY=1, WATCHDOG=1 and STOPPING=1 are observed as systemd would see them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kernel.test_run import Daemon, Marker, Receiver, free_port
else:
    from test_run import Daemon, Marker, Receiver, free_port

pytestmark = pytest.mark.kernel


def messages(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def audit_pid() -> int:
    text = subprocess.run(["auditctl", "-s"], capture_output=True, text=True).stdout
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith("pid ")))


def test_notify_watchdog_and_restarts(
    audit_kernel: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notify = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # a ping every 0.5 s
    marker = Marker("sup", 200)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    receiver = Receiver(free_port())
    daemon = Daemon(tmp_path, "--target", f"127.0.0.1:{receiver.port}", "--rules", str(rules))
    try:
        got = messages(sock)
        assert any(m.startswith("READY=1") for m in got), got
        time.sleep(1.2)
        assert "WATCHDOG=1" in messages(sock)
        children = daemon.status()["children"]
        reader_pid = children["reader"]["pid"]
        assert audit_pid() == reader_pid  # the reader is the audit daemon

        # the reader dies: restarted, counted, registered again; no watchdog meanwhile
        os.kill(reader_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            children = daemon.status()["children"]
            new = children["reader"]["pid"]
            if children["reader"]["alive"] and new != reader_pid and audit_pid() == new:
                break
            assert time.monotonic() < deadline, children
            time.sleep(0.2)
        assert children["reader"]["restarts"] == 1
        assert daemon.counters()["reader_restarts"] == 1

        # the shipper dies: restarted and carries on from its cursor
        os.kill(children["shipper"]["pid"], signal.SIGKILL)
        daemon.wait_for("shipper_restarts", 1, timeout=30)
        marker.go()
        marker.wait()
        delivered = receiver.wait_for(marker.names(), timeout=60)
        assert marker.names() <= set(delivered)
        messages(sock)
        time.sleep(1.2)
        assert "WATCHDOG=1" in messages(sock)  # both alive again
    finally:
        code = daemon.stop()
        receiver.kill()
    assert code == 0, "".join(daemon.errors)
    assert "STOPPING=1" in messages(sock)
    log = "".join(daemon.errors)
    assert "the reader exited" in log and "restart 1" in log
    assert "the shipper exited" in log
    assert audit_pid() == 0  # the pid went back at the stop
    sock.close()

"""The shipper under `run` on the live kernel: SIGKILL it mid-storm, lose nothing.

The supervisor restarts a dead shipper; the restarted shipper resumes from its
cursor and re-derives the frames from the journal. Every event of the storm
must reach the receiver, and every copy of an event (a resend after the
restart) must be the same message.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest
from kernel.test_run import Marker, Receiver, free_port, is_marker_event, running

pytestmark = pytest.mark.kernel


def shipper_pid(supervisor: int) -> int | None:
    """The pid of the supervisor's shipper child (from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == supervisor and b"audit_heka.shipper" in cmdline:
            return int(entry.name)
    return None


def test_sigkill_the_shipper_mid_storm_delivers_everything(
        audit_kernel: object, tmp_path: Path) -> None:
    count = 20_000
    marker = Marker("shipkill", count)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    port = free_port()
    receiver = Receiver(port)
    state = tmp_path / "state"
    with running(tmp_path, "--target", f"127.0.0.1:{port}", "--rules", str(rules),
                 "--state-dir", str(state), "--drain-seconds", "10") as daemon:
        marker.go()
        deadline = time.monotonic() + 60
        while len(receiver.marker_names()) < 2_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim = shipper_pid(daemon.proc.pid)
        assert victim is not None, "no shipper child"
        delivered_before = len(receiver.marker_names())
        os.kill(victim, signal.SIGKILL)
        marker.wait()
        got = receiver.wait_for(marker.names(), timeout=120)
        restarted = shipper_pid(daemon.proc.pid)
        counters = daemon.counters()
    receiver.kill()
    missing = marker.names() - set(got)
    assert not missing, f"{len(missing)} of {count} events lost after the shipper's SIGKILL"
    assert restarted is not None and restarted != victim
    copies: dict[str, list[str]] = defaultdict(list)
    for message in receiver.messages:
        if message.get("Type") == "audit_log" and is_marker_event(message["Fields"]):
            copies[message["Uuid"]].append(json.dumps(message, sort_keys=True))
    assert all(len(set(c)) == 1 for c in copies.values()), "a resend differs from the original"
    duplicates = sum(len(c) - 1 for c in copies.values())
    assert counters.get("kernel_lost", 0) == 0
    print(f"shipper SIGKILLed after {delivered_before}/{count} events; all {count} delivered "
          f"after its restart, {duplicates} duplicates (identical); "
          f"serial_gaps={counters.get('serial_gaps')} netlink_overruns="
          f"{counters.get('netlink_overruns')} shipper_restarts={counters.get('shipper_restarts')}")

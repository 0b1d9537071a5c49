"""Latency at light load: journal write -> event received by a TCP receiver.

Issue 12 asks that at light load an event reaches a TCP receiver in < 50 ms
p99 (the shipper is woken by inotify, not by polling). This writes events
into a journal with the real journal writer (as the reader does: append,
flush), one every ``--interval`` seconds, with the shipper process following
it and shipping to a loopback TCP receiver that notes when each uuid arrives.
The latency of an event is (arrival time - time its EOE line was written),
both on this process's monotonic clock.

Baseline, measured in the same run on the same journal writer and receiver:
``audit-heka replay --follow`` on the journal's audit.log, the follower that
existed before the shipper (it polls the file every 0.25 s).

    .venv/bin/python bench/shipper_latency.py [--events 500] [--interval 0.02]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audit_heka.core.schema import event_uuid  # noqa: E402
from audit_heka.heka.framing import Unframer  # noqa: E402
from audit_heka.heka.message import decode_message  # noqa: E402
from audit_heka.journal.format import LineBuilder  # noqa: E402
from audit_heka.journal.policy import FullAction  # noqa: E402
from audit_heka.journal.writer import FlushPolicy, JournalConfig, JournalWriter  # noqa: E402

HOST = "latency-bench"


class Receiver:
    """A Heka TCP receiver that notes the arrival time of every uuid."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.arrivals: dict[bytes, float] = {}
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        unframer = Unframer()
        while data := conn.recv(65536):
            now = time.monotonic()
            for unframed in unframer.feed(data):
                self.arrivals.setdefault(decode_message(unframed.message).uuid, now)


def event(serial: int) -> bytes:
    b = LineBuilder()
    stamp = b"audit(1700000000.%03d:%d): " % (serial % 1000, serial)
    return (b.line(1300, stamp + b"arch=c000003e syscall=2 success=no exit=-2 pid=1 uid=0 "
                   b"comm=\"cat\" exe=\"/bin/cat\" key=\"lat\"")
            + b.line(1302, stamp + b"item=0 name=\"/nonexistent\" nametype=UNKNOWN")
            + b.line(1327, stamp + b"proctitle=636174")
            + b.line(1320, stamp))


def measure(command: list[str], journal: Path, receiver: Receiver, tag: int,
            events: int, interval: float) -> tuple[list[float], int]:
    """Start ``command``, write ``events`` events, return latencies (ms) and missing."""
    writer = JournalWriter(JournalConfig(journal, flush=FlushPolicy.NONE, full=FullAction.BLOCK),
                           log=lambda _: None)
    writer.open()
    proc = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # start-up (imports, connect) is not what is measured
    written: dict[bytes, float] = {}
    for n in range(1, events + 1):
        serial = tag * 1_000_000 + n
        writer.buffer += event(serial)
        writer.flush(time.monotonic())
        written[event_uuid(HOST, 1700000000, serial % 1000, serial)] = time.monotonic()
        time.sleep(interval)
    deadline = time.monotonic() + 10
    while not set(written) <= set(receiver.arrivals) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    writer.close()
    lat = sorted((receiver.arrivals[u] - t) * 1000 for u, t in written.items()
                 if u in receiver.arrivals)
    return lat, len(written) - len(lat)


def summary(name: str, lat: list[float], missing: int) -> float:
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"{name}: missing {missing}; latency ms p50 {statistics.median(lat):.2f}  "
          f"p90 {lat[int(len(lat) * 0.9)]:.2f}  p99 {p99:.2f}  max {lat[-1]:.2f}")
    return p99


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="shipper-latency-"))
    receiver = Receiver()
    journal = tmp / "journal"
    config = tmp / "run.json"
    config.write_text(json.dumps({
        "journal_dir": str(journal), "state_dir": str(tmp), "hostname": HOST,
        "targets": [f"127.0.0.1:{receiver.port}"], "health_interval": 3600,
    }))
    print(f"{args.events} events, one every {args.interval * 1000:.0f} ms")
    shipper = [sys.executable, "-m", "audit_heka.shipper", "--config", str(config)]
    lat, missing = measure(shipper, journal, receiver, 1, args.events, args.interval)
    p99 = summary("shipper (inotify)", lat, missing)
    base_dir = tmp / "baseline"
    replay = [sys.executable, "-m", "audit_heka", "replay", "--follow", "--hostname", HOST,
              "--target", f"127.0.0.1:{receiver.port}", str(base_dir / "audit.log")]
    base_dir.mkdir(mode=0o700)
    (base_dir / "audit.log").touch(mode=0o600)
    base, base_missing = measure(replay, base_dir, receiver, 2, args.events, args.interval)
    base_p99 = summary("baseline replay --follow (polling)", base, base_missing)
    print(f"p99 ratio shipper/baseline: {p99 / base_p99:.3f}; p50 ratio "
          f"{statistics.median(lat) / statistics.median(base):.3f}")
    met = p99 < 50 and not missing
    print(f"target p99 < 50 ms: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

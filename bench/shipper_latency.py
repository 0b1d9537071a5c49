"""Latency at light load: journal write -> event received by a TCP receiver.

Issue 12 asks that at light load an event reaches a TCP receiver in < 50 ms
p99 (the shipper is woken by inotify, not by polling). This writes events
into a journal with the real journal writer (as the reader does: append,
flush), one every ``--interval`` seconds, with the shipper process following
it and shipping to a loopback TCP receiver that notes when each uuid arrives.
The latency of an event is (arrival time - time its EOE line was written),
both on this process's monotonic clock.

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

from audit_heka.heka.framing import Unframer  # noqa: E402
from audit_heka.heka.message import decode_message  # noqa: E402
from audit_heka.journal.format import LineBuilder  # noqa: E402
from audit_heka.journal.policy import FullAction  # noqa: E402
from audit_heka.journal.writer import FlushPolicy, JournalConfig, JournalWriter  # noqa: E402
from audit_heka.schema import event_uuid  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="shipper-latency-"))
    journal = tmp / "journal"
    writer = JournalWriter(JournalConfig(journal, flush=FlushPolicy.NONE, full=FullAction.BLOCK),
                           log=lambda _: None)
    writer.open()
    receiver = Receiver()
    config = tmp / "run.json"
    config.write_text(json.dumps({
        "journal_dir": str(journal), "state_dir": str(tmp), "hostname": HOST,
        "targets": [f"127.0.0.1:{receiver.port}"], "health_interval": 3600,
    }))
    proc = subprocess.Popen([sys.executable, "-m", "audit_heka.shipper", "--config", str(config)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    time.sleep(1.0)  # start-up (imports, connect) is not what is measured
    written: dict[bytes, float] = {}
    for serial in range(1, args.events + 1):
        writer.buffer += event(serial)
        writer.flush(time.monotonic())
        written[event_uuid(HOST, 1700000000, serial % 1000, serial)] = time.monotonic()
        time.sleep(args.interval)
    deadline = time.monotonic() + 10
    while len(receiver.arrivals) < len(written) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    writer.close()
    lat = sorted((receiver.arrivals[u] - t) * 1000 for u, t in written.items()
                 if u in receiver.arrivals)
    missing = len(written) - len(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"events {len(written)} every {args.interval * 1000:.0f} ms, missing {missing}")
    print(f"latency ms: p50 {statistics.median(lat):.2f}  p90 {lat[int(len(lat) * 0.9)]:.2f}  "
          f"p99 {p99:.2f}  max {lat[-1]:.2f}")
    print(f"target p99 < 50 ms: {'met' if p99 < 50 and not missing else 'NOT met'}")
    return 0 if p99 < 50 and not missing else 1


if __name__ == "__main__":
    sys.exit(main())

"""Issue 12 benchmarks: the reader/journal/shipper split against auditd, same run.

    python bench/journal_bench.py storm --rounds 2 --calls 200000
    python bench/journal_bench.py bound --calls 2000000 --max-bytes 268435456
    python bench/journal_bench.py report

``storm``: interleaved rounds of the open() storm (bench/storm.c, one rule) under
``auditd -n`` (log_format RAW) and under ``audit-heka run`` shipping over TCP to
``audit-heka listen``. Per round: storm calls/s, kernel lost, serial gaps,
netlink overruns, events delivered (counted by uuid), the shipper's catch-up
time after the storm, CPU seconds and peak RSS of each process.

``bound``: one storm larger than ``--journal-max-bytes`` under
``--journal-full block`` and then ``drop-oldest``: lost, throttling, records
given up (counted), peak RSS.

Everything that touches the kernel holds /run/audit-heka-test.lock (bench.kernel)
and restores the audit state. Figures go to bench/work/journal-*.json and into
bench/RESULTS.md between the ``issue-12`` markers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from results import commit, machine, now, write_section

import bench as B

WORK = B.WORK


TIMESTAMP = re.compile(rb'"Timestamp": (\d+)')


class Listener:
    """``audit-heka listen`` on a free port; counts one key's SYSCALL events by uuid."""

    def __init__(self, key: bytes = b"storm") -> None:
        self.key = b'"key": "%s"' % key
        # The receiver stands for a remote Heka: at nice 10 (as the shipper) it
        # does not take the storm's or the reader's core on this 2-core machine.
        self.proc = subprocess.Popen(
            ["nice", "-n", "10", B.PYTHON, "-m", "audit_heka", "listen", "--address",
             "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        banner = self.proc.stderr.readline().decode()
        match = re.search(r"tcp (\S+):(\d+)", banner)
        assert match, banner
        self.address = f"{match.group(1)}:{match.group(2)}"
        self.uuids: set[bytes] = set()
        #: Seconds from each event's kernel timestamp to its line here (an
        #: upper bound of the delivery latency: the receiver's own decode and
        #: print are in it).
        self.latencies: list[float] = []
        self.messages = 0
        self.storm_messages = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.messages += 1
            if self.key in line and b'"type": "SYSCALL"' in line:
                arrived = time.time()
                self.storm_messages += 1
                self.uuids.add(line[10:46])
                stamp = TIMESTAMP.search(line)
                if stamp is not None:
                    self.latencies.append(arrived - int(stamp.group(1)) / 1e9)

    def stop(self) -> float:
        cpu = B.proc_cpu_seconds(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self._thread.join(30)
        return cpu


def storm(calls: int) -> dict[str, float]:
    out = B.sh(str(B.STORM), "3600", str(calls)).stdout
    result: dict[str, float] = json.loads(out)
    return result


def serial_gaps(lines: list[bytes]) -> int:
    serials = sorted({int(m.group(1)) for line in lines
                      if (m := re.search(rb"msg=audit\(\d+\.\d+:(\d+)\)", line))})
    if not serials:
        return 0
    return serials[-1] - serials[0] + 1 - len(serials)


def proc_figures(pid: int | None) -> tuple[float, float]:
    if pid is None:
        return 0.0, 0.0
    try:
        return B.proc_cpu_seconds(pid), B.proc_peak_rss_kib(pid) / 1024
    except OSError:
        return 0.0, 0.0


def auditd_round(calls: int, index: int) -> dict[str, Any]:
    workdir = WORK / f"journal-auditd-{index}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with B.kernel():
        auditd = B.start_auditd(workdir)
        try:
            B._wait_registered(auditd.pid)
            B.sh("auditctl", "-b", str(B.BACKLOG_LIMIT), "-e", "1")
            B.sh("auditctl", *B.storm_rules()[0])
            before = B.kernel_status()
            result = storm(calls)
            B._wait_drained()
            after = B.kernel_status()
            cpu, rss = proc_figures(auditd.pid)
        finally:
            auditd.send_signal(signal.SIGTERM)
            auditd.wait(60)
    lines = (workdir / "audit.log").read_bytes().split(b"\n")
    storm_lines = [line for line in lines if b'key="storm"' in line
                   and line.startswith(b"type=SYSCALL")]
    return {
        "consumer": "auditd -n (RAW)", "round": index, "calls": int(result["calls"]),
        "rate": result["rate"], "kernel_lost": after["lost"] - before["lost"],
        "backlog_wait_actual": after.get("backlog_wait_time_actual", 0)
        - before.get("backlog_wait_time_actual", 0),
        "serial_gaps": serial_gaps([line for line in lines if b"msg=audit(" in line
                                    and not line.startswith(b"type=DAEMON")]),
        "netlink_overruns": None, "delivered": len(storm_lines), "catch_up_s": 0.0,
        "cpu": {"auditd": cpu}, "rss_mib": {"auditd": rss},
    }


def heka_round(calls: int, index: int, extra: tuple[str, ...] = (),
               name: str = "audit-heka run (TCP to listen)") -> dict[str, Any]:
    workdir = WORK / f"journal-heka-{index}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, mode=0o700)
    listener = Listener()
    status_file = workdir / "run" / "status.json"
    peak: dict[str, float] = {}
    with B.kernel():
        daemon = subprocess.Popen(
            [B.PYTHON, "-m", "audit_heka", "run", "--target", listener.address,
             "--state-dir", str(workdir / "state"), "--status-file", str(status_file),
             "--backlog-limit", str(B.BACKLOG_LIMIT), *extra],
            stdout=subprocess.DEVNULL, stderr=(workdir / "stderr").open("wb"),
        )
        try:
            doc = B.wait_registered_child(status_file)
            pids = B.run_pids(daemon.pid, doc)
            B.sh("auditctl", *B.storm_rules()[0])
            before = B.kernel_status()
            sampler_stop = threading.Event()

            def sample() -> None:  # peak RSS of each process while it runs (VmHWM at the end)
                while not sampler_stop.wait(1.0):
                    for role, pid in pids.items():
                        with contextlib.suppress(OSError, IndexError, ValueError):
                            rss = int(Path(f"/proc/{pid}/status").read_text()
                                      .split("VmRSS:")[1].split()[0]) / 1024
                            peak[role] = max(peak.get(role, 0.0), rss)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            result = storm(calls)
            storm_end = time.monotonic()
            B._wait_drained(timeout=3600)
            after = B.kernel_status()
            deadline = time.monotonic() + 3600
            expected = int(result["calls"])
            last, last_change = -1, time.monotonic()
            while len(listener.uuids) < expected and time.monotonic() < deadline:
                if len(listener.uuids) != last:
                    last, last_change = len(listener.uuids), time.monotonic()
                elif time.monotonic() - last_change > 60:
                    break  # nothing new for a minute: what is missing is missing (reported)
                counters = B.status_doc(status_file).get("counters", {})
                if counters.get("journal_dropped_records", 0) and \
                        counters.get("journal_lines", 0) >= counters.get("netlink_records", 0) \
                        - counters["journal_dropped_records"] and \
                        counters.get("events_in_flight", 1) == 0:
                    break  # drop-oldest: everything kept was shipped
                time.sleep(0.5)
            catch_up = time.monotonic() - storm_end
            time.sleep(1.5)  # one more status file
            doc = B.status_doc(status_file)
            figures = {role: proc_figures(pid) for role, pid in pids.items()}
            sampler_stop.set()
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(120)
    listen_cpu = listener.stop()
    counters = doc.get("counters", {})
    return {
        "consumer": name, "round": index, "calls": expected, "rate": result["rate"],
        "kernel_lost": after["lost"] - before["lost"],
        "backlog_wait_actual": after.get("backlog_wait_time_actual", 0)
        - before.get("backlog_wait_time_actual", 0),
        "serial_gaps": counters.get("serial_gaps"),
        "netlink_overruns": counters.get("netlink_overruns"),
        "delivered": len(listener.uuids), "storm_messages": listener.storm_messages,
        "catch_up_s": round(catch_up, 1),
        "journal_dropped_records": counters.get("journal_dropped_records", 0),
        "journal_blocks": counters.get("journal_blocks", 0),
        "journal_blocked_seconds": counters.get("journal_blocked_seconds", 0),
        "netlink_records": counters.get("netlink_records", 0),
        "cpu": {**{role: f[0] for role, f in figures.items()}, "listen": listen_cpu},
        "rss_mib": {role: max(f[1], peak.get(role, 0.0)) for role, f in figures.items()},
    }


def cmd_storm(rounds: int, calls: int) -> None:
    B.build_storm()
    results: list[dict[str, Any]] = []
    for index in range(rounds):
        for fn in (auditd_round, heka_round):
            r = fn(calls, index)
            print(json.dumps(r), flush=True)
            results.append(r)
    _keep("journal-storm", results)


def cmd_bound(calls: int, max_bytes: int, file_bytes: int) -> None:
    B.build_storm()
    results: list[dict[str, Any]] = []
    for full in ("block", "drop-oldest"):
        r = heka_round(calls, 100 + len(results), (
            "--journal-max-bytes", str(max_bytes), "--journal-file-bytes", str(file_bytes),
            "--journal-full", full, "--no-payload"),
            name=f"audit-heka run --journal-full {full}")
        r["journal_max_bytes"] = max_bytes
        print(json.dumps(r), flush=True)
        results.append(r)
    _keep("journal-bound", results)


def _keep(name: str, results: list[dict[str, Any]]) -> None:
    """Save a run's figures in bench/work (stamped) and rewrite RESULTS.md's sections."""
    (WORK / f"{name}.json").write_text(json.dumps(
        {"when": now(), "commit": commit(), "results": results}, indent=1))
    report()


def _cpu(r: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in r["cpu"].items())


def _rss(r: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in r["rss_mib"].items())


def report() -> None:
    """Rewrite each sub-section whose figures exist in bench/work (the other stays)."""
    storm_file = WORK / "journal-storm.json"
    if storm_file.exists():
        out = ["## Issue 12: reader -> journal -> shipper vs auditd (live storm)", ""]
        doc = json.loads(storm_file.read_text())
        results = doc["results"]
        out += [
            f"Run {doc['when']} at commit {doc['commit']} on {machine()}.",
            "Command: `python bench/journal_bench.py storm` (bench/storm.c, one rule, backlog "
            "limit 8192, interleaved rounds; audit-heka with its defaults: --flush incremental "
            "--freq 1000, payload on, reader at nice -4, shipper at nice 10, TCP to "
            "`audit-heka listen` at nice 10 on the same 2 cores; auditd -n with the tests' "
            "config: flush INCREMENTAL_ASYNC, priority_boost 0).",
            "",
            "| consumer | round | storm calls/s | kernel lost | serial gaps | netlink overruns "
            "| delivered (uuids) | catch-up s | CPU s | peak RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in results:
            overruns = "-" if r["netlink_overruns"] is None else r["netlink_overruns"]
            out.append(
                f"| {r['consumer']} | {r['round']} | {r['rate']:.0f} | {r['kernel_lost']} | "
                f"{r['serial_gaps']} | {overruns} | "
                f"{r['delivered']} of {r['calls']} | {r['catch_up_s']} | "
                f"{_cpu(r)} | {_rss(r)} |"
            )
        auditd = [r["rate"] for r in results if r["consumer"].startswith("auditd")]
        heka = [r["rate"] for r in results if r["consumer"].startswith("audit-heka")]
        if auditd and heka:
            ratio = statistics.median(heka) / statistics.median(auditd)
            out += ["", f"Storm rate, median of rounds: audit-heka {statistics.median(heka):.0f} "
                    f"calls/s, auditd {statistics.median(auditd):.0f} calls/s: **ratio "
                    f"{ratio:.2f}x** (target >= 1.5x)."]
        write_section("issue-12-storm", out)
    bound_file = WORK / "journal-bound.json"
    if bound_file.exists():
        doc = json.loads(bound_file.read_text())
        out = [
            f"### Journal bound (run {doc['when']} at commit {doc['commit']})", "",
            "`python bench/journal_bench.py bound`: a storm whose journal is larger than "
            "--journal-max-bytes (--no-payload).", "",
            "| mode | max bytes | storm calls | storm calls/s | kernel lost | netlink overruns "
            "| records journaled | records given up (counted) | blocks / blocked s "
            "| delivered (uuids) | peak RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in doc["results"]:
            out.append(
                f"| {r['consumer']} | {r['journal_max_bytes']} | {r['calls']} | {r['rate']:.0f} "
                f"| {r['kernel_lost']} | {r['netlink_overruns']} | {r['netlink_records']} | "
                f"{r['journal_dropped_records']} | {r['journal_blocks']} / "
                f"{r['journal_blocked_seconds']} | {r['delivered']} | {_rss(r)} |"
            )
        write_section("issue-12-bound", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("storm")
    s.add_argument("--rounds", type=int, default=2)
    s.add_argument("--calls", type=int, default=200_000)
    b = sub.add_parser("bound")
    b.add_argument("--calls", type=int, default=2_000_000)
    b.add_argument("--max-bytes", type=int, default=256 * 1024 * 1024)
    b.add_argument("--file-bytes", type=int, default=16 * 1024 * 1024)
    sub.add_parser("report")
    args = parser.parse_args()
    if args.cmd == "storm":
        cmd_storm(args.rounds, args.calls)
    elif args.cmd == "bound":
        cmd_bound(args.calls, args.max_bytes, args.file_bytes)
    else:
        report()


if __name__ == "__main__":
    main()

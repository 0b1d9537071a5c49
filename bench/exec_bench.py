"""Issue 13: CPU per exec event of `run` against `auditd -n`, same run.

    python bench/exec_bench.py run --rate 400 --seconds 15 --rounds 3 \\
        [--candidate pure=.venv/bin/python --candidate compiled=.venv-compiled/bin/python]
    python bench/exec_bench.py report

Per round, interleaved: ``auditd -n`` writing its RAW log, then ``audit-heka
run`` (supervisor, reader, shipper; its defaults, payload on) shipping over
TCP to ``audit-heka listen``, once per candidate interpreter. Each consumer
sees the same load: ``--rate`` runs of /usr/bin/true per second for
``--seconds``, paced by a driver, under one rule (``-S execve -F
exe=/usr/bin/true``), so each event is SYSCALL, EXECVE, CWD, 2 PATH,
PROCTITLE (and EOE).

CPU per event: utime+stime of every consumer process (auditd; audit-heka's
supervisor, reader and shipper -- not the receiver, which stands for a remote
Heka) from the moment the consumer is registered and idle until every event
is written (auditd) or delivered (counted by uuid at the receiver), divided
by the events. Start-up is not counted, shutdown neither: a daemon runs for
months. Kernel lost and serial gaps are reported for both.

Everything that touches the kernel holds /run/audit-heka-test.lock (bench.kernel)
and restores the audit state. Figures go to bench/work/exec-rate.json and into
bench/RESULTS.md between the ``issue-13-run`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from build_log import compiler_line
from journal_bench import Listener, serial_gaps
from results import commit, machine, now, write_section

import bench as B

WORK = B.WORK
TRUE = "/usr/bin/true"


def rule() -> list[str]:
    return B.storm_rules()[1]  # -S execve -F exe=/usr/bin/true -k exec


def same_args(_: int) -> tuple[str, ...]:
    """Every exec's argument list: /usr/bin/true alone (what a storm of one command gives)."""
    return (TRUE,)


def distinct_args(i: int) -> tuple[str, ...]:
    """Exec ``i``'s argument list, new at each exec (a build: one compiler line a file)."""
    return (TRUE, "-c", f"src/file{i}.c", "-o", f"build/file{i}.o")


def build_args(i: int) -> tuple[str, ...]:
    """Exec ``i``'s argument list as a real build's compiler line (bench/build_log.py):
    some thirty arguments, the same flags each time, new file names."""
    return tuple(compiler_line(i))


#: Include paths of a C++ build's longer compiler line (bench/build_log.py --includes).
LONG_INCLUDES = 100


def long_build_args(i: int) -> tuple[str, ...]:
    """Exec ``i``'s argument list as a C++ build's compiler line: the same with
    LONG_INCLUDES more include paths, ~6 KB (one EXECVE record over the hot path's
    MEMO_BODY_MAX)."""
    return tuple(compiler_line(i, LONG_INCLUDES))


#: The loads: (argument lists, work directory label, figures file, RESULTS.md section,
#: what the section calls the load).
LOADS: dict[str, tuple[Callable[[int], Sequence[str]], str, str, str, str]] = {
    "same": (same_args, "exec", "exec-rate.json", "issue-13-run", "/usr/bin/true"),
    "distinct": (distinct_args, "exec-distinct", "exec-rate-distinct.json",
                 "issue-13-run-distinct",
                 "`true -c src/fileN.c -o build/fileN.o`, N new at each exec"),
    "build": (build_args, "exec-build", "exec-rate-build.json", "issue-13-run-build",
              f"a compiler line of {len(compiler_line(0))} arguments (bench/build_log.py), "
              "new file names at each exec"),
    "long-build": (long_build_args, "exec-long-build", "exec-rate-long-build.json",
                   "issue-13-run-long-build",
                   f"a C++ compiler line of {len(compiler_line(0, LONG_INCLUDES))} arguments, "
                   f"~6 KB (bench/build_log.py --includes {LONG_INCLUDES}), new file names at "
                   "each exec"),
}
_OPTION = {"same": "", "distinct": " --distinct-args", "build": " --build-args",
           "long-build": " --long-build-args"}


def drive(rate: float, seconds: float, argv: Callable[[int], Sequence[str]] = same_args
          ) -> dict[str, float]:
    """Run /usr/bin/true (exec ``i`` with ``argv(i)``) ``rate`` times a second for
    ``seconds``; reap as we go."""
    total = int(rate * seconds)
    start = time.monotonic()
    running = 0
    for i in range(total):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        os.posix_spawn(TRUE, argv(i), {})
        running += 1
        while running:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                running = 0
                break
            if pid == 0:
                break
            running -= 1
    while running:
        os.waitpid(-1, 0)
        running -= 1
    elapsed = time.monotonic() - start
    return {"execs": total, "seconds": elapsed, "rate": total / elapsed}


def cpu(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for role, pid in pids.items():
        try:
            out[role] = B.proc_cpu_seconds(pid)
        except OSError:
            out[role] = 0.0
    return out


def auditd_round(index: int, rate: float, seconds: float,
                 argv: Callable[[int], Sequence[str]] = same_args, label: str = "exec"
                 ) -> dict[str, Any]:
    workdir = WORK / f"{label}-auditd-{index}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with B.kernel():
        auditd = B.start_auditd(workdir)
        try:
            B._wait_registered(auditd.pid)
            B.sh("auditctl", "-b", str(B.BACKLOG_LIMIT), "-e", "1")
            B.sh("auditctl", *rule())
            time.sleep(1.0)  # idle: start-up done
            before, k_before = cpu({"auditd": auditd.pid}), B.kernel_status()
            load = drive(rate, seconds, argv)
            B._wait_drained()
            after, k_after = cpu({"auditd": auditd.pid}), B.kernel_status()
        finally:
            auditd.send_signal(signal.SIGTERM)
            auditd.wait(60)
    lines = (workdir / "audit.log").read_bytes().split(b"\n")
    events = sum(1 for line in lines
                 if line.startswith(b"type=SYSCALL") and b'key="exec"' in line)
    return {
        "consumer": "auditd -n (RAW)", "round": index, **load, "events": events,
        "kernel_lost": k_after["lost"] - k_before["lost"],
        "serial_gaps": serial_gaps([line for line in lines if b"msg=audit(" in line
                                    and not line.startswith(b"type=DAEMON")]),
        "cpu": {role: after[role] - before[role] for role in after},
    }


def heka_round(index: int, rate: float, seconds: float, name: str, python: str,
               argv: Callable[[int], Sequence[str]] = same_args, label: str = "exec"
               ) -> dict[str, Any]:
    workdir = WORK / f"{label}-heka-{name}-{index}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, mode=0o700)
    listener = Listener(key=b"exec")
    status_file = workdir / "run" / "status.json"
    with B.kernel():
        daemon = subprocess.Popen(
            [python, "-m", "audit_heka", "run", "--target", listener.address,
             "--state-dir", str(workdir / "state"), "--status-file", str(status_file),
             "--backlog-limit", str(B.BACKLOG_LIMIT)],
            stdout=subprocess.DEVNULL, stderr=(workdir / "stderr").open("wb"),
            # Not the repository: `python -m` puts the working directory first on
            # sys.path, and an installed (compiled) build would import the sources.
            cwd=workdir,
        )
        try:
            doc = B.wait_registered_child(status_file)
            pids = B.run_pids(daemon.pid, doc)
            B.sh("auditctl", *rule())
            time.sleep(1.0)
            before, k_before = cpu(pids), B.kernel_status()
            load = drive(rate, seconds, argv)
            deadline = time.monotonic() + 300
            while len(listener.uuids) < load["execs"] and time.monotonic() < deadline:
                time.sleep(0.05)
            after, k_after = cpu(pids), B.kernel_status()
            time.sleep(1.5)  # one more status file
            counters = B.status_doc(status_file).get("counters", {})
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(120)
    listener.stop()
    return {
        "consumer": f"audit-heka run ({name})", "round": index, **load,
        "events": len(listener.uuids), "kernel_lost": k_after["lost"] - k_before["lost"],
        "serial_gaps": counters.get("serial_gaps"),
        "netlink_overruns": counters.get("netlink_overruns"),
        "cpu": {role: after[role] - before[role] for role in after},
        "latency_ms": latency_ms(listener.latencies),
    }


def latency_ms(values: list[float]) -> dict[str, float]:
    """Median, p99 and maximum of the kernel-timestamp -> receiver latencies, ms."""
    if not values:
        return {}
    ordered = sorted(values)
    return {"p50": 1000 * ordered[len(ordered) // 2],
            "p99": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max": 1000 * ordered[-1]}


def per_event_us(r: dict[str, Any]) -> float:
    return float(sum(r["cpu"].values()) / max(r["events"], 1) * 1e6)


def against_auditd(results: list[dict[str, Any]]
                   ) -> Iterator[tuple[dict[str, Any], float, float | None]]:
    """Each result with its CPU µs per event and its ratio to the auditd run of its
    round (which comes first in the round); None for auditd's own."""
    base = 0.0
    for r in results:
        us = per_event_us(r)
        if r["consumer"].startswith("auditd"):
            base = us
            yield r, us, None
        else:
            yield r, us, us / base


def cmd_run(rounds: int, rate: float, seconds: float, candidates: list[tuple[str, str]],
            load: str = "same") -> None:
    argv, label, figures, _, _ = LOADS[load]
    results = []
    for index in range(rounds):
        r = auditd_round(index, rate, seconds, argv, label)
        print(json.dumps(r), flush=True)
        results.append(r)
        for name, python in candidates:
            r = heka_round(index, rate, seconds, name, python, argv, label)
            print(json.dumps(r), flush=True)
            results.append(r)
    (WORK / figures).write_text(json.dumps(
        {"when": now(), "commit": commit(),
         "rate": rate, "seconds": seconds, "results": results}, indent=1))
    report(load)


def report(load: str = "same") -> None:
    _, _, figures, section, called = LOADS[load]
    doc = json.loads((WORK / figures).read_text())
    results = doc["results"]
    out = [f"## Issue 13: `run` at a steady exec rate vs auditd (CPU per event): {called}", "",
           f"Run {doc['when']} at commit {doc['commit']} on {machine()}.",
           f"Command: `python bench/exec_bench.py run{_OPTION[load]}` "
           f"({doc['rate']:.0f} runs of /usr/bin/true per second for {doc['seconds']:.0f} s "
           "under `-S execve -F exe=/usr/bin/true`, interleaved rounds; auditd -n writing RAW, "
           "flushing as shipped "
           f"(incremental_async, freq {B.AUDITD_FREQ}); audit-heka with its defaults, payload on, "
           "TCP to `audit-heka listen`; CPU of auditd, or of audit-heka's supervisor + reader + "
           "shipper, from idle after start-up until every event is written/delivered; latency: "
           "event's kernel timestamp -> its line printed by the receiver).", "",
           "| consumer | round | exec/s | events | kernel lost | serial gaps | CPU s by process "
           "| CPU µs / event | ratio to auditd (same round) | latency p50 / p99 ms |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    ratios: dict[str, list[float]] = {}
    for r, us, against in against_auditd(results):
        if against is None:
            ratio = "1.00"
        else:
            ratios.setdefault(r["consumer"], []).append(against)
            ratio = f"{against:.2f}"
        procs = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu"].items())
        lat = r.get("latency_ms") or {}
        latency = f"{lat['p50']:.0f} / {lat['p99']:.0f}" if lat else "-"
        out.append(f"| {r['consumer']} | {r['round']} | {r['rate']:.0f} | {r['events']} of "
                   f"{r['execs']} | {r['kernel_lost']} | {r['serial_gaps']} | {procs} | "
                   f"{us:.0f} | {ratio} | {latency} |")
    out.append("")
    for consumer, values in ratios.items():
        out.append(f"{consumer}: CPU per event **{statistics.median(values):.2f}x** auditd's "
                   f"(median of rounds; {min(values):.2f}-{max(values):.2f}; target <= 1.5x).")
    write_section(section, out)


def add_load_options(run: argparse.ArgumentParser, rate: float, seconds: float) -> None:
    """A run's options: rounds, the exec load, and the interpreters to compare."""
    run.add_argument("--rounds", type=int, default=3)
    run.add_argument("--rate", type=float, default=rate)
    run.add_argument("--seconds", type=float, default=seconds)
    run.add_argument("--candidate", action="append", default=[],
                     help="NAME=PYTHON (default: pure=.venv/bin/python)")


def candidates(given: list[str]) -> list[tuple[str, str]]:
    """``--candidate NAME=PYTHON`` values as (name, absolute interpreter path)."""
    pairs = [c.split("=", 1) for c in given] or [["pure", B.PYTHON]]
    return [(name, str(Path(python).absolute())) for name, python in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    add_load_options(r, rate=400, seconds=15)
    p = sub.add_parser("report")
    for command in (r, p):
        which = command.add_mutually_exclusive_group()
        which.add_argument("--distinct-args", dest="load", action="store_const",
                           const="distinct", default="same",
                           help="a new short argument list at each exec, not one command")
        which.add_argument("--build-args", dest="load", action="store_const", const="build",
                           help="a build's compiler line at each exec (29 arguments, new "
                                "file names)")
        which.add_argument("--long-build-args", dest="load", action="store_const",
                           const="long-build",
                           help="a C++ build's compiler line at each exec (129 arguments, "
                                "~6 KB, new file names)")
    args = parser.parse_args()
    if args.cmd == "run":
        cmd_run(args.rounds, args.rate, args.seconds, candidates(args.candidate), args.load)
    else:
        report(args.load)


if __name__ == "__main__":
    main()

"""Exec events made large on purpose: CPU per event of `run` against `auditd -n`.

    python bench/hostile_exec.py run [--rounds 3] [--rate 10] [--seconds 5] \\
        [--candidate pure=.venv/bin/python --candidate compiled=.venv-compiled/bin/python]
    python bench/hostile_exec.py report

Why: any user can make an exec event as large as the kernel lets an exec be --
100,000 short arguments, or a dozen of 120 KB -- as often as they like. auditd
writes such an event out; a consumer whose CPU per event is many times auditd's
falls behind while the user keeps it busy at a few execs a second: its journal
grows and every event after them (what the user does next) is shipped late. The
message itself is degraded to fit Heka's limit (audit_heka.core.degrade), so the
question is only what reading and interpreting the event costs.

Per case and round, interleaved as in exec_bench.py (whose rounds this reuses,
with the case's argv): ``auditd -n`` writing RAW, then ``audit-heka run``
shipping over TCP to ``audit-heka listen``, under ``-S execve -F
exe=/usr/bin/true``. Cases:

* ``args``: 100,000 arguments of 2 bytes (about 160 EXECVE records an event);
* ``long``: 12 arguments of 120,000 bytes (hex in the log: about 400 records).

Reported per consumer: CPU per event, its ratio to auditd's in the same round,
kernel lost, serial gaps, latency (kernel time stamp to the receiver), and the
exec rate one core could keep up with (1 / CPU per event). Figures go to
bench/work/hostile-exec.json and to RESULTS.md between the ``hostile-exec``
markers.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from exec_bench import (
    TRUE,
    add_load_options,
    against_auditd,
    auditd_round,
    candidates,
    heka_round,
)
from results import commit, machine, now, write_section

import bench as B

CASES: dict[str, tuple[str, ...]] = {
    "args": (TRUE, *(f"x{i % 10}" for i in range(100_000))),
    "long": (TRUE, *("y" * 120_000 for _ in range(12))),
}
JSON = B.WORK / "hostile-exec.json"


def cmd_run(rounds: int, rate: float, seconds: float, cases: list[str],
            candidates: list[tuple[str, str]]) -> None:
    results: list[dict[str, Any]] = []
    for index in range(rounds):
        for case in cases:
            def argv(_: int, case: str = case) -> tuple[str, ...]:
                return CASES[case]

            r = auditd_round(index, rate, seconds, argv, label=f"hostile-{case}")
            r["case"] = case
            print(json.dumps(r), flush=True)
            results.append(r)
            for name, python in candidates:
                r = heka_round(index, rate, seconds, name, python, argv,
                               label=f"hostile-{case}")
                r["case"] = case
                print(json.dumps(r), flush=True)
                results.append(r)
    JSON.write_text(json.dumps({"when": now(), "commit": commit(), "rate": rate,
                                "seconds": seconds, "results": results}, indent=1))
    report()


def report() -> None:
    doc = json.loads(JSON.read_text())
    out = ["## Exec events made large on purpose: `run` vs auditd (CPU per event)", "",
           f"Run {doc['when']} at commit {doc['commit']} on {machine()}.",
           f"Command: `python bench/hostile_exec.py run` ({doc['rate']:.0f} execs of "
           f"/usr/bin/true per second for {doc['seconds']:.0f} s per round, `args`: 100,000 "
           "arguments of 2 bytes, `long`: 12 of 120,000 bytes; otherwise as "
           "bench/exec_bench.py).", "",
           "| case | consumer | round | events | kernel lost | serial gaps | CPU µs / event "
           "| ratio to auditd | execs/s one core keeps up with | latency p50 / max ms |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    ratios: dict[tuple[str, str], list[float]] = {}
    for r, us, against in against_auditd(doc["results"]):
        if against is None:
            ratio = "1.00"
        else:
            ratios.setdefault((r["case"], r["consumer"]), []).append(against)
            ratio = f"{against:.1f}"
        lat = r.get("latency_ms") or {}
        latency = f"{lat['p50']:.0f} / {lat['max']:.0f}" if lat else "-"
        out.append(f"| {r['case']} | {r['consumer']} | {r['round']} | {r['events']} of "
                   f"{r['execs']} | {r['kernel_lost']} | {r['serial_gaps']} | {us:.0f} | "
                   f"{ratio} | {1e6 / us:.0f} | {latency} |")
    out.append("")
    for (case, consumer), values in ratios.items():
        out.append(f"{case}, {consumer}: CPU per event **{statistics.median(values):.1f}x** "
                   f"auditd's (median of rounds; {min(values):.1f}-{max(values):.1f}).")
    write_section("hostile-exec", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    add_load_options(r, rate=10, seconds=5)
    r.add_argument("--case", action="append", choices=sorted(CASES), default=[])
    sub.add_parser("report")
    args = parser.parse_args()
    if args.cmd == "run":
        cmd_run(args.rounds, args.rate, args.seconds, args.case or sorted(CASES),
                candidates(args.candidate))
    else:
        report()


if __name__ == "__main__":
    main()

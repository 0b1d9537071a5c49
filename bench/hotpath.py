"""The replay hot path in one process, timed or profiled (no startup, no output I/O).

    .venv/bin/python bench/hotpath.py bench/work/log-250k/audit.log          # events/s
    .venv/bin/python bench/hotpath.py LOG --profile                          # cProfile, top 30
    .venv-compiled/bin/python -P bench/hotpath.py LOG --installed            # the compiled build
    .venv/bin/python bench/hotpath.py LOG1 LOG2 --write-results    # + the hotpath section

``--write-results`` keeps the figures in bench/work/hotpath.json, one entry
per build (pure, compiled) and log, and sets the ``hotpath`` section of
bench/RESULTS.md from all of them: run it once per build to see the
compiled build's speed-up over the pure one.

Why: the whole-process benchmarks mix interpreter start-up, imports and I/O
with the per-event cost; this isolates lines -> records -> events -> messages
-> frames, the part the optimisations work on.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if "--installed" not in sys.argv:  # else: the interpreter's own (e.g. compiled) audit_heka
    sys.path.insert(0, str(ROOT))

from audit_heka.core.events import Assembler  # noqa: E402
from audit_heka.core.interpret import Interpreter  # noqa: E402
from audit_heka.core.schema import MessageBuilder  # noqa: E402
from audit_heka.core.session import Session  # noqa: E402
from audit_heka.host.accounts import read_groups, read_users  # noqa: E402

#: Lines handed over at once: about what replay's 64 KiB reads give.
BATCH_LINES = 256


def run(lines: list[str]) -> tuple[int, int]:
    builder = MessageBuilder(Interpreter(read_users(), read_groups(), os.uname().machine),
                             hostname="bench")
    session = Session(builder, Assembler(live=False))
    events = size = 0
    for first in range(0, len(lines), BATCH_LINES):  # as replay feeds what a read gave
        batch = lines[first:first + BATCH_LINES]
        for item in session.feed_lines(batch, positions=range(first, first + len(batch))):
            events += 1
            size += len(item.frame or b"")
    for item in session.finish():
        events += 1
        size += len(item.frame or b"")
    return events, size


def read_log(path: Path) -> list[str]:
    """The lines of an audit.log, split as ``replay`` splits them: on "\\n" only.

    str.splitlines() would also split at \\x1d (and \\x1c, \\x1e, \\x85, ...):
    every ENRICHED record, whose interpreted fields follow a \\x1d, would be
    cut in two and the benchmark would time a malformed-record path instead.
    """
    with path.open("rb") as stream:
        return [raw.decode("utf-8", "replace") for raw in stream]


def measure(log: Path, repeat: int) -> dict[str, Any]:
    """The best CPU time of ``repeat`` runs over one log, and what it produced."""
    lines = read_log(log)
    # CPU time, not wall time, and the best of several runs: other work on the
    # machine would blur a single wall-clock figure.
    best = float("inf")
    events = size = 0
    for _ in range(repeat):
        start = time.process_time()
        events, size = run(lines)
        best = min(best, time.process_time() - start)
    return {"log": log.stem if log.name != "audit.log" else log.parent.name,
            "records": len(lines), "events": events, "bytes": size, "cpu_s": best,
            "us_per_event": best / max(events, 1) * 1e6}


def build_name() -> str:
    import audit_heka.core.records  # noqa: PLC0415 - already loaded; which build is it?

    return "compiled" if audit_heka.core.records.__file__.endswith(".so") else "pure"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, nargs="+")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--installed", action="store_true",
                        help="time the installed package, not this checkout's source")
    parser.add_argument("--write-results", action="store_true",
                        help="keep the figures (bench/work/hotpath.json) and set the hotpath "
                        "section of bench/RESULTS.md")
    args = parser.parse_args()
    if args.profile:
        for log in args.logs:
            profiler = cProfile.Profile()
            profiler.enable()
            run(read_log(log))
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0
    build = build_name()
    figures = []
    for log in args.logs:
        f = measure(log, args.repeat)
        figures.append(f)
        print(f"{build}: {f['log']}: {f['records']} records, {f['events']} events, "
              f"{f['bytes']} bytes in {f['cpu_s']:.3f} CPU s: "
              f"{int(f['events']) / float(f['cpu_s']):.0f} events/s, "
              f"{f['us_per_event']:.1f} us/event", flush=True)
    if args.write_results:
        write_results(build, args.repeat, figures)
    return 0


def write_results(build: str, repeat: int, figures: list[dict[str, Any]]
                  ) -> None:
    """Keep this build's figures beside the other build's; rewrite the hotpath section."""
    sys.path.append(str(ROOT / "bench"))
    from results import commit, machine, now, write_section  # noqa: PLC0415

    saved = ROOT / "bench" / "work" / "hotpath.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, dict[str, dict[str, Any]]] = (
        json.loads(saved.read_text()) if saved.exists() else {})
    for f in figures:
        doc.setdefault(build, {})[str(f["log"])] = {
            **f, "when": now(), "commit": commit(), "repeat": repeat,
            "python": sys.executable}
    saved.write_text(json.dumps(doc, indent=1))
    lines = [
        "## Hot path: lines -> records -> events -> frames, in one process", "",
        f"On {machine()}.",
        "Command: `python bench/hotpath.py LOG... --write-results` (CPU time, best of the "
        "repeats; no start-up, no output I/O; `--installed` under the compiled build's "
        "interpreter for `compiled`). Each row says its run: the builds are measured one "
        "after the other.", "",
        "| log | records | events | build | CPU s (best) | µs / event | compiled speed-up "
        "| run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for build_of_row in ("pure", "compiled"):
        for log, f in sorted(doc.get(build_of_row, {}).items()):
            pure = doc.get("pure", {}).get(log)
            speedup = "-"
            if build_of_row == "compiled" and pure is not None:
                speedup = f"{float(pure['us_per_event']) / float(f['us_per_event']):.2f}x"
            lines.append(
                f"| {log} | {f['records']} | {f['events']} | {build_of_row} | "
                f"{float(f['cpu_s']):.3f} | {float(f['us_per_event']):.1f} | "
                f"{speedup} | {f['when']}, {f['commit']}, best of {f['repeat']} |")
    write_section("hotpath", lines)


if __name__ == "__main__":
    sys.exit(main())

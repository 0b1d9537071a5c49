"""The replay hot path in one process, timed or profiled (no startup, no output I/O).

    .venv/bin/python bench/hotpath.py bench/work/log-250k/audit.log          # events/s
    .venv/bin/python bench/hotpath.py LOG --profile                          # cProfile, top 30
    .venv-compiled/bin/python -P bench/hotpath.py LOG --installed            # the compiled build

Why: the whole-process benchmarks mix interpreter start-up, imports and I/O
with the per-event cost; this isolates lines -> records -> events -> messages
-> frames, the part the optimisations work on.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if "--installed" not in sys.argv:  # else: the interpreter's own (e.g. compiled) audit_heka
    sys.path.insert(0, str(ROOT))

from audit_heka.accounts import read_groups, read_users  # noqa: E402
from audit_heka.events import Assembler  # noqa: E402
from audit_heka.interpret import Interpreter  # noqa: E402
from audit_heka.schema import MessageBuilder  # noqa: E402
from audit_heka.session import Session  # noqa: E402


def run(lines: list[str]) -> tuple[int, int]:
    builder = MessageBuilder(Interpreter(read_users(), read_groups()), hostname="bench")
    session = Session(builder, Assembler(live=False))
    events = size = 0
    for line in lines:
        for item in session.feed(line):
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--installed", action="store_true",
                        help="time the installed package, not this checkout's source")
    args = parser.parse_args()
    lines = read_log(args.log)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(lines)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0
    # CPU time, not wall time, and the best of several runs: other work on the
    # machine would blur a single wall-clock figure.
    best = float("inf")
    for _ in range(args.repeat):
        start = time.process_time()
        events, size = run(lines)
        best = min(best, time.process_time() - start)
    elapsed = best
    import audit_heka.records  # noqa: PLC0415 - already loaded; which build is it?

    build = "compiled" if audit_heka.records.__file__.endswith(".so") else "pure"
    print(f"{build}: {len(lines)} records, {events} events, {size} bytes in {elapsed:.3f} CPU s: "
          f"{events / elapsed:.0f} events/s, {elapsed / max(events, 1) * 1e6:.1f} us/event")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The replay hot path in one process, timed or profiled (no startup, no output I/O).

    .venv/bin/python bench/hotpath.py bench/work/log-250k/audit.log          # events/s
    .venv/bin/python bench/hotpath.py LOG --profile                          # cProfile, top 30

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lines = args.log.read_bytes().decode("utf-8", "replace").splitlines()
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
    print(f"{len(lines)} records, {events} events, {size} bytes in {elapsed:.3f} CPU s: "
          f"{events / elapsed:.0f} events/s, {len(lines) / elapsed:.0f} records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

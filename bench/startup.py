"""Start-up cost: ``audit-heka replay`` of a 10-line log to a file, against ``python3 -c pass``.

    .venv/bin/python bench/startup.py [--runs 20] [--audit-heka .venv/bin/audit-heka] \
        [--write-results]    # also set the ``startup`` section of bench/RESULTS.md

Why: a short replay (a cron job, a test, a log rotation hook) pays the
interpreter's start-up and the imports far more than the per-event work; the
target is within 3x a bare interpreter. The two commands run in turn (A B A
B ...) and the ratio is taken pair by pair, so drift in the machine's speed
moves both sides of a ratio alike; the median and the spread are printed.
The log is written here (7 events of real record shapes); bytecode is
compiled first, as ``pip install`` does (PYTHONDONTWRITEBYTECODE would make
every run compile every module and time the compiler instead).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "data" / "fuzz" / "records"


def cpu_and_wall(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """The child's user+system CPU seconds and the wall seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f}x "
            f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--audit-heka", default=str(ROOT / ".venv" / "bin" / "audit-heka"))
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the bare interpreter of the baseline")
    parser.add_argument("--write-results", action="store_true",
                        help="set the startup section of bench/RESULTS.md to these figures")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    compileall.compile_dir(ROOT / "audit_heka", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "audit.log"
        seeds = sorted(SEEDS.glob("seed-raw-*"))[:10]
        log.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in seeds))
        out = Path(tmp) / "out"
        replay = [args.audit_heka, "replay", str(log), "--target", f"file:{out}"]
        baseline = [args.python, "-c", "pass"]
        cpu_ratio: list[float] = []
        wall_ratio: list[float] = []
        replay_cpu: list[float] = []
        base_cpu: list[float] = []
        cpu_and_wall(replay, env)  # warm-up (page cache, bytecode)
        for _ in range(args.runs):
            out.unlink(missing_ok=True)
            a_cpu, a_wall = cpu_and_wall(replay, env)
            b_cpu, b_wall = cpu_and_wall(baseline, env)
            replay_cpu.append(a_cpu)
            base_cpu.append(b_cpu)
            cpu_ratio.append(a_cpu / max(b_cpu, 1e-4))
            wall_ratio.append(a_wall / b_wall)
    median_ms = statistics.median(replay_cpu) * 1000
    print(f"replay of {len(seeds)} lines: median CPU {median_ms:.1f} ms; "
          f"{' '.join(baseline)}: {statistics.median(base_cpu) * 1000:.1f} ms")
    print(f"ratio CPU  {spread(cpu_ratio)}  (target <= 3x)")
    print(f"ratio wall {spread(wall_ratio)}")
    if args.write_results:
        write_results(args, len(seeds), replay_cpu, base_cpu, cpu_ratio, wall_ratio)
    return 0


def write_results(args: argparse.Namespace, lines: int, replay_cpu: list[float],
                  base_cpu: list[float], cpu_ratio: list[float], wall_ratio: list[float]
                  ) -> None:
    sys.path.append(str(ROOT / "bench"))
    from results import commit, now, stamp, write_section  # noqa: PLC0415

    median = statistics.median(cpu_ratio)
    audit_heka = Path(args.audit_heka)
    if audit_heka.is_relative_to(ROOT):
        audit_heka = audit_heka.relative_to(ROOT)
    write_section("startup", [
        "## Start-up: `audit-heka replay` of a short log vs a bare interpreter", "",
        stamp(now(), commit()),
        f"Command: `python bench/startup.py --runs {args.runs}` (`{audit_heka} replay` "
        f"of {lines} lines to `file:` against `{args.python} -c pass`, interleaved pairs, "
        "bytecode compiled first; the ratio is taken pair by pair).", "",
        "| replay CPU ms (median) | baseline CPU ms (median) | ratio CPU median (min-max) "
        "| ratio wall median (min-max) | target | met |",
        "|---|---|---|---|---|---|",
        f"| {statistics.median(replay_cpu) * 1000:.1f} | {statistics.median(base_cpu) * 1000:.1f}"
        f" | {median:.2f}x ({min(cpu_ratio):.2f}-{max(cpu_ratio):.2f}) | "
        f"{statistics.median(wall_ratio):.2f}x ({min(wall_ratio):.2f}-{max(wall_ratio):.2f}) | "
        f"≤ 3x CPU | {'yes' if median <= 3 else '**no**'} |",
    ])


if __name__ == "__main__":
    sys.exit(main())

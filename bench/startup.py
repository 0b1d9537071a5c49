"""Start-up cost: ``audit-heka replay`` of a 10-line log to a file, against ``python3 -c pass``.

    .venv/bin/python bench/startup.py [--runs 20] [--audit-heka .venv/bin/audit-heka ...] \
        [--write-results]    # also set the ``startup`` section of bench/RESULTS.md

Why: a short replay (a cron job, a test, a log rotation hook) pays the
interpreter's start-up and the imports far more than the per-event work; the
target is within 3x a bare interpreter. The two commands run in turn (A B A
B ...) and the ratio is taken pair by pair, so drift in the machine's speed
moves both sides of a ratio alike; the median and the spread are printed.
Several builds (``--audit-heka`` repeated: the editable ``.venv``, the
non-editable venv of scripts/install.sh, the compiled one) take turns in the
same rounds, each paired with a baseline run of its own.
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
    parser.add_argument("--audit-heka", action="append", dest="builds", metavar="[NAME=]PATH",
                        help="an audit-heka console script, named NAME in the results "
                        "(repeatable; default: .venv's)")
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the bare interpreter of the baseline")
    parser.add_argument("--write-results", action="store_true",
                        help="set the startup section of bench/RESULTS.md to these figures")
    args = parser.parse_args()
    builds = dict(build_name(b) for b in args.builds or [str(ROOT / ".venv/bin/audit-heka")])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    compileall.compile_dir(ROOT / "audit_heka", quiet=1)
    baseline = [args.python, "-c", "pass"]
    figures = {name: Figures() for name in builds}
    base_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "audit.log"
        seeds = sorted(SEEDS.glob("seed-raw-*"))[:10]
        log.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in seeds))
        out = Path(tmp) / "out"
        for build in builds.values():  # warm-up (page cache, bytecode)
            cpu_and_wall([build, "replay", str(log), "--target", f"file:{out}"], env)
        for _ in range(args.runs):
            for name, build in builds.items():
                out.unlink(missing_ok=True)
                replay = [build, "replay", str(log), "--target", f"file:{out}"]
                a_cpu, a_wall = cpu_and_wall(replay, env)
                b_cpu, b_wall = cpu_and_wall(baseline, env)
                base_cpu.append(b_cpu)
                figures[name].add(a_cpu, b_cpu, a_wall, b_wall)
    print(f"replay of {len(seeds)} lines to file: vs {' '.join(baseline)} "
          f"(median CPU {statistics.median(base_cpu) * 1000:.1f} ms)")
    for build, f in figures.items():
        print(f"{build}: median CPU {statistics.median(f.replay_cpu) * 1000:.1f} ms")
        print(f"  ratio CPU  {spread(f.cpu_ratio)}  (target <= 3x)")
        print(f"  ratio wall {spread(f.wall_ratio)}")
    if args.write_results:
        write_results(args, len(seeds), figures, base_cpu)
    return 0


def build_name(arg: str) -> tuple[str, str]:
    """``NAME=PATH`` or ``PATH`` (named by its path, relative to the repository if inside)."""
    name, sep, path = arg.partition("=")
    if sep:
        return name, path
    where = Path(arg)
    return (str(where.relative_to(ROOT)) if where.is_relative_to(ROOT) else arg), arg


class Figures:
    """One build's runs: its CPU, and its CPU and wall ratios to the paired baseline."""

    def __init__(self) -> None:
        self.replay_cpu: list[float] = []
        self.cpu_ratio: list[float] = []
        self.wall_ratio: list[float] = []

    def add(self, cpu: float, base_cpu: float, wall: float, base_wall: float) -> None:
        self.replay_cpu.append(cpu)
        self.cpu_ratio.append(cpu / max(base_cpu, 1e-4))
        self.wall_ratio.append(wall / base_wall)


def write_results(args: argparse.Namespace, lines: int, figures: dict[str, Figures],
                  base_cpu: list[float]) -> None:
    sys.path.append(str(ROOT / "bench"))
    from results import commit, now, stamp, write_section  # noqa: PLC0415

    rows = []
    for name, f in figures.items():
        median = statistics.median(f.cpu_ratio)
        rows.append(
            f"| {name} | {statistics.median(f.replay_cpu) * 1000:.1f} | "
            f"{statistics.median(base_cpu) * 1000:.1f} | {median:.2f}x "
            f"({min(f.cpu_ratio):.2f}-{max(f.cpu_ratio):.2f}) | "
            f"{statistics.median(f.wall_ratio):.2f}x "
            f"({min(f.wall_ratio):.2f}-{max(f.wall_ratio):.2f}) | "
            f"≤ 3x CPU | {'yes' if median <= 3 else '**no**'} |")
    write_section("startup", [
        "## Start-up: `audit-heka replay` of a short log vs a bare interpreter", "",
        stamp(now(), commit()),
        f"Command: `python bench/startup.py --runs {args.runs}` (`audit-heka replay` "
        f"of {lines} lines to `file:` against `{args.python} -c pass`, interleaved pairs, "
        "every build in the same rounds, bytecode compiled first; the ratio is taken pair "
        "by pair).", "",
        "| build | replay CPU ms (median) | baseline CPU ms (median) | ratio CPU median "
        "(min-max) | ratio wall median (min-max) | target | met |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ])


if __name__ == "__main__":
    sys.exit(main())

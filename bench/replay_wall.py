"""Wall time of `audit-heka replay LOG --target file:` against `ausearch -i -if LOG`.

    .venv/bin/python bench/replay_wall.py LOG... [--rounds 3] \\
        [--build pure=.venv/bin/python --build compiled=.venv-compiled/bin/python]

Why: issue 13's target for a 250,000-record log is a replay within 0.1x the
wall time of ``ausearch -i`` on the same log (TZ=UTC LC_ALL=C), both from
a cold start (the whole process: start-up, reading, writing the frames to a
file). Rounds interleave the commands so that load on the shared machine
falls on both; the report gives the median ratio and its spread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], cwd: Path) -> float:
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env, cwd=cwd)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--build", action="append", default=[],
                        help="NAME=PYTHON (an interpreter whose audit_heka is used; "
                             "default: pure=.venv/bin/python)")
    args = parser.parse_args()
    builds = [b.split("=", 1) for b in args.build] or [["pure", str(ROOT / ".venv/bin/python")]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for given in args.logs:
            log = given.resolve()
            times: dict[str, list[float]] = {"ausearch": []}
            ratios: dict[str, list[float]] = {}
            for _ in range(args.rounds):
                ausearch = timed(["ausearch", "-i", "-if", str(log)], work)
                times["ausearch"].append(ausearch)
                for name, python in builds:
                    out = work / f"{name}.heka"
                    out.unlink(missing_ok=True)  # the file target appends
                    # -P from a neutral directory: an installed build is not shadowed.
                    wall = timed([str(Path(python).absolute()), "-P", "-m", "audit_heka",
                                  "replay", str(log), "--target", f"file:{out}",
                                  "--hostname", "bench"], work)
                    times.setdefault(name, []).append(wall)
                    ratios.setdefault(name, []).append(wall / ausearch)
            print(f"{log} ({args.rounds} rounds, wall seconds: median (min-max))")
            for name, values in times.items():
                print(f"  {name:10} {statistics.median(values):7.2f} s "
                      f"({min(values):.2f}-{max(values):.2f})")
            for name, values in ratios.items():
                print(f"  {name} / ausearch: {statistics.median(values):.3f}x "
                      f"({min(values):.3f}-{max(values):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

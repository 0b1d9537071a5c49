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

#: ``--floor``: what any design that looks at each line in Python pays at least, with
#: nothing of the work: read the file 64 KiB at a time, decode, split at "\n", match
#: each line's header with replay's own pattern and look its body up in a dict. No
#: interpretation, no encoding, no framing, no writing. Against 0.1x ausearch it
#: says how much of that budget the loop itself leaves.
FLOOR = r"""
import re, sys
header = re.compile(
    r"(?:node=([^ ]+) )?type=([^ ]+) "
    r"msg=audit\((0|[1-9][0-9]{0,18})\.([0-9]{3}):(0|[1-9][0-9]{0,18})\): ")
seen = {}
partial = b""
with open(sys.argv[1], "rb") as stream:
    while chunk := stream.read(65536):
        data = partial + chunk
        cut = data.rfind(b"\n") + 1
        data, partial = data[:cut], data[cut:]
        for line in data.decode("utf-8", "replace").split("\n"):
            found = header.match(line)
            if found is not None:
                stamp = found.group(1, 3, 4, 5)
                seen.get(line[found.end():])
"""


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
    parser.add_argument("--floor", action="store_true",
                        help="time the per-line floor too (FLOOR, with the first build's python)")
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
                if args.floor:
                    wall = timed([str(Path(builds[0][1]).absolute()), "-P", "-c", FLOOR,
                                  str(log)], work)
                    times.setdefault("floor", []).append(wall)
                    ratios.setdefault("floor", []).append(wall / ausearch)
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

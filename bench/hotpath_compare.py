"""CPU per event of the in-process replay hot path, for several trees in one run.

    .venv/bin/python bench/hotpath_compare.py --tree before=/work/wt-base \\
        --tree main=/work/wt-m8a --tree now=. --rounds 5 LOG...
    ... --tree compiled=installed@.venv-compiled/bin/python     # an installed build

Why: issue 13's targets are ratios against the code as it was ("today" =
edb248c when the issue was filed). Timings on this shared machine drift, so
every tree runs on the same log in the same round, in a rotating order, each
in a fresh interpreter (a replay starts with empty memos: the first pass is
what replay pays), and the report gives the median ratio with its spread.
A tree is run with the interpreter given by --python (the pure build by default) or
after its "@"; its own directory comes first on sys.path, but for "installed": the
interpreter's own package (the compiled build's venv). Lines are split on "\\n" as
replay splits them (without it), whatever the tree's own bench/hotpath.py did, and fed
as replay feeds them (a tree with Session.feed_lines: the lines of each 64 KiB read at
once). ``--live`` times the shipper's session instead (live mode, the lines of each 64
KiB read at once with the clock read from the last record's time, as a shipper's round;
a log without EOE records, as auditd writes them, gets the EOE the kernel sends after
each event of several records: without it each event would be handed to the assembler
and closed by its timeout, a path the shipper's journal does not take).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

# Run in the child: the tree's own pipeline, Session API or (older trees) Pipeline.
CHILD = r"""
import json, os, sys, time
if sys.argv[1] != "installed":
    sys.path.insert(0, sys.argv[1])
import audit_heka
assert sys.argv[1] == "installed" or audit_heka.__file__.startswith(sys.argv[1])
try:  # the layout since session 6 (core/, host/); before, the same modules at the root
    from audit_heka.host.accounts import read_groups, read_users
    from audit_heka.core import degrade, records
    from audit_heka.core.events import Assembler
    from audit_heka.core.interpret import Interpreter
    from audit_heka.core.schema import MessageBuilder
    from audit_heka.core.session import Session
except ImportError:
    from audit_heka.accounts import read_groups, read_users
    from audit_heka.events import Assembler
    from audit_heka.interpret import Interpreter
    from audit_heka.schema import MessageBuilder
    from audit_heka import records
    try:
        from audit_heka.session import Session
    except ImportError:
        Session = None
        from audit_heka.pipeline import Framer, Pipeline
    try:  # lazy since 6d56ab6, eager before: an import, not event work
        from audit_heka import degrade
    except ImportError:
        pass
with open(sys.argv[2], "rb") as stream:  # split as replay splits a read: no "\n" kept
    lines = stream.read().decode("utf-8", "replace").split("\n")
if lines and not lines[-1]:
    lines.pop()  # (the log's last "\n" ends its last line)
users, groups = read_users(), read_groups()
live = sys.argv[3] == "live"
if live and not any(line.startswith("type=EOE ") for line in lines):
    # An auditd log has no EOE; the journal the shipper reads has the kernel's after each
    # event of several records (a record alone, a user message, has none).
    with_eoe = []
    for i, line in enumerate(lines):
        with_eoe.append(line)
        at = line.find("msg=audit(")
        stamp = line[at:line.find(")", at) + 1] if at >= 0 else ""
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if stamp and stamp not in following and i > 0 and stamp in lines[i - 1]:
            with_eoe.append(f"type=EOE {stamp}: ")
    lines = with_eoe
nows = []  # live: the shipper's clock, here each record's event time (read before the clock)
last = 0.0
for line in lines if live else ():
    at = line.find("msg=audit(")
    try:
        last = float(line[at + 10:line.index(":", at)])
    except ValueError:
        pass
    nows.append(last)
batches = []  # (first, end) of the lines one read of 64 KiB gives (before the clock)
first = read = 0
for position, line in enumerate(lines):
    read += len(line) + 1  # (and its "\n")
    if read >= 65536:
        batches.append((first, position + 1))
        first, read = position + 1, 0
batches.append((first, len(lines)))
try:  # the collector as the tree's replay sets it (audit_heka.heap, since session 6)
    from audit_heka.heap import settle_for_streaming
except ImportError:
    pass
else:
    settle_for_streaming()
def one_pass():
    # a fresh builder and session: every pass is a first replay of the log (empty memos)
    builder = MessageBuilder(Interpreter(users, groups, os.uname().machine), hostname="bench")
    events = size = 0
    start = time.process_time()
    if Session is None:
        pipeline, framer = Pipeline(builder, Assembler(live=False)), Framer()
        for line in lines:
            for message in pipeline.feed_line(line):
                events += 1
                size += len(framer.frame(message) or b"")
        for message in pipeline.finish():
            events += 1
            size += len(framer.frame(message) or b"")
    elif live and hasattr(Session, "feed_lines"):  # as the shipper's rounds: one clock each
        session = Session(builder, Assembler(live=True))
        for first, last_line in batches:
            for item in session.feed_lines(lines[first:last_line], nows[last_line - 1],
                                           positions=range(first, last_line)):
                events += 1
                size += len(item.frame or b"")
        for item in session.expire(last + 10.0):
            events += 1
            size += len(item.frame or b"")
    elif live:
        session = Session(builder, Assembler(live=True))
        for position, line in enumerate(lines):
            for item in session.feed(line, nows[position], position=position):
                events += 1
                size += len(item.frame or b"")
        for item in session.expire(last + 10.0):
            events += 1
            size += len(item.frame or b"")
    elif not hasattr(Session, "feed_lines"):
        session = Session(builder, Assembler(live=False))
        for position, line in enumerate(lines):
            for item in session.feed(line, position=position):
                events += 1
                size += len(item.frame or b"")
        for item in session.finish():
            events += 1
            size += len(item.frame or b"")
    else:  # as replay feeds since session 6: the lines of each 64 KiB read at once
        session = Session(builder, Assembler(live=False))
        for first, last_line in batches:
            for item in session.feed_lines(lines[first:last_line],
                                           positions=range(first, last_line)):
                events += 1
                size += len(item.frame or b"")
        for item in session.finish():
            events += 1
            size += len(item.frame or b"")
    cpu = time.process_time() - start
    return cpu, events, size


# (0 passes: the set-up alone, what --instructions subtracts)
best = min([one_pass() for _ in range(int(sys.argv[4]))] or [(0.0, 0, 0)])
cpu, events, size = best
compiled = records.__file__.endswith(".so")
print(json.dumps({"cpu": cpu, "events": events, "bytes": size, "compiled": compiled}))
"""


def run_tree(python: str, tree: str, log: Path, mode: str = "log",
             passes: int = 1, counted: bool = False) -> dict[str, float]:
    """One child's figures; ``counted``: run under callgrind, with its instruction count
    ("instructions") beside them."""
    if "@" in tree:
        tree, python = tree.split("@", 1)
    where = tree if tree == "installed" else str(Path(tree).resolve())
    # -P: an installed build is not shadowed by the checkout the command runs in.
    # Absolute, not resolved: a venv's python is a symlink, and its path picks the venv.
    command = [str(Path(python).absolute()), "-P", "-c", CHILD, where, str(log.resolve()),
               mode, str(passes)]
    if counted:  # (the same string hashes, so the same dict layouts, in every run)
        command = [*CALLGRIND, *command]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd="/",
                         env={**os.environ, "PYTHONHASHSEED": "0"} if counted else None)
    result: dict[str, float] = json.loads(out.stdout)
    if counted:
        found = re.search(r"Collected : (\d+)", out.stderr)
        if found is None:
            raise SystemExit(f"callgrind gave no count:\n{out.stderr[-2000:]}")
        result["instructions"] = int(found.group(1))
    return result


CALLGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]


def instructions_per_event(python: str, tree: str, log: Path, mode: str) -> tuple[float, int]:
    """Instructions one replay pass of ``log`` executes per event (callgrind's count of a
    child with one pass, less that of the same child with none: its imports and its
    reading of the log), and the events. Why: CPU time on a shared machine drifts by
    tens of percent between runs (bench/RESULTS.md, session 17); an instruction count
    does not, so it shows a change of a few percent that timings cannot. It is not
    time: a cache miss or an allocation costs more than an instruction."""
    one = run_tree(python, tree, log, mode, 1, counted=True)
    none = run_tree(python, tree, log, mode, 0, counted=True)
    events = int(one["events"])
    return (one["instructions"] - none["instructions"]) / max(events, 1), events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, nargs="+")
    parser.add_argument("--tree", action="append", required=True,
                        help="NAME=DIR (the first one is the baseline of the ratios)")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--live", action="store_true",
                        help="the shipper's live session (each record's event time as its "
                        "clock; EOE, stand-alone types and timeouts close events), not "
                        "replay's log mode")
    parser.add_argument("--instructions", action="store_true",
                        help="instructions per event under callgrind (valgrind), one run "
                        "per tree: a count, not a time, that the machine's load does not "
                        "move (see instructions_per_event)")
    parser.add_argument("--passes", type=int, default=1,
                        help="replays of the log per process, each with a fresh session "
                        "(empty memos), the best one reported: 1 (default) is a cold "
                        "process, as a replay starts; 5 is how the issue's own "
                        "bench/hotpath.py timed 'today' (best of 5 in one process)")
    args = parser.parse_args()
    trees = [t.split("=", 1) for t in args.tree]
    if args.instructions:
        for log in args.logs:
            counts = {name: instructions_per_event(args.python, tree, log,
                                                   "live" if args.live else "log")
                      for name, tree in trees}
            base = counts[trees[0][0]][0]
            print(f"{log} ({counts[trees[0][0]][1]} events, instructions under callgrind)")
            for name, _ in trees:
                print(f"  {name:8} {counts[name][0] / 1000:8.1f} k instructions/event  "
                      f"{trees[0][0]} / {name}: {base / counts[name][0]:.2f}x")
        return 0
    for log in args.logs:
        per: dict[str, list[float]] = {name: [] for name, _ in trees}
        ratios: dict[str, list[float]] = {name: [] for name, _ in trees[1:]}
        events = {}
        for r in range(args.rounds):
            order = trees[r % len(trees):] + trees[: r % len(trees)]
            got = {}
            for name, tree in order:
                result = run_tree(args.python, tree, log, "live" if args.live else "log",
                                  args.passes)
                got[name] = result["cpu"] / max(result["events"], 1) * 1e6
                events[name] = (result["events"], result["bytes"])
            for name, _ in trees:
                per[name].append(got[name])
            for name, _ in trees[1:]:
                ratios[name].append(got[trees[0][0]] / got[name])
        print(f"{log} ({events[trees[0][0]][0]} events, {args.rounds} rounds)")
        for name, _ in trees:
            v = per[name]
            print(f"  {name:8} {statistics.median(v):8.1f} us/event  "
                  f"(min {min(v):.1f}, max {max(v):.1f}); frames {events[name][1]} bytes")
        for name, _ in trees[1:]:
            v = ratios[name]
            print(f"  {trees[0][0]} / {name}: {statistics.median(v):.2f}x "
                  f"(min {min(v):.2f}, max {max(v):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

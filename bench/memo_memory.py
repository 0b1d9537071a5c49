"""Memory of the hot path's memos under execs a user shapes on purpose.

    .venv/bin/python bench/memo_memory.py capture          # bench/work/memo-*.log (kernel)
    .venv/bin/python bench/memo_memory.py run --tree now=. [--tree s13end=DIR ...]
    .venv/bin/python bench/memo_memory.py report

Why: the hot path remembers encodings by record, by argv, by group (audit_heka.core.
hotpath, line_entries), and its memos are bounded by count and by the size of what
they key. Any user can choose what their execs look like, and so what those memos
hold: an argv memo entry keyed by an entry held that entry's fields alive (a few
hundred bytes per argument). This captures two such loads from the kernel
(``auditd -n`` under one execve rule, bench/build_log.py's capture) and measures
the growth of one replay process's resident memory over each, per tree:

* ``lengths``: /usr/bin/true with every argument count from 1 to 1,100, about 4 KB
  of arguments each, new letters at each exec, two of each count, three passes
  (6,600 execs: each count a shape of its own);
* ``long-new``: 2,000 execs of 450 arguments (6.5 KB, over MEMO_BODY_MAX), every
  argument new at each exec.

Each tree replays the log in a fresh process, in-process as bench/hotpath_compare.py
does (Session.feed_lines on 64 KiB batches, the collector as replay sets it); the
growth is VmRSS after the replay minus VmRSS once the lines are read. Figures go to
bench/work/memo-memory.json and to RESULTS.md between the ``memo-memory`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from build_log import TRUE, capture_execs  # noqa: E402
from capture import WORKLOAD_AUID  # noqa: E402
from results import commit, machine, now, write_section  # noqa: E402

WORK = BENCH / "work"
JSON = WORK / "memo-memory.json"
LOADS = {"lengths": WORK / "memo-lengths.log", "long-new": WORK / "memo-long-new.log"}


def lengths_argv(n: int) -> list[list[str]]:
    """The ``lengths`` load's argument lists, exec ``n`` of each pass on."""
    out = []
    for count in range(1, 1101):
        size = max(1, 4000 // count - 1)
        for _ in range(2):
            n += 1
            out.append([TRUE, *(chr(97 + (i + n) % 26) * size for i in range(1, count))])
    return out


def long_new_argv(execs: int) -> list[list[str]]:
    """The ``long-new`` load's argument lists: 450 arguments, every one new."""
    return [[TRUE, *(f"x{e}y{i}z" for i in range(1, 450))] for e in range(execs)]


def workload(load: str) -> None:
    """The audited process: execs the load's argument lists one after another."""
    Path("/proc/self/loginuid").write_text(str(WORKLOAD_AUID))
    lists = ([argv for p in range(3) for argv in lengths_argv(p * 2200)]
             if load == "lengths" else long_new_argv(2000))
    for argv in lists:
        os.waitpid(os.posix_spawn(TRUE, argv, {}), 0)


CHILD = r"""
import os, sys, time
tree, log = sys.argv[1], sys.argv[2]
if tree != "installed":
    sys.path.insert(0, tree)
from audit_heka.heap import settle_for_streaming
from audit_heka.core.events import Assembler
from audit_heka.core.interpret import Interpreter
from audit_heka.core.schema import MessageBuilder
from audit_heka.core.session import Session
from audit_heka.host.accounts import read_groups, read_users
settle_for_streaming()

def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024

with open(log, encoding="utf-8", errors="surrogateescape") as f:
    lines = f.read().split("\n")
builder = MessageBuilder(Interpreter(read_users(), read_groups(), os.uname().machine),
                         hostname="bench")
session = Session(builder, Assembler(live=False))
before = rss()
start = time.process_time()
events = first = read = 0
for position, line in enumerate(lines):
    read += len(line)
    if read >= 65536 or position == len(lines) - 1:
        events += len(session.feed_lines(lines[first:position + 1]))
        first, read = position + 1, 0
events += len(session.finish())
cpu = time.process_time() - start
print(f'{{"events": {events}, "growth": {rss() - before}, "cpu": {cpu}}}')
"""


def run_tree(tree: str, log: Path) -> dict[str, float]:
    """One replay of ``log`` by ``tree`` (a source tree, or installed@PYTHON)."""
    python = sys.executable
    if "@" in tree:
        tree, python = tree.split("@", 1)
    where = tree if tree == "installed" else str(Path(tree).resolve())
    out = subprocess.run([str(Path(python).absolute()), "-P", "-c", CHILD, where, str(log)],
                         check=True, capture_output=True, text=True, cwd="/")
    result: dict[str, float] = json.loads(out.stdout)
    return result


def cmd_run(trees: list[str]) -> None:
    results = []
    for load, log in LOADS.items():
        for spec in trees:
            name, tree = spec.split("=", 1)
            r = {"load": load, "tree": name, **run_tree(tree, log)}
            print(json.dumps(r), flush=True)
            results.append(r)
    JSON.write_text(json.dumps({"when": now(), "commit": commit(), "results": results},
                               indent=1))
    report()


def report() -> None:
    doc = json.loads(JSON.read_text())
    out = ["## Memory of the memos under execs shaped on purpose", "",
           f"Run {doc['when']} at commit {doc['commit']} on {machine()}.",
           "Command: `python bench/memo_memory.py run` (one replay per tree in a fresh "
           "process, in-process as bench/hotpath_compare.py; growth: VmRSS after the "
           "replay minus VmRSS once the log's lines are read).", "",
           "| load | tree | events | RSS growth MiB | CPU µs / event |",
           "|---|---|---|---|---|"]
    for r in doc["results"]:
        out.append(f"| {r['load']} | {r['tree']} | {r['events']} | "
                   f"{r['growth'] / (1 << 20):.0f} | {r['cpu'] / r['events'] * 1e6:.0f} |")
    out.append("")
    write_section("memo-memory", out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("capture")
    run = sub.add_parser("run")
    run.add_argument("--tree", action="append", required=True,
                     help="NAME=TREE (a source tree) or NAME=installed@PYTHON")
    sub.add_parser("report")
    sub.add_parser("workload").add_argument("load", choices=sorted(LOADS))
    args = parser.parse_args()
    if args.cmd == "workload":
        workload(args.load)
    elif args.cmd == "capture":
        for load, log in LOADS.items():
            capture_execs(log, [sys.executable, __file__, "workload", load], 300.0)
            events = log.read_text().count("type=SYSCALL")
            print(f"{log}: {events} exec events")
    elif args.cmd == "run":
        cmd_run(args.tree)
    else:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main())

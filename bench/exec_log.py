"""An exec-event log of any length, from one real exec event a kernel wrote.

    .venv/bin/python bench/exec_log.py CAPTURED_LOG OUT --events 35000

Why: the per-event figures of issue 13 are for a build-server load -- one
exec of a short program after another (SYSCALL, BPRM_FCAPS, EXECVE, CWD, two
PATH, PROCTITLE). Capturing 250,000 records of that from the kernel takes
minutes under the machine-wide lock; this takes the first such event of a log
auditd wrote (tests/capture.py's, or bench.py's) and repeats it with a new
serial, a timestamp 2.5 ms later each time and a new pid, as a real run of
execs would (the values that repeat in it repeat in the real load too).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

STAMP = re.compile(r"msg=audit\((\d+)\.(\d{3}):(\d+)\)")
SHAPE = ["SYSCALL", "BPRM_FCAPS", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"]


def exec_event(log: Path) -> list[str]:
    """The records of the first successful execve event with the shape above."""
    events: dict[str, list[str]] = defaultdict(list)
    for line in log.read_bytes().decode("utf-8", "replace").split("\n"):
        m = STAMP.search(line)
        if m:
            events[m.group(3)].append(line)
    for records in events.values():
        types = [r.split("type=", 1)[1].split(" ", 1)[0] for r in records]
        if types == SHAPE and " syscall=59 success=yes " in records[0]:
            return records
    raise SystemExit(f"{log}: no exec event of shape {SHAPE}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--events", type=int, default=35_000)
    parser.add_argument("--new-pointers", action="store_true",
                        help="new a0-a2 and ppid in every event, as a real run of execs has "
                             "(address-space randomisation, forking parents): the values the "
                             "hot path's memos cannot keep")
    args = parser.parse_args()
    state = 0x9E3779B97F4A7C15  # a fixed sequence: the same log every time
    template = exec_event(args.log)
    m = STAMP.search(template[0])
    assert m is not None
    start_ms = int(m.group(1)) * 1000 + int(m.group(2))
    serial = int(m.group(3))
    pid = int(re.search(r" pid=(\d+)", template[0]).group(1))  # type: ignore[union-attr]
    with args.out.open("w") as out:
        for i in range(args.events):
            ms = start_ms + (i * 5) // 2
            stamp = f"msg=audit({ms // 1000}.{ms % 1000:03d}:{serial + i})"
            for record in template:
                line = STAMP.sub(stamp, record, count=1)
                if record is template[0]:
                    line = line.replace(f" pid={pid} ", f" pid={pid + i % 30000} ", 1)
                    if args.new_pointers:
                        values = []
                        for _ in range(4):
                            state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
                            values.append(state >> 17)
                        line = re.sub(r" a0=\w+ a1=\w+ a2=\w+ ", " a0={:x} a1={:x} a2={:x} ".format(
                            *values[:3]), line, count=1)
                        line = re.sub(r" ppid=\d+ ", f" ppid={values[3] % 4000000 + 2} ", line,
                                      count=1)
                out.write(line + "\n")
    print(f"{args.out}: {args.events} events, {args.events * len(template)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())

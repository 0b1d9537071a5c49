"""A REAL exec log of a build from the kernel: one compiler line after another.

    .venv/bin/python bench/build_log.py                 # bench/work/build-5k.log
    .venv/bin/python bench/build_log.py --execs 20000 --out bench/work/build-20k.log
    .venv/bin/python bench/build_log.py --includes 100 --out bench/work/build-long-5k.log

Why: a build server (the load issue 13 names) execs a compiler with some thirty
arguments -- the same flags, include paths and defines each time -- and new file
names only: the source, the object, the dependency file. Neither exec-5k (one
command line repeated) nor exec-var-5k (five short arguments) has that shape,
and the cost of such an event is in its argv. A C++ build's line is longer: with
``--includes N`` it has N more include paths (100: a line of ~6 KB, over the
hot path's MEMO_BODY_MAX but one EXECVE record, as the kernel writes up to 7,500
characters of arguments in one). Here ``auditd -n`` (RAW) writes
what the kernel sends under one execve rule while /usr/bin/true runs with such
a command line ``--execs`` times (the program does nothing: the log is the
point). The kernel is held under the tests' lock (bench.kernel(), through
tests/capture.run_auditd) for the capture only and its audit state restored.

This file is also the workload: ``python build_log.py --workload EXECS``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests"))

from capture import WORKLOAD_AUID, run_auditd  # noqa: E402

import bench  # noqa: E402

TRUE = "/usr/bin/true"
FLAGS = ("-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror=implicit-function-declaration",
         "-fPIC", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-DHAVE_CONFIG_H",
         "-DNDEBUG", "-I.", "-I./include", "-I/usr/include/python3.11", "-I../common",
         "-pthread", "-fno-strict-aliasing", "-fwrapv", "-MD", "-MP")


def compiler_line(i: int, includes: int = 0) -> list[str]:
    """Exec ``i``'s arguments: the flags (``includes`` more include paths), then the
    files of source ``i``."""
    module = f"src/module{i % 37}"
    paths = [f"-I/usr/src/project/third_party/library{k}/include" for k in range(includes)]
    return [TRUE, *FLAGS, *paths, "-MF", f"build/{module}/file{i}.d",
            "-MT", f"build/{module}/file{i}.o",
            "-c", f"{module}/file{i}.c", "-o", f"build/{module}/file{i}.o"]


def workload(execs: int, includes: int) -> None:
    """The audited process: execs compiler lines one after another."""
    Path("/proc/self/loginuid").write_text(str(WORKLOAD_AUID))
    for i in range(execs):
        os.waitpid(os.posix_spawn(TRUE, compiler_line(i, includes), {}), 0)


def serial(line: str) -> str:
    """A log line's ``audit(...)`` stamp (time and serial: its event)."""
    start = line.find("audit(")
    return line[start:line.find(")", start)]


def capture(out: Path, execs: int, includes: int) -> Path:
    return capture_execs(out, [sys.executable, __file__, "--workload", str(execs),
                               "--includes", str(includes)], max(60.0, execs / 50))


def capture_execs(out: Path, workload: list[str], timeout: float) -> Path:
    """The exec events of /usr/bin/true that ``workload`` runs (as WORKLOAD_AUID), from
    ``auditd -n`` under one execve rule, written to ``out`` (absolute)."""
    workdir = out.parent / f"{out.stem}.capture"
    shutil.rmtree(workdir, ignore_errors=True)
    rule = ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", f"exe={TRUE}",
            "-F", f"auid={WORKLOAD_AUID}", "-k", "exec"]
    with bench.kernel():
        bench.sh("auditctl", "-b", str(bench.BACKLOG_LIMIT))
        log = run_auditd(workdir, [rule], workload, timeout=timeout)
    # The exec events only (by serial): auditd's own records, the rule's loading and the
    # end marker are not the load.
    lines = log.read_text().split("\n")
    execs = {serial(line) for line in lines
             if line.startswith("type=SYSCALL") and ' key="exec"' in line}
    out.write_text("\n".join([line for line in lines if line and serial(line) in execs]) + "\n")
    shutil.rmtree(workdir, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execs", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=BENCH / "work" / "build-5k.log")
    parser.add_argument("--includes", type=int, default=0,
                        help="include paths added to the compiler line (100: ~6 KB)")
    parser.add_argument("--workload", type=int, metavar="EXECS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workload is not None:
        workload(args.workload, args.includes)
        return 0
    out = capture(args.out.resolve(), args.execs, args.includes)  # (auditd: absolute paths)
    events = sum(1 for line in out.read_text().split("\n") if line.startswith("type=SYSCALL"))
    print(f"{out}: {events} exec events")
    return 0


if __name__ == "__main__":
    sys.exit(main())

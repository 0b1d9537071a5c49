"""A REAL log of user-space records (PAM, sshd, cron, sudo, systemd) from the kernel.

    .venv/bin/python bench/userspace_log.py                 # bench/work/userspace/audit.log
    .venv/bin/python bench/userspace_log.py --format ENRICHED --out bench/work/userspace-e
    .venv/bin/python bench/userspace_log.py --sample tests/data/corpus/userspace-raw-2k.log.gz

Why: real servers log many records written by user space (tests/userspace_capture.py
says which and how they are made here); their ``msg='...'`` bodies are parsed and
interpreted by a path of their own, and a benchmark of kernel records says nothing
of it. ``auditd -n`` writes the log (RAW or ENRICHED) under the tests' kernel lock
(bench.kernel()), the audit state restored afterwards. ``--sample FILE`` keeps the
log's first ``--sample-lines`` lines, gzip-compressed without a timestamp (a
corpus file: tests/golden_frames.py).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests"))

from mixed_log import summary  # noqa: E402
from userspace_capture import capture_userspace  # noqa: E402

import bench  # noqa: E402


def capture(out: Path, rounds: int, log_format: str, with_node: bool) -> Path:
    out = out.resolve()  # auditd reads its paths from / (a relative one is not found)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with bench.kernel():
        lost = bench.kernel_status().get("lost", 0)
        bench.sh("auditctl", "-b", str(bench.BACKLOG_LIMIT))
        log = capture_userspace(out, rounds, log_format, with_node, timeout=900)
        lost = bench.kernel_status().get("lost", 0) - lost
    print(f"{log}: kernel lost {lost} during the capture")
    return log


def sample(log: Path, dest: Path, lines: int) -> None:
    text = log.read_bytes().split(b"\n")[:lines]
    dest.write_bytes(gzip.compress(b"\n".join(text) + b"\n", mtime=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BENCH / "work" / "userspace")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--format", choices=("RAW", "ENRICHED"), default="RAW")
    parser.add_argument("--node", action="store_true", help="node= prefixes (name_format)")
    parser.add_argument("--sample", type=Path, help="keep the first lines here (.log.gz)")
    parser.add_argument("--sample-lines", type=int, default=2000)
    args = parser.parse_args()
    log = capture(args.out.resolve(), args.rounds, args.format, args.node)  # (auditd: absolute)
    print(summary(log))
    if args.sample is not None:
        sample(log, args.sample, args.sample_lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())

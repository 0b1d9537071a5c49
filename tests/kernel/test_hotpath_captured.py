"""The hot path on logs the kernel and auditd just wrote: the general path's frames.

tests/test_hotpath.py compares the two paths on a checked-in capture; this
one captures afresh (RAW, and ENRICHED with node= prefixes), so that what
this kernel and this auditd write today is compared too.
"""

from __future__ import annotations

import re

import golden_frames
from capture import CapturedLog


def test_captured_logs_both_ways(captured_log: CapturedLog) -> None:
    lines = captured_log.path.read_bytes().decode("utf-8", "replace").split("\n")
    for name, variant in golden_frames.VARIANTS.items():
        hot = golden_frames.run(lines, variant, fast=True)
        general = golden_frames.run(lines, variant, fast=False)
        assert hot == general, name
        assert hot["count"] > 10


def test_every_call_of_a_workload_both_ways(every_call_logs: dict[str, CapturedLog]) -> None:
    """Under a rule for every system call (capture.every_call_rules) the kernel writes
    what named-call rules never show (mmap and ioctl requests, clone flags, MMAP,
    FD_PAIR, OPENAT2, BPF and ANOM_ABEND records...): each one the same bytes by both
    paths, in every variant."""
    for log_format, log in every_call_logs.items():
        text = log.path.read_bytes().decode("utf-8", "replace")
        calls = set(re.findall(r" syscall=(\d+) ", text))
        assert len(calls) >= 30, (log_format, sorted(calls))  # the rule did its work
        for record_type in ("OPENAT2", "BPF", "ANOM_ABEND"):  # (capture.workload)
            assert f"type={record_type} " in text, (log_format, record_type)
        lines = text.split("\n")
        for name, variant in golden_frames.VARIANTS.items():
            hot = golden_frames.run(lines, variant, fast=True)
            general = golden_frames.run(lines, variant, fast=False)
            assert hot == general, (log_format, name)
            assert hot["count"] > 300

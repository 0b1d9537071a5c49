"""The hot path on logs the kernel and auditd just wrote: the general path's frames.

tests/test_hotpath.py compares the two paths on a checked-in capture; this
one captures afresh (RAW, and ENRICHED with node= prefixes), so that what
this kernel and this auditd write today is compared too.
"""

from __future__ import annotations

import golden_frames
from capture import CapturedLog


def test_captured_logs_both_ways(captured_log: CapturedLog) -> None:
    lines = captured_log.path.read_bytes().decode("utf-8", "replace").split("\n")
    for name, variant in golden_frames.VARIANTS.items():
        hot = golden_frames.run(lines, variant, fast=True)
        general = golden_frames.run(lines, variant, fast=False)
        assert hot == general, name
        assert hot["count"] > 10

"""The collector setting of replay and the shipper (audit_heka.heap)."""

from __future__ import annotations

import subprocess
import sys

from audit_heka.heap import YOUNG_THRESHOLD

PROBE = """
import gc
from audit_heka.heap import settle_for_streaming
older = gc.get_threshold()[1:]
settle_for_streaming()
assert gc.get_threshold() == (YOUNG, *older), gc.get_threshold()
a = []; a.append(a); del a  # a cycle is still collected
assert gc.collect() >= 1
print("ok")
""".replace("YOUNG", str(YOUNG_THRESHOLD))


def test_collections_are_rare_but_still_made() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr

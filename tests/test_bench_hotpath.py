"""bench/hotpath.py must time the records replay sees, not records cut in two.

Why: it split logs with str.splitlines(), which also splits at \\x1d, so every
ENRICHED record became two malformed lines and the benchmark timed the error
path. The reader must split exactly as ``replay`` does (on "\\n" only).
"""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "data" / "fuzz" / "records"


def _read_log() -> Callable[[Path], list[str]]:
    spec = importlib.util.spec_from_file_location("bench_hotpath", ROOT / "bench" / "hotpath.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast("Callable[[Path], list[str]]", module.read_log)


def test_enriched_records_stay_whole(tmp_path: Path) -> None:
    enriched = sorted(SEEDS.glob("seed-enriched-*"))
    assert enriched, "no ENRICHED seeds"
    records = [r for p in enriched if b"\x1d" in (r := p.read_bytes().rstrip(b"\n"))]
    assert len(records) >= 5, "too few ENRICHED seeds with a \\x1d"
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(r + b"\n" for r in records))
    lines = _read_log()(log)
    assert len(lines) == len(records)
    assert [line.rstrip("\n").encode() for line in lines] == records


def test_by_path_names_the_way_each_record_took(tmp_path: Path) -> None:
    """``--by-path``: the first SYSCALL is parsed, the next ones (a new pid each) are
    patched from it, the first PROCTITLE is parsed (its repeats are the lane's memo hits,
    not timed); and the methods it wrapped are themselves again afterwards."""
    spec = importlib.util.spec_from_file_location("bench_hotpath", ROOT / "bench" / "hotpath.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from audit_heka.core.line_entries import LineEntries  # noqa: PLC0415 - as the bench's

    before = (LineEntries.line_rec, LineEntries._patched)
    log = tmp_path / "audit.log"
    log.write_text("".join(
        f"type=SYSCALL msg=audit(1700000000.{n:03d}:{n}): arch=c000003e syscall=2 "
        f"success=yes exit=3 a0=1 a1=0 a2=0 a3=0 items=0 ppid=1 pid={100 + n} uid=0 "
        f'comm="x" key=(null)\n'
        f"type=PROCTITLE msg=audit(1700000000.{n:03d}:{n}): proctitle=6C73\n"
        for n in range(20)))
    rows = {tuple(line.split()[:2]): line.split()[-3:]
            for line in cast("list[str]", module.by_path(log))[2:]}
    assert rows[("SYSCALL", "parsed")][0] == "1"
    assert rows[("SYSCALL", "patched")][0] == "19"
    assert rows[("PROCTITLE", "parsed")][0] == "1" and len(rows) == 3
    assert (LineEntries.line_rec, LineEntries._patched) == before


def test_its_timing_sets_the_collector_as_replay_does(tmp_path: Path) -> None:
    """The plain timing (not ``--by-path``) runs with the generation-0 threshold replay
    and the shipper set (audit_heka.heap), not CPython's default: else it counts
    collections neither of them runs."""
    spec = importlib.util.spec_from_file_location("bench_hotpath", ROOT / "bench" / "hotpath.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from audit_heka.heap import YOUNG_THRESHOLD  # noqa: PLC0415 - as the bench's

    log = tmp_path / "audit.log"
    log.write_text("type=PROCTITLE msg=audit(1700000000.001:1): proctitle=6C73\n")
    threshold = gc.get_threshold()
    gc.set_threshold(700, *threshold[1:])
    try:
        figures = module.measure(log, 1)
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD and figures["events"] == 1
    finally:
        gc.set_threshold(*threshold)

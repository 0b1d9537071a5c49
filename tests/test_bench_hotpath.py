"""bench/hotpath.py must time the records replay sees, not records cut in two.

Why: it split logs with str.splitlines(), which also splits at \\x1d, so every
ENRICHED record became two malformed lines and the benchmark timed the error
path. The reader must split exactly as ``replay`` does (on "\\n" only).
"""

from __future__ import annotations

import gc
import importlib.util
import sys
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

    before = (LineEntries.line_rec, LineEntries._patched_from)
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
    assert (LineEntries.line_rec, LineEntries._patched_from) == before


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


def test_instructions_per_event_counts_one_pass_the_same_each_time(tmp_path: Path) -> None:
    """hotpath_compare --instructions: what one pass executes per event, its set-up (the
    imports, the reading of the log) taken out, and the same count at each run -- the
    figure this machine's drifting timings cannot give (bench/RESULTS.md, session 17)."""
    spec = importlib.util.spec_from_file_location("bench_hotpath_compare",
                                                  ROOT / "bench" / "hotpath_compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    count = cast("Callable[[str, str, Path, str], tuple[float, int]]",
                 module.instructions_per_event)
    log = tmp_path / "audit.log"
    body = ("arch=c000003e syscall=257 success=no exit=-2 a0=ffffff9c a1={:x} a2=0 a3=0 "
            "items=1 ppid=1 pid={} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 "
            'sgid=0 fsgid=0 tty=(none) ses=1 comm="x" exe="/usr/bin/x" key=(null)')
    lines = []
    for n in range(1, 201):
        stamp = f"msg=audit(1700000000.{n % 1000:03d}:{n}): "
        lines += [f"type=SYSCALL {stamp}{body.format(0x7ffc0000 + 16 * n, 100 + n)}",
                  f'type=CWD {stamp}cwd="/"',
                  f'type=PATH {stamp}item=0 name="/nope{n}" nametype=UNKNOWN',
                  f"type=PROCTITLE {stamp}proctitle=78"]
    log.write_text("\n".join(lines) + "\n")
    python = sys.executable
    first, events = count(python, str(ROOT), log, "log")
    again, _ = count(python, str(ROOT), log, "log")
    assert events == 200
    assert 10_000 < first < 2_000_000  # per event: a pass's work, not the imports'
    assert abs(first - again) <= first * 0.005

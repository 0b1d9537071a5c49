"""bench/hotpath.py must time the records replay sees, not records cut in two.

Why: it split logs with str.splitlines(), which also splits at \\x1d, so every
ENRICHED record became two malformed lines and the benchmark timed the error
path. The reader must split exactly as ``replay`` does (on "\\n" only).
"""

from __future__ import annotations

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

"""The compiled build writes the same frames as the pure one (tests/data corpora).

The live-kernel corpora are compared in tests/kernel/test_build_identity_live.py.
"""

from __future__ import annotations

from pathlib import Path

from build_identity import assert_identical

FUZZ = Path(__file__).resolve().parent / "data" / "fuzz"


def test_record_seeds_and_crashes(tmp_path: Path) -> None:
    # Every seed and past crash as one log: each file is one record line.
    log = tmp_path / "records.log"
    files = sorted((FUZZ / "records").iterdir())
    log.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in files))
    assert assert_identical(log, tmp_path)


def test_assembler_seeds(tmp_path: Path) -> None:
    # An assembler seed is a mode byte, then log lines: whole events, split records.
    log = tmp_path / "events.log"
    files = sorted((FUZZ / "assembler").iterdir())
    assert len(files) >= 20
    log.write_bytes(b"".join(p.read_bytes()[1:].rstrip(b"\n") + b"\n" for p in files))
    assert assert_identical(log, tmp_path)

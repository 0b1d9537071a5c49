"""Replay every fuzz target over its checked-in corpus (seeds and past findings).

Why: a coverage-guided run finds an input once; this keeps it found forever.
Each file under tests/data/fuzz/<target>/ goes through the target's
one-input function, with the same checks the fuzzer applies, in seconds.
docs/fuzzing.md says how to run the targets for hours and add findings here.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # fuzz/ is a top-level package beside audit_heka/
    sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "tests" / "data" / "fuzz"
TARGETS = sorted(p.stem.removeprefix("fuzz_") for p in (ROOT / "fuzz").glob("fuzz_*.py"))


def _target(name: str) -> ModuleType:
    return importlib.import_module(f"fuzz.fuzz_{name}")


def test_every_target_has_a_corpus_and_every_corpus_a_target() -> None:
    assert len(TARGETS) >= 9
    corpora = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    assert corpora == TARGETS


@pytest.mark.parametrize("name", TARGETS)
def test_corpus_replays_clean(name: str) -> None:
    one_input = _target(name).one_input
    files = sorted(p for p in (CORPUS / name).iterdir() if p.is_file())
    assert files, f"no corpus for {name}"
    started = time.monotonic()
    for path in files:
        try:
            one_input(path.read_bytes())
        except Exception as exc:
            raise AssertionError(f"{path.relative_to(ROOT)}: {exc!r}") from exc
    assert time.monotonic() - started < 20, "the corpus replay must stay fast"


@pytest.mark.parametrize("name", TARGETS)
def test_target_survives_degenerate_inputs(name: str) -> None:
    one_input = _target(name).one_input
    for data in (b"", b"\x00", b"\xff" * 3, b"\n" * 50, bytes(range(256)), b"\x1e" * 300):
        one_input(data)


def test_targets_catch_a_violation() -> None:
    """The checks can fail: a record whose re-parse differs is reported."""
    records = _target("records")
    with pytest.raises(AssertionError):
        records.check_result(records.Record(1300, "SYSCALL", 0, 1000, 1, None, (), (), "", ""))

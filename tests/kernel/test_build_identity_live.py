"""The compiled build writes the same frames as the pure one, on logs the kernel wrote."""

from __future__ import annotations

from pathlib import Path

from build_identity import assert_identical
from capture import CapturedLog


def test_captured_log(captured_log: CapturedLog, tmp_path: Path) -> None:
    assert assert_identical(captured_log.path, tmp_path)

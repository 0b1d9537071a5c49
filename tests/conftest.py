"""Shared fixtures (the helpers themselves live in tests/audit_state.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_state import AuditState, owned_kernel, require, require_tool

from audit_heka.netlink.reader import Reader

__all__ = ["audit_kernel", "reader", "require", "require_tool"]


@pytest.fixture
def audit_kernel() -> Iterator[AuditState]:
    """Exclusive use of the kernel's audit state for one test, restored afterwards."""
    with owned_kernel() as saved:
        yield saved


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Reader]:
    """A reader that was never started (no socket, no journal file open yet)."""
    r = Reader({"journal_dir": str(tmp_path / "journal"), "journal_file_bytes": 1 << 20,
                "journal_max_bytes": 1 << 22, "owners": None})
    yield r
    r._wake_r.close()
    r._wake_w.close()

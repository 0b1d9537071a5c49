"""Shared fixtures (the helpers themselves live in tests/audit_state.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from audit_state import AuditState, owned_kernel, require, require_tool

__all__ = ["audit_kernel", "require", "require_tool"]


@pytest.fixture
def audit_kernel() -> Iterator[AuditState]:
    """Exclusive use of the kernel's audit state for one test, restored afterwards."""
    with owned_kernel() as saved:
        yield saved

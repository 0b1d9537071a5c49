"""Kernel-test fixtures: real audit logs captured once per session.

Capturing runs auditd and a workload against the live kernel (seconds), so
the RAW and ENRICHED logs are made once per test session and shared by every
test that reads them (replay, ausearch/auparse agreement). The capture holds
the same machine-wide lock as ``audit_kernel`` and restores the audit state
the same way, for the whole time it uses the kernel.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_state import owned_kernel, require, require_tool
from capture import CapturedLog, capture

# Re-exported: in tests/kernel/, ``from conftest import require`` resolves to this file.
__all__ = ["captured_log", "captured_logs", "every_call_logs", "oracle_log", "require",
           "require_tool"]


def _capture_both(base: Path, every_call: bool = False) -> dict[str, CapturedLog]:
    require_tool("auditd")
    with owned_kernel() as saved:
        require(saved.status.get("pid", 0) == 0, "another audit daemon is registered")
        return {
            "RAW": capture(base / "raw", "RAW", with_node=False, every_call=every_call),
            "ENRICHED": capture(base / "enriched", "ENRICHED", with_node=True,
                                every_call=every_call),
        }


@pytest.fixture(scope="session")
def captured_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CapturedLog]]:
    """{"RAW": CapturedLog, "ENRICHED": CapturedLog} (ENRICHED also has node= prefixes)."""
    yield _capture_both(tmp_path_factory.mktemp("audit-capture"))


@pytest.fixture(scope="session")
def every_call_logs(tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[dict[str, CapturedLog]]:
    """The same workload under capture.every_call_rules: every system call it makes."""
    yield _capture_both(tmp_path_factory.mktemp("audit-every-call"), every_call=True)


@pytest.fixture(params=["RAW", "ENRICHED"])
def captured_log(
    request: pytest.FixtureRequest, captured_logs: dict[str, CapturedLog]
) -> CapturedLog:
    """Each captured log in turn (parametrised over the two formats)."""
    log: CapturedLog = captured_logs[request.param]
    return log


@pytest.fixture(params=["RAW", "ENRICHED", "RAW, every call", "ENRICHED, every call"])
def oracle_log(request: pytest.FixtureRequest) -> CapturedLog:
    """The captured logs of both rule sets in turn, for the oracles (ausearch, auparse,
    the Lua decoder): the named calls of the usual rules, and every call of the same
    workload (capture.every_call_rules), whose records those rules never show."""
    log_format, _, every = str(request.param).partition(", ")
    logs = request.getfixturevalue("every_call_logs" if every else "captured_logs")
    log: CapturedLog = logs[log_format]
    return log

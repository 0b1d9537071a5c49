"""Kernel-test fixtures: real audit logs captured once per session.

Capturing runs auditd and a workload against the live kernel (seconds), so
the RAW and ENRICHED logs are made once per test session and shared by every
test that reads them (replay, ausearch/auparse agreement). The capture holds
the same machine-wide lock as ``audit_kernel`` and restores the audit state
the same way, for the whole time it uses the kernel.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from capture import CapturedLog, capture


def _load_root_conftest() -> ModuleType:
    """tests/conftest.py under another name.

    Both files are called ``conftest`` and neither directory is a package, so
    ``from conftest import ...`` here would import this very file. Loading the
    root one by path gives its helpers (lock, snapshot, restore, require)
    without duplicating them.
    """
    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("audit_heka_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return module


_root = _load_root_conftest()
KERNEL_LOCK: Path = _root.KERNEL_LOCK
AuditState = _root.AuditState
_restore = _root._restore
# Re-exported: in tests/kernel/, ``from conftest import require`` resolves to this file.
require = _root.require
require_tool = _root.require_tool


def _capture_both(base: Path) -> dict[str, CapturedLog]:
    require(os.geteuid() == 0, "capturing audit logs needs root")
    require_tool("auditctl")
    require_tool("auditd")
    probe = subprocess.run(["auditctl", "-s"], check=False, capture_output=True, text=True)
    reason = f"the kernel has no usable audit support: {probe.stderr.strip()}"
    require(probe.returncode == 0, reason)
    KERNEL_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with KERNEL_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = AuditState.read()
        try:
            require(saved.status.get("pid", 0) == 0, "another audit daemon is registered")
            return {
                "RAW": capture(base / "raw", "RAW", with_node=False),
                "ENRICHED": capture(base / "enriched", "ENRICHED", with_node=True),
            }
        finally:
            _restore(saved)
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def captured_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CapturedLog]]:
    """{"RAW": CapturedLog, "ENRICHED": CapturedLog} (ENRICHED also has node= prefixes)."""
    yield _capture_both(tmp_path_factory.mktemp("audit-capture"))


@pytest.fixture(params=["RAW", "ENRICHED"])
def captured_log(
    request: pytest.FixtureRequest, captured_logs: dict[str, CapturedLog]
) -> CapturedLog:
    """Each captured log in turn (parametrised over the two formats)."""
    log: CapturedLog = captured_logs[request.param]
    return log

"""The sans-IO modules stay sans-IO (a test, not a promise).

``audit_heka/core/`` (lines -> events -> messages -> frames, and the state
objects ``session`` and ``delivery_state``), ``audit_heka/heka/`` (the wire
format) and ``counters`` (the registry) take time as ``now`` and do no I/O:
the processes around them (shipper, delivery, journal follower) do. An import
of an I/O or clock module here would let a socket or a clock leak back in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "audit_heka"
PURE = sorted(str(p.relative_to(PACKAGE)) for p in [
    *PACKAGE.glob("core/*.py"), *PACKAGE.glob("heka/*.py"), PACKAGE / "value.py"])
#: Exceptions, with why (none: the host's machine, which auparse falls back to for a
#: syscall without an arch, is handed to the Interpreter by the daemon and replay).
ALLOWED: dict[str, set[str]] = {}
IO_MODULES = {"os", "socket", "time", "threading", "select", "selectors", "subprocess",
              "signal", "ssl", "fcntl", "ctypes", "asyncio", "pathlib", "io", "shutil",
              "logging"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_import_no_io(name: str) -> None:
    assert not imported(PACKAGE / name) & IO_MODULES - ALLOWED.get(name, set())


def test_the_core_is_all_there() -> None:
    assert {"core/records.py", "core/events.py", "core/interpret.py", "core/schema.py",
            "core/hotpath.py", "core/session.py", "core/delivery_state.py",
            "heka/message.py", "heka/framing.py"} <= set(PURE)


def test_the_check_sees_an_io_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom os import path\n")
    assert imported(bad) & IO_MODULES == {"time", "os"}

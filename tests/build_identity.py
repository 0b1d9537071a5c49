"""Replay one log through two installs of audit-heka and compare the frames.

Why: the optional compiled build (mypyc, setup.py) must be the same program
as the pure-Python one, only faster; the frames are the contract. CI builds
the compiled variant into a second venv and names the other build's
interpreter in AUDIT_HEKA_OTHER_PYTHON; each test replays the same log with
``sys.executable`` and with that interpreter and compares the output bytes,
the exit status and the counters on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = "AUDIT_HEKA_OTHER_PYTHON"
PROBE = "import audit_heka.core.records as m; print(m.__file__)"


def other_python() -> str:
    """The other build's interpreter; skip (fail under AUDIT_HEKA_REQUIRE_BUILDS=1) without it."""
    path = os.environ.get(ENV, "")
    if not path:
        reason = f"{ENV} is not set: no second build to compare with (scripts/test.sh sets it)"
        if os.environ.get("AUDIT_HEKA_REQUIRE_BUILDS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    # Absolute (the replays run in a temporary directory) but not resolved: a
    # venv's python is a symlink to the system one, and only its path selects the venv.
    return str(Path.cwd() / path)


def _run(python: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    # -P and a neutral cwd: the source tree must not shadow an installed build.
    return subprocess.run([python, "-P", *args], cwd=cwd, capture_output=True, timeout=600)


def is_compiled(python: str, cwd: Path) -> bool:
    out = _run(python, ["-c", PROBE], cwd)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().strip().endswith(".so")


def builds(tmp_path: Path) -> tuple[str, str]:
    """(pure, compiled) interpreters; fails unless exactly one of them is compiled."""
    pair = sorted((sys.executable, other_python()), key=lambda p: is_compiled(p, tmp_path))
    assert not is_compiled(pair[0], tmp_path), "neither build is pure Python"
    assert is_compiled(pair[1], tmp_path), "neither build is compiled"
    return pair[0], pair[1]


def replay(python: str, log: Path, out: Path, workdir: Path) -> tuple[bytes, int, bytes]:
    """Frames, exit status and stderr of ``replay LOG --target file:OUT`` under ``python``."""
    out.unlink(missing_ok=True)
    args = ["-c", "from audit_heka.cli import main; main()", "replay", str(log),
            "--target", f"file:{out}", "--hostname", "identity.test"]
    done = _run(python, args, workdir)
    return (out.read_bytes() if out.exists() else b""), done.returncode, done.stderr


def assert_identical(log: Path, tmp_path: Path) -> bytes:
    """Replay ``log`` through both builds; the frames must be equal byte for byte."""
    pure, compiled = builds(tmp_path)
    a = replay(pure, log, tmp_path / "pure.out", tmp_path)
    b = replay(compiled, log, tmp_path / "compiled.out", tmp_path)
    assert b"Traceback" not in a[2] + b[2], (a[2] + b[2]).decode(errors="replace")
    assert a[1:] == b[1:]
    assert a[0] == b[0], f"{log.name}: the builds' frames differ"
    return a[0]

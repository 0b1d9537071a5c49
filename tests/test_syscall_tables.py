"""The checked-in syscall tables must equal what the generator produces now."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from audit_state import require

from audit_heka.tables import syscalls

ROOT = Path(__file__).resolve().parent.parent


def test_tables_are_current() -> None:
    require(shutil.which("ausyscall") is not None, "ausyscall (auditd) is not installed")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_syscalls.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_well_known_numbers() -> None:
    assert syscalls.SYSCALLS["x86_64"][59] == "execve"
    assert syscalls.SYSCALLS["i386"][11] == "execve"
    assert syscalls.SYSCALLS["aarch64"][221] == "execve"
    assert syscalls.SYSCALL_NUMBERS["x86_64"]["openat"] == 257
    assert syscalls.ARCHES[0xC000003E] == "x86_64"
    assert syscalls.ARCH_VALUES["i386"] == 0x40000003
    assert syscalls.MACHINE_ALIASES["i686"] == "i386"


def test_every_arch_has_a_table() -> None:
    assert set(syscalls.ARCHES.values()) == set(syscalls.SYSCALLS)
    for name in ("x86_64", "i386", "aarch64"):
        assert len(syscalls.SYSCALLS[name]) > 250

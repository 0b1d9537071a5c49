"""The message type table is generated; this fails when it is stale."""

from __future__ import annotations

import subprocess
from pathlib import Path

from audit_state import require

from audit_heka.tables.msgtypes import MSG_TYPE_NUMBERS, MSG_TYPES

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _has_libaudit() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import audit"], check=False, capture_output=True
    )
    return probe.returncode == 0


def test_table_is_current() -> None:
    require(_has_libaudit(), "python3-audit (the libaudit SWIG module) is not installed")
    done = subprocess.run(
        [str(SYSTEM_PYTHON), str(ROOT / "scripts" / "gen_msgtypes.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_known_numbers() -> None:
    # Facts from the kernel UAPI header (reference/kernel-audit.md §1.1).
    assert MSG_TYPES[1300] == "SYSCALL"
    assert MSG_TYPES[1320] == "EOE"
    assert MSG_TYPES[1327] == "PROCTITLE"
    assert MSG_TYPES[1005] == "USER"
    assert MSG_TYPES[1121] == "TRUSTED_APP"
    assert MSG_TYPES[2000] == "KERNEL"
    assert MSG_TYPES[1400] == "AVC"
    assert MSG_TYPES[1329] == "REPLACE"


def test_inverse_is_consistent() -> None:
    assert len(MSG_TYPE_NUMBERS) == len(MSG_TYPES), "a name maps to two numbers"
    for number, name in MSG_TYPES.items():
        assert MSG_TYPE_NUMBERS[name] == number

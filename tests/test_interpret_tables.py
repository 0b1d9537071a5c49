"""The generated interpretation tables match what the installed libauparse says today.

The tables are probed from python3-audit's auparse (Debian's /usr/bin/python3 only), so the
check reruns the generator there in --check mode; without that module the test skips (or
fails under AUDIT_HEKA_REQUIRE_KERNEL=1, where the oracles are part of the contract).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from audit_state import require

from audit_heka.tables.errnos import EXIT_TEXTS
from audit_heka.tables.fieldtypes import FIELD_TYPES
from audit_heka.tables.valuenames import ARG_KINDS, CAPABILITIES, ENUMS, FLAGS, SIGNALS, UNKNOWN

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"


def test_tables_are_current() -> None:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import auparse"], capture_output=True,
                           check=False)
    require(probe.returncode == 0, "python3-audit (auparse) is not importable by /usr/bin/python3")
    done = subprocess.run(
        [SYSTEM_PYTHON, str(ROOT / "scripts" / "gen_interpret_tables.py"), "--check"],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert done.returncode == 0, f"stale tables, rerun the generator: {done.stderr}"


def test_tables_hold_the_well_known_facts() -> None:
    assert EXIT_TEXTS[2] == "ENOENT(No such file or directory)"
    assert EXIT_TEXTS[13] == "EACCES(Permission denied)"
    assert SIGNALS[9] == "SIGKILL"
    assert CAPABILITIES[21] == "sys_admin"
    assert FIELD_TYPES["uid"] == "UID" and FIELD_TYPES["name"] == "ESCAPED_FILE"
    assert (64, "O_CREAT") in FLAGS["open_flags"]
    assert ARG_KINDS["openat"][:3] == ("dirfd", None, "open_flags")
    assert UNKNOWN["ioctl_req"] == "0x{x}"
    assert all(kind in UNKNOWN for kind in ENUMS), "an enumeration without its unknown form"

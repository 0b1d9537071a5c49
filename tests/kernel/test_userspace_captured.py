"""User-space records (PAM, sshd, cron, sudo, systemd) captured afresh: both paths agree.

tests/test_hotpath.py holds the hot path to the general one on a checked-in
capture (userspace-*-2k); this one captures again (tests/userspace_capture.py:
runuser and su through PAM, libaudit's own calls for the rest), RAW and
ENRICHED with node= prefixes, so that what this kernel, libaudit and auditd
write today is compared too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import golden_frames
from audit_state import owned_kernel, require, require_tool
from userspace_capture import capture_userspace


def test_captured_user_space_records_both_ways(tmp_path: Path) -> None:
    require_tool("auditd")
    require(shutil.which("runuser") is not None, "runuser (util-linux) is not installed")
    probe = subprocess.run(["/usr/bin/python3", "-c", "import audit"], capture_output=True,
                           check=False)
    require(probe.returncode == 0, "python3-audit (libaudit's bindings) is not installed")
    with owned_kernel() as saved:
        require(saved.status.get("pid", 0) == 0, "another audit daemon is registered")
        logs = {"RAW": capture_userspace(tmp_path / "raw", 12, "RAW"),
                "ENRICHED": capture_userspace(tmp_path / "enriched", 12, "ENRICHED",
                                              with_node=True)}
    for log_format, log in logs.items():
        lines = log.read_bytes().decode("utf-8", "replace").split("\n")
        assert sum(" msg='op=PAM:" in line for line in lines) > 50, log_format
        for name, variant in golden_frames.VARIANTS.items():
            hot = golden_frames.run(lines, variant, fast=True)
            general = golden_frames.run(lines, variant, fast=False)
            assert hot == general, f"{log_format} {name}"

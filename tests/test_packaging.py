"""packaging/: the systemd unit passes `systemd-analyze verify` and keeps what the daemon needs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from audit_state import require_tool

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"
UNIT = PACKAGING / "audit-heka.service"


def settings(text: str) -> dict[str, list[str]]:
    """Key -> every value it is given (systemd allows repeats), comments ignored."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def verify(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` on ``text``, with ExecStart pointed at this checkout's CLI."""
    analyze = require_tool("systemd-analyze")
    cli = Path(sys.executable).parent / "audit-heka"
    assert cli.exists(), f"{cli}: install the package into the venv (pip install -e .)"
    unit = tmp_path / "audit-heka.service"
    unit.write_text(text.replace("/usr/bin/audit-heka", str(cli)))
    return subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )


def test_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    result = verify(tmp_path, UNIT.read_text())
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [("ProtectHome=yes", "ProtectHom=yes"), ("AF_INET6", "AF_BOGUS")],
)
def test_verify_would_catch_a_mistake(tmp_path: Path, old: str, new: str) -> None:
    result = verify(tmp_path, UNIT.read_text().replace(old, new))
    assert result.returncode != 0 or result.stderr.strip(), "a broken unit verified cleanly"


def test_unit_sandbox_still_lets_the_daemon_work() -> None:
    s = settings(UNIT.read_text())
    # NETLINK_AUDIT only in the initial user and pid namespaces; /proc for --enrich.
    for forbidden in ("PrivateUsers", "PrivatePIDs", "PrivateNetwork", "ProtectProc",
                      "SecureBits", "User", "DynamicUser"):
        assert forbidden not in s, forbidden
    families = set(s["RestrictAddressFamilies"][0].split())
    assert families == {"AF_NETLINK", "AF_UNIX", "AF_INET", "AF_INET6"}
    caps = set(s["CapabilityBoundingSet"][0].split())
    assert {"CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_SETUID", "CAP_SETGID",
            "CAP_SETPCAP", "CAP_CHOWN"} <= caps
    assert "CAP_SYS_ADMIN" not in caps and "CAP_SYS_PTRACE" not in caps
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "RuntimeDirectory": "audit-heka",
        "RuntimeDirectoryMode": "0700", "StateDirectoryMode": "0700", "UMask": "0077",
        "Conflicts": "auditd.service",
    }.items():
        assert s[key] == [value], key
    # the status file's default directory is the RuntimeDirectory
    from audit_heka.supervisor import DEFAULT_STATUS_FILE  # noqa: PLC0415

    assert DEFAULT_STATUS_FILE.parent == Path("/run") / s["RuntimeDirectory"][0]
    assert re.fullmatch(
        r"/usr/bin/audit-heka run --config /etc/audit-heka/audit-heka\.toml", s["ExecStart"][0]
    )
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]

"""packaging/: the systemd unit passes `systemd-analyze verify` and keeps what the daemon needs;
scripts/install.sh installs what the unit names, where the README says."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from audit_state import require_tool

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
UNIT = PACKAGING / "audit-heka.service"
INSTALLED_CLI = "/usr/local/bin/audit-heka"


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
    unit.write_text(text.replace(INSTALLED_CLI, str(cli)))
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
        r"/usr/local/bin/audit-heka run --config /etc/audit-heka/audit-heka\.toml",
        s["ExecStart"][0],
    )
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


@pytest.mark.slow
def test_install_script_puts_everything_where_the_unit_and_readme_say(tmp_path: Path) -> None:
    """scripts/install.sh into a temp root, then `systemd-analyze verify --root` on the unit
    as installed there (its ExecStart must exist and be executable in that root)."""
    analyze = require_tool("systemd-analyze")
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    root = tmp_path / "root"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "install.sh"), "--root", str(root),
                           "--python", python], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    cli = root / INSTALLED_CLI.lstrip("/")
    assert cli.is_symlink() and str(cli.readlink()) == "../../../opt/audit-heka/bin/audit-heka"
    assert cli.resolve() == root / "opt" / "audit-heka" / "bin" / "audit-heka"
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("audit-heka, version ")
    unit = root / "etc" / "systemd" / "system" / "audit-heka.service"
    assert unit.read_text() == UNIT.read_text()
    assert settings(unit.read_text())["ExecStart"][0].split()[0] == INSTALLED_CLI
    config = root / "etc" / "audit-heka" / "audit-heka.toml"
    assert config.read_text() == (PACKAGING / "audit-heka.toml").read_text()
    assert config.stat().st_mode & 0o777 == 0o600  # it may come to hold an HMAC key
    # The temp root lacks the system's own units and /bin/kill (ExecReload): lend them.
    shutil.copytree("/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system",
                    symlinks=True)
    (root / "bin").mkdir()
    shutil.copy2("/bin/kill", root / "bin" / "kill")
    verified = subprocess.run([analyze, "verify", f"--root={root}", "audit-heka.service"],
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr
    # ... and it would notice a unit naming a command the install did not create.
    cli.unlink()
    broken = subprocess.run([analyze, "verify", f"--root={root}", "audit-heka.service"],
                            capture_output=True, text=True, timeout=60)
    assert broken.returncode != 0 and "/usr/local/bin/audit-heka" in broken.stderr
    # Run again (an upgrade): the configuration an operator edited is kept.
    config.write_text('type = "edited"\n')
    again = subprocess.run(["bash", str(ROOT / "scripts" / "install.sh"), "--root", str(root),
                            "--python", python], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert config.read_text() == 'type = "edited"\n' and cli.is_symlink()


def test_readme_documents_what_the_install_creates() -> None:
    readme = (ROOT / "README.md").read_text()
    script = (ROOT / "scripts" / "install.sh").read_text()
    link = "../../../opt/audit-heka/bin/audit-heka"
    assert f"`{INSTALLED_CLI}` -> `{link}`" in readme and f"ln -sfn {link}" in script
    s = settings(UNIT.read_text())
    for directory in ("/opt/audit-heka/", "/etc/systemd/system/audit-heka.service",
                      "/etc/audit-heka/audit-heka.toml",
                      f"/var/lib/{s['StateDirectory'][0]}", f"/run/{s['RuntimeDirectory'][0]}",
                      f"/var/log/{s['LogsDirectory'][0]}"):
        assert directory in readme, directory

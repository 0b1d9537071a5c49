"""Status over netlink against the live kernel, with ``auditctl -s`` as the oracle.

failure=2 (panic) is never set: with it, any lost record panics the machine.
enabled=2 (lock) is never set: only a reboot undoes it (see the mocked test in
tests/test_rules.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit_heka.cli import main
from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.status import format_status

pytestmark = pytest.mark.kernel


def auditctl_status() -> dict[str, int]:
    out = subprocess.run(["auditctl", "-s"], check=True, capture_output=True, text=True).stdout
    return {p[0]: int(p[1]) for p in (ln.split() for ln in out.splitlines()) if len(p) >= 2
            and p[1].lstrip("-").isdigit()}


SETTINGS = [
    ("enabled", 1), ("enabled", 0), ("failure", 0), ("failure", 1),
    ("rate_limit", 500), ("rate_limit", 0), ("backlog_limit", 8192), ("backlog_limit", 321),
    ("backlog_wait_time", 1000), ("backlog_wait_time", 15000),
]


def test_set_and_read_back_every_settable_field(audit_kernel: object) -> None:
    with AuditControl() as ctl:
        for name, value in SETTINGS:
            ctl.set_status(**{name: value})
            assert getattr(ctl.get_status(), name) == value, name
            assert auditctl_status()[name] == value, name


def test_status_equals_auditctl(audit_kernel: object) -> None:
    with AuditControl() as ctl:
        ctl.set_status(backlog_limit=777)
        st = ctl.get_status()
        ours = dict(format_status(st))
    theirs = auditctl_status()
    for name, value in ours.items():
        assert theirs[name] == int(value), name
    assert set(ours) == {k for k in theirs if k != "loginuid_immutable"}
    assert st.feature_bitmap is not None and st.feature_bitmap & 0x04  # EXECUTABLE_PATH


def test_status_cli_prints_auditctl_lines(audit_kernel: object, tmp_path: Path) -> None:
    out = subprocess.run(["auditctl", "-s"], check=True, capture_output=True, text=True).stdout
    none = tmp_path / "status.json"
    result = CliRunner().invoke(main, ["status", "--status-file", str(none)])
    assert result.exit_code == 3, result.output  # systemctl's "not running"
    assert result.output == out + f"daemon: not running (no status file in {none})\n"
    as_json = CliRunner().invoke(main, ["status", "--json", "--status-file", str(none)])
    assert '"lost": ' in as_json.output and '"backlog_wait_time_actual": ' in as_json.output


def test_reset_lost_returns_the_old_value(audit_kernel: object) -> None:
    with AuditControl() as ctl:
        ctl.reset_lost()
        assert ctl.get_status().lost == 0
        assert ctl.reset_lost() == 0
        assert ctl.reset_backlog_wait_time_actual() >= 0
        feats = ctl.get_features()
        assert feats.vers == 1


def test_kernel_rejects_out_of_range_wait_time(audit_kernel: object) -> None:
    with AuditControl() as ctl, pytest.raises(AuditError, match="invalid") as info:
        ctl.set_status(backlog_wait_time=10**9)
    assert info.value.errno == 22

"""The supervisor's pure parts: option groups, run.json, systemd notify, status merge."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit_heka.cli import run as run_module
from audit_heka.cli.run import run
from audit_heka.core.counters import COUNTERS
from audit_heka.supervisor import (
    JournalOptions,
    ProcessOptions,
    RunConfig,
    ShipOptions,
    merge_status,
    options_to_config,
    process_alive,
    sd_notify,
    watchdog_interval,
)


def test_options_are_grouped_and_none_is_lost() -> None:
    config = options_to_config({"targets": ("a:1",), "journal_full": "drop-oldest",
                                "backlog_limit": 5, "user": "x"})
    assert config.ship.targets == ("a:1",)
    assert config.journal.journal_full == "drop-oldest"
    assert config.kernel.backlog_limit == 5
    assert config.process.user == "x"
    with pytest.raises(KeyError, match="no group: spool"):
        options_to_config({"spool": "/x"})


def test_every_run_option_has_a_group(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[RunConfig] = []
    monkeypatch.setattr(run_module, "start", seen.append)
    monkeypatch.setattr(run_module, "DEFAULT_CONFIG_FILE", Path("/nonexistent.toml"))
    result = CliRunner().invoke(run, ["--journal-max-bytes", "100", "--journal-file-bytes", "50",
                                      "--hmac-key", "s:1=k", "--node", "n1"])
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert config.ship.hmac_key == "s:1=k" and config.journal.node == "n1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--journal-max-bytes", "100", "--journal-file-bytes", "60"], "at least twice"),
        (["--node", "two words"], "node name"),
        (["--hmac-key", "a:1=x", "--hmac-key", "b:1=y"], "one signing key"),
        (["--flush", "sometimes"], "'sometimes' is not one of"),
    ],
)
def test_bad_combinations_are_clear(
    monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setattr(run_module, "start", lambda config: None)
    monkeypatch.setattr(run_module, "DEFAULT_CONFIG_FILE", Path("/nonexistent.toml"))
    result = CliRunner().invoke(run, args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_run_json_has_the_interface_keys(tmp_path: Path) -> None:
    config = RunConfig(
        journal=JournalOptions(journal_max_bytes=1000, journal_file_bytes=100, node="n"),
        ship=ShipOptions(targets=("127.0.0.1:5565", "log:/x"), hmac_key="s:1=k"),
        process=ProcessOptions(state_dir=tmp_path, status_file=tmp_path / "run" / "s.json"),
    )
    doc = config.run_json()
    for key in ("journal_dir", "state_dir", "node", "journal_max_bytes", "journal_file_bytes",
                "journal_full", "flush", "freq", "multicast", "rcvbuf", "targets",
                "drain_seconds", "log_level", "status_dir", "hmac_keys", "message_type"):
        assert key in doc, key
    assert doc["journal_dir"] == str(tmp_path / "journal")
    assert doc["status_dir"] == str(tmp_path / "run" / "s.d")  # one per status file
    assert doc["targets"] == ["127.0.0.1:5565", "log:/x"]
    assert doc["hmac_keys"] == ["s:1=k"]


def test_sd_notify_sends_a_datagram(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        assert sd_notify("READY=1", {"NOTIFY_SOCKET": str(path)})
        assert sock.recv(100) == b"READY=1"
    assert not sd_notify("READY=1", {})
    assert not sd_notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone")})


def test_sd_notify_abstract_socket() -> None:
    name = f"audit-heka-test-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert sd_notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"STOPPING=1"


def test_watchdog_interval() -> None:
    assert watchdog_interval({}) == 0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) == 0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "2"}, pid=2) == 15.0


def test_merge_status_reader_wins_for_its_counters() -> None:
    merged = merge_status({"counters": {"kernel_lost": 3, "netlink_records": 10}},
                          {"counters": {"kernel_lost": 0, "serial_gaps": 1}})
    zero = dict.fromkeys(COUNTERS, 0)
    assert merged == {**zero, "kernel_lost": 3, "netlink_records": 10, "serial_gaps": 1}
    # Before the children report, every registered counter is there at 0.
    assert merge_status(None, None) == zero


def test_process_alive() -> None:
    assert process_alive(os.getpid())
    assert not process_alive(2**22 + 12345)

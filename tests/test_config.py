"""The configuration file: names, types, line-numbered errors, CLI precedence, the example."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from audit_heka.cli import run as run_module
from audit_heka.cli.run import run
from audit_heka.config import ConfigError, option_names, parse_config, read_config
from audit_heka.supervisor import RunConfig

EXAMPLE = Path(__file__).resolve().parent.parent / "packaging" / "audit-heka.toml"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, run)
    return [str(p) for p in info.value.problems]


def test_names_with_dashes_underscores_and_parameter_names() -> None:
    values = parse_config(
        'target = ["127.0.0.1:5565", "udp://h:1"]\n'
        "journal-max-bytes = 4096\n"
        "log_num_logs = 3\n"
        'type = "audit"\n'
        "payload = false\n"
        "health-interval = 2\n",
        run,
    )
    assert values == {
        "targets": ["127.0.0.1:5565", "udp://h:1"],
        "journal_max_bytes": 4096,
        "log_num_logs": 3,
        "message_type": "audit",
        "payload": False,
        "health_interval": 2,
    }
    assert parse_config('targets = "file:/x"\n', run) == {"targets": ["file:/x"]}


def test_every_error_with_its_line() -> None:
    got = problems(
        "# comment\n"
        'target = [\n  "127.0.0.1:1",\n  "ftp://x",\n]\n'
        "tagret = 1\n"
        "backlog-limit = -5\n"
        'journal-full = "sometimes"\n'
        "multicast = 1\n"
        "max-message-size = 100\n"
        "health-interval = true\n"
        'hostname = ["a"]\n'
        "[section]\nx = 1\n"
    )
    assert got[0].startswith("audit-heka.toml:2: target: ") and "accepted:" in got[0]
    assert got[1] == "audit-heka.toml:6: unknown option 'tagret' (did you mean 'target'?)"
    assert got[2].startswith("audit-heka.toml:7: backlog-limit: -5 is not in the range")
    assert got[3].startswith("audit-heka.toml:8: journal-full: 'sometimes' is not one of")
    assert got[4] == "audit-heka.toml:9: multicast: expected a boolean (true/false), got int (1)"
    assert got[5] == "audit-heka.toml:10: max-message-size: must be at least 1025 (as in hekad)"
    assert got[6].startswith("audit-heka.toml:11: health-interval: expected a number, got bool")
    assert got[7] == "audit-heka.toml:12: hostname: expected a string, got a list"
    assert got[8].startswith("audit-heka.toml:13: unknown section [section]")
    assert len(got) == 9


def test_same_option_twice_and_toml_syntax() -> None:
    assert problems("journal-max-bytes = 5000\njournal_max_bytes = 6000\n") == [
        "audit-heka.toml:2: 'journal_max_bytes' is the same option as 'journal-max-bytes'"
    ]
    (syntax,) = problems('target = "a"\nuser = \n')
    assert re.match(r"audit-heka\.toml:2: not valid TOML: ", syntax), syntax
    assert "config" not in {n for p in run.params for n in option_names(p) if p.name != "config"}
    assert problems("config = 'x'\n") == ["audit-heka.toml:1: unknown option 'config'"]


def test_read_config_missing_default_is_empty_explicit_is_error(tmp_path: Path) -> None:
    assert read_config(tmp_path / "none.toml", run, explicit=False) == {}
    with pytest.raises(ConfigError, match=r"none\.toml: no such file"):
        read_config(tmp_path / "none.toml", run, explicit=True)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"user = '\xff'\n")
    with pytest.raises(ConfigError, match="cannot read: not UTF-8"):
        read_config(bad, run, explicit=True)


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[RunConfig]:
    """Run `run` up to the daemon's start, keeping the RunConfig it built."""
    seen: list[RunConfig] = []
    monkeypatch.setattr(run_module, "start", seen.append)
    monkeypatch.setattr(run_module, "configure_logging", LOG_LEVELS.append)
    return seen


LOG_LEVELS: list[str] = []


def test_cli_wins_over_the_file(tmp_path: Path, captured: list[RunConfig]) -> None:
    conf = tmp_path / "a.toml"
    conf.write_text(
        'target = ["udp://127.0.0.1:9"]\ntype = "from_file"\nbacklog-limit = 100\n'
        "payload = false\n"
    )
    result = CliRunner().invoke(
        run, ["--config", str(conf), "--type", "from_cli", "--payload"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    (config,) = captured
    assert config.ship.message_type == "from_cli"
    assert config.ship.payload is True
    assert config.kernel.backlog_limit == 100
    assert list(config.ship.targets) == ["udp://127.0.0.1:9"]
    captured.clear()
    result = CliRunner().invoke(run, ["--config", str(conf), "--target", "file:/x"])
    assert list(captured[0].ship.targets) == ["file:/x"]


def test_cli_reports_every_problem_and_exits_non_zero(
    tmp_path: Path, captured: list[RunConfig]
) -> None:
    conf = tmp_path / "audit-heka.toml"
    conf.write_text('target = "127.0.0.1:1"\n\ntagret = "x"\njournal-full = 3\n')
    result = CliRunner().invoke(run, ["--config", str(conf)])
    assert result.exit_code == 1 and not captured
    assert f"{conf}:3: unknown option 'tagret'" in result.output
    assert f"{conf}:4: journal-full: expected a string, got int (3)" in result.output
    missing = CliRunner().invoke(run, ["--config", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_missing_default_file_is_fine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: list[RunConfig]
) -> None:
    monkeypatch.setattr(run_module, "DEFAULT_CONFIG_FILE", tmp_path / "absent.toml")
    assert CliRunner().invoke(run, []).exit_code == 0 and len(captured) == 1
    present = tmp_path / "present.toml"
    present.write_text('type = "default_file"\n')
    monkeypatch.setattr(run_module, "DEFAULT_CONFIG_FILE", present)
    assert CliRunner().invoke(run, []).exit_code == 0
    assert captured[-1].ship.message_type == "default_file"


def uncommented_example(tmp_path: Path) -> str:
    """The shipped example with every option line enabled (files it names made real)."""
    lines = []
    for line in EXAMPLE.read_text().splitlines():
        enabled = re.match(r"#[a-z][a-z0-9_-]* = ", line) is not None
        lines.append(line[1:] if enabled else line)
    text = "\n".join(lines) + "\n"
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("")
        text = text.replace(f"/etc/audit-heka/{name}", str(tmp_path / name))
    (tmp_path / "hmac.key").write_text("audit:0=secret\n")
    (tmp_path / "hmac.key").chmod(0o600)
    text = text.replace("/etc/audit-heka/hmac.key", str(tmp_path / "hmac.key"))
    (tmp_path / "rules.d").mkdir()
    return text.replace("/etc/audit/rules.d", str(tmp_path / "rules.d"))


def test_the_example_names_every_option_and_is_valid(tmp_path: Path) -> None:
    values = parse_config(uncommented_example(tmp_path), run)
    options = {
        p.name for p in run.params if isinstance(p, click.Option) and p.name != "config"
    }
    assert set(values) == options, f"not in packaging/audit-heka.toml: {options - set(values)}"


# --- issue 14: options operators reach for ------------------------------------------


def test_every_run_option_has_help_but_the_spool_ones() -> None:
    # The --spool* options are being replaced by --journal* (issue 12).
    missing = [p.opts[0] for p in run.params if isinstance(p, click.Option)
               and not p.help and not p.opts[0].startswith("--spool")]
    assert missing == []


def test_hmac_key_file_for_run_and_a_warning_when_others_can_read_a_key(
    tmp_path: Path, captured: list[RunConfig],
) -> None:
    key = tmp_path / "hmac.key"
    key.write_text("audit:2=s3cret\n")
    key.chmod(0o600)
    result = CliRunner().invoke(run, ["--hmac-key-file", str(key), "--hmac-hash", "sha1"])
    assert result.exit_code == 0, result.output
    ship = captured[-1].ship
    assert (ship.hmac_key, ship.hmac_hash) == ("audit:2=s3cret", "sha1")
    assert "warning" not in result.output
    key.chmod(0o640)
    result = CliRunner().invoke(run, ["--hmac-key-file", str(key)])
    assert result.exit_code == 0
    assert f"warning: {key} holds HMAC keys and is readable by group or others (mode 0640)" \
        in result.output
    both = CliRunner().invoke(run, ["--hmac-key-file", str(key), "--hmac-key", "a:1=b"])
    assert both.exit_code == 2 and "give one signing key" in both.output
    conf = tmp_path / "audit-heka.toml"
    conf.write_text(f'hmac-key-file = ["{key}"]\n')
    result = CliRunner().invoke(run, ["--config", str(conf)])
    assert result.exit_code == 0 and result.output.count("warning") == 1  # once, not per pass
    conf.write_text('hmac-key = ["audit:1=in-the-toml"]\n')
    conf.chmod(0o644)
    result = CliRunner().invoke(run, ["--config", str(conf)])
    assert result.exit_code == 0
    assert f"warning: {conf} holds an HMAC key and is readable by group or others" \
        in result.output


def test_file_target_with_a_missing_directory_fails_at_start(captured: list[RunConfig]) -> None:
    result = CliRunner().invoke(run, ["--target", "file:/nonexistent/dir/x"])
    assert result.exit_code == 2 and not captured
    assert "file:/nonexistent/dir/x: directory /nonexistent/dir does not exist" in result.output


def test_status_file_by_mode_and_log_level(captured: list[RunConfig]) -> None:
    assert CliRunner().invoke(run, ["--log-level", "warning"]).exit_code == 0
    assert captured[-1].process.status_file == Path("/run/audit-heka/status-unicast.json")
    assert LOG_LEVELS[-1] == "warning"
    assert CliRunner().invoke(run, ["--multicast", "-v"]).exit_code == 0
    assert captured[-1].process.status_file == Path("/run/audit-heka/status-multicast.json")
    assert LOG_LEVELS[-1] == "debug"

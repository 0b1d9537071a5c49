"""replay's click-free command line agrees with its click command, option by option.

Why: ``audit-heka replay`` parses its own command line (click costs more
start-up than the 3x-a-bare-interpreter budget); both parsers are made from
one table (``replay.OPTIONS``), but the grammar around it (``--x=v``,
``--``, repeats, flags, conversions, checks) is written twice. Whatever the
fast parser accepts must give click's values; whatever it does not must be a
line click refuses too (or ``--help``), since it hands those to click.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_heka.cli import replay as replay_module
from audit_heka.cli.click_build import click_command
from audit_heka.cli.group import main as click_main
from audit_heka.cli.options import checked, parse

ROOT = Path(__file__).resolve().parent.parent
SEEDS = Path(__file__).parent / "data" / "fuzz" / "records"


def ten_lines() -> bytes:
    """The log bench/startup.py replays: ten records of real shapes."""
    seeds = sorted(SEEDS.glob("seed-raw-*"))[:10]
    return b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in seeds)


def click_values(args: list[str]) -> tuple[dict[str, Any] | None, str]:
    """What click makes of ``replay ARGS``: its values (None if it refuses) and its stderr."""
    command = click_command(replay_module.COMMAND)
    parent = click.Context(click_main, info_name="audit-heka")
    try:
        ctx = command.make_context("replay", list(args), parent=parent)
    except (click.UsageError, click.exceptions.Exit):
        return None, ""
    return dict(ctx.params), ""


def fast_values(args: list[str]) -> tuple[dict[str, Any] | None, list[str]]:
    warnings: list[str] = []
    values = parse(replay_module.OPTIONS, args)
    if values is not None:
        values = checked(replay_module.OPTIONS, values, warnings.append)
    return values, warnings


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("opts")
    private = d / "key600"
    private.write_text("a:1=secret\n")
    private.chmod(0o600)
    shared = d / "key644"
    shared.write_text("# comment\nb:2=other\n")
    shared.chmod(0o644)
    bad = d / "badkey"
    bad.write_text("not a key\n")
    bad.chmod(0o600)
    return {"private": str(private), "shared": str(shared), "bad": str(bad), "dir": str(d)}


def tokens(files: dict[str, str]) -> list[str]:
    return [
        "audit.log", "other.log", "-", "--", "--target", "file:out", "tcp://h:1", "--target=-",
        "--follow", "--follow=1", "--resume", "audit.log:3", "--type", "", "--type=t",
        "--payload", "--no-payload", "--hostname", "h", "--passwd", "/etc/passwd", "--group",
        "--hmac-key", "a:1=k", "bad", "--hmac-key-file", files["private"], files["shared"],
        files["bad"], "/nonexistent", "--hmac-hash", "sha1", "md5", "SHA1", "--ca",
        "--cert", "--key", files["dir"], "--max-message-size", "2000", "100", "abc", " 3000 ",
        "1_000_000", "--max-message-size=70000", "--progress", "--no-progress", "-x", "--tar",
        "--help", "-h", "--hmac-key=", "--ca=" + files["private"],
    ]


CASES = [
    ["audit.log"],
    ["audit.log", "--target", "file:out", "--no-payload", "--type", "t", "--hostname", "h"],
    ["--target=file:out", "audit.log", "other.log", "--payload", "--no-payload", "--payload"],
    ["--target", "file:out", "--", "--weird", "-"],
    ["audit.log", "--max-message-size", " 2000 ", "--hmac-hash", "sha1", "--hmac-key", "a:1=k"],
    ["audit.log", "--progress", "--no-progress", "--follow", "--resume", "audit.log:2"],
    ["audit.log", "--type", "--follow"],  # a value that looks like an option is a value
    ["audit.log", "--target"],
    ["audit.log", "--follow=yes"],
    ["--max-message-size", "100", "audit.log"],
    ["--hmac-hash", "SHA1", "audit.log"],
    ["audit.log", "--help"],
    ["--target", "-"],
    ["audit.log", "--tar", "file:x"],
]


@pytest.mark.parametrize("args", CASES)
def test_known_lines_agree_with_click(args: list[str], files: dict[str, str]) -> None:
    assert fast_values(args)[0] == click_values(args)[0]


def test_plain_lines_take_the_fast_road(files: dict[str, str]) -> None:
    """The lines people type are parsed without click (else the start-up gain is lost)."""
    for args in CASES[:7]:
        assert fast_values(args)[0] is not None, args
    values, warnings = fast_values(["a", "--hmac-key-file", files["shared"]])
    assert values is not None and values["hmac_key_files"][0].name == "b"
    assert warnings == [f"audit-heka: warning: {files['shared']} holds HMAC keys and is "
                        "readable by group or others (mode 0644): chmod 600 "
                        f"{files['shared']}"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_line_agrees_with_click(data: st.DataObject, files: dict[str, str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    args = data.draw(st.lists(st.sampled_from(tokens(files)), max_size=8))
    fast, fast_warnings = fast_values(args)
    capsys.readouterr()
    slow, _ = click_values(args)
    click_stderr = capsys.readouterr().err
    assert fast == slow, args
    if fast is not None:
        assert "".join(w + "\n" for w in fast_warnings) == click_stderr


# --- the console script, end to end: the fast road and click print the same ----------

RUNNER = (
    "import atexit, json, os, sys\n"
    "atexit.register(lambda: open(os.environ['MODULES_OUT'], 'w')"
    ".write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv[0] = 'audit-heka'\n"
    "from audit_heka import cli\n"
    "cli.entry() if os.environ['ROAD'] == 'fast' else cli.main()\n"
)


def run_cli(road: str, args: list[str], cwd: Path) -> tuple[int, str, str, bytes, list[str]]:
    out = cwd / "out"
    out.unlink(missing_ok=True)
    modules = cwd / "modules.json"
    env = {**os.environ, "ROAD": road, "MODULES_OUT": str(modules), "COLUMNS": "100"}
    proc = subprocess.run([sys.executable, "-c", RUNNER, "replay", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    frames = out.read_bytes() if out.exists() else b""
    return (proc.returncode, proc.stdout, proc.stderr, frames,
            json.loads(modules.read_text()))


END_TO_END = [
    (["audit.log", "--target", "file:out"], 0),
    (["audit.log", "--target=file:out", "--no-payload", "--type", "x", "--hostname", "h"], 0),
    (["audit.log", "--target", "file:out", "--hmac-key-file", "key644", "--hmac-hash", "sha1"],
     0),
    (["audit.log", "--target", "file:out", "--resume", "audit.log:3"], 0),
    (["audit.log", "--target", "-", "--hmac-key", "a:1=k"], 0),
    (["audit.log", "--target", "file:out", "--max-message-size", "100"], 2),
    (["audit.log", "--target", "file:out", "--hmac-key", "a:1=k", "--hmac-key-file", "key644"],
     2),
    (["-", "--follow"], 2),
    (["audit.log", "--resume", "elsewhere:1"], 2),
    (["audit.log", "--target", "bogus://x"], 2),
    (["audit.log", "--target", "file:/nonexistent/dir/out"], 1),
    (["missing.log", "--target", "file:out"], 1),
    (["audit.log", "--bogus"], 2),
    (["--help"], 0),
    ([], 2),
]


@pytest.mark.parametrize(("args", "status"), END_TO_END)
def test_the_console_script_prints_what_click_prints(
    args: list[str], status: int, tmp_path: Path
) -> None:
    (tmp_path / "audit.log").write_bytes(ten_lines())
    key = tmp_path / "key644"
    key.write_text("a:1=secret\n")
    key.chmod(0o644)
    fast = run_cli("fast", args, tmp_path)
    slow = run_cli("click", args, tmp_path)
    assert fast[:4] == slow[:4]
    assert fast[0] == status, fast[2]
    if status == 0 and "--help" not in args:
        assert "click" not in fast[4]  # the fast road really was taken
        assert fast[3] or fast[1]  # and it shipped something

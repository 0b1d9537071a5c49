"""Start-up: a command imports only what it uses.

Why: ``replay`` of a short log was ~180 ms, nearly all imports -- ``ssl`` for
TLS targets, the protobuf runtime that only decoding needs, pyroute2 for the
kernel commands, click (more than 3x a bare interpreter start by itself).
Each check runs in a fresh interpreter, so it sees exactly what the command
pulls in (the test process itself has imported everything).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from audit_heka.heka import framing, message_pb2

ROOT = Path(__file__).resolve().parent.parent

#: What no command but the one that needs it may import: TLS, the protobuf
#: runtime (decoding only), the kernel's netlink side.
HEAVY = ("ssl", "google.protobuf", "pyroute2", "audit_heka.netlink")

SYSCALL = (
    "type=SYSCALL msg=audit(1700000000.042:777): arch=c000003e syscall=59 success=yes "
    "exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=4321 auid=1000 uid=0 gid=0 euid=0 "
    'suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="true" exe="/usr/bin/true" '
    'subj=unconfined key="exec"'
)
CWD = 'type=CWD msg=audit(1700000000.042:777): cwd="/root"'
PATH = (
    'type=PATH msg=audit(1700000000.042:777): item=0 name="/usr/bin/true" inode=12 '
    "dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 "
    "cap_fe=0 cap_fver=0 cap_frootid=0"
)
PROCTITLE = "type=PROCTITLE msg=audit(1700000000.042:777): proctitle=2F7573722F62696E2F74727565"
EOE = "type=EOE msg=audit(1700000000.042:777): "


def _modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return list(json.loads(out.stdout.splitlines()[-1]))


def _heavy(modules: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return [m for m in modules
            if any(m == h or m.startswith(h + ".") for h in HEAVY if h not in allowed)]


#: What the console script's ``replay`` to a file must not import: click, and
#: what only other targets, other commands or nothing at all need (measured
#: costs on the reference machine: click 24 ms, pathlib 3-8 ms with
#: urllib.parse and ipaddress, json+logging 5 ms, socket 2 ms), and what the
#: per-event modules need only for the type checker or for signing: typing
#: 4.5 ms, dataclasses 10 ms (inspect, ast, dis, tokenize), hashlib and hmac
#: 4-5 ms (OpenSSL's start), signal's enums 1 ms; degrade (0.4 ms) only for a
#: message too large (bench/RESULTS.md).
NOT_FOR_A_FILE = (*HEAVY, "click", "pathlib", "ipaddress", "urllib", "socket", "selectors",
                  "json", "logging", "uuid", "platform", "shutil", "tempfile", "subprocess",
                  "shlex", "threading", "datetime", "argparse", "audit_heka.cli.group",
                  "audit_heka.cli.click_build", "audit_heka.outputs.tcp",
                  "audit_heka.outputs.stdout", "typing", "dataclasses", "inspect", "hashlib",
                  "_hashlib", "hmac", "signal", "base64", "mypy_extensions",
                  "audit_heka.core.protocols", "audit_heka.core.degrade")
#: What signing adds to that, and all it adds.
FOR_SIGNING = ("hmac", "hashlib", "_hashlib")


def _console_script(args: list[str], tmp_path: Path) -> list[str]:
    """The modules ``audit-heka ARGS`` (the console script's function) imports.

    Without site (``-S``): an editable install's import finder loads pathlib
    before any command runs, which would hide a command importing it. The
    source tree is on the path instead, and none of the third-party packages
    (click, protobuf, pyroute2): a replay that reached for one fails here.
    """
    out = tmp_path / "modules.json"
    module, _, name = ENTRY_POINT.partition(":")
    probe = (
        "import atexit, importlib, json, sys\n"
        "before = set(sys.modules)\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w')"
        ".write(json.dumps(sorted(set(sys.modules) - before))))\n"
        f"sys.argv = ['audit-heka', *{args!r}]\n"
        f"importlib.import_module({module!r}).{name}()\n"
    )
    proc = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(out.read_text()))


#: The console script ``audit-heka`` (pyproject.toml), which must not be the click group.
ENTRY_POINT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"][
    "audit-heka"]


def test_the_console_script_is_the_click_free_entry() -> None:
    assert ENTRY_POINT == "audit_heka.cli:entry"


def test_importing_the_cli_is_light() -> None:
    modules = _modules_after("import audit_heka.cli")
    assert _heavy(modules) == []
    assert "click" not in modules


def test_console_script_replay_to_a_file_imports_no_click(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("\n".join([SYSCALL, CWD, PATH, PROCTITLE, EOE]) + "\n")
    modules = _console_script(["replay", str(log), "--target", f"file:{tmp_path / 'out'}",
                               "--no-payload"], tmp_path)
    assert "audit_heka.cli.replay" in modules and "audit_heka.core.schema" in modules
    assert (tmp_path / "out").stat().st_size > 0
    found = [m for m in modules
             if any(m == n or m.startswith(n + ".") for n in NOT_FOR_A_FILE)]
    assert found == []


def test_console_script_replay_signs_with_hmac_and_nothing_more(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("\n".join([SYSCALL, CWD, PATH, PROCTITLE, EOE]) + "\n")
    out = tmp_path / "out"
    modules = _console_script(["replay", str(log), "--target", f"file:{out}",
                               "--hmac-key", "ops:1=secret"], tmp_path)
    assert "hmac" in modules
    found = [m for m in modules if m not in FOR_SIGNING
             and any(m == n or m.startswith(n + ".") for n in NOT_FOR_A_FILE)]
    assert found == []
    (unframed,) = framing.Unframer(signers={"ops_1": framing.Signer("ops", 1, b"secret")}).feed(
        out.read_bytes())
    assert unframed.verified is True


def test_console_script_still_has_every_command(tmp_path: Path) -> None:
    """Everything but a plain replay goes to click: the group's help lists replay."""
    proc = subprocess.run([sys.executable, "-m", "audit_heka", "--help"], capture_output=True,
                          text=True)
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines()
              if line.strip()]
    assert listed == ["decode", "demo", "listen", "replay", "rules", "run", "status"]
    proc = subprocess.run([sys.executable, "-m", "audit_heka", "replay", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "--max-message-size" in proc.stdout
    assert "--hmac-key-file FILE" in proc.stdout and "FILES..." in proc.stdout


@pytest.mark.parametrize("target", ["file", "-"])
def test_replay_imports_no_tls_no_protobuf_no_netlink(tmp_path: Path, target: str) -> None:
    log = tmp_path / "audit.log"
    log.write_text("\n".join([SYSCALL, CWD, PATH, PROCTITLE, EOE]) + "\n")
    target_text = f"file:{tmp_path / 'out'}" if target == "file" else "-"
    modules = _modules_after(
        "import contextlib, io\n"
        "from audit_heka.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['replay', {str(log)!r}, '--target', {target_text!r}],"
        " standalone_mode=False)\n"
    )
    assert "audit_heka.cli.replay" in modules  # the probe really ran the command
    assert "audit_heka.core.schema" in modules
    # JSON lines decode the frames they print: only they may load protobuf.
    assert _heavy(modules, allowed=("google.protobuf",) if target == "-" else ()) == []
    if target == "file":
        assert (tmp_path / "out").stat().st_size > 0


def test_tls_and_decoding_still_import_what_they_need() -> None:
    modules = _modules_after(
        "from audit_heka.outputs.target import parse_target\n"
        "from audit_heka.outputs.transport import TransportOptions, open_transport\n"
        "open_transport(parse_target('tls://127.0.0.1:1'), TransportOptions())\n"
    )
    assert "ssl" in modules


def test_hmac_hash_numbers_are_the_protos() -> None:
    assert framing.HMAC_MD5 == message_pb2.Header.MD5
    assert framing.HMAC_SHA1 == message_pb2.Header.SHA1

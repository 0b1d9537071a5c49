"""Start-up: a command imports only what it uses.

Why: ``replay`` of a short log was ~180 ms, nearly all imports -- ``ssl`` for
TLS targets, the protobuf runtime that only decoding needs, pyroute2 for the
kernel commands. Each check runs in a fresh interpreter, so it sees exactly
what the command pulls in (the test process itself has imported everything).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit_heka.heka import framing, message_pb2

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


def test_importing_the_cli_is_light() -> None:
    assert _heavy(_modules_after("import audit_heka.cli")) == []


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
    assert "audit_heka.schema" in modules
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

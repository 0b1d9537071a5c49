"""User and group names follow /etc/passwd and /etc/group while ``run`` runs (issue 14, item 3).

The daemon runs in a private mount namespace where /etc/passwd and
/etc/group are bind mounts of files this test edits, so the machine's
accounts are never touched. A process running as a fresh uid makes the
events; the names in them must follow the files: unknown, then the new
account (mtime change, no restart), then a rename hidden from mtime and
size that only SIGHUP reveals.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from audit_state import AuditState, require

pytestmark = pytest.mark.kernel

MARKER = "import os, sys\ntry:\n    os.open(sys.argv[1], os.O_RDONLY)\nexcept OSError:\n    pass\n"


def free_id() -> int:
    for number in range(15001, 16000):
        try:
            pwd.getpwuid(number)
        except KeyError:
            return number
    raise AssertionError("no free uid")


def events(out: Path, tag: str) -> list[dict[str, Any]]:
    found = []
    for line in out.read_text().splitlines():
        if '"acct"' in line and tag in line:
            message = json.loads(line)
            if message["Fields"].get("type") == "SYSCALL":
                found.append(message["Fields"])
    return found


def event_as(uid: int, out: Path, tag: str) -> dict[str, Any]:
    path = f"/nonexistent/audit-heka-acct/{tag}"
    subprocess.run(["/usr/bin/python3", "-c", MARKER, path], user=uid, group=uid, check=True)
    deadline = time.monotonic() + 30
    while not (found := events(out, tag)):
        assert time.monotonic() < deadline, f"no event for {tag}"
        time.sleep(0.1)
    return found[0]


def rewrite_keeping_mtime_and_size(path: Path, old: str, new: str) -> None:
    assert len(old) == len(new)
    st = path.stat()
    text = path.read_text().replace(old, new)
    with path.open("r+") as f:  # in place: the bind mount keeps this inode
        f.write(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_new_accounts_are_named_without_restart_and_sighup_rereads(
    audit_kernel: AuditState, tmp_path: Path
) -> None:
    require(shutil.which("unshare") is not None, "unshare (util-linux) is not installed")
    uid = free_id()
    passwd, group = tmp_path / "passwd", tmp_path / "group"
    shutil.copy("/etc/passwd", passwd)
    shutil.copy("/etc/group", group)
    rules = tmp_path / "acct.rules"
    rules.write_text(f"-a always,exit -F arch=b64 -S openat -F uid={uid} -k acct\n")
    out = tmp_path / "events.jsonl"
    run = (f"mount --bind {passwd} /etc/passwd && mount --bind {group} /etc/group && "
           f"exec {sys.executable} -m audit_heka run --target - --rules {rules} "
           f"--state-dir {tmp_path / 'state'} --status-file {tmp_path / 'run' / 'status.json'}")
    with out.open("w") as stdout:
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 run], stdout=stdout, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        log: list[str] = []
        while "running" not in (line := proc.stderr.readline()):
            assert line, "run exited: " + "".join(log)
            log.append(line)

        first = event_as(uid, out, "before")
        assert first["uid_i"] == f"unknown({uid})" and first["gid_i"] == f"unknown({uid})"

        with passwd.open("a") as f:  # what useradd does, in place
            f.write(f"ahtest:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n")
        with group.open("a") as f:
            f.write(f"ahgrp:x:{uid}:\n")
        time.sleep(0.3)  # passwd/group are stat()ed at most every 0.1 s
        second = event_as(uid, out, "created")
        assert second["uid_i"] == "ahtest" and second["gid_i"] == "ahgrp"

        rewrite_keeping_mtime_and_size(passwd, "ahtest:", "bhtest:")
        time.sleep(1.5)
        assert event_as(uid, out, "hidden")["uid_i"] == "ahtest"  # mtime and size lie
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert event_as(uid, out, "reloaded")["uid_i"] == "bhtest"
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err

"""``audit-heka replay`` on audit logs that auditd wrote from the live kernel.

The expected events are computed here independently of the assembler: every
log line's (node, serial, time) group is one event. Replay must ship each of
them exactly once, with all its records, and the fields the workload made
must be right.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from capture import LANDLOCK_AUDITED_ABI, LANDLOCKED, UNIX_SOCKET, CapturedLog, landlock_abi
from click.testing import CliRunner

from audit_heka.cli import main

pytestmark = pytest.mark.kernel


def expected_events(log: Path) -> dict[tuple[str | None, int, int], list[str]]:
    """(node, serial, timestamp_ns) -> record type names, straight from the text."""
    events: dict[tuple[str | None, int, int], list[str]] = {}
    for text in log.read_bytes().decode("utf-8", "replace").split("\n"):
        if not text:
            continue
        node = None
        line = text
        if text.startswith("node="):
            prefix, _, line = text.partition(" ")
            node = prefix[5:]
        name = line.split(" ", 1)[0][5:]
        stamp = line[line.index("audit(") + 6 : line.index(")")]
        seconds, _, rest = stamp.partition(".")
        millis, _, serial = rest.partition(":")
        key = (node, int(serial), int(seconds) * 10**9 + int(millis) * 10**6)
        events.setdefault(key, []).append(name)
    return events


def replay(log: CapturedLog, tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    out = tmp_path / "frames.bin"
    runner = CliRunner()
    result = runner.invoke(main, ["replay", str(log.path), "--target", f"file:{out}", *args])
    assert result.exit_code == 0, result.output
    decoded = runner.invoke(main, ["decode", str(out)])
    assert decoded.exit_code == 0, decoded.output
    return [json.loads(line) for line in decoded.stdout.splitlines() if line.startswith("{")]


def by_key(messages: list[dict[str, Any]]) -> dict[tuple[str | None, int, int], dict[str, Any]]:
    out: dict[tuple[str | None, int, int], dict[str, Any]] = {}
    for m in messages:
        f = m["Fields"]
        key = (f.get("node"), f["serial"], m["Timestamp"])
        assert key not in out, f"event {key} shipped twice"
        out[key] = m
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_event_is_shipped_whole(captured_log: CapturedLog, tmp_path: Path) -> None:
    expected = expected_events(captured_log.path)
    messages = by_key(replay(captured_log, tmp_path))
    assert set(messages) == set(expected)
    for key, types in expected.items():
        m = messages[key]
        assert as_list(m["Fields"]["record_types"]) == types, key
        assert m["Fields"]["type"] == types[0]
        if "Payload" in m:
            assert m["Payload"].count("\n") == len(types) - 1
        else:  # only the huge execve: Payload left out to fit Heka's 64 KiB
            assert "argv" in m["Fields"]
        if captured_log.with_node:
            assert m["Hostname"] == m["Fields"]["node"]
    total = sum(len(t) for t in expected.values())
    assert total > 100  # the corpus is not trivially small


def find(messages: list[dict[str, Any]], **want: Any) -> list[dict[str, Any]]:
    return [m for m in messages if all(m["Fields"].get(k) == v for k, v in want.items())]


def test_workload_fields(captured_log: CapturedLog, tmp_path: Path) -> None:
    messages = replay(captured_log, tmp_path)
    workdir = str(captured_log.workdir)
    # execve with long, spaced, quoted, non-ASCII, empty args across EXECVE records.
    (execve,) = [m for m in find(messages, syscall_i="execve", success="yes", key="exec")
                 if m["Fields"].get("exe") == "/usr/bin/true"]
    f = execve["Fields"]
    assert f["argc"] == len(captured_log.exec_argv)
    assert f["argv"] == list(captured_log.exec_argv)
    assert as_list(f["record_types"]).count("EXECVE") > 1
    assert f["auid"] == captured_log.auid and f["auid_i"] == f"unknown({captured_log.auid})"
    assert f["uid_i"] == "root"
    # Failing opens.
    enoent = find(messages, key="failopen", exit=-2)
    assert {m["Fields"]["name_i"] for m in enoent} >= {
        f"{workdir}/missing-file", f"{workdir}/missing dir/with space", f"{workdir}/nön-ascii"}
    assert all(m["Severity"] == 4 and m["Fields"]["exit_i"].startswith("ENOENT") for m in enoent)
    (eacces,) = find(messages, key="failopen", exit=-13, type="SYSCALL")  # (not Landlock's)
    assert eacces["Fields"]["uid_i"] == "nobody"
    # Connects.
    saddrs = [m["Fields"]["saddr_i"] for m in find(messages, key="conn")]
    assert any(s.startswith("{ saddr_fam=inet laddr=127.0.0.1 lport=") for s in saddrs)
    assert "{ saddr_fam=inet6 laddr=::1 lport=9 }" in saddrs
    assert f"{{ saddr_fam=local path={workdir}/{UNIX_SOCKET} }}" in saddrs
    assert "{ saddr_fam=local path=audit-heka-abstract }" in saddrs
    # chmod/chown with two keys, and the watch.
    perm = find(messages, key="7065726D0161747472")
    assert {m["Fields"]["syscall_i"] for m in perm} >= {"chmod", "chown"}
    assert all(m["Fields"]["key_i"] == ["perm", "attr"] for m in perm)
    watched = find(messages, key="watch")
    assert any(f"{workdir}/watched/file" in as_list(m["Fields"].get("name", [])) for m in watched)
    # User messages from auditctl -m: fields from inside msg='...'.
    users = find(messages, type="USER")
    assert any(m["Fields"].get("exe") == "/usr/sbin/auditctl" and m["Fields"]["res"] == "success"
               for m in users)
    assert any(m["Fields"].get("op") is not None for m in find(messages, type="CONFIG_CHANGE"))
    # A Landlock denial (kernels from 6.15 audit them): one event, the LSM's records first
    # (unnamed by this libaudit, as auditd writes them), then the call that was denied.
    if landlock_abi() >= LANDLOCK_AUDITED_ABI:
        (denied,) = find(messages, type="UNKNOWN[1423]")
        f = denied["Fields"]
        types = as_list(f["record_types"])  # (the failopen rule adds CWD and PATH)
        assert types[:3] == ["UNKNOWN[1423]", "UNKNOWN[1424]", "SYSCALL"]
        assert types[-1] == "PROCTITLE" and f["key"] == "failopen"
        assert f["blockers"] == "fs.make_reg" and f["path_i"] == workdir
        assert f["status"] == "allocated" and f["mode"] == "enforcing"
        assert f["syscall_i"] == "openat" and f["exit_i"].startswith("EACCES")
        assert denied["Severity"] == 4
        assert not (captured_log.workdir / LANDLOCKED).exists()


def test_no_payload_and_type(captured_log: CapturedLog, tmp_path: Path) -> None:
    messages = replay(captured_log, tmp_path, "--no-payload", "--type", "linux_audit")
    assert messages and all("Payload" not in m and m["Type"] == "linux_audit" for m in messages)

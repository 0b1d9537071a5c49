"""The Lua decoder and the Python path make the same message for every event.

Logs captured from the live kernel by a real auditd (RAW, and ENRICHED with
node=) are fed line by line to lua/audit_decoder.lua under lua5.1 with Heka's
sandbox API (tests/lua/harness.lua), and to ``audit-heka replay FILE --target -``.
Every event must give the same message, field for field and type for type (the
JSON of both is compared with int/float/str distinguished).

Exceptions, each checked to be the only difference where it applies:

* ``Pid`` of an event without any ``pid=`` (none in these workloads' syscall and
  user events, but CONFIG_CHANGE-style events can lack one): Heka's
  SandboxDecoder copies a header the injected message lacks from the input pack,
  and Go's GetPid() of the unset Pid is 0, so Heka shows ``Pid: 0`` where the
  daemon omits Pid. Nothing in a decoder can prevent it.
* RAW logs without the ``passwd``/``group`` decoder options: the sandbox cannot
  read /etc/passwd, so uid/gid names (``uid_i``, ``auid_i``, ... and the uid/gid
  syscall arguments) fall back to ``unknown(N)`` except for root. With the
  options (the contents of the same files the Python side reads) they are equal;
  ENRICHED logs carry the names and need nothing.

The same module under Hindsight's decoder API (table injection) is compared
too: equal but for Timestamp and INTEGER values rounded to doubles.

The daemon's own log output (``--target log:PATH``, audit_heka.auditlog) is
checked too: events of the captured logs are written by AuditLogWriter, and the
decoder's message for each equals the protobuf message the Python path builds
for the same event.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from audit_state import require, require_tool
from capture import CapturedLog
from lua_harness import heka_json, run_decoder, run_hindsight, strict_diff
from test_lua_hindsight import _plugin, _through_doubles

from audit_heka.auditlog import AuditLogWriter
from audit_heka.core.degrade import degrade
from audit_heka.core.events import Assembler, Event
from audit_heka.core.interpret import Interpreter
from audit_heka.core.records import Record, parse_line
from audit_heka.core.schema import MessageBuilder
from audit_heka.heka.message import encode_message
from audit_heka.host.accounts import read_groups, read_users
from audit_heka.tables.fieldtypes import FIELD_TYPES

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parent.parent.parent
HOST = "lua-test-host"
PASSWD, GROUP = Path("/etc/passwd"), Path("/etc/group")
ACCOUNT_CONFIG = {"passwd": PASSWD.read_text(), "group": GROUP.read_text()}
MAX_MESSAGE_SIZE = 65536
# Sandbox limits configured in heka.toml ([audit_decoder]).
INSTRUCTION_LIMIT = 1_000_000
MEMORY_LIMIT_KB = 8 * 1024


def _replay(path: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "audit-heka"), "replay", str(path), "--target", "-",
         "--hostname", HOST, "--passwd", str(PASSWD), "--group", str(GROUP)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _uid_fields(message: dict[str, Any]) -> set[str]:
    """``_i`` fields whose text can be a uid/gid name: UID/GID keys (also when
    prefixed by a record type after a collision) and syscall arguments a0-a3."""
    names = set()
    for name in message["Fields"]:
        if not name.endswith("_i"):
            continue
        base = name[:-2]
        keys = {base, base.split("_", 1)[-1]}
        if any(FIELD_TYPES.get(k) in ("UID", "GID") or k in ("a0", "a1", "a2", "a3")
               for k in keys):
            names.add(name)
    return names


def _compare(lua: list[dict[str, Any]], python: list[dict[str, Any]],
             allowed: frozenset[str] | set[str] = frozenset()) -> list[str]:
    problems = []
    assert [m["Uuid"] for m in lua] == [m["Uuid"] for m in python]
    for ours, original in zip(lua, python, strict=True):
        theirs = dict(original)
        if "Pid" not in theirs:  # exception 1: Heka's header fill
            assert ours["Pid"] == 0
            theirs["Pid"] = 0
        for diff in strict_diff(ours, theirs):
            field = diff.split("/")[2].split(":")[0].split("[")[0] if diff.startswith(
                "/Fields/") else ""
            if field not in allowed:
                problems.append(f"serial {theirs['Fields']['serial']}: {diff}")
    return problems


def test_lua_decoder_equals_replay(oracle_log: CapturedLog) -> None:
    require_tool("lua5.1")
    run = run_decoder(oracle_log.path, {"hostname": HOST, **ACCOUNT_CONFIG})
    assert not [c for c in run.calls if c.fatal], run.calls
    assert [c for c in run.calls if c.rc != 0] == []
    lua = run.json_messages()
    python = _replay(oracle_log.path)
    assert len(python) > 20
    assert _compare(lua, python) == []
    # Within the sandbox limits heka.toml sets, as the harness enforces them
    # (instructions per call, memory with garbage, output per message).
    assert run.limit_failures() == []
    assert run.max_instructions < INSTRUCTION_LIMIT
    assert run.peak_kb < MEMORY_LIMIT_KB
    # The workload is really in there: long, chunked, multi-record EXECVE argv.
    argvs = [m["Fields"]["argv"] for m in lua if isinstance(m["Fields"].get("argv"), list)]
    assert list(oracle_log.exec_argv) in argvs
    print(f"{oracle_log.log_format}: {len(python)} events compared, "
          f"max {run.max_instructions} instructions per call, peak {run.peak_kb} KB")


def test_hindsight_equals_replay_but_for_what_doubles_round(captured_log: CapturedLog) -> None:
    """The same module under Hindsight's decoder API (tables, hindsight/audit_log.cfg):
    equal but for Timestamp and INTEGER values as doubles (docs/lua-decoder.md)."""
    require_tool("lua5.1")
    run = run_hindsight(captured_log.path, _plugin(hostname=HOST, **ACCOUNT_CONFIG))
    assert run.limit_failures() == []
    assert {c.rc for c in run.calls} == {0}
    lua = run.json_messages()
    python = _replay(captured_log.path)
    assert [m["Uuid"] for m in lua] == [m["Uuid"] for m in python]
    problems = []
    for ours, theirs in zip(lua, python, strict=True):
        got = ours if "Pid" in theirs else {k: v for k, v in ours.items() if k != "Pid"}
        problems += strict_diff(got, _through_doubles(theirs))
    assert problems == []


def test_raw_without_accounts_differs_only_in_uid_names(captured_logs: dict[str, CapturedLog]
                                                        ) -> None:
    require_tool("lua5.1")
    log = captured_logs["RAW"]
    run = run_decoder(log.path, {"hostname": HOST})
    lua = run.json_messages()
    python = _replay(log.path)
    allowed: set[str] = set()
    for m in python:
        allowed |= _uid_fields(m)
    assert _compare(lua, python, allowed) == []
    # ... and root is still named.
    assert any(m["Fields"].get("uid_i") == "root" for m in lua)


def _events(path: Path) -> list[Event]:
    assembler = Assembler(live=False)
    events: list[Event] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            record = parse_line(line)
            assert isinstance(record, Record), record
            events += assembler.add(record, record.seconds + record.milliseconds / 1000.0)
    return events + assembler.flush()


def test_log_output_through_lua_equals_protobuf_message(captured_log: CapturedLog,
                                                        tmp_path: Path) -> None:
    """``--target log:PATH`` -> Heka LogstreamerInput -> Lua == the protobuf path."""
    require_tool("lua5.1")
    events = _events(captured_log.path)
    require(len(events) > 20, "the capture produced too few events")
    out = tmp_path / "audit.log"
    with AuditLogWriter(out, max_bytes=0, num_logs=2) as writer:
        for event in events:
            writer.write_event(event)
    # (the machine the Lua decoder's `machine` option defaults to)
    builder = MessageBuilder(Interpreter(read_users(PASSWD), read_groups(GROUP), "x86_64"),
                             hostname=HOST)
    expected = []
    for event in events:
        message = builder.build(event)
        if len(encode_message(message)) > MAX_MESSAGE_SIZE:  # as the daemon's Framer
            degraded = degrade(message, MAX_MESSAGE_SIZE)
            assert degraded is not None
            message = degraded.message
        expected.append(heka_json(message))
    run = run_decoder(out, {"hostname": HOST, **ACCOUNT_CONFIG})
    assert [c for c in run.calls if c.rc != 0 or c.fatal] == []
    assert run.limit_failures() == []
    # Every event is injected when its EOE marker arrives, not later.
    marker_calls = [c for c in run.calls if c.messages]
    assert all(len(c.messages) == 1 for c in marker_calls)
    assert not [c for c in run.calls if c.n == "flush" and c.messages]
    lua = run.json_messages()
    assert len(lua) == len(expected)
    assert _compare(lua, expected) == []
    # And replay of the written log agrees as well.
    assert _compare(lua, _replay(out)) == []


def test_hostname_defaults_to_the_input_packs(captured_logs: dict[str, CapturedLog]) -> None:
    require_tool("lua5.1")
    log = captured_logs["RAW"]
    run = run_decoder(log.path, ACCOUNT_CONFIG, hostname=socket.gethostname())
    lua = run.json_messages()
    assert {m["Hostname"] for m in lua} == {socket.gethostname()}
    python = _replay(log.path)
    assert [m["Uuid"] for m in lua] != [m["Uuid"] for m in python]  # other host, other uuid

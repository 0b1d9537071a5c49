"""The decoder module under Hindsight's decoder API (lua_sandbox_extensions).

Hindsight has no SandboxDecoder: an input plugin (the lfs tail input of
hindsight/audit_log.cfg) calls the module's ``decode(data, default_headers)``
once per line, and its ``inject_message`` takes only a table, which lua_sandbox
serialises with Lua numbers (doubles). tests/lua/harness.lua in "hindsight" mode
provides that API (no collectgarbage, as Hindsight removes it; memory and output
limits enforced; no instruction limit, as Hindsight inputs have none).

What the table form loses, exactly (docs/lua-decoder.md, "Hindsight"):
Timestamp becomes the double nearest to sec*1e9 + ms*1e6, cast to int64 (today
that is up to 128 ns off, always the same millisecond), and every INTEGER field
value becomes the nearest double cast to int64 (exact up to 2^53; 2^63-1 comes
out as -2^63, the cast of the double 2^63). Everything else is the daemon's.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lua_harness import LUA, ROOT, run_decoder, run_hindsight, strict_diff
from test_lua_decoder import ACCOUNTS, CORPUS, HOST, _replay, _write
from test_lua_limits import NETFILTER, _event, _execve_event, _t

pytestmark = pytest.mark.skipif(LUA is None, reason="lua5.1 is not installed")

CFG = ROOT / "hindsight" / "audit_log.cfg"
MEMORY_LIMIT_KB = 8 * 1024


def _cfg() -> dict[str, Any]:
    """hindsight/audit_log.cfg as Hindsight reads it: a Lua chunk's globals."""
    script = ('local env = {} local f = assert(loadfile(arg[1])) setfenv(f, env) f() '
              'print(require("cjson").encode(env))')
    done = subprocess.run([str(LUA), "-", str(CFG)], input=script, capture_output=True,
                          text=True, check=True)
    cfg: dict[str, Any] = json.loads(done.stdout)
    return cfg


def _plugin(**options: Any) -> dict[str, Any]:
    cfg = _cfg()
    cfg["decoders_audit_heka"].update(options)
    return cfg


def _as_double(value: int) -> int:
    """What lua_sandbox makes of an integer carried by a Lua number: the
    nearest double, cast to int64 as x86-64 does (2^63 and above -> -2^63)."""
    rounded = int(float(value))
    return rounded if rounded < 2**63 else -(2**63)


def _through_doubles(message: dict[str, Any]) -> dict[str, Any]:
    out = dict(message)
    out["Timestamp"] = _as_double(message["Timestamp"])
    fields = dict(message["Fields"])
    for name, value in fields.items():
        if isinstance(value, list):
            fields[name] = [_as_double(v) if isinstance(v, int) and not isinstance(v, bool)
                            else v for v in value]
        elif isinstance(value, int) and not isinstance(value, bool):
            fields[name] = _as_double(value)
    out["Fields"] = fields
    return out


def test_example_configuration_is_the_tail_input_with_this_module() -> None:
    cfg = _cfg()
    assert cfg["filename"] == "tail.lua"
    assert cfg["decoder_module"] == "decoders.audit_heka"
    assert cfg["input_filename"] == "/var/log/audit/audit.log"
    assert cfg["follow"] == "name"
    module = cfg["decoders_audit_heka"]
    assert module["memory_limit"] == cfg["memory_limit"]
    assert module["output_limit"] == cfg["output_limit"]
    assert (ROOT / "lua" / "decoders" / "audit_heka.lua").exists()


def test_hindsight_equals_replay_but_for_what_doubles_round(tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", CORPUS)
    run = run_hindsight(log, _plugin(hostname=HOST, **ACCOUNTS))
    assert run.limit_failures() == []
    assert {c.rc for c in run.calls} == {0}
    lua = run.json_messages()
    python = _replay(log)
    assert len(lua) == len(python) == 11
    problems = []
    for ours, theirs in zip(lua, python, strict=True):
        expected = _through_doubles(theirs)
        got = ours
        if "Pid" not in expected:  # no pid= in the event: Hindsight fills its own default
            got = {k: v for k, v in ours.items() if k != "Pid"}
        problems += strict_diff(got, expected)
    assert problems == []


def test_what_the_table_form_loses(tmp_path: Path) -> None:
    """The rounding the docs describe, shown on values that hit it."""
    log = _write(tmp_path / "audit.log", CORPUS[:5] + CORPUS[21:22])
    hindsight = run_hindsight(log, _plugin(hostname=HOST, **ACCOUNTS)).json_messages()
    heka = run_decoder(log, {"hostname": HOST, **ACCOUNTS}).json_messages()
    # Timestamp: 1700000000.123 s is 1700000000123000000 ns; the nearest double
    # is 1700000000123000064 (64 ns off, the same millisecond).
    assert heka[0]["Timestamp"] == 1700000000_123_000_000
    assert hindsight[0]["Timestamp"] == 1700000000_123_000_064
    assert hindsight[0]["Timestamp"] // 1_000_000 == heka[0]["Timestamp"] // 1_000_000
    # INTEGER fields: 2^63-1 (a 64-bit inode) has no double; 2^63 casts to -2^63.
    assert heka[0]["Fields"]["inode"] == [9223372036854775807, 5]
    assert hindsight[0]["Fields"]["inode"] == [-9223372036854775808, 5]
    # -2^63 is a power of two: exact. Values beyond int64 are STRING fields: exact.
    assert hindsight[1]["Fields"]["ses"] == heka[1]["Fields"]["ses"] == -9223372036854775808
    assert hindsight[1]["Fields"]["uid"] == "18446744073709551615"
    # Everything else is equal.
    assert strict_diff(_through_doubles(heka[1]), hindsight[1]) == []


def test_hindsight_bursts_stay_within_memory_without_collectgarbage(tmp_path: Path) -> None:
    """Hindsight removes collectgarbage, so the heap can reach twice what is
    live: the decoder holds less there, and 10,000 pending events still fit,
    and so does a 1 MB EXECVE (trimmed, with its report)."""
    lines = [NETFILTER.format(t=_t(i // 10), s=1000 + i, b=i % 250, port=1024 + i % 60000)
             for i in range(10_000)]
    lines.append(NETFILTER.format(t=_t(60_000), s=99_999, b=1, port=1))
    lines += _execve_event(5, _t(61_000), 1_000_000, 100) + _event(_t(61_001), 6)
    log = _write(tmp_path / "audit.log", lines)
    run = run_hindsight(log, _plugin(hostname=HOST))
    assert run.limit_failures() == []
    assert run.peak_kb < MEMORY_LIMIT_KB
    serials = [m["Fields"]["serial"] for m in run.json_messages()]
    assert len(serials) == 10_003 and len(set(serials)) == 10_003
    assert {c.rc for c in run.calls} == {0}
    (big,) = [m for m in run.json_messages() if m["Fields"]["serial"] == 5]
    assert big["Fields"]["argc"] == 10_000 and "argv" in big["Fields"]["truncated"]


def test_the_heka_wrapper_would_fail_under_hindsight(tmp_path: Path) -> None:
    """Why the module injects tables there: Hindsight's inject_message refuses
    the protobuf string the SandboxDecoder injects."""
    wrapper = tmp_path / "decoders" / "string_injector.lua"
    wrapper.parent.mkdir()
    wrapper.write_text("return {decode = function(data) inject_message('\\10\\16') end}\n")
    log = _write(tmp_path / "audit.log", CORPUS[11:12])
    harness = ROOT / "tests" / "lua" / "harness.lua"
    config = tmp_path / "config.json"
    config.write_text("{}")
    done = subprocess.run([str(LUA), str(harness), "hindsight", str(tmp_path),
                           "decoders.string_injector", str(config), str(log)],
                          capture_output=True, text=True)
    assert "table expected, got string" in done.stdout

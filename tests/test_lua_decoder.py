"""lua/audit_decoder.lua under lua5.1 with Heka's sandbox API (tests/lua/harness.lua).

The kernel-captured comparison is tests/kernel/test_lua_vs_replay.py; this file
covers, without the kernel, the cases a workload rarely produces (ENRICHED
sections, AVC, user messages, SECCOMP kills, unknown types, collisions, late
records, timeouts, int64 edges, bad UTF-8), malformed input, the sandbox limits,
the harness's own Heka semantics, and the generated tables being current.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import subprocess
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
from lua_harness import HARNESS, LUA, ROOT, heka_json, run_decoder, strict_diff

from audit_heka.core.schema import AUDIT_HEKA_NAMESPACE, RAW_KEEP

pytestmark = pytest.mark.skipif(LUA is None, reason="lua5.1 is not installed")

HOST = "cfg-host"
AUDIT_HEKA = ROOT / ".venv" / "bin" / "audit-heka"
GS = "\x1d"

CORPUS = [
    # A syscall event in auditd's RAW form, ended by its PROCTITLE.
    'type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=257 success=no exit=-2 '
    'a0=ffffff9c a1=7ffd a2=241 a3=1b6 items=2 ppid=1 pid=77 auid=4242 uid=0 gid=0 euid=0 suid=0 '
    'fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=3 comm="cat" exe="/usr/bin/cat" '
    'key=657865630161747472',
    'type=CWD msg=audit(1700000000.123:42): cwd="/tmp/a b"',
    'type=PATH msg=audit(1700000000.123:42): item=0 name="/tmp/" inode=9223372036854775807 '
    'dev=fe:00 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0000000000000400 '
    'cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0',
    'type=PATH msg=audit(1700000000.123:42): item=1 name=2F746D702F6E6F20737563680A66696C65 '
    'inode=5 nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0',
    'type=PROCTITLE msg=audit(1700000000.123:42): proctitle=636174002F746D702F6E6F',
    # ENRICHED, with node=: names come from the \x1d section.
    'node=web-1 type=SYSCALL msg=audit(1700000001.002:43): arch=c000003e syscall=59 success=yes '
    'exit=0 a0=55 a1=56 a2=57 a3=0 items=1 ppid=1 pid=78 auid=4242 uid=1000 gid=1000 euid=1000 '
    'suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="ls" exe="/bin/ls" '
    f'key=(null){GS}ARCH=x86_64 SYSCALL=execve AUID="alice" UID="alice" GID="staff" '
    'EUID="alice" SUID="alice" FSUID="alice" EGID="staff" SGID="staff" FSGID="staff"',
    'node=web-1 type=EXECVE msg=audit(1700000001.002:43): argc=3 a0="ls" a1_len=8 '
    'a1[0]="abcd" a1[1]="efgh"',
    'node=web-1 type=EXECVE msg=audit(1700000001.002:43): a2=68C3A96C6C6F20776F726C64',
    'node=web-1 type=EOE msg=audit(1700000001.002:43): ',
    # AVC denial, then its SYSCALL (completed by the next record's time).
    'type=AVC msg=audit(1700000002.000:50): avc:  denied  { read } for  pid=9 comm="x" '
    'name="y" dev="sda1" ino=5 scontext=u:r:t:s0 tcontext=u:o:t:s0 tclass=file permissive=0',
    'type=SYSCALL msg=audit(1700000002.000:50): arch=c000003e syscall=2 success=no exit=-13 '
    'a0=1 a1=0 a2=0 a3=0 items=0 ppid=1 pid=9 auid=4294967295 uid=33 gid=33 euid=33 suid=33 '
    'fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="x" exe="/x" key=(null)',
    # A failed user login (stand-alone type, severity 4).
    "type=USER_LOGIN msg=audit(1700000005.000:51): pid=300 uid=0 auid=4294967295 "
    "ses=4294967295 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? "
    "addr=192.0.2.1 terminal=ssh res=failed'",
    # CONFIG_CHANGE without pid (Heka fills Pid 0), completed by time.
    'type=CONFIG_CHANGE msg=audit(1700000006.000:52): auid=0 ses=1 op=add_rule key="k" '
    'list=4 res=1',
    # SECCOMP kill.
    'type=SECCOMP msg=audit(1700000010.000:53): auid=0 uid=0 gid=0 ses=1 pid=12 comm="a" '
    'exe="/a" sig=31 arch=c000003e syscall=39 compat=0 ip=0x7f code=0x80000000',
    # An unknown type and an IPC/PATH key collision.
    'type=UNKNOWN[1338] msg=audit(1700000011.000:54): foo=bar n=1',
    'type=SYSCALL msg=audit(1700000012.000:55): arch=c000003e syscall=68 success=yes exit=0 '
    'a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=13 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 '
    'egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="m" exe="/m" key=(null)',
    'type=IPC msg=audit(1700000012.000:55): ouid=0 ogid=0 mode=0600',
    'type=PATH msg=audit(1700000012.000:55): item=0 name="/q" mode=0100644 ouid=0 ogid=0',
    'type=SOCKADDR msg=audit(1700000012.000:55): '
    'saddr=0A000035000000002001067C129800000000000000000001000000000000',
    'type=PROCTITLE msg=audit(1700000012.000:55): proctitle="m"',
    # A late record of event 55: a second part with its own uuid.
    'type=PATH msg=audit(1700000012.000:55): item=1 name="/late"',
    # int64 edges and bad UTF-8 (replay reads lines with errors="replace").
    'type=USER msg=audit(4102444800.999:56): pid=-5 uid=18446744073709551615 auid=0 '
    "ses=-9223372036854775808 msg='text=caf\udce9 ok'",
    # Far-away time: pending events time out (2 s of event time).
    'type=SYSCALL msg=audit(1800000000.000:57): arch=40000003 syscall=11 success=yes exit=0 '
    'a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=14 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 '
    'egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=6C73090A exe="/bin/ls" key=(null)',
]

MALFORMED = [
    ("garbage", "bad_header"),
    ("type=SYSCALL msg=audit(abc:1): x=1", "bad_header"),
    ('type=SYSCALL msg=audit(1.000:1): a="unterminated', "unterminated_quote"),
    ("type=SYSCALL msg=audit(1.000:1): saddr={ x", "unterminated_brace"),
    ("type=SYSCALL msg=audit(1.000:1): a=\x00", "binary"),
    ("type=SYSCALL msg=audit(1.000:1): a=" + "x" * 70000, "too_long"),
    ("node=only", "bad_header"),
    ("type= msg=audit(1.000:1): ", "bad_header"),
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return path


def _replay(path: Path, *extra: str) -> list[dict[str, Any]]:
    done = subprocess.run([str(AUDIT_HEKA), "replay", str(path), "--target", "-",
                           "--hostname", HOST, "--passwd", "/etc/passwd", "--group",
                           "/etc/group", *extra], capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in done.stdout.splitlines()]


ACCOUNTS = {"passwd": Path("/etc/passwd").read_text(), "group": Path("/etc/group").read_text()}


def _compare(lua: list[dict[str, Any]], python: list[dict[str, Any]]) -> list[str]:
    problems = []
    assert [m["Uuid"] for m in lua] == [m["Uuid"] for m in python]
    for ours, original in zip(lua, python, strict=True):
        theirs = dict(original)
        if "Pid" not in theirs:  # Heka copies the input pack's (unset = 0) Pid
            assert ours["Pid"] == 0
            theirs["Pid"] = 0
        problems += strict_diff(ours, theirs)
    return problems


def test_corpus_equals_replay_field_for_field(tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", CORPUS)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    assert [c for c in run.calls if c.fatal or c.rc != 0] == []
    lua = run.json_messages()
    python = _replay(log)
    assert len(python) == 11
    assert _compare(lua, python) == []
    by_serial: dict[int, list[dict[str, Any]]] = {}
    for m in lua:
        by_serial.setdefault(m["Fields"]["serial"], []).append(m)
    # Spot checks that the corpus exercises what it claims to.
    assert by_serial[42][0]["Fields"]["key_i"] == ["exec", "attr"]
    assert by_serial[42][0]["Fields"]["inode"] == [9223372036854775807, 5]
    assert by_serial[42][0]["Fields"]["mode"] == ["040755", ""]  # aligned, filled
    assert by_serial[43][0]["Fields"]["uid_i"] == "alice"
    assert by_serial[43][0]["Fields"]["argv"] == ["ls", "abcdefgh", "héllo world"]
    assert by_serial[50][0]["Severity"] == 4
    assert by_serial[52][0]["Pid"] == 0
    assert by_serial[53][0]["Severity"] == 4
    assert len(by_serial[55]) == 2
    assert "path_mode" in by_serial[55][0]["Fields"]
    assert by_serial[56][0]["Timestamp"] == 4102444800_999_000_000


def test_exact_int64_values_and_timestamps(tmp_path: Path) -> None:
    """Values above 2^53 survive: the decoder writes protobuf varints itself."""
    log = _write(tmp_path / "audit.log", CORPUS[:5] + CORPUS[21:22])
    lua = run_decoder(log, {"hostname": HOST, **ACCOUNTS}).json_messages()
    first, user = lua[0], lua[1]
    assert first["Timestamp"] == 1700000000_123_000_000
    assert first["Fields"]["inode"] == [9223372036854775807, 5]
    assert user["Fields"]["ses"] == -9223372036854775808
    assert user["Fields"]["uid"] == "18446744073709551615"  # beyond int64: STRING
    assert user["Pid"] == -5


def test_uuid_is_uuid5_of_host_time_serial(tmp_path: Path) -> None:
    long_host = "h" * 200 + "-ünïcode"  # several SHA-1 blocks, UTF-8 name
    log = _write(tmp_path / "audit.log", [CORPUS[11]])
    for host in (HOST, long_host):
        lua = run_decoder(log, {"hostname": host}).json_messages()
        expected = uuid.uuid5(uuid.UUID(bytes=AUDIT_HEKA_NAMESPACE), f"{host}|1700000005.000|51")
        assert lua[0]["Uuid"] == str(expected)
        assert lua[0]["Hostname"] == host


def test_config_type_payload_and_default_hostname(tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", CORPUS[:5])
    run = run_decoder(log, {"type": "audit_x", "payload_keep": False}, hostname="input-host")
    (message,) = run.json_messages()
    assert message["Type"] == "audit_x"
    assert "Payload" not in message
    assert message["Hostname"] == "input-host"  # the input pack's, like Logstreamer sets it
    python = _replay(log, "--type", "audit_x", "--no-payload", "--hostname", "input-host")
    assert strict_diff(message, python[0]) == []


def test_without_accounts_only_root_is_named(tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", CORPUS[9:11] + CORPUS[11:12])
    lua = run_decoder(log, {"hostname": HOST}).json_messages()
    avc = lua[0]["Fields"]
    assert avc["uid_i"] == "unknown(33)"  # www-data in /etc/passwd, not known to Lua
    assert avc["auid_i"] == "unset"
    login = lua[1]["Fields"]
    assert login["uid_i"] == "root"


def test_malformed_lines_are_shipped_alone_and_the_decoder_goes_on(tmp_path: Path) -> None:
    lines: list[str] = []
    for bad, _ in MALFORMED:
        lines += [bad, CORPUS[11].replace(":51)", f":{100 + len(lines)})")]
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    assert [c for c in run.calls if c.fatal] == []
    calls = [c for c in run.calls if c.n != "flush"]
    for i, (bad, reason) in enumerate(MALFORMED):
        failed, good = calls[2 * i], calls[2 * i + 1]
        assert failed.rc == 0 and good.rc == 0, failed
        if reason.startswith("unterminated"):
            continue  # a record after all (kept, with parse_error): shipped with its event
        # Not a record: shipped on its own, whole, with the reason (as `replay` does).
        (message,) = failed.messages
        assert message.field("parse_error").values == (reason,)  # type: ignore[union-attr]
        assert message.field("raw").values == (bad[:RAW_KEEP],)  # type: ignore[union-attr]
        assert message.field("raw_length").values == (len(bad),)  # type: ignore[union-attr]
    kept = [m for m in run.messages if m.field("parse_error") and m.field("serial")]
    (event,) = kept  # both records are audit(1.000:1)
    assert event.field("parse_error").values == (  # type: ignore[union-attr]
        "SYSCALL: unterminated_quote", "SYSCALL: unterminated_brace")
    assert _compare(run.json_messages(), _replay(log)) == []


def test_a_bare_trailing_separator_is_data_as_in_replay(tmp_path: Path) -> None:
    """A \x1d that ends a record is data (auditd writes none before nothing): the
    decoder reads it as replay does."""
    log = _write(tmp_path / "audit.log", [
        f"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=2 key=x{GS}",
        f"type=USER msg=audit(1.000:2): pid=5 uid=0 msg='text=hi res=success'{GS}",
        f"type=SYSCALL msg=audit(1.000:3): a0=1 a1=2{GS}{GS}"])
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    assert [c for c in run.calls if c.fatal or c.rc != 0] == []
    assert _compare(run.json_messages(), _replay(log)) == []


def test_random_damage_never_raises_or_returns_positive(tmp_path: Path) -> None:
    rng = random.Random(1234)
    alphabet = "=\"'{} ():.\x1dabcXYZ0189-_\t\x00\xff"
    lines = []
    for _ in range(400):
        line = list(rng.choice(CORPUS))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(line))
            if rng.random() < 0.5:
                line[pos] = rng.choice(alphabet)
            else:
                del line[pos:pos + rng.randint(1, 20)]
        lines.append("".join(line))
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    assert [c for c in run.calls if c.fatal] == []
    assert {c.rc for c in run.calls} <= {0, -1}
    assert not [c.err for c in run.calls if c.err and "internal error" in c.err]
    assert _compare(run.json_messages(), _replay(log)) == []


SHORT_INET6 = ("type=SOCKADDR msg=audit(1.000:1): "
               "saddr=0A000035000000002001067C1298" + "Z" * 40)


def test_short_inet6_sockaddr_reads_as_nul_bytes(tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", [SHORT_INET6])
    run = run_decoder(log, {"hostname": HOST})
    assert [c for c in run.calls if c.fatal or c.rc != 0] == []
    (message,) = run.json_messages()
    # What ausearch -i prints: auparse sizes the address by its text (35 bytes), the
    # bytes the hex did not give read as zeros.
    assert message["Fields"]["saddr_i"] == "{ saddr_fam=inet6 laddr=2001:67c:1298:: lport=53 }"


def test_short_inet6_sockaddr_equals_replay(tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", [SHORT_INET6])
    python = _replay(log)
    assert len(python) == 1
    assert _compare(run_decoder(log, {"hostname": HOST}).json_messages(), python) == []


def test_events_are_injected_as_soon_as_they_are_complete(tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", [
        CORPUS[0], CORPUS[1], CORPUS[4],  # PROCTITLE ends the event
        CORPUS[12],  # CONFIG_CHANGE: waits
        CORPUS[13],  # 4 s later: the CONFIG_CHANGE times out, SECCOMP waits (not stand-alone)
    ])
    run = run_decoder(log, {"hostname": HOST})
    injected = [(c.n, [m.fields[0].values[0] for m in c.messages]) for c in run.calls]
    assert injected == [(1, []), (2, []), (3, [42]), (4, []), (5, [52]), ("flush", [53])]


def test_sandbox_limits_match_heka_toml() -> None:
    """The harness enforces heka.toml's limits, and the decoder plans for the same ones."""
    config = tomllib.loads((ROOT / "heka.toml").read_text())["audit_decoder"]
    harness = HARNESS.read_text()
    module = (ROOT / "lua" / "decoders" / "audit_heka.lua").read_text()
    for harness_name, key, default in (("INSTRUCTION_LIMIT", "instruction_limit", 1),
                                       ("MEMORY_LIMIT_KB", "memory_limit", 1024),
                                       ("OUTPUT_LIMIT", "output_limit", 1)):
        value = re.search(harness_name + r" = (\d+)", harness)
        assert value is not None and int(value.group(1)) * default == config[key], key
        planned = re.search(rf'config\("{key}", (\d+)\)', module)
        assert planned is not None and int(planned.group(1)) == config[key], key


def test_generated_tables_are_current() -> None:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"),
                           str(ROOT / "scripts" / "gen_lua_tables.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_generated_check_detects_a_stale_section() -> None:
    spec = importlib.util.spec_from_file_location("gen_lua_tables",
                                                  ROOT / "scripts" / "gen_lua_tables.py")
    assert spec is not None and spec.loader is not None
    gen_lua_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_lua_tables)
    text = gen_lua_tables.DECODER.read_text()
    stale = text.replace('G.LOGGER = (function() return "audit-heka" end)()',
                         'G.LOGGER = (function() return "old" end)()')
    assert stale != text
    assert gen_lua_tables.render(stale) == text


def test_harness_table_injection_follows_heka(tmp_path: Path) -> None:
    """inject_message(table): numbers are DOUBLE unless value_type=2, Uuid must be 16 bytes."""
    decoder = tmp_path / "table_decoder.lua"
    decoder.write_text(
        'require "string"\n'
        "function process_message()\n"
        "  inject_message({Uuid = 'short', Timestamp = 1700000000123456789, Type = 't',\n"
        "    Fields = {d = 200, i = {value = 1413, value_type = 2, representation = 'B'},\n"
        "              a = {'x', 'y'}, b = true}})\n"
        "  inject_message({Uuid = string.rep('A', 16), Timestamp = 5e9,\n"
        "    Fields = {{name = 'n', value = {1, 2}, value_type = 2}}})\n"
        "  return 0\n"
        "end\n"
    )
    log = _write(tmp_path / "in.log", ["x"])
    run = run_decoder(log, {}, decoder=decoder)
    first, second = (heka_json(m) for m in run.messages)
    assert uuid.UUID(first["Uuid"]).version == 4  # not 16 bytes: a random v4 uuid
    assert first["Timestamp"] == 1700000000123456768  # a double: 256 ns steps up there
    assert strict_diff(first["Fields"], {"a": ["x", "y"], "b": True, "d": 200.0, "i": 1413}) == []
    assert first["Type"] == "t" and first["Logger"] == "AuditLogInput"  # copied from input
    assert second["Uuid"] == str(uuid.UUID(bytes=b"A" * 16))
    assert second["Timestamp"] == 5_000_000_000
    assert strict_diff(second["Fields"], {"n": [1, 2]}) == []

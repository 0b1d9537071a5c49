"""The Lua decoder within Heka 0.10's SandboxDecoder limits, for any input (issue 15).

tests/lua/harness.lua enforces the limits heka.toml sets (instruction_limit per
call with a count hook, memory_limit as collectgarbage("count") sampled during
calls, garbage included, output_limit per injected message) and reports a limit
hit even when the decoder's own pcall caught it; ``Run.limit_failures()`` lists
every call that would fail in the sandbox (a limit hit, a fatal error, or
messages injected by a call that then returned -1, which Heka drops).

Bursts: 10,000 single-record events completed by one line, 4,000 multi-record
events interleaved as CPUs interleave them and 4,000 all open at once, a 1 MB
EXECVE (one argument, 100,000 short ones), 60,000 PATH records, bursts of
them; lines whose parse alone would not fit; messages above output_limit.
Each compares with ``audit-heka replay`` where the two paths agree; where the
decoder must trim an event (too large to hold or build), it checks that the
who-fields and argc are the daemon's and that the report says what was cut.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lua_harness import LUA, Run, run_decoder
from test_lua_decoder import ACCOUNTS, HOST, _compare, _replay, _write

pytestmark = pytest.mark.skipif(LUA is None, reason="lua5.1 is not installed")

INSTRUCTION_LIMIT = 1_000_000
MEMORY_LIMIT_KB = 8 * 1024
T0 = 1700000000

SYSCALL = ("type=SYSCALL msg=audit({t}:{s}): arch=c000003e syscall=257 success=yes exit=3 "
           "a0=ffffff9c a1=7ffd a2=241 a3=1b6 items=1 ppid=1 pid={pid} auid=1000 uid=0 gid=0 "
           "euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"touch\" "
           "exe=\"/usr/bin/touch\" key=\"burst\"")
CWD = 'type=CWD msg=audit({t}:{s}): cwd="/tmp/burst"'
PATH = ("type=PATH msg=audit({t}:{s}): item=0 name=\"/tmp/burst/f{s}\" inode={s} dev=fe:00 "
        "mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 "
        "cap_fver=0 cap_frootid=0")
PROCTITLE = "type=PROCTITLE msg=audit({t}:{s}): proctitle=746F756368002F746D702F6275727374"
NETFILTER = ("type=NETFILTER_PKT msg=audit({t}:{s}): mark=0x0 saddr=192.0.2.{b} "
             "daddr=198.51.100.7 proto=6 sport={port} dport=443")


def _t(ms: int) -> str:
    return f"{T0 + ms // 1000}.{ms % 1000:03d}"


def _within_limits(run: Run) -> None:
    assert run.limit_failures() == []
    assert run.max_instructions < INSTRUCTION_LIMIT
    assert run.peak_kb < MEMORY_LIMIT_KB


def _payload_lines(messages: list[dict[str, Any]]) -> Counter[str]:
    return Counter(line for m in messages for line in m["Payload"].split("\n"))


def test_burst_of_10000_single_record_events(tmp_path: Path) -> None:
    """NETFILTER_PKT events wait for the 2 s timeout (no end marker, not a
    stand-alone type): one late line completes thousands of them at once. Before
    issue 15, 17 of them in one call went over instruction_limit and ~3,400
    pending went over memory_limit."""
    lines = [NETFILTER.format(t=_t(i // 10), s=1000 + i, b=i % 250, port=1024 + i % 60000)
             for i in range(10_000)]
    lines.append(NETFILTER.format(t=_t(60_000), s=99_999, b=1, port=1))
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    lua = run.json_messages()
    assert len(lua) == 10_001
    assert _compare(lua, _replay(log)) == []
    # The work of the line that completed the burst went to the next calls.
    assert max(len(c.messages) for c in run.calls) < 50


def test_burst_of_10000_user_records_then_a_gap(tmp_path: Path) -> None:
    """User-space records wait for their timeout in log mode (they may share a
    serial with a SYSCALL), so a burst of them is pending at once; a later line
    completes them a few at a time (events.py's EXPIRE_PER_RECORD), as replay."""
    lines = [(f"type=USER_ACCT msg=audit({_t(i // 10)}:{i + 1}): pid={i + 100} uid=0 "
              "auid=1000 ses=3 msg='op=PAM:accounting grantors=pam_unix acct=\"alice\" "
              "exe=\"/usr/bin/sudo\" hostname=? addr=? terminal=/dev/pts/0 res=success'")
             for i in range(10_000)]
    lines += [NETFILTER.format(t=_t(60_000 + i), s=20_000 + i, b=1, port=1) for i in range(50)]
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    lua = run.json_messages()
    assert len(lua) == 10_050
    assert _compare(lua, _replay(log)) == []


def test_an_event_costs_about_22000_instructions(tmp_path: Path) -> None:
    """The uuid (SHA-1 in Lua) was ~60,000 of an event's instructions before
    issue 15; SHA-1 on bytes brings a one-record event to ~22,000."""
    lines = [NETFILTER.format(t=_t(0), s=100 + i, b=1, port=1) for i in range(16)]
    log = _write(tmp_path / "audit.log", lines)
    # Planned for a larger limit, the end-of-input flush builds all 16 in one call.
    run = run_decoder(log, {"hostname": HOST, "instruction_limit": 10_000_000})
    (burst,) = [c for c in run.calls if len(c.messages) == 16]
    assert burst.instructions / 16 < 25_000


def _event(t: str, s: int) -> list[str]:
    return [f.format(t=t, s=s, pid=s % 30000 + 2) for f in (SYSCALL, CWD, PATH, PROCTITLE)]


def test_burst_of_4000_interleaved_multi_record_events(tmp_path: Path) -> None:
    """Records of 8 events at a time interleave, as several CPUs write them."""
    lines = []
    for group in range(500):
        events = [_event(_t(group), 10_000 + group * 8 + k) for k in range(8)]
        for part in range(4):
            lines += [e[part] for e in events]
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    lua = run.json_messages()
    assert len(lua) == 4000
    assert _compare(lua, _replay(log)) == []


def test_4000_multi_record_events_open_at_once_lose_nothing(tmp_path: Path) -> None:
    """The worst interleaving: every event has started before any ends. They
    take more than the decoder may hold, so the oldest are completed early (as
    events.py does beyond max_in_flight) and their later records become parts
    with a uuid of their own; every record is still delivered exactly once, in
    a message of its own event (serial)."""
    events = [_event(_t(0), 20_000 + k) for k in range(4000)]
    lines = [e[part] for part in range(4) for e in events]
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    lua = run.json_messages()
    assert _payload_lines(lua) == Counter(lines)
    assert len({m["Uuid"] for m in lua}) == len(lua)
    for m in lua:
        assert {f":{m['Fields']['serial']})" in line for line in m["Payload"].split("\n")} == {True}


def _execve_event(serial: int, t: str, total: int, arg: int) -> list[str]:
    """An execve with `total` bytes of arguments of `arg` bytes, split into
    EXECVE records of at most ~7.5 kB as the kernel does."""
    nargs = total // arg
    lines = [SYSCALL.format(t=t, s=serial, pid=4242).replace("syscall=257", "syscall=59"),
             f"type=EXECVE msg=audit({t}:{serial}): argc={nargs}"]
    record: list[str] = []
    size = 0
    for i in range(nargs):
        pair = f'a{i}="{"x" * (arg - 1)}{i % 10}"'
        if size + len(pair) > 7500:
            lines.append(f"type=EXECVE msg=audit({t}:{serial}): " + " ".join(record))
            record, size = [], 0
        record.append(pair)
        size += len(pair) + 1
    lines.append(f"type=EXECVE msg=audit({t}:{serial}): " + " ".join(record))
    lines.append(f'type=CWD msg=audit({t}:{serial}): cwd="/"')
    lines.append(f"type=PROCTITLE msg=audit({t}:{serial}): proctitle=78617267730078")
    return lines


# Fields a trimmed event keeps exact (docs/lua-decoder.md, "Limits").
WHO = ("uid", "auid", "pid", "ppid", "exe", "comm", "key", "syscall", "success", "exit", "cwd",
       "argc", "type", "serial", "proctitle")


def _report(message: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    """The degradation report as {name: (bytes, values, kept)}."""
    fields = message["Fields"]
    names = fields["truncated"]
    if isinstance(names, str):
        return {names: (fields["truncated_bytes"], fields["truncated_values"],
                        fields["truncated_kept"])}
    return {n: (b, v, k) for n, b, v, k in zip(names, fields["truncated_bytes"],
                                                fields["truncated_values"],
                                                fields["truncated_kept"], strict=True)}


def _values(field: Any) -> list[Any]:
    return field if isinstance(field, list) else [field]


def _check_trimmed(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    """A trimmed Lua message against the daemon's degraded one: same header,
    the who-fields exact, the arguments and names it kept are the daemon's
    first and last ones, and its report says so."""
    for key in ("Uuid", "Timestamp", "Type", "Logger", "Severity", "Hostname"):
        assert ours[key] == theirs[key], key
    mine, full = ours["Fields"], theirs["Fields"]
    for key in WHO:
        assert mine.get(key) == full.get(key), key
    report = _report(ours)
    if "argc" in mine:
        argv, count = _values(mine["argv"]), mine["argc"]
        assert report["argv"][1:] == (count, len(argv))
        assert report["argv"][0] > 0
    if "name" in mine and "PATH" in report:
        names = _values(mine["name"])
        assert names[0] == _values(full["name"])[0] and names == sorted(names)
        assert report["PATH"][1:] == (full["items"], len(names))
    return report


def test_1mb_execve_is_delivered_trimmed_with_a_true_report(tmp_path: Path) -> None:
    """1 MB of arguments cannot be held (memory_limit), built in one call
    (instruction_limit) nor injected (output_limit): the decoder holds its
    first records, the last arguments and the records after them, and says
    what it cut; every other event, before, during and after it, is injected
    as the daemon sends it."""
    lines = _event(_t(0), 1)
    big = _execve_event(2, _t(1), 1_000_000, 100)
    lines += big[:40] + _event(_t(1), 3) + big[40:] + _event(_t(2), 4)
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    lua = run.json_messages()
    python = _replay(log, "--max-message-size", "64512")
    assert [m["Fields"]["serial"] for m in lua] == [m["Fields"]["serial"] for m in python]
    assert [m["Fields"]["serial"] for m in python] == [1, 3, 2, 4]
    report = _check_trimmed(lua[2], python[2])
    argv = lua[2]["Fields"]["argv"]
    assert argv[0].startswith("x" * 40)
    assert report["argv"][1] == 10_000 and report["argv"][0] > 900_000
    assert _compare([lua[i] for i in (0, 1, 3)], [python[i] for i in (0, 1, 3)]) == []


def test_1mb_single_argument(tmp_path: Path) -> None:
    """One 1,000,000-byte argument, split into a1[N] chunks across records."""
    from test_degrade import exec_lines  # noqa: PLC0415

    lines = exec_lines(["true", "B" * 1_000_000], "1700000000.100:1") + _event(_t(5), 2)
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    lua, python = run.json_messages(), _replay(log, "--max-message-size", "64512")
    report = _check_trimmed(lua[0], python[0])
    assert report["argv"][1:] == (2, 2) and report["argv"][0] > 1_000_000 - 200_000
    assert lua[0]["Fields"]["argv"][0] == "true"
    assert lua[0]["Fields"]["argv"][1].startswith("B" * 1000)
    assert _compare(lua[1:], python[1:]) == []


def test_100000_short_arguments(tmp_path: Path) -> None:
    """The most key=value pairs a kernel writes (~2,000 already exceed what one
    call can build): argc stays exact, the first and last arguments are kept."""
    from test_degrade import exec_lines  # noqa: PLC0415

    lines = exec_lines(["true", *(f"a{i}" for i in range(100_000))], "1700000000.300:3")
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    (lua,), (python,) = run.json_messages(), _replay(log, "--max-message-size", "64512")
    report = _check_trimmed(lua, python)
    argv = lua["Fields"]["argv"]
    assert lua["Fields"]["argc"] == 100_001 and report["argv"][1:] == (100_001, len(argv))
    assert argv[:3] == ["true", "a0", "a1"] and argv[-1] == "a99999"
    assert 500 < len(argv) < 5000
    # the arguments kept are the first ones and a run of the last ones, in order
    numbers = [int(a[1:]) for a in argv[1:]]
    assert numbers == sorted(numbers)


def test_60000_path_records(tmp_path: Path) -> None:
    """A syscall touching 60,000 paths: the names up to a cap, the records
    after them (PROCTITLE) whole, the rest counted as PATH."""
    from test_degrade import path_lines  # noqa: PLC0415

    lines = path_lines(60_000, "1700000000.400:4") + _event(_t(5), 5)
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    lua, python = run.json_messages(), _replay(log, "--max-message-size", "64512")
    report = _check_trimmed(lua[0], python[0])
    assert report["PATH"][1] == 60_000 and report["PATH"][0] > 60_000 * 100
    assert lua[0]["Fields"]["record_types"][-1] == "PROCTITLE"
    names = lua[0]["Fields"]["name"]  # the names held, then cut to fit as the daemon cuts
    assert names[0] == "/tmp/p/00000" and names == sorted(set(names))
    assert _compare(lua[1:], python[1:]) == []


def test_burst_of_huge_events_interleaved_with_normal_ones(tmp_path: Path) -> None:
    """20 events of 1 MB of arguments, 4 of 60,000 PATHs, each interleaved with
    ordinary events: every event is delivered once, each huge one trimmed with
    its report, memory and instructions stay within the limits."""
    from test_degrade import path_lines  # noqa: PLC0415

    lines: list[str] = []
    huge = []
    for k in range(24):
        serial = 1000 + k
        big = (_execve_event(serial, _t(k * 10), 1_000_000, 50 + k) if k < 20
               else path_lines(60_000, f"{_t(k * 10)}:{serial}"))
        lines += big[:30] + _event(_t(k * 10), 5000 + k) + big[30:] + _event(_t(k * 10 + 1),
                                                                              6000 + k)
        huge.append(serial)
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    lua = run.json_messages()
    python = _replay(log, "--max-message-size", "64512")
    assert sorted(m["Fields"]["serial"] for m in lua) == sorted(
        m["Fields"]["serial"] for m in python)
    assert len(lua) == 72
    print(f"24 huge events: {run.max_instructions} instructions at most, {run.peak_kb} KiB peak")
    by_serial = {m["Fields"]["serial"]: m for m in python}
    for m in lua:
        serial = m["Fields"]["serial"]
        if serial in huge:
            _check_trimmed(m, by_serial[serial])
        else:
            assert _compare([m], [by_serial[serial]]) == []


@pytest.mark.parametrize("total", [40_000, 63_000, 120_000, 190_000])
def test_large_execve_like_the_daemon(tmp_path: Path, total: int) -> None:
    """Above the limit the message is degraded as the daemon's Framer degrades
    it: the Payload first, then argv (the Lua limit is output_limit, 64,512
    bytes, so the daemon is given the same max_message_size). From ~1,500
    arguments on, one call could not build the whole event within
    instruction_limit (or hold it, past max_event_bytes): the decoder trims it
    and reports what it cut, the who-fields and argc exact."""
    lines = _execve_event(7, _t(0), total, 40) + _event(_t(1), 8)
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert not [c for c in run.calls if c.dropped]
    assert {c.rc for c in run.calls} == {0}
    python = _replay(log, "--max-message-size", "64512")
    lua = run.json_messages()
    assert [m["Fields"]["serial"] for m in python] == [m["Fields"]["serial"] for m in lua] == [7, 8]
    if total < 60_000:
        assert _compare(lua, python) == []
    else:
        report = _check_trimmed(lua[0], python[0])
        assert report["argv"][1] == total // 40
        assert _compare(lua[1:], python[1:]) == []


def test_trimmed_event_completed_with_others_in_one_call(tmp_path: Path) -> None:
    """A call that completes a normal and a trimmed event injects both (before
    issue 15 the large one was refused with -1, on a call of its own)."""
    big = [line for line in _execve_event(5, _t(0), 120_000, 40) if "PROCTITLE" not in line]
    small = [line for line in _event(_t(0), 6) if "PROCTITLE" not in line]
    lines = small[:1] + big + small[1:] + _event(_t(5000), 7) + _event(_t(5001), 8)
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    assert not [c for c in run.calls if c.dropped]
    lua = run.json_messages()
    assert sorted(m["Fields"]["serial"] for m in lua) == [5, 6, 7, 8]
    (trimmed,) = [m for m in lua if m["Fields"]["serial"] == 5]
    assert _report(trimmed)["argv"][1] == 3000


@pytest.mark.parametrize("body", [
    "a=b " * 16_000,  # 16,000 pairs
    "x " * 32_000,  # 32,000 words
    "é" * 20_000,  # 40,000 non-ASCII bytes
])
def test_lines_too_costly_to_parse_are_refused_within_the_limit(tmp_path: Path,
                                                                body: str) -> None:
    """No kernel record comes near (records are below ~9 kB, values with
    non-ASCII bytes are hex-encoded), but a log line can be anything."""
    lines = [f"type=USER msg=audit({_t(0)}:1): {body}", *_event(_t(1), 2)]
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    first = run.calls[0]
    assert first.rc == -1 and first.err is not None and "(too_complex)" in first.err
    assert [m["Fields"]["serial"] for m in run.json_messages()] == [2]


def test_costly_but_kernel_sized_lines_are_decoded(tmp_path: Path) -> None:
    """The refusal above does not reach records the kernel writes: 1,500
    two-byte arguments (the most pairs per byte), two EXECVE records of 7.5 kB."""
    lines = _execve_event(9, _t(0), 3000, 2)
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    _within_limits(run)
    assert {c.rc for c in run.calls} == {0}
    assert _compare(run.json_messages(), _replay(log)) == []


def test_degrading_the_largest_buildable_event_stays_within_instruction_limit(
        tmp_path: Path) -> None:
    """Degradation (the message cut to fit) is not in the per-event estimate:
    it must fit the 25% the plan leaves free. The largest EXECVE the decoder
    still builds (1,900 two-byte arguments; 1,950 is refused), degraded to
    hekad's smallest max_message_size, costs most (~650,000 instructions)."""
    from test_degrade import exec_lines  # noqa: PLC0415

    lines = exec_lines(["true", *(f"a{i % 10}" for i in range(1900))], "1700000000.300:3")
    log = _write(tmp_path / "audit.log", lines)
    run = run_decoder(log, {"hostname": HOST, "max_message_size": 1025, **ACCOUNTS})
    _within_limits(run)
    assert [c.err for c in run.calls if c.rc != 0] == []
    (message,) = run.json_messages()
    assert "truncated" in message["Fields"]

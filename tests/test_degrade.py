"""Events too large for the target are degraded to fit, never dropped (issue 17, item 1).

The property: for any message and any limit from Heka's minimum up, the
degraded message encodes within the limit, keeps the who-fields whole when
they can fit, keeps ``argc`` exact, and its ``truncated*`` fields tell the
truth about every field that differs from the original.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from heka_receivers import UdpReceiver, make_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protoc import protoc_decode

from audit_heka.cli import main
from audit_heka.core import degrade as degrade_module
from audit_heka.core.degrade import (
    INFO_FIELDS,
    MARKER,
    MIN_CUT,
    REST,
    Degraded,
    degrade,
    importance,
)
from audit_heka.core.events import Assembler, Event
from audit_heka.core.interpret import Interpreter
from audit_heka.core.records import Record, parse_line
from audit_heka.core.schema import MessageBuilder
from audit_heka.core.session import Framer, Session
from audit_heka.delivery import Delivery, DeliveryConfig
from audit_heka.heka.framing import (
    MIN_MAX_MESSAGE_SIZE,
    Signer,
    Unframer,
    frame,
    frame_overhead,
)
from audit_heka.heka.message import Field, Message, decode_message, encode_message
from audit_heka.outputs.target import parse_target

HEADER = Message(
    uuid=bytes(range(16)),
    timestamp=1_700_000_000_123_000_000,
    type="audit_log",
    logger="audit-heka",
    severity=6,
    pid=4242,
    hostname="host.example.org",
)
WHO_SAMPLE = (
    Field.integer("serial", 77), Field.string("type", "SYSCALL"),
    Field.string("record_types", "SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"),
    Field.integer("syscall", 59), Field.string("syscall_i", "execve"),
    Field.string("success", "yes"), Field.integer("exit", 0),
    Field.integer("ppid", 100), Field.integer("pid", 4242),
    Field.integer("auid", 1000), Field.string("auid_i", "alice"),
    Field.integer("uid", 1000), Field.string("uid_i", "alice"),
    Field.string("comm", "true"), Field.string("exe", "/usr/bin/true"),
    Field.string("key", "exec"), Field.string("cwd", "/home/alice"),
)


def entry_size(field: Field) -> int:
    return len(encode_message(HEADER.replace(fields=(field,)))) - len(encode_message(HEADER))


def check(original: Message, limit: int, result: Degraded) -> None:
    """The degraded message is within ``limit`` and its truncated list is the truth."""
    out = result.message
    data = encode_message(out)
    assert len(data) <= limit
    assert decode_message(data) == out
    assert out.replace(fields=()) == original.replace(payload=None, fields=())
    info = {f.name: f for f in out.fields if f.name in INFO_FIELDS}
    fields = [f for f in out.fields if f.name not in INFO_FIELDS]
    names = list(info[INFO_FIELDS[0]].values) if info else []
    listed = dict(zip(names, zip(*(info[n].values for n in INFO_FIELDS[1:]),
                                 strict=True), strict=True)) if info else {}
    if original.payload is not None:
        assert listed["Payload"] == (len(original.payload.encode()), 1, 0)
    by_name = {f.name: f for f in fields}
    summed = REST in listed
    for field in original.fields:
        kept = by_name.get(field.name)
        if kept == field:
            assert field.name not in listed
            continue
        if field.name not in listed:
            assert summed, f"{field.name} changed but is not listed"
            continue
        size, count, kept_count = listed[field.name]
        assert (size, count) == (entry_size(field), len(field.values))
        assert kept_count == (0 if kept is None else len(kept.values))
        if kept is None:
            continue
        n, k = len(field.values), len(kept.values)
        head, tail = (k + 1) // 2, k // 2
        sources = field.values[:head] + field.values[n - tail:] if k < n else field.values
        for before, after in zip(sources, kept.values, strict=True):
            if before == after:
                continue
            assert isinstance(before, (str, bytes)) and isinstance(after, (str, bytes))
            whole = before.encode() if isinstance(before, str) else before
            cut = after.encode() if isinstance(after, str) else after
            marker = MARKER.format(len(whole)).encode()
            assert cut.endswith(marker) and whole.startswith(cut[: -len(marker)])
            assert len(cut) - len(marker) >= min(MIN_CUT - 3, len(whole))
    # fields never appear from nowhere, and keep their order
    original_names = [f.name for f in original.fields]
    assert [f.name for f in fields] == [n for n in original_names if n in by_name]


names = st.one_of(
    st.sampled_from(["uid", "exe", "comm", "argc", "name", "cwd", "argv", "proctitle",
                     "proctitle_i", "a0", "inode", "msgdata", "dev", "unknown_key"]),
    st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
)
# Text as the scheme makes it: no lone surrogates (the encoder refuses them).
chars = st.characters(exclude_categories=["Cs"])
long_text = st.one_of(st.text(chars, max_size=40),
                      st.builds(lambda c, n: c * n, chars, st.integers(0, 70_000)))
field_strategy = st.one_of(
    st.builds(lambda n, v: Field.string(n, *v), names, st.lists(long_text, max_size=30)),
    st.builds(lambda n, k, v: Field.string(n, *([v] * k)), names,
              st.integers(0, 60_000), st.text(chars, max_size=8)),
    st.builds(lambda n, v: Field.integer(n, *v), names,
              st.lists(st.integers(-(1 << 63), (1 << 63) - 1), max_size=20)),
    st.builds(lambda n, k: Field.integer(n, *range(k)), names, st.integers(0, 60_000)),
    st.builds(lambda n, v: Field.bytes_(n, *v), names,
              st.lists(st.binary(max_size=3000), max_size=5)),
    st.builds(lambda n, v: Field.double(n, *v), names,
              st.lists(st.floats(allow_nan=False), max_size=5)),
    st.builds(lambda n, v: Field.boolean(n, *v), names, st.lists(st.booleans(), max_size=5)),
)


def unique(fields: list[Field]) -> tuple[Field, ...]:
    seen: dict[str, Field] = {}
    for f in fields:
        seen.setdefault(f.name, f)
    return tuple(seen.values())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(
    fields=st.lists(field_strategy, max_size=12).map(unique),
    payload=st.one_of(st.none(), st.text(chars, max_size=2000)),
    limit=st.integers(MIN_MAX_MESSAGE_SIZE, 70_000),
)
def test_any_message_any_limit_fits_and_tells_the_truth(
    fields: tuple[Field, ...], payload: str | None, limit: int
) -> None:
    who = tuple(f for f in WHO_SAMPLE if f.name not in {g.name for g in fields})
    original = HEADER.replace(payload=payload, fields=(*who, *fields))
    result = degrade(original, limit)
    assert result is not None  # this header always fits a limit >= hekad's minimum
    check(original, limit, result)
    # who-fields small enough are kept whole, whatever else the event holds
    whole_who = [f for f in original.fields if importance(f.name) == 0]
    if sum(entry_size(f) for f in whole_who) <= limit // 2:
        for f in whole_who:
            assert f in result.message.fields, f.name


def execve_lines(argv: list[str], stamp: str) -> list[str]:
    """EXECVE records as the kernel writes them: a long argument as aN_len
    and aN[i] chunks of 7500 bytes, records kept under ~8 KiB."""
    parts = [f"argc={len(argv)}"]
    for i, arg in enumerate(argv):
        if len(arg) <= 7500:
            parts.append(f'a{i}="{arg}"')
            continue
        parts.append(f"a{i}_len={len(arg)}")
        parts += [f'a{i}[{j}]="{arg[at:at + 7500]}"'
                  for j, at in enumerate(range(0, len(arg), 7500))]
    lines, body = [], ""
    for part in parts:
        if body and len(body) + len(part) > 8000:
            lines.append(body)
            body = ""
        body += " " + part
    lines.append(body)
    return [f"type=EXECVE msg=audit({stamp}):{b}" for b in lines]


def exec_message(argv: list[str]) -> Message:
    """An execve event, built by the real scheme from log lines."""
    lines = [
        'type=SYSCALL msg=audit(1700000000.123:77): arch=c000003e syscall=59 success=yes '
        'exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=100 pid=4242 auid=1000 uid=1000 gid=1000 '
        'euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 '
        'comm="true" exe="/usr/bin/true" key="exec"',
        *execve_lines(argv, "1700000000.123:77"),
        'type=CWD msg=audit(1700000000.123:77): cwd="/home/alice"',
        'type=PATH msg=audit(1700000000.123:77): item=0 name="/usr/bin/true" inode=12 '
        'dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL',
        'type=PROCTITLE msg=audit(1700000000.123:77): proctitle='
        + "".join(f"{ord(c):02x}" for c in " ".join(argv)[:128]),
    ]
    records = []
    for line in lines:
        record = parse_line(line)
        assert isinstance(record, Record)
        records.append(record)
    builder = MessageBuilder(Interpreter({1000: "alice"}, {}, "x86_64"), hostname="h")
    return builder.build(Event(None, 77, 1700000000, 123, tuple(records)))


def framed(message: Message, framer: Framer) -> Message:
    data = framer.frame(message)
    assert data is not None
    (unframed,) = Unframer(framer.max_message_size).feed(data)
    return decode_message(unframed.message)


def values(message: Message, name: str) -> tuple[object, ...]:
    field = message.field(name)
    assert field is not None, name
    return field.values


@pytest.mark.parametrize("limit", [65536, 8192, 2048])
def test_one_huge_argument_is_cut_not_dropped(limit: int) -> None:
    original = exec_message(["true", "B" * 131071, "-rf", "/"])
    framer = Framer(max_message_size=limit)
    out = framed(original, framer)
    assert framer.degraded == 1 and framer.oversize == 0
    assert values(out, "exe") == ("/usr/bin/true",) and values(out, "uid") == (1000,)
    assert values(out, "argc") == (4,)
    argv = values(out, "argv")
    assert argv[0] == "true" and argv[2:] == ("-rf", "/")  # padding cannot hide what follows
    assert isinstance(argv[1], str) and argv[1].endswith(MARKER.format(131071))
    assert len(argv[1]) > limit // 16  # as much as fits
    assert "argv" in values(out, "truncated") and "Payload" in values(out, "truncated")


def test_a_hundred_thousand_arguments_keep_head_and_tail() -> None:
    argv = ["python3", *(["-W", "x"] * 50_000), "evil.py"]
    original = exec_message(argv)
    started = time.perf_counter()
    out = framed(original, Framer())
    took = time.perf_counter() - started
    assert values(out, "argc") == (len(argv),)
    kept = values(out, "argv")
    assert kept[0] == "python3" and kept[-1] == "evil.py" and 1000 < len(kept) < len(argv)
    names = values(out, "truncated")
    at = names.index("argv")
    assert values(out, "truncated_values")[at] == len(argv)
    assert values(out, "truncated_kept")[at] == len(kept)
    print(f"100,001 arguments: degraded in {took:.3f} s, kept {len(kept)}")


def test_path_heavy_event_keeps_who_and_aligned_names() -> None:
    paths = [Field.string("name", *(f"/tmp/f{i}" for i in range(60_000))),
             Field.integer("inode", *range(60_000)),
             Field.string("nametype", *(["CREATE"] * 60_000))]
    original = HEADER.replace(payload="x" * 1000, fields=(*WHO_SAMPLE, *paths))
    result = degrade(original, 65536)
    assert result is not None
    check(original, 65536, result)
    out = result.message
    for f in WHO_SAMPLE:
        assert f in out.fields
    names = values(out, "name")
    assert names[0] == "/tmp/f0" and names[-1] == "/tmp/f59999"
    assert len(values(out, "nametype")) == len(names)  # same class, same count cap


def test_normal_path_does_not_degrade(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(message: Message, limit: int) -> Degraded | None:
        raise AssertionError("degrade called on a message that fits")

    monkeypatch.setattr("audit_heka.core.degrade.degrade", boom)  # session imports it when needed
    framer = Framer()
    assert framer.frame(exec_message(["ls", "-l"])) is not None
    assert (framer.degraded, framer.payload_dropped) == (0, 0)


def test_payload_goes_first() -> None:
    original = HEADER.replace(payload="p" * 70_000, fields=WHO_SAMPLE)
    out = framed(original, Framer())
    assert out.payload is None and out.fields[: len(WHO_SAMPLE)] == WHO_SAMPLE
    assert values(out, "truncated") == ("Payload",)
    assert values(out, "truncated_bytes") == (70_000,)


@pytest.mark.parametrize("payload", [
    "p" * 65_400, "p" * 65_536, "p" * 65_537, "é" * 40_000, "é" * 70_000])
def test_a_payload_near_the_limit_gives_the_degradation_whichever_way(payload: str) -> None:
    """A payload longer than the limit skips the trial encoding of the whole message
    (an exec of megabytes): the frame is the degradation's, as it is for one found too
    large by encoding (a shorter payload, or one whose UTF-8 is what exceeds)."""
    original = HEADER.replace(payload=payload, fields=WHO_SAMPLE)
    framer = Framer()
    assert len(encode_message(original)) > framer.max_message_size
    degraded = degrade(original, framer.max_message_size)
    assert degraded is not None and degraded.payload_dropped
    assert framer.frame(original) == frame(encode_message(degraded.message))
    assert (framer.payload_dropped, framer.degraded, framer.frames) == (1, 0, 1)


def test_header_alone_too_large_is_refused_and_counted() -> None:
    framer = Framer()
    assert framer.frame(HEADER.replace(hostname="h" * 70_000)) is None
    assert framer.oversize == 1


def test_truncated_list_itself_is_bounded() -> None:
    many = tuple(Field.string(f"k{i:04d}_" + "n" * 40, "v" * 300) for i in range(400))
    original = HEADER.replace(fields=(*WHO_SAMPLE, *many))
    result = degrade(original, 2048)
    assert result is not None
    check(original, 2048, result)
    assert values(result.message, "truncated")[-1] == REST


def test_record_keys_cannot_pose_as_the_truncated_report() -> None:
    record = parse_line('type=USER_CMD msg=audit(1.000:2): pid=1 uid=0 msg=\'op=x '
                        'truncated="argv" truncated_bytes=1 res=success\'')
    assert isinstance(record, Record)
    builder = MessageBuilder(Interpreter({}, {}, "x86_64"), hostname="h")
    message = builder.build(Event(None, 2, 1, 0, (record,)))
    assert message.field("truncated") is None and message.field("truncated_bytes") is None
    assert message.field("user_cmd_truncated") is not None


def test_protoc_decodes_a_degraded_message() -> None:
    out = framed(exec_message(["true", "é" * 70_000]), Framer())
    text = protoc_decode(encode_message(out))
    assert 'name: "truncated"' in text and 'name: "argv"' in text
    assert "...[cut from 140000 bytes]" in text  # cut on a character boundary


@pytest.mark.parametrize("signer", [None, Signer("ops", 1, b"k", "sha1")])
def test_refit_for_a_smaller_target_keeps_original_sizes(signer: Signer | None) -> None:
    framer = Framer(signer)
    data = framer.frame(exec_message(["true", "B" * 131071]))
    assert data is not None
    smaller = framer.refit(data, 8192)
    assert smaller is not None and len(smaller) <= 8192
    unframer = Unframer(signers={signer.lookup_key: signer} if signer else None,
                        require_signature=signer is not None)
    (unframed,) = unframer.feed(smaller)
    out = decode_message(unframed.message)
    names = values(out, "truncated")
    assert names.count("argv") == 1
    original_size = values(out, "truncated_bytes")[names.index("argv")]
    assert isinstance(original_size, int) and original_size > 131071  # the original's
    assert values(out, "exe") == ("/usr/bin/true",)
    argv = values(out, "argv")
    assert isinstance(argv[1], str) and argv[1].endswith(MARKER.format(131071))  # not re-sized
    assert framer.refit(b"not a frame", 8192) is None
    assert framer.refit(data, 40) is None  # below any header


def test_frame_overhead_is_exact() -> None:
    for signer in (None, Signer("s", 3, b"key"), Signer("s" * 50, 9, b"k", "sha1")):
        for size in (0, 1, 127, 128, 70_000):
            framed_size = len(frame(b"x" * size, signer, 1 << 20))
            assert framed_size - size == frame_overhead(size, signer)


def test_udp_delivery_refits_big_frames() -> None:
    receiver = UdpReceiver(buffer_size=8192)
    framer = Framer()
    config = DeliveryConfig(hold=0.3, backoff_base=0.01, backoff_cap=0.2, poll_interval=0.01)
    delivery = Delivery.open([parse_target(f"udp://127.0.0.1:{receiver.port}")], config,
                             refit=framer.refit)
    for i in range(20):
        assert delivery.submit(make_frame(i, payload_size=9000 if i % 5 == 0 else 10))
    receiver.drain(1.0)
    delivery.close(2)
    counters = delivery.counters()
    assert counters["refitted"] == 4 and counters["oversize"] == 0
    assert sorted(receiver.indexes) == list(range(20))
    assert max(receiver.datagram_sizes) <= 8192
    receiver.close()


def test_importance_classes() -> None:
    assert [importance(n) for n in ("uid", "uid_i", "argc", "argv", "proctitle_i", "a0",
                                    "never_seen_key")] == [0, 1, 0, 2, 2, 3, 3]
    assert {"uid", "auid", "pid", "ppid", "exe", "comm", "key", "syscall",
            "success", "exit", "cwd", "name"} <= set(degrade_module.WHO)


def test_an_ordinary_event_in_a_small_datagram_keeps_who_first() -> None:
    """At ~1 KiB (a small UDP datagram) the who-fields of an openat stay:
    interpretations and the rest go first; below that, WHO's order decides."""
    stamp = "1700000000.123:77"
    lines = [
        f"type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=257 success=no exit=-2 "
        "a0=ffffff9c a1=7f145bc499a0 a2=80000 a3=0 items=1 ppid=8175 pid=8243 "
        "auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
        'tty=(none) ses=4294967295 comm="python3" exe="/usr/bin/python3.11" '
        'subj=unconfined key="marker"',
        f'type=CWD msg=audit({stamp}): cwd="/work/wt-evasion"',
        f'type=PATH msg=audit({stamp}): item=0 name="/nonexistent/audit-heka-marker/x-10" '
        "nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
        f"type=PROCTITLE msg=audit({stamp}): proctitle=2F7573722F62696E2F707974686F6E33",
    ]
    session = Session(MessageBuilder(Interpreter({0: "root"}, {0: "root"}, "x86_64"),
                                       hostname="somehost.example"), Assembler(live=False))
    built = [s.message for line in lines for s in session.feed(line)]
    (message,) = built + [s.message for s in session.finish()]
    framer = Framer()
    data = framer.frame(message)
    assert data is not None
    for size, whole in ((1024, ("type", "exe", "uid", "pid", "key", "name", "cwd")),
                        (600, ("type", "exe", "comm", "uid", "auid", "pid"))):
        smaller = framer.refit(data, size)
        assert smaller is not None and len(smaller) <= size
        out = decode_message(Unframer().feed(smaller)[0].message)
        for name in whole:
            assert out.field(name) == message.field(name), (size, name)


def test_path_heavy_event_through_replay(tmp_path: Path) -> None:
    """60,000 PATH records in one event (hand-written: no syscall makes that
    many; the kernel allocates audit_names without bound), through the real
    ``replay`` to a file target: it arrives, degraded."""
    stamp = "1700000000.500:91"
    lines = [f"type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=2 success=no exit=-2 "
             "items=60000 ppid=1 pid=4243 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 "
             'fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="cat" '
             'exe="/usr/bin/cat" key="paths"',
             f'type=CWD msg=audit({stamp}): cwd="/home/alice"']
    lines += [f'type=PATH msg=audit({stamp}): item={i} name="/tmp/p/{i:05d}" inode={i} '
              "dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"
              for i in range(60_000)]
    lines.append(f"type=PROCTITLE msg=audit({stamp}): proctitle=636174")
    log, frames = tmp_path / "audit.log", tmp_path / "out.heka"
    log.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["replay", str(log), "--target", f"file:{frames}"])
    took = time.perf_counter() - started
    assert result.exit_code == 0, result.stderr
    assert "degraded_for_size: 1" in result.stderr
    (unframed,) = Unframer().feed(frames.read_bytes())
    assert len(unframed.message) <= 65536
    out = decode_message(unframed.message)
    assert values(out, "uid") == (1000,) and values(out, "exe") == ("/usr/bin/cat",)
    assert values(out, "items") == (60_000,) and values(out, "key") == ("paths",)
    names = values(out, "name")
    assert names[0] == "/tmp/p/00000" and names[-1] == "/tmp/p/59999"
    listed = values(out, "truncated")
    assert "name" in listed
    assert values(out, "truncated_values")[listed.index("name")] == 60_000
    print(f"60,000-PATH event replayed in {took:.1f} s; kept {len(names)} names")


# --- the Lua decoder degrades the same way --------------------------------------


def exec_lines(argv: list[str], stamp: str) -> list[str]:
    return [
        f"type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=59 success=yes exit=0 "
        "a0=1 a1=2 a2=3 a3=4 items=2 ppid=100 pid=4242 auid=1000 uid=1000 gid=1000 "
        "euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 "
        'comm="true" exe="/usr/bin/true" key="exec"',
        *execve_lines(argv, stamp),
        f'type=CWD msg=audit({stamp}): cwd="/home/alice"',
        f"type=PROCTITLE msg=audit({stamp}): proctitle=74727565",
    ]


def path_lines(count: int, stamp: str) -> list[str]:
    return [
        f"type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=2 success=no exit=-2 "
        f'items={count} ppid=1 pid=4243 auid=0 uid=0 comm="cat" exe="/usr/bin/cat" key="p"',
        *(f'type=PATH msg=audit({stamp}): item={i} name="/tmp/p/{i:05d}" inode={i} '
          "dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"
          for i in range(count)),
        f"type=PROCTITLE msg=audit({stamp}): proctitle=636174",
    ]


LUA_CASES = {
    # The sandbox's output_limit (64,512) bounds what the decoder injects.
    "one 131071-byte argument": (exec_lines(["true", "B" * 131071], "1700000000.100:1"), 64512),
    "a 60000-byte argument: Payload only": (
        exec_lines(["true", "C" * 60000], "1700000000.200:2"), 65536),
    # (from ~2,000 on, one call could not build it whole: it is trimmed, tests/test_lua_limits.py)
    "1,400 arguments at 8 KiB": (
        exec_lines(["true", *(f"arg{i}" for i in range(1400))], "1700000000.300:3"), 8192),
    "40 PATH records at 2 KiB": (path_lines(40, "1700000000.400:4"), 2048),
    "40 PATH records at hekad's minimum": (path_lines(40, "1700000000.500:5"), 1025),
}


@pytest.mark.parametrize("case", sorted(LUA_CASES))
def test_lua_decoder_degrades_like_the_daemon(tmp_path: Path, case: str) -> None:
    from lua_harness import LUA, heka_json, run_decoder, strict_diff  # noqa: PLC0415

    from audit_heka.heka.message import message_to_json  # noqa: PLC0415
    from audit_heka.host.accounts import read_groups, read_users  # noqa: PLC0415

    if LUA is None:
        pytest.skip("lua5.1 is not installed")
    lines, limit = LUA_CASES[case]
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    accounts = {"passwd": Path("/etc/passwd").read_text(),
                "group": Path("/etc/group").read_text()}
    run = run_decoder(log, {"hostname": "h", "max_message_size": limit, **accounts})
    assert [c.err for c in run.calls if c.fatal or c.rc != 0] == []
    (lua_message,) = run.messages
    assert len(encode_message(lua_message)) <= limit
    builder = MessageBuilder(Interpreter(read_users(), read_groups()), hostname="h")
    session = Session(builder, Assembler(live=False))
    built = [s.message for line in lines for s in session.feed(line)]
    built += [s.message for s in session.finish()]
    framer = Framer(max_message_size=limit)
    (python_message,) = [framed(m, framer) for m in built]
    ours, theirs = heka_json(lua_message), message_to_json(python_message)
    theirs.setdefault("Pid", 0)
    assert [d[:300] for d in strict_diff(ours, theirs)] == []
    assert "truncated" in theirs["Fields"]
    print(f"{case}: Lua used {max(c.instructions for c in run.calls)} instructions")

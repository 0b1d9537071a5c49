"""schema.py: an Event becomes the Heka message docs/fields.md describes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from protoc import protoc_decode

from audit_heka.core.events import Event
from audit_heka.core.interpret import Interpreter
from audit_heka.core.records import Record, parse_line
from audit_heka.core.schema import (
    AUDIT_HEKA_NAMESPACE,
    INTEGER_KEYS,
    SEVERITY_INFO,
    SEVERITY_WARNING,
    MessageBuilder,
    event_uuid,
    severity,
    uuid5,
)
from audit_heka.heka.message import Field, Message, ValueType, decode_message, encode_message


class StandIn:
    """A trivial interpreter: uid-like keys get "user<N>", key parts split on 0x01."""

    def interpret(self, records: Sequence[Record]) -> list[dict[str, str | list[str]]]:
        out: list[dict[str, str | list[str]]] = []
        for r in records:
            d: dict[str, str | list[str]] = {}
            for k, v in r.fields:
                if k in ("uid", "auid", "ouid") and k not in d:
                    d[k] = f"user{v}"
                elif k == "key" and k not in d:
                    d[k] = ["k1", "k2"] if v == "6B31016B32" else [v.strip('"')]
            out.append(d)
        return out

    def interpret_checked(self, records: Sequence[Record]
                          ) -> tuple[list[dict[str, str | list[str]]], list[str]]:
        return self.interpret(records), []

    def argv(self, records: Sequence[Record]) -> list[str]:
        return [v.strip('"') for r in records if r.type == 1309 for k, v in r.fields
                if k.startswith("a") and k[1:].isdigit()]


def event(*lines: str, part: int = 0) -> Event:
    records = []
    for line in lines:
        r = parse_line(line)
        assert isinstance(r, Record), r
        records.append(r)
    first = records[0]
    return Event(first.node, first.serial, first.seconds, first.milliseconds, tuple(records), part)


def build(ev: Event, **kwargs: object) -> tuple[Message, MessageBuilder]:
    builder = MessageBuilder(StandIn(), hostname="host.example", **kwargs)  # type: ignore[arg-type]
    return builder.build(ev), builder


def fields(msg: Message) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for f in msg.fields:
        assert f.name not in out, f"field {f.name} twice"
        out[f.name] = f
    return out


H = "msg=audit(1700000000.042:777): "
SYSCALL = (
    f"type=SYSCALL {H}arch=c000003e syscall=2 success=no exit=-2 a0=1 a1=2 a2=3 a3=4 items=2 "
    'ppid=1 pid=4321 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 '
    'tty=pts0 ses=5 comm="cat" exe="/usr/bin/cat" key=6B31016B32'
)
CWD = f'type=CWD {H}cwd="/root"'
PATH0 = f'type=PATH {H}item=0 name="/etc/shadow" inode=12 mode=0100640 ouid=0'
PATH1 = f"type=PATH {H}item=1 name=2F746D702F6120622F63 ouid=1000 nametype=CREATE"
PROCTITLE = f"type=PROCTITLE {H}proctitle=636174002F6574632F736861646F77"


def test_header() -> None:
    ev = event(SYSCALL, CWD, PATH0, PATH1, PROCTITLE)
    msg, _ = build(ev)
    name = "host.example|1700000000.042|777"
    assert msg.uuid == uuid.uuid5(uuid.UUID(bytes=AUDIT_HEKA_NAMESPACE), name).bytes
    assert msg.uuid == event_uuid("host.example", 1700000000, 42, 777)
    assert msg.timestamp == 1700000000_042_000_000
    assert (msg.type, msg.logger, msg.hostname, msg.pid) == (
        "audit_log", "audit-heka", "host.example", 4321)
    assert msg.severity == SEVERITY_WARNING  # success=no
    assert msg.env_version is None
    assert msg.payload == "\n".join([SYSCALL, CWD, PATH0, PATH1, PROCTITLE])


@given(st.binary(min_size=16, max_size=16), st.text())
def test_uuid5_is_the_standard_librarys(namespace: bytes, name: str) -> None:
    assert uuid5(namespace, name) == uuid.uuid5(uuid.UUID(bytes=namespace), name).bytes


def test_uuid_is_stable_and_parts_differ() -> None:
    a, _ = build(event(SYSCALL))
    b, _ = build(event(SYSCALL))
    c, _ = build(event(SYSCALL, part=1))
    assert a.uuid == b.uuid != c.uuid
    namespace = uuid.UUID(bytes=AUDIT_HEKA_NAMESPACE)
    assert c.uuid == uuid.uuid5(namespace, "host.example|1700000000.042|777#1").bytes


def test_node_is_the_hostname() -> None:
    msg, _ = build(event("node=web1 " + CWD))
    assert msg.hostname == "web1"
    assert fields(msg)["node"].values == ("web1",)
    assert msg.uuid == event_uuid("web1", 1700000000, 42, 777)


def test_options() -> None:
    msg, _ = build(event(CWD), message_type="linux.audit", payload=False)
    assert msg.type == "linux.audit" and msg.payload is None


def test_field_order_and_types() -> None:
    msg, _ = build(event(SYSCALL, CWD, PATH0, PATH1, PROCTITLE))
    names = [f.name for f in msg.fields]
    assert names[:3] == ["serial", "type", "record_types"]
    f = fields(msg)
    assert f["serial"] == Field.integer("serial", 777)
    assert f["type"] == Field.string("type", "SYSCALL")
    assert f["record_types"].values == ("SYSCALL", "CWD", "PATH", "PATH", "PROCTITLE")
    assert f["pid"] == Field.integer("pid", 4321)
    assert f["exit"] == Field.integer("exit", -2)
    assert f["a0"] == Field.string("a0", "1")  # hex: never INTEGER
    assert f["comm"] == Field.string("comm", "cat")  # quotes removed
    assert f["tty"] == Field.string("tty", "pts0")
    assert f["uid_i"] == Field.string("uid_i", "user0")
    assert f["key"] == Field.string("key", "6B31016B32")  # hex stays hex
    assert f["key_i"] == Field.string("key_i", "k1", "k2")
    # Seed compatibility.
    for seed in ("type", "comm", "exe", "key"):
        assert seed in f
    # raw then _i, in record order
    assert names.index("uid") + 1 == names.index("uid_i")
    assert names.index("arch") < names.index("cwd") < names.index("item") < names.index("proctitle")


def test_aligned_arrays_for_repeated_types() -> None:
    msg, builder = build(event(SYSCALL, PATH0, PATH1))
    f = fields(msg)
    assert f["item"] == Field.integer("item", 0, 1)
    assert f["name"] == Field.string("name", "/etc/shadow", "2F746D702F6120622F63")
    assert f["ouid_i"] == Field.string("ouid_i", "user0", "user1000")
    # inode and mode are missing in PATH1: "" and STRING
    assert f["inode"] == Field.string("inode", "12", "")
    assert f["mode"] == Field.string("mode", "0100640", "")
    assert f["nametype"] == Field.string("nametype", "", "CREATE")
    assert builder.counters.aligned_fill == 3


def test_collisions_are_prefixed() -> None:
    capset = f"type=CAPSET {H}pid=99 cap_pi=0 cap_pp=0 cap_pe=0"
    obj = f"type=OBJ_PID {H}opid=5 oauid=1 ouid=0 oses=1 ocomm=\"x\" type=1"
    msg, _ = build(event(SYSCALL, capset, obj, PATH0))
    f = fields(msg)
    assert f["pid"] == Field.integer("pid", 4321)
    assert f["capset_pid"] == Field.integer("capset_pid", 99)
    assert f["ouid"] == Field.integer("ouid", 0)  # OBJ_PID is the first type with ouid
    assert f["ouid_i"] == Field.string("ouid_i", "user0")
    assert f["obj_pid_type"] == Field.string("obj_pid_type", "1")  # "type" belongs to the event
    assert f["path_ouid"] == Field.integer("path_ouid", 0)
    assert f["path_ouid_i"] == Field.string("path_ouid_i", "user0")


def test_malformed_integer_is_string_and_counted() -> None:
    msg, builder = build(event(f"type=USER_LOGIN {H}pid=abc uid=99999999999999999999 auid=-1"))
    f = fields(msg)
    assert f["pid"] == Field.string("pid", "abc")
    assert f["uid"] == Field.string("uid", "99999999999999999999")  # beyond int64
    assert f["auid"] == Field.integer("auid", -1)
    assert builder.counters.malformed_integer == 2
    assert builder.counters.by_key == {"pid": 1, "uid": 1}
    assert msg.pid is None


def test_pid_header_must_fit_int32() -> None:
    msg, _ = build(event(f"type=USER {H}pid=4294967296 uid=0"))
    assert msg.pid is None
    assert fields(msg)["pid"] == Field.integer("pid", 4294967296)


def test_user_message_fields_and_msgdata() -> None:
    msg, _ = build(event(
        f"type=USER_CMD {H}pid=5 uid=1000 auid=1000 ses=2 msg='cwd=\"/home/u\" "
        "cmd=6C73202D6C terminal=pts/0 res=success'"
    ))
    f = fields(msg)
    assert f["cmd"] == Field.string("cmd", "6C73202D6C")
    assert f["res"] == Field.string("res", "success")
    assert "msg" not in f and "msgdata" not in f
    msg, _ = build(event(f"type=USER {H}pid=5 uid=0 msg='free words only'"))
    assert fields(msg)["msg"] == Field.string("msg", "free words only")
    avc = f"type=AVC {H}avc:  denied  {{ read }} for  pid=3 comm=\"x\" tclass=file"
    msg, _ = build(event(avc))
    assert fields(msg)["msgdata"] == Field.string("msgdata", "avc:  denied  { read } for")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("type=SYSCALL {H}success=yes exit=0", SEVERITY_INFO),
        ("type=SYSCALL {H}success=no exit=-13", SEVERITY_WARNING),
        ("type=USER_AUTH {H}pid=1 msg='op=PAM:auth acct=\"x\" res=failed'", SEVERITY_WARNING),
        ("type=USER_AUTH {H}pid=1 msg='op=PAM:auth acct=\"x\" res=success'", SEVERITY_INFO),
        ("type=CONFIG_CHANGE {H}op=add_rule res=0", SEVERITY_WARNING),
        ("type=CONFIG_CHANGE {H}op=add_rule res=1", SEVERITY_INFO),
        ("type=AVC {H}avc:  denied  {{ read }} for pid=1", SEVERITY_WARNING),
        ("type=AVC {H}avc:  granted  {{ setenforce }} for pid=1", SEVERITY_INFO),
        ("type=USER_AVC {H}pid=1 msg='avc:  denied  {{ x }} for tclass=dbus'", SEVERITY_WARNING),
        ("type=APPARMOR_DENIED {H}apparmor=\"DENIED\" operation=\"open\"", SEVERITY_WARNING),
        ("type=ANOM_ABEND {H}pid=1 sig=11", SEVERITY_WARNING),
        ("type=ANOM_LOGIN_FAILURES {H}pid=1", SEVERITY_WARNING),
        ("type=SECCOMP {H}pid=1 sig=31 syscall=1 code=0x80000000", SEVERITY_WARNING),
        ("type=SECCOMP {H}pid=1 sig=0 syscall=1 code=0x0", SEVERITY_WARNING),
        ("type=SECCOMP {H}pid=1 sig=0 syscall=1 code=0x7ffc0000", SEVERITY_INFO),
    ],
)
def test_severity_table(body: str, expected: int) -> None:
    ev = event(body.format(H=H))
    assert severity(ev.records) == expected
    assert build(ev)[0].severity == expected


def test_integer_keys_table() -> None:
    for key in ("pid", "ppid", "uid", "auid", "euid", "suid", "fsuid", "gid", "egid", "sgid",
                "fsgid", "ses", "items", "item", "inode", "exit", "syscall", "argc", "ouid",
                "ogid"):
        assert key in INTEGER_KEYS
    for key in ("a0", "arch", "mode", "dev", "tty", "res", "success", "key"):
        assert key not in INTEGER_KEYS


def test_execve_argv_with_real_interpreter() -> None:
    long_hex = "41" * 5000
    lines = [
        f"type=SYSCALL {H}arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 "
        'items=1 pid=10 auid=0 uid=0 comm="x" exe="/bin/x" key=(null)',
        f'type=EXECVE {H}argc=4 a0="/bin/echo" a1=68656C6C6F20776F726C64 a2_len=10000 '
        f"a2[0]={long_hex}",
        f'type=EXECVE {H} a2[1]={long_hex} a3=""',
        f'type=PROCTITLE {H}proctitle="x"',
    ]
    ev = event(*lines)
    builder = MessageBuilder(Interpreter({0: "root"}, {0: "root"}), hostname="h")
    f = fields(builder.build(ev))
    assert f["argc"] == Field.integer("argc", 4)
    assert f["argv"].values == ("/bin/echo", "hello world", "A" * 10000, "")
    assert not any("[" in n or n.endswith("_len") or n.startswith("execve_") for n in f)
    assert f["a0"] == Field.string("a0", "1")  # SYSCALL's a0 is untouched
    assert f["record_types"].values == ("SYSCALL", "EXECVE", "EXECVE", "PROCTITLE")
    names = [x.name for x in builder.build(ev).fields]
    assert names.index("argv") == names.index("argc") + 1


class _Recording(StandIn):
    """The stand-in, keeping what it was asked to interpret."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, ...]] = []

    def interpret(self, records: Sequence[Record]) -> list[dict[str, str | list[str]]]:
        self.asked += [tuple(k for k, _ in r.fields) for r in records]
        return super().interpret(records)


def test_execve_arguments_go_to_argv_uninterpreted() -> None:
    """An EXECVE record's aN, aN_len and aN[i] have no text of their own in the message
    (argv has them): they are not interpreted either -- an exec can hold 100,000."""
    lines = [
        f'type=EXECVE {H}argc=3 a0="ls" a1_len=4 a1[0]=4142 a1[1]=4344 a2="-l" abc=1 key="k"',
        f'type=CWD {H}cwd="/root"',
    ]
    interpreter = _Recording()
    builder = MessageBuilder(interpreter, hostname="h")
    f = fields(builder.build(event(*lines)))
    assert interpreter.asked == [("argc", "abc", "key"), ("cwd",)]
    assert f["argv"].values == ("ls", "-l")  # (the stand-in's argv: whole aN only)
    assert f["key_i"].values == ("k",) and "abc" in f and "a0" not in f


def test_long_execve_records_leave_only_their_other_keys_to_interpret() -> None:
    """A long exec, split by the kernel: whole runs of aN (read as lists, not key by
    key) and a record whose run holds another key or a name out of place."""
    first = " ".join(f'a{i}="x{i}"' for i in range(40))
    second = " ".join(f'a{i}="y"' for i in range(40, 80))
    odd = " ".join(f'a{i}="z"' for i in range(80, 120)).replace("a90=", "a090=").replace(
        "a99=", "b99=")
    lines = [f"type=EXECVE {H}argc=120 {first}", f"type=EXECVE {H}{second}",
             f"type=EXECVE {H}{odd}"]
    interpreter = _Recording()
    f = fields(MessageBuilder(interpreter, hostname="h").build(event(*lines)))
    assert interpreter.asked == [("argc",), (), ("b99",)]
    assert "b99" in f and "a0" not in f and "a090" not in f and "a40" not in f


def test_enriched_values_become_interpretations() -> None:
    line = f'type=PATH {H}item=0 name="/x" ouid=1234 ogid=0\x1dOUID="alice" OGID="staff"'
    builder = MessageBuilder(Interpreter({}, {}), hostname="h")
    f = fields(builder.build(event(line)))
    assert f["ouid_i"] == Field.string("ouid_i", "alice")
    assert f["ogid_i"] == Field.string("ogid_i", "staff")
    assert "\x1d" in (builder.build(event(line)).payload or "")


def test_wire_round_trip_and_protoc() -> None:
    msg, _ = build(event(SYSCALL, CWD, PATH0, PATH1, PROCTITLE))
    data = encode_message(msg)
    assert decode_message(data) == msg
    text = protoc_decode(data)
    assert 'name: "serial"' in text
    assert 'value_type: INTEGER' in text
    assert 'type: "audit_log"' in text
    assert 'logger: "audit-heka"' in text
    assert "severity: 4" in text
    assert "pid: 4321" in text
    assert 'value_string: "/etc/shadow"' in text
    assert fields(msg)["item"].value_type == ValueType.INTEGER

"""Sans-IO tests of the auditctl rule codec, printer, rule files and status codec."""

from __future__ import annotations

import errno
import importlib
import socket
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyroute2.netlink.exceptions import NetlinkError

from audit_heka.cli import main
from audit_heka.netlink import control as control_mod
from audit_heka.netlink.control import AuditControl, AuditError, MarshalAudit
from audit_heka.netlink.rulefile import (
    Located,
    apply,
    parse_rules,
    read_sources,
    version_key,
)
from audit_heka.netlink.rules import (
    RULE_DATA_SIZE,
    AddRule,
    DeleteAll,
    Rule,
    RuleEnv,
    RuleError,
    SetStatus,
    decode_rule,
    encode_rule,
    format_rules,
    kernel_form,
    parse_line,
)
from audit_heka.netlink.source import AuditSource, RawRecord, SourceMode
from audit_heka.netlink.status import (
    STATUS_SIZE,
    AuditStatus,
    StatusError,
    decode_status,
    encode_status_set,
)

CORPUS = Path(__file__).parent / "data" / "rules"
USERS = {"root": 0, "nobody": 65534}
GROUPS = {"root": 0, "adm": 4}
DIRS = {"/etc", "/var/log", "/etc/ssh", "/etc/cron.d"}
ENV = RuleEnv("x86_64", 0x7F, USERS.get, GROUPS.get, DIRS.__contains__)


def parse(line: str) -> Rule:
    cmd = parse_line(line, ENV)
    assert isinstance(cmd, AddRule)
    return cmd.rule


def listed(line: str) -> str:
    return format_rules([kernel_form(parse(line))])[0]


def corpus_lines() -> list[str]:
    out = []
    for f in sorted(CORPUS.glob("*.rules")):
        out += [ln for ln in f.read_text().splitlines() if ln and not ln.startswith("#")]
    return out


def test_corpus_is_big_enough() -> None:
    assert len(corpus_lines()) >= 150


@pytest.mark.parametrize("line", corpus_lines())
def test_corpus_encode_decode_roundtrip(line: str) -> None:
    cmd = parse_line(line, ENV)
    assert cmd is not None and hasattr(cmd, "rule")
    rule = cmd.rule
    data = encode_rule(rule)
    assert len(data) >= RULE_DATA_SIZE
    assert decode_rule(data) == rule


def test_wire_layout_of_a_syscall_rule() -> None:
    rule = parse("-a always,exit -F arch=b64 -S execve -k x")
    data = encode_rule(rule)
    flags, action, count = struct.unpack_from("=3I", data)
    assert (flags, action, count) == (4, 2, 2)
    mask = struct.unpack_from("=64I", data, 12)
    assert mask[59 // 32] == 1 << (59 % 32)
    fields = struct.unpack_from("=2I", data, 12 + 256)
    values = struct.unpack_from("=2I", data, 12 + 512)
    ops = struct.unpack_from("=2I", data, 12 + 768)
    assert fields == (11, 210)
    assert values == (0xC000003E, 1)
    assert ops == (0x40000000, 0x40000000)
    assert struct.unpack_from("=I", data, 1036) == (1,)
    assert data[1040:] == b"x"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("-a exit,always -F arch=b64 -S openat,execve -F auid>=1000 -F auid!=unset -k a -k b",
         "-a always,exit -F arch=b64 -S execve,openat -F auid>=1000 -F auid!=-1 -F key=a -F key=b"),
        ("-a always,exit -F arch=b32 -S open -F exit=-EACCES",
         "-a always,exit -F arch=b32 -S open -F exit=-EACCES"),
        ("-a always,exit -F arch=b64 -S openat -F exit=EPERM",
         "-a always,exit -F arch=b64 -S openat -F exit=1"),
        ("-w /etc/ -p wa -k cfg", "-w /etc -p wa -k cfg"),
        ("-w /etc/passwd", "-w /etc/passwd -p rwxa"),
        ("-a always,exit -F path=/etc/shadow -F perm=r", "-w /etc/shadow -p r"),
        ("-a always,exit -F arch=b64 -S kill -F a1=9 -F a0&255",
         "-a always,exit -F arch=b64 -S kill -F a1=0x9 -F a0&0xFF"),
        ("-a always,exit -F arch=b64 -S openat -C euid!=auid",
         "-a always,exit -F arch=b64 -S openat -C auid!=euid"),
        ("-a always,exit -F arch=b64 -S openat -F filetype=file",
         "-a always,exit -F arch=b64 -S openat -F filetype=32768"),
        ("-a never,exclude -F msgtype=CWD", "-a never,exclude -F msgtype=CWD"),
        ("-a never,filesystem -F fstype=debugfs", "-a never,filesystem -F fstype=debugfs"),
        ("-a always,exit -S all -F exe!=/bin/ls", "-a always,exit -S all -F exe=/bin/ls"),
        ("-a always,task -F uid=root", "-a always,task -F uid=0"),
        ("-a always,exit -F arch=b64 -S 400", "-a always,exit -F arch=b64 -S 400"),
        ("-a always,exit -F arch=aarch64 -S 221", "-a always,exit -F arch=b64 -S execve"),
    ],
)
def test_printing_matches_auditctl(line: str, expected: str) -> None:
    assert listed(line) == expected


def test_printer_remembers_the_last_arch_like_auditctl() -> None:
    rules = [kernel_form(parse("-a always,exit -F arch=b32 -S open")),
             kernel_form(parse("-a always,exit -S execve -F exe=/x"))]
    assert format_rules(rules)[1] == "-a always,exit -S oldolduname -F exe=/x"
    assert format_rules([]) == ["No rules"]


def test_kernel_form_clears_class_bits_and_prepend() -> None:
    rule = parse("-A always,exit -S all -F exe=/x")
    k = kernel_form(rule)
    assert k.flags == 4 and k.mask[63] == 0xFFFF and rule.mask[63] == 0xFFFFFFFF


def test_control_lines() -> None:
    assert parse_line("-D", ENV) == DeleteAll(None)
    assert parse_line("-D -k foo", ENV) == DeleteAll("foo")
    assert parse_line("-b 8192", ENV) == SetStatus((("backlog_limit", 8192),))
    assert parse_line("--backlog_wait_time 60000", ENV) == SetStatus(
        (("backlog_wait_time", 60000),))
    assert parse_line("-e 2", ENV) == SetStatus((("enabled", 2),))
    assert parse_line("  # comment", ENV) is None
    assert parse_line("", ENV) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-a always,exit -F arch=b64 -S openat -F bogus=1", "unknown field 'bogus'"),
        ("-a always,exit -F arch=b64 -S openat -F uid~1", "no operator"),
        ("-a always,exit -F arch=b64 -S notasyscall", "unknown syscall for x86_64"),
        ("-a always,exit -F arch=b64 -S openat -F uid=nosuchuser", "unknown user 'nosuchuser'"),
        ("-a always,exit -F arch=b64 -S openat -F gid=nosuchgroup", "unknown group"),
        ("-a always,exit -F arch=b64 -S openat -F exit=-ENOTANERRNO", "unknown errno"),
        ("-a always,exclude -F msgtype=NOPE", "unknown message type"),
        ("-a always,exit -F msgtype=CWD", "only valid on the exclude or user list"),
        ("-a always,exit -S openat -F arch=b64", "must come before -S"),
        ("-a always,task -S openat", "-S is not allowed on the task list"),
        ("-a always,exit -F perm=rz", "'z' is not one of"),
        ("-a always,exit -F arch=b64 -S openat -k " + "k" * 257, "longer than 256"),
        ("-a always,exit -F arch=b64 -S openat -k a!=b", "contains an operator"),
        ("-a always,exit -F auid>=1000 -k nokeyable", "a key needs a syscall"),
        ("-a always,entry -S openat", "entry list is deprecated"),
        ("-a always,bogus", "unknown filter list"),
        ("-a sometimes,exit", "unknown action"),
        ("-a always,exit -F arch=b64 -S openat -F uid=12abc", "not a number"),
        ("-a always,exit -F arch=b64 -S openat -F uid=99999999999", "does not fit"),
        ("-a always,exit -F arch=sparc -S openat", "unknown architecture"),
        ("-w etc/passwd", "must be absolute"),
        ("-p wa", "only valid with a watch"),
        ("-e 3", "must be 0..2"),
        ("-F uid=0", "give -a/-A/-d"),
        ("-a always,exit -F", "needs a value"),
        ("-l", "not a rule"),
        ("-x", "unknown option"),
        ("-a always,exclude -F ppid=1", "exclude list"),
        ("-a always,exit -F arch=b64 -S openat -F inode<5", "inode takes only"),
        ("-a always,exit -F arch=b64 -S 5000", "out of range"),
    ],
)
def test_bad_input(line: str, message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(")):
        parse_line(line, ENV)


def test_decode_rejects_short_and_inconsistent_payloads() -> None:
    with pytest.raises(RuleError, match="at least 1040"):
        decode_rule(b"\0" * 100)
    data = bytearray(encode_rule(parse("-a always,exit -F arch=b64 -S openat -k abc")))
    struct.pack_into("=I", data, 1036, 50)
    with pytest.raises(RuleError, match="buflen"):
        decode_rule(bytes(data))


# --- rule files ---------------------------------------------------------------


def test_parse_rules_reports_file_and_line() -> None:
    text = "# c\n\n-a always,exit -F arch=b64 -S openat\n-a always,exit -F nope=1\n"
    parsed = parse_rules(text, "x.rules", ENV)
    assert len(parsed.commands) == 1 and parsed.commands[0].lineno == 3
    assert [(e.source, e.lineno) for e in parsed.errors] == [("x.rules", 4)]
    assert str(parsed.errors[0]).startswith("x.rules:4: -F nope=1: unknown field")


def test_rules_d_order_and_augenrules_merge(tmp_path: Path) -> None:
    (tmp_path / "10-base.rules").write_text("-D\n-b 100\n-f 1\n-e 1\n")
    (tmp_path / "2-first.rules").write_text("-a always,exit -F arch=b64 -S openat -k two\n")
    (tmp_path / "99-last.rules").write_text("-b 200\n-a always,exit -F arch=b64 -S chmod\n")
    (tmp_path / "ignored.txt").write_text("-x\n")
    assert sorted(["10-a", "2-b", "9-c"], key=version_key) == ["2-b", "9-c", "10-a"]
    (parsed,) = read_sources([tmp_path], ENV)
    assert not parsed.errors
    kinds = [type(c.command).__name__ for c in parsed.commands]
    assert kinds == ["DeleteAll", "SetStatus", "SetStatus", "AddRule", "AddRule", "SetStatus"]
    assert parsed.commands[1].command == SetStatus((("backlog_limit", 200),))
    assert parsed.commands[-1].command == SetStatus((("enabled", 1),))
    assert parsed.commands[3].source.endswith("2-first.rules")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    (parsed,) = read_sources([tmp_path / "nope.rules"], ENV)
    assert parsed.errors and "No such file" in parsed.errors[0].message


class FakeControl:
    """Kernel stand-in for apply(): refuses what it is told to refuse."""

    def __init__(self, refuse: set[str] | None = None, code: int = errno.EEXIST) -> None:
        self.rules: list[Rule] = []
        self.refuse = refuse or set()
        self.code = code
        self.status: dict[str, int] = {"backlog_limit": 64}

    def list_rules(self) -> list[Rule]:
        return list(self.rules)

    def add_rule(self, rule: Rule) -> Rule:
        if any(f.text in self.refuse for f in rule.fields) or rule in self.rules:
            raise AuditError(self.code, "adding rule")
        self.rules.append(rule)
        return rule

    def delete_rule(self, rule: Rule) -> None:
        self.rules.remove(rule)

    def delete_all(self, key: str | None = None) -> int:
        n = len(self.rules)
        self.rules.clear()
        return n

    def set_status(self, **changes: int) -> None:
        self.status.update(changes)

    def reset_lost(self) -> int:
        return 0

    def set_loginuid_immutable(self) -> None:
        pass


def _commands(text: str) -> tuple[Located, ...]:
    parsed = parse_rules(text, "f.rules", ENV)
    assert not parsed.errors
    return parsed.commands


def test_apply_is_all_or_nothing() -> None:
    ctl = FakeControl(refuse={"bad"})
    existing = parse("-a always,exit -F arch=b64 -S chmod -k old")
    ctl.rules.append(existing)
    cmds = _commands(
        "-b 500\n-a always,exit -F arch=b64 -S openat -k good\n"
        "-a always,exit -F arch=b64 -S openat -k bad\n-a always,exit -F arch=b64 -S open\n"
    )
    result = apply(ctl, cmds, status_before={"backlog_limit": 64})
    assert result.rolled_back
    assert ctl.rules == [existing]
    assert ctl.status["backlog_limit"] == 64
    assert result.failures[0].startswith(
        "f.rules:3: Error sending add rule data request (Rule exists)")


def test_apply_continue_keeps_going() -> None:
    ctl = FakeControl(refuse={"bad"})
    cmds = _commands(
        "-a always,exit -F arch=b64 -S openat -k good\n"
        "-a always,exit -F arch=b64 -S openat -k bad\n-a always,exit -F arch=b64 -S open\n"
    )
    result = apply(ctl, cmds, keep_going=True)
    assert not result.rolled_back and result.applied == 2 and len(ctl.rules) == 2
    assert len(result.failures) == 1


# --- the lock (-e 2): only ever against a mocked reply -------------------------


class LockedSocket:
    """A netlink socket whose kernel answers every request with -EPERM, as a
    kernel locked with ``-e 2`` does. We never lock the real kernel in tests:
    only a reboot undoes it."""

    def nlm_request(self, *args: object, **kwargs: object) -> list[object]:
        raise NetlinkError(errno.EPERM)

    def close(self) -> None:
        pass


def test_locked_kernel_refusal_says_so() -> None:
    ctl = AuditControl(LockedSocket())
    with pytest.raises(AuditError, match=r"locked \(enabled=2") as info:
        ctl.add_rule(parse("-a always,exit -F arch=b64 -S openat"))
    assert info.value.errno == errno.EPERM
    with pytest.raises(AuditError, match="setting backlog_limit=10: operation not permitted"):
        ctl.set_status(backlog_limit=10)


def test_rules_load_cli_reports_lock_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_rules = importlib.import_module("audit_heka.cli.rules")

    class LockedControl(FakeControl):
        def __enter__(self) -> LockedControl:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def get_status(self) -> AuditStatus:
            return AuditStatus(0, 2, 1, 0, 0, 64, 0, 0, 0x7F, 15000, 0)

        def add_rule(self, rule: Rule) -> Rule:
            raise AuditError(errno.EPERM, "adding rule")

    monkeypatch.setattr(cli_rules, "AuditControl", LockedControl)
    rules_file = tmp_path / "a.rules"
    rules_file.write_text("-a always,exit -F arch=b64 -S openat -k x\n")
    result = CliRunner().invoke(main, ["rules", "load", str(rules_file)])
    assert result.exit_code == 1
    assert (f"{rules_file}:1: Error sending add rule data request (Operation not permitted)"
            " (audit is locked") in result.output
    assert f"NOT loaded: {rules_file}: the kernel refused a line" in result.output
    assert "Traceback" not in result.output


def test_rules_check_cli(tmp_path: Path) -> None:
    f = tmp_path / "b.rules"
    f.write_text("-a always,exit -F arch=b64 -S openat\n-a always,exit -F arch=b64 -S nope\n")
    result = CliRunner().invoke(main, ["rules", "check", str(f)])
    assert result.exit_code == 1
    assert f"{f}:2: -S nope: unknown syscall" in result.output
    assert "1 line ok, 1 error" in result.output


def test_marshal_hands_positive_error_codes_back_as_values() -> None:
    # AUDIT_SET mask=LOST answers NLMSG_ERROR with the old lost count (+42).
    ack = struct.pack("=IHHIIi", 36, 2, 0, 7, 0, 42) + struct.pack("=IHHII", 60, 1001, 5, 7, 0)
    (msg,) = list(MarshalAudit().parse(ack))
    assert msg["audit_value"] == 42 and msg["header"]["error"] is None
    nack = struct.pack("=IHHIIi", 36, 2, 0, 7, 0, -errno.EPERM) + struct.pack(
        "=IHHII", 60, 1001, 5, 7, 0)
    (msg,) = list(MarshalAudit().parse(nack))
    assert isinstance(msg["header"]["error"], NetlinkError)
    assert msg["header"]["error"].code == errno.EPERM
    assert control_mod.AuditError(errno.EPERM, "x").errno == errno.EPERM


# --- status codec --------------------------------------------------------------


def test_status_is_length_tolerant() -> None:
    full = struct.pack("=11I", 0, 1, 1, 123, 0, 64, 7, 0, 0x7F, 15000, 9)
    st = decode_status(full)
    assert (st.enabled, st.pid, st.lost, st.backlog_wait_time_actual) == (1, 123, 7, 9)
    old = decode_status(full[:32])
    assert old.lost == 7 and old.feature_bitmap is None and old.backlog_wait_time is None
    newer = decode_status(full + b"\x01\x00\x00\x00" * 3)
    assert newer == st
    with pytest.raises(StatusError, match="20 bytes"):
        decode_status(full[:20])
    with pytest.raises(StatusError, match="multiple of 4"):
        decode_status(full[:34])


def test_status_set_encodes_mask() -> None:
    data = encode_status_set(backlog_limit=8192, enabled=1)
    assert len(data) == STATUS_SIZE
    values = struct.unpack("=11I", data)
    assert values[0] == 0x10 | 0x01 and values[1] == 1 and values[5] == 8192
    with pytest.raises(ValueError, match="cannot be set"):
        encode_status_set(lost=0)


# --- record source framing (no kernel: a datagram socketpair) -------------------


def test_source_slices_datagrams_and_ignores_nlmsg_len() -> None:
    src = AuditSource(SourceMode.MULTICAST)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    src._sock = ours
    text = b"audit(1700000000.123:42): arch=c000003e syscall=59"
    # Unicast quirk: nlmsg_len is the payload length only, unaligned.
    theirs.send(struct.pack("=IHHII", len(text), 1300, 0, 0, 0) + text)
    theirs.send(struct.pack("=IHHII", 16 + len(text) + 3, 1320, 0, 0, 0) + b"audit(1.2:3): \0\0\0")
    theirs.send(b"short")
    theirs.send(struct.pack("=IHHIIi", 36, 2, 0, 0, 0, 0) + b"\0" * 16)
    theirs.send(struct.pack("=IHHII", 999, 1309, 0, 0, 0) + b'audit(1.2:3): a0="\xff"')
    records = src.read(timeout=1)
    assert records == [
        RawRecord(1300, text.decode()),
        RawRecord(1320, "audit(1.2:3): "),
        RawRecord(1309, 'audit(1.2:3): a0="\\xff"'),
    ]
    assert (src.stats.records, src.stats.malformed, src.stats.control) == (3, 1, 1)
    assert src.read(timeout=0) == []
    src._sock = None
    ours.close()
    theirs.close()

"""Unit tests of the ausearch -i interpretation, one row per interpreter kind and edge case.

Expected texts are what libauparse 3.0.9 prints (checked with ausearch/auparse on Debian 12);
tests/kernel/test_*_agreement.py compare whole captured logs against the oracles themselves.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_heka.core.interpret import (
    _NO_CONTEXT,
    ARGUMENT_NAMES_KEPT,
    EXECVE,
    MAX_ARGV,
    MEMO_SIZE,
    MEMO_TEXT_MAX,
    Interpreter,
    _escaped,
    argv_in_order,
    escaped,
    is_argument_run,
    reassembled,
    strtoul,
    tty_escape,
    unhex,
)
from audit_heka.core.records import Record, parse_line
from audit_heka.host.accounts import read_groups, read_users

USERS = {0: "root", 1: "daemon", 1000: "alice"}
GROUPS = {0: "root", 4: "adm"}
INTERP = Interpreter(USERS, GROUPS, machine="x86_64")


def rec(line: str) -> Record:
    r = parse_line(line)
    assert isinstance(r, Record), r
    return r


def one(body: str, key: str, rtype: str = "CWD") -> str | list[str] | None:
    r = rec(f"type={rtype} msg=audit(1700000000.123:42): {body}")
    return INTERP.interpret([r])[0].get(key)


def sc(nr: int, a: tuple[str, str, str, str], arch: str = "c000003e") -> dict[str, str]:
    r = rec(f"type=SYSCALL msg=audit(1.000:1): arch={arch} syscall={nr} success=yes exit=0 "
            f"a0={a[0]} a1={a[1]} a2={a[2]} a3={a[3]} items=0 pid=1")
    out = INTERP.interpret([r])[0]
    return {k: v for k, v in out.items() if isinstance(v, str)}


@pytest.mark.parametrize(("body", "key", "expected"), [
    ("uid=0", "uid", "root"),
    ("uid=4294967295", "uid", "unset"),
    ("auid=-1", "auid", "unset"),
    ("uid=12345", "uid", "unknown(12345)"),
    ("uid=abc", "uid", "root"),  # strtoul reads no digits: 0
    ("uid=99999999999", "uid", "unknown(1215752191)"),  # truncated to 32 bits
    ("uid=999999999999999999999", "uid", "conversion error(999999999999999999999)"),
    ("gid=4", "gid", "adm"),
    ("ouid=1000", "ouid", "alice"),
    ("ses=4294967295", "ses", "unset"),
    ("ses=7", "ses", "7"),
    ("res=1", "res", "yes"),
    ("res=0", "res", "no"),
    ("res=2", "res", "unset"),
    ("res=success", "res", "success"),
    ("res=failed", "res", "failed"),
    ("mode=0100755", "mode", "file,755"),
    ("mode=040755", "mode", "dir,755"),
    ("mode=04755", "mode", "000,suid,755"),
    ("mode=0170000", "mode", "017,000"),
    ("perm=0", "perm", "read,write,exec,attr"),
    ("perm=3", "perm", "write,exec"),
    ("cap_fp=0000000000000400", "cap_fp", "net_bind_service"),
    ("cap_fi=0", "cap_fi", "none"),
    ("capability=21", "capability", "sys_admin"),
    ("capability=99", "capability", "unknown-capability(99)"),
    ("sig=9", "sig", "SIGKILL"),
    ("sig=40", "sig", "unknown-signal(40)"),
    ("list=4", "list", "exit"),
    ("list=99", "list", "unknown-list(99)"),
    ("proto=6", "proto", "tcp"),
    ("comm=\"cat\"", "comm", "cat"),
    ("comm=636174", "comm", "cat"),
    ("comm=6361740A", "comm", "cat\\012"),  # control bytes as \ooo (AUPARSE_ESC_TTY)
    ("comm=63617", "comm", "cap"),  # odd length: the missing nibble is 0
    ("comm=6", "comm", "6"),  # fewer than two digits: printed as is
    ("comm=zz", "comm", "zz"),  # not hex: printed as is
    ("comm=61006263", "comm", "a"),  # a C string ends at NUL
    ("path=0061626364", "path", "abcd"),  # 00 prefix: abstract unix socket name
    ("cwd=\"/tmp\"", "cwd", "/tmp"),
    ("exe=\"/usr/bin/\u00e9\"", "exe", "/usr/bin/\u00e9"),
    ("proctitle=6361740061200A62", "proctitle", "cat a \\012b"),
    ("proctitle=\"bash\"", "proctitle", "bash"),
    ("saddr=020000507F0000010000000000000000", "saddr",
     "{ saddr_fam=inet laddr=127.0.0.1 lport=80 }"),
    ("saddr=0200005011", "saddr", "{ saddr_fam=inet sockaddr len too short }"),
    ("saddr=0A000050" + "00000000" + "00" * 15 + "01" + "00000000",
     "saddr", "{ saddr_fam=inet6 laddr=::1 lport=80 }"),
    ("saddr=01002F746D702F736F636B00", "saddr", "{ saddr_fam=local path=/tmp/sock }"),
    ("saddr=010000616263", "saddr", "{ saddr_fam=local path=abc }"),
    ("saddr=100000000000000000000000", "saddr",
     "{ saddr_fam=netlink nlnk-fam=16 nlnk-pid=0 }"),
    ("saddr=FF00", "saddr", "unknown-family(255)"),
    ("arch=c000003e", "arch", "x86_64"),
    ("arch=40000003", "arch", "i386"),
    ("arch=deadbeef", "arch", "unknown-elf-type(deadbeef)"),
    ("exit=-2", "exit", "ENOENT(No such file or directory)"),
    ("exit=-600", "exit", "(null)(Unknown error 600)"),
    ("exit=3", "exit", "3"),
    ("exit=abc", "exit", "abc"),
    ("exit=99999999999999999999", "exit", "conversion error(99999999999999999999)"),
    ("code=7ffc0000", "code", "log"),
    ("items=2", "items", None),  # no interpretation: no key
])
def test_field(body: str, key: str, expected: str | None) -> None:
    assert one(body, key) == expected


def test_key_is_split_on_0x01() -> None:
    assert one("key=6B31016B32", "key") == ["k1", "k2"]
    assert one('key="watch"', "key") == ["watch"]
    assert one("key=(null)", "key") == ["(null)"]


def test_record_type_overrides() -> None:
    assert one('a0="ls" a1=2D6C', "a1", "EXECVE") == "-l"
    assert one("argc=2", "argc", "EXECVE") is None
    assert one("mode=0644", "mode", "MQ_OPEN") == "0644"
    assert one("saddr=020000507F0000010000000000000000", "saddr", "AVC") is None
    assert one('acct="root"', "acct", "USER_AUTH") == "root"
    assert one("acct=root", "acct", "USER_AUTH") is None


@pytest.mark.parametrize(("nr", "args", "key", "expected"), [
    (257, ("ffffff9c", "0", "241", "1b6"), "a0", "AT_FDCWD"),
    (257, ("ffffff9c", "0", "241", "1b6"), "a2", "O_WRONLY|O_CREAT|O_TRUNC"),
    (257, ("3", "0", "0", "0"), "a0", "0x3"),
    (257, ("3", "0", "0", "0"), "a2", "O_RDONLY"),
    (2, ("0", "41", "1a4", "0"), "a2", "0644"),  # open with O_CREAT: a2 is the mode
    (2, ("0", "0", "1a4", "0"), "a2", "0x1a4"),
    (62, ("1", "9", "0", "0"), "a1", "SIGKILL"),  # kill
    (41, ("2", "80801", "6", "0"), "a0", "inet"),  # socket
    (41, ("2", "80801", "6", "0"), "a1", "SOCK_STREAM"),
    (41, ("2", "80801", "6", "0"), "a2", "tcp"),
    (41, ("ff", "1", "fff", "0"), "a0", "unknown-family(0xff)"),
    (41, ("ff", "1", "fff", "0"), "a2", "unknown-proto(fff)"),
    (9, ("0", "1000", "3", "22"), "a2", "PROT_READ|PROT_WRITE"),  # mmap
    (9, ("0", "1000", "0", "22"), "a3", "MAP_PRIVATE|MAP_ANONYMOUS"),
    (56, ("0", "0", "1200011", "0"), "a2", "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"),
    (92, ("0", "3e8", "4", "0"), "a1", "alice"),  # chown uid
    (92, ("0", "3e8", "4", "0"), "a2", "0x4"),  # chown gid: auparse 3.0.9 leaves it hex
    (72, ("3", "2", "1", "0"), "a2", "FD_CLOEXEC"),  # fcntl F_SETFD
    (72, ("3", "8", "0", "0"), "a2", "root"),  # fcntl F_SETOWN
    (72, ("3", "406", "0", "0"), "a1", "F_DUPFD_CLOEXEC"),
    (21, ("0", "4", "0", "0"), "a1", "R_OK"),  # access
    (21, ("0", "0", "0", "0"), "a1", "F_OK"),
    (90, ("0", "9ed", "0", "0"), "a1", "suid,0755"),  # chmod 04755
    (90, ("0", "ffd", "0", "0"), "a1", "suid,sgid,sticky,0775"),
    (157, ("18", "15", "0", "0"), "a1", "sys_admin"),  # prctl PR_CAPBSET_DROP
    (999, ("0", "0", "0", "0"), "syscall", "unknown-syscall(999)"),
    (999, ("0", "0", "0", "0"), "a0", "0x0"),
])
def test_syscall_arguments(nr: int, args: tuple[str, str, str, str], key: str,
                           expected: str) -> None:
    assert sc(nr, args)[key] == expected


def test_syscall_depends_on_arch() -> None:
    assert sc(102, ("3", "0", "0", "0"), arch="40000003")["syscall"] == "socketcall(connect)"
    assert sc(102, ("3", "0", "0", "0"), arch="40000003")["a0"] == "connect"
    assert sc(102, ("3", "0", "0", "0"))["syscall"] == "getuid"
    # an unknown arch: the syscall is looked up on the local machine, arguments stay hex
    assert sc(2, ("1", "0", "0", "0"), arch="deadbeef")["syscall"] == "open"
    assert sc(2, ("1", "0", "0", "0"), arch="deadbeef")["a0"] == "0x1"


def test_enriched_values_win() -> None:
    r = rec('type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=2 uid=0 gid=0'
            '\x1dARCH=armeb SYSCALL=fakecall UID="bob"')
    assert INTERP.interpret([r])[0] == {"arch": "armeb", "syscall": "fakecall", "uid": "bob",
                                        "gid": "root"}


def test_argv_reassembled_across_records() -> None:
    records = [
        rec('type=EXECVE msg=audit(1.000:1): argc=4 a0="echo" a1=6869207468657265 '
            'a2_len=6 a2[0]="abc"'),
        rec("type=EXECVE msg=audit(1.000:1):  a2[1]=646566 a3=\"\""),
    ]
    assert INTERP.argv(records) == ["echo", "hi there", "abcdef", ""]


def _argv_reference(fields: list[tuple[str, str]]) -> list[str]:
    """argv as auparse reassembles it, spelled out: whole aN, else its aN[i] in order."""
    whole: dict[int, str] = {}
    chunks: dict[int, dict[int, str]] = {}
    argc = 0
    for name, raw in fields:
        if name == "argc":
            argc = max(argc, int(raw) if raw.isascii() and raw.isdigit() else 0)
            continue
        found = re.fullmatch(r"a([0-9]{1,7})(?:\[([0-9]{1,7})\])?", name)
        if found is None or int(found[1]) >= MAX_ARGV or (
                found[2] is not None and int(found[2]) >= MAX_ARGV):
            continue
        if found[2] is None:
            whole[int(found[1])] = raw
        else:
            chunks.setdefault(int(found[1]), {})[int(found[2])] = raw
    count = min(MAX_ARGV, max([argc, *(i + 1 for i in whole), *(i + 1 for i in chunks)]))
    out = []
    for i in range(count):
        if i in chunks:
            data = b"".join(escaped_arg(chunks[i][n]) for n in sorted(chunks[i]))
        else:
            data = escaped_arg(whole[i]) if i in whole else b""
        out.append(data.decode("utf-8", "backslashreplace"))
    return out


def escaped_arg(raw: str) -> bytes:
    if raw.startswith('"'):
        inner = raw[1:-1] if raw.endswith('"') and len(raw) > 1 else raw[1:]
        return inner.encode("utf-8", "surrogateescape")
    if raw == "(null)":
        return b""
    data = unhex(raw)
    return data if data is not None else raw.encode("utf-8", "surrogateescape")


_ARG_NAMES = st.sampled_from(["argc", "a0", "a1", "a2", "a01", "a1[0]", "a1[1]", "a2_len",
                              "a\u0661", "a9999999", "a262144", "b0", "a", "a1[x]"])
_ARG_VALUES = st.sampled_from(['"x"', '"é"', '"\udcff"', '"', '""', '"a"b"', "4142",
                               "41G", "G", "(null)", "3", "C3", "00"])


@given(st.lists(st.tuples(_ARG_NAMES, _ARG_VALUES), max_size=8))
def test_argv_reassembles_as_auparse(fields: list[tuple[str, str]]) -> None:
    body = " ".join(f"{k}={v}" for k, v in fields)
    record = Record(EXECVE, "EXECVE", 1, 0, 1, None, tuple(fields), (), "", body, 0, "")
    assert INTERP.argv([record]) == _argv_reference(fields)


@st.composite
def _long_executions(draw: st.DrawFn) -> list[tuple[tuple[str, str], ...]]:
    """EXECVE records as the kernel splits a long exec: an argc, then a0, a1, ... in
    order over several records -- with now and then a name out of place or of
    another form, an argc later on, or values no quote pair reads alone."""
    values = st.one_of(_ARG_VALUES, st.sampled_from(['"a', 'b"', '""b"', '"a""', '"x"']),
                       st.text(alphabet='ab"\x7f\xe9 ', max_size=4).map(lambda text: f'"{text}"'))
    count = draw(st.integers(0, 120))
    names = [f"a{i}" for i in range(count)]
    if count and draw(st.booleans()):
        names[draw(st.integers(0, count - 1))] = draw(_ARG_NAMES)
    pairs = [(name, draw(values)) for name in names]
    if draw(st.booleans()):
        pairs.insert(0, ("argc", str(draw(st.integers(0, 130)))))
    cuts = sorted(draw(st.lists(st.integers(0, len(pairs)), max_size=4)))
    records = [tuple(pairs[a:b]) for a, b in zip([0, *cuts], [*cuts, len(pairs)], strict=True)]
    if len(records) > 1 and draw(st.booleans()):  # an argc opening a later record
        at = draw(st.integers(1, len(records) - 1))
        records[at] = (("argc", "7"), *records[at])
    return records


@given(_long_executions())
def test_argv_of_long_executions_as_auparse(records: list[tuple[tuple[str, str], ...]]) -> None:
    # Long execs take the lists' way (argv_in_order) where the kernel's order holds:
    # the same argv as the reassembly of any form, and as the reference.
    flat = [pair for fields in records for pair in fields]
    expected = _argv_reference(flat)
    assert reassembled(records) == expected
    assert INTERP.argv_of(records) == expected
    fast = argv_in_order(records)
    assert fast is None or fast == expected
    in_order = [name for name, _ in flat if name != "argc"] == [
        f"a{i}" for i in range(len(flat) - sum(name == "argc" for name, _ in flat))]
    assert (fast is not None) == (in_order and all(
        name != "argc" or i == 0 for fields in records for i, (name, _) in enumerate(fields)))


def test_argv_in_order_keeps_each_value_s_own_quotes() -> None:
    # Joined, these read as the quoted values "a" and "b" ("a""b"), but the first has no
    # closing quote and the second an extra opening one: each is unquoted on its own.
    names = [f"a{i}" for i in range(40)]
    values = ['"x"'] * 38 + ['"a', '""b"']
    records = [(("argc", "40"), *zip(names, values, strict=True))]
    assert argv_in_order(records) == ["x"] * 38 + ["a", '"b']
    assert reassembled(records) == ["x"] * 38 + ["a", '"b']


def test_argument_runs_past_the_names_kept() -> None:
    # is_argument_run keeps the names a0, a1, ... up to ARGUMENT_NAMES_KEPT; past them
    # (and across that border) it makes them: the same answers either way.
    for first in (0, ARGUMENT_NAMES_KEPT - 3, ARGUMENT_NAMES_KEPT + 5):
        fields = [(f"a{i}", '"x"') for i in range(first, first + 6)]
        assert is_argument_run(fields, first)
        assert not is_argument_run(fields, first + 1)
        for wrong in ("a", f"a0{first + 2}", f"b{first + 2}", "argc"):
            assert not is_argument_run([*fields[:2], (wrong, '"x"'), *fields[3:]], first)
    assert is_argument_run([], 7)


def test_argv_missing_arguments_are_empty() -> None:
    records = [rec('type=EXECVE msg=audit(1.000:1): argc=3 a0="x"')]
    assert INTERP.argv(records) == ["x", "", ""]


def test_unterminated_quote_prints_a_space() -> None:
    assert escaped('"unterminated') == b" "  # auparse's print_escaped


def test_strtoul_and_unhex_follow_c() -> None:
    assert strtoul("  12abc", 10) == 12
    assert strtoul("-1", 10) == (1 << 64) - 1
    assert strtoul("0x1f", 16) == 31
    assert unhex("41G") == b"A"  # the leading hex digits only
    assert unhex("G41") is None
    assert unhex("414") == b"A@"


def _leading_hex(text: str) -> bytes | None:
    """unhex as au_unescape defines it, character by character (the reference)."""
    digits = ""
    for c in text:
        if c not in "0123456789abcdefABCDEF":
            break
        digits += c
    if len(digits) < 2:
        return None
    return bytes.fromhex(digits + "0" * (len(digits) % 2))


@given(st.text(st.sampled_from([*"0123456789abcdefABCDEF",
                                 " ", "\t", "\n", "G", "é", "\u0660", "\x00"]), max_size=12))
def test_unhex_is_the_leading_hex_digits(text: str) -> None:
    """bytes.fromhex skips whitespace and reads no more than hex: the whole value's
    shortcut gives the leading digits' bytes, as the scan does."""
    assert unhex(text) == _leading_hex(text)
    assert unhex(text * 500) == _leading_hex(text * 500)  # (execve chunks run to 7.5 KB)


@given(st.binary(max_size=40))
def test_tty_escape_escapes_each_control_byte(data: bytes) -> None:
    expected = b"".join(b"\\%03o" % b if b < 0x20 else bytes((b,)) for b in data)
    assert tty_escape(data) == expected.decode("utf-8", "backslashreplace")


def test_accounts_tolerate_malformed_lines(tmp_path: object) -> None:
    from pathlib import Path  # noqa: PLC0415

    assert isinstance(tmp_path, Path)
    passwd = tmp_path / "passwd"
    passwd.write_bytes(b"root:x:0:0::/root:/bin/sh\nbroken\nbad:x:notanumber:0\n"
                       b"#comment:x:5:5\n\xff\xfe:x:7:7\ndup:x:0:0\nbig:x:99999999999:0\n")
    assert read_users(passwd) == {0: "root", 7: "\ufffd\ufffd"}
    assert read_groups(tmp_path / "missing") == {}


@given(st.text(st.sampled_from(["a", " ", '"', "\x01", "\x1f", "\x7f", "é", "\u00a0", "✓",
                                "\udcff", "\n", "\\", "0"]), max_size=8))
def test_quoted_escaped_value_shortcut(inner: str) -> None:
    """The shortcut for printable quoted values gives what the byte round trip gives."""
    for raw in (f'"{inner}"', f'"{inner}', inner):
        assert _escaped(INTERP, raw, _NO_CONTEXT) == tty_escape(escaped(raw))


def test_texts_memo_is_bounded_by_size_too() -> None:
    interp = Interpreter(USERS, GROUPS, machine="x86_64")
    short, long = "2f746d70", "41" * (MEMO_TEXT_MAX // 2 + 1)  # hex: "/tmp", "AAA..."
    assert interp.plain("ESCAPED", short) == "/tmp"
    assert interp.plain("ESCAPED", long) == "A" * (MEMO_TEXT_MAX // 2 + 1)
    texts = interp._texts
    assert ("ESCAPED", short) in texts
    assert ("ESCAPED", long) not in texts  # computed again at each use, never pinned
    for i in range(MEMO_SIZE + 10):  # full: cleared, never past MEMO_SIZE entries
        interp.plain("ESCAPED", f"{i:08x}")
    assert len(texts) <= MEMO_SIZE


@pytest.mark.parametrize(("machine", "expected"), [
    ("x86_64", "execve"), ("aarch64", "pipe2"), ("i386", "oldolduname"),
    (None, "unknown-syscall(59)"),
])
def test_a_syscall_without_a_known_arch_takes_the_machine_handed_in(
        machine: str | None, expected: str) -> None:
    """auparse names such a syscall by the host's table; the core reads no host, so the
    machine is handed in (the daemon and replay pass os.uname()'s), and without one the
    number is kept."""
    interp = Interpreter(USERS, GROUPS, machine=machine)
    for body in ("syscall=59 pid=1", "arch=1234abcd syscall=59 pid=1"):  # none, unknown
        r = rec(f"type=SYSCALL msg=audit(1.000:1): {body}")
        assert interp.interpret([r])[0]["syscall"] == expected
    known = rec("type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 pid=1")
    assert interp.interpret([known])[0]["syscall"] == "execve"  # its arch decides

"""records.py: every dialect of one audit record, and malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_heka.core.records import (
    BODY_MEMO_FIELDS,
    BODY_MEMO_MAX,
    MAX_RECORD_LENGTH,
    Body,
    ParseError,
    Record,
    _pairs_exact,
    _pairs_fast,
    _pairs_user,
    parse_body,
    parse_kernel,
    parse_line,
    reads_alone,
    type_name_for,
    type_number_for,
)

SYSCALL_BODY = (
    'arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 '
    'ppid=10 pid=11 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 '
    'tty=pts0 ses=3 comm="cat" exe="/usr/bin/cat" key=(null)'
)


def ok(result: Record | ParseError) -> Record:
    assert isinstance(result, Record), result
    return result


def test_kernel_netlink_text() -> None:
    r = ok(parse_kernel(1300, f"audit(1700000000.123:42): {SYSCALL_BODY}"))
    assert (r.type, r.type_name, r.seconds, r.milliseconds, r.serial, r.node) == (
        1300, "SYSCALL", 1700000000, 123, 42, None)
    assert r.fields[0] == ("arch", "c000003e")
    assert r.get("comm") == '"cat"'
    assert r.get("key") == "(null)"
    assert r.get("tty") == "pts0"
    assert r.free_text == ""
    assert r.text == SYSCALL_BODY
    assert r.timestamp_ns == 1700000000_123_000_000
    assert r.log_line() == f"type=SYSCALL msg=audit(1700000000.123:42): {SYSCALL_BODY}"


def test_kernel_unknown_type_and_eoe() -> None:
    r = ok(parse_kernel(1999, "audit(1.001:7): foo=bar"))
    assert r.type_name == "UNKNOWN[1999]"
    eoe = ok(parse_kernel(1320, "audit(1.001:7): "))
    assert eoe.type_name == "EOE" and eoe.fields == () and eoe.text == ""


def test_log_line_raw() -> None:
    line = f"type=SYSCALL msg=audit(1700000000.123:42): {SYSCALL_BODY}\n"
    r = ok(parse_line(line))
    assert r.type == 1300 and r.serial == 42 and r.node is None
    assert r.log_line() == line.rstrip("\n")


def test_node_prefix() -> None:
    r = ok(parse_line('node=web-1.example type=CWD msg=audit(1.500:9): cwd="/root"'))
    assert r.node == "web-1.example"
    assert r.fields == (("cwd", '"/root"'),)
    assert r.log_line().startswith("node=web-1.example type=CWD ")


def test_unknown_and_underscored_names() -> None:
    r = ok(parse_line("type=UNKNOWN[1338] msg=audit(1.000:1): op=x"))
    assert (r.type, r.type_name) == (1338, "UNKNOWN[1338]")
    r = ok(parse_line("type=ANOM_ABEND msg=audit(1.000:1): sig=11"))
    assert r.type == 1701
    r = ok(parse_line("type=MAC_UNLBL_STCADD msg=audit(1.000:1): x=1"))
    assert r.type == 1416
    r = ok(parse_line("type=SOME_FUTURE_NAME msg=audit(1.000:1): x=1"))
    assert (r.type, r.type_name) == (0, "SOME_FUTURE_NAME")
    assert type_number_for("UNKNOWN[abc]") == 0
    assert type_name_for(1327) == "PROCTITLE"


def test_enriched_section() -> None:
    line = (
        "type=SYSCALL msg=audit(1.000:5): arch=c000003e syscall=42 uid=0 auid=4294967295"
        '\x1dARCH=x86_64 SYSCALL=connect UID="root" AUID="unset"'
    )
    r = ok(parse_line(line))
    assert r.fields == (("arch", "c000003e"), ("syscall", "42"), ("uid", "0"),
                        ("auid", "4294967295"))
    assert r.enriched == (("ARCH", "x86_64"), ("SYSCALL", "connect"), ("UID", '"root"'),
                          ("AUID", '"unset"'))
    assert "\x1d" in r.text and r.log_line() == line


@pytest.mark.parametrize("path", ["/tmp/sock", "/tmp/.{9e2cb087-9744} s", "/tmp/}",
                                  "/tmp/a\x1dUID=x", "/tmp/a\x1dUID={", "/t/{ X=1 }"])
def test_a_sockaddr_interpretation_is_the_rest_of_the_line(path: str) -> None:
    """auditd writes a socket's path inside SADDR={ ... } as it is (braces, spaces, a
    \x1d of its own), and SADDR is a SOCKADDR record's one interpretation: auparse
    takes everything from its "{" to the end of the line, and so do we."""
    saddr = "01002F746D70"
    line = (f"type=SOCKADDR msg=audit(1.000:5): saddr={saddr}"
            f"\x1dSADDR={{ saddr_fam=local path={path} }}")
    r = ok(parse_line(line))
    assert r.fields == (("saddr", saddr),)
    assert r.enriched == (("SADDR", f"{{ saddr_fam=local path={path} }}"),)
    assert r.free_text == "" and r.problem == "" and r.log_line() == line
    # ... but not where a user's msg='' holds it: there it is the message's data.
    forged = "type=USER msg=audit(1.000:6): pid=1 msg='x\x1dSADDR={ y }'"
    assert ok(parse_line(forged)).enriched == ()


def test_a_bare_trailing_separator_is_data() -> None:
    """auditd writes no \x1d before nothing (a record with nothing to interpret has no
    ENRICHED section), so one that ends a record is its own data, read as the kernel's
    text is (hypothesis found the two disagreeing)."""
    for body in ("a0=1 key=x\x1d", "pid=5 msg='op=x res=success'\x1d", "\x1d"):
        r = ok(parse_line(f"type=SYSCALL msg=audit(1.000:5): {body}"))
        assert r.enriched == () and r.text == body
        kernel = parse_kernel(1300, f"audit(1.000:5): {body}")
        assert isinstance(kernel, Record) and kernel.fields == r.fields


def test_user_message_nested_pairs() -> None:
    line = (
        "type=USER_CMD msg=audit(1.000:8): pid=5 uid=1000 auid=1000 ses=2 "
        "msg='cwd=\"/home/u\" cmd=6C73202D6C terminal=pts/0 res=success'"
    )
    r = ok(parse_line(line))
    keys = [k for k, _ in r.fields]
    assert keys == ["pid", "uid", "auid", "ses", "cwd", "cmd", "terminal", "res"]
    assert r.get("cmd") == "6C73202D6C"
    assert r.get("msg") is None


def test_user_message_free_text_kept() -> None:
    r = ok(parse_line("type=USER msg=audit(1.000:8): pid=5 uid=0 msg='just some words'"))
    assert r.get("msg") == "'just some words'"
    # USER_AVC: the inner free text becomes the record's free text.
    r = ok(parse_line(
        "type=USER_AVC msg=audit(1.000:8): pid=5 uid=0 msg='avc:  denied  { send_msg } for "
        'scontext=a tcontext=b tclass=dbus exe="/usr/bin/dbus-daemon"\''
    ))
    assert r.free_text == "avc:  denied  { send_msg } for"
    assert r.get("tclass") == "dbus" and r.get("msg") is None


def test_avc_free_text() -> None:
    line = (
        "type=AVC msg=audit(1226270358.848:238): avc:  denied  { write } for  pid=13349 "
        'comm="certwatch" name="cache" dev=dm-0 ino=218171 tclass=dir permissive=0'
    )
    r = ok(parse_line(line))
    assert r.free_text == "avc:  denied  { write } for"
    assert r.fields[0] == ("pid", "13349")
    assert r.get("permissive") == "0"


def test_value_kinds() -> None:
    body = 'a="quoted value" b=unquoted c=2F746D70 d= e=(none) f=? g=""'
    r = ok(parse_kernel(1302, f"audit(1.000:1): {body}"))
    assert r.fields == (
        ("a", '"quoted value"'), ("b", "unquoted"), ("c", "2F746D70"), ("d", ""),
        ("e", "(none)"), ("f", "?"), ("g", '""'),
    )


def test_execve_chunks_and_leading_space() -> None:
    r = ok(parse_kernel(1309, 'audit(1.000:1):  a1[2]="abc" a2="x"'))
    assert r.fields == (("a1[2]", '"abc"'), ("a2", '"x"'))
    assert r.text == ' a1[2]="abc" a2="x"'


def test_trailing_bare_words_are_kept_as_free_text() -> None:
    r = ok(parse_kernel(1400, "audit(1.000:1): x=1 stray words"))
    assert r.fields == (("x", "1"),)
    assert r.free_text == "stray words"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "bad_header"),
        ("type=SYSCALL msg=audit(1700000000.1", "bad_header"),  # truncated header
        ("type=SYSCALL msg=audit(17x.123:4): a=1", "bad_header"),
        ("type=SYSCALL msg=audit(1.1234:4): a=1", "bad_header"),
        ("type=SYSCALL", "bad_header"),
        ("node=onlynode", "bad_header"),
        ("type= msg=audit(1.000:1): a=1", "bad_header"),
        ("\x00\x01\x02garbage\xff", "binary"),
        ("type=CWD msg=audit(1.000:1): cwd=\x00", "binary"),
        ("type=CWD msg=audit(1.000:1): cwd=" + "A" * (1 << 20), "too_long"),
        ("just some text", "bad_header"),
    ],
)
def test_malformed_lines_are_errors(line: str, reason: str) -> None:
    result = parse_line(line)
    assert isinstance(result, ParseError)
    assert result.reason == reason
    assert result.text == line.rstrip("\r\n")


def test_bad_hex_is_kept_raw() -> None:
    # Hex is only decoded by the interpreter; the parser keeps it as written.
    r = ok(parse_line("type=PATH msg=audit(1.000:1): name=2F7G proctitle=ABC"))
    assert r.fields == (("name", "2F7G"), ("proctitle", "ABC"))


def test_kernel_errors() -> None:
    assert isinstance(parse_kernel(1300, "garbage"), ParseError)
    assert isinstance(parse_kernel(1300, "audit(1.000:1)x missing colon"), ParseError)
    assert isinstance(parse_kernel(1300, "audit(1.000:1): " + "x" * MAX_RECORD_LENGTH), ParseError)


@given(st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    for candidate in (text, "type=SYSCALL msg=audit(1.000:1): " + text):
        result = parse_line(candidate)
        assert isinstance(result, Record | ParseError)
    assert isinstance(parse_kernel(1300, "audit(1.000:1): " + text), Record | ParseError)


@given(st.lists(st.tuples(
    st.from_regex(r"[a-z][a-z0-9_\-]{0,8}", fullmatch=True),
    st.one_of(
        st.from_regex(r"[0-9A-F]{0,12}", fullmatch=True),
        st.from_regex(r'"[!#-~]{0,12}"', fullmatch=True),
    ),
), max_size=12))
def test_pairs_round_trip(pairs: list[tuple[str, str]]) -> None:
    body = " ".join(f"{k}={v}" for k, v in pairs)
    r = ok(parse_kernel(1300, f"audit(1.000:1): {body}"))
    assert list(r.fields) == pairs
    assert r.free_text == ""


@given(st.lists(st.sampled_from(['k=v', 'a="x"', 'b="x y"', "m='p=q r'", 'free', '"', '=',
                                 'c=', 'd="q"r', 'e={ s=t }', "'", 'f=g=h', '{', 'h="', '',
                                 'k=v,', 'u=500:', '(h=?,', 'r=success)', 'n=(none)',
                                 'p=(x)', 'i=fe80::', 'old', 'new', '(', '(=x', 'q="a b"']),
                max_size=10))
def test_fast_and_exact_tokenizers_agree(words: list[str]) -> None:
    body = " ".join(words)
    fast = _pairs_fast(body)
    exact = _pairs_exact(body)
    if fast is not None:
        assert exact == (fast, "", "")


_WORD_PARTS = st.sampled_from(["a", "k", "(", ")", ",", ":", "=", '"', "'", "{", "}", " ",
                               "0", "x", "(none)", "fe80:", "é"])


@given(st.lists(_WORD_PARTS, max_size=4).map("".join),
       st.lists(_WORD_PARTS, max_size=6).map("".join))
def test_reads_alone_is_what_the_fast_tokenizer_reads(key: str, value: str) -> None:
    """The hot path learns a record's words by this test instead of tokenizing each."""
    assert reads_alone(key, value) == (_pairs_fast(f"{key}={value}") == [(key, value)])


@given(st.lists(st.sampled_from(['k=v', 'a="x"', 'b="x y"', 'free', '"', '=', 'c=', "'",
                                 'k=v,', '(h=?,', 'r=success)', 'n=(none)', 'old', 'msg=x',
                                 '', 'xmsg=', 'msg="', "msg='"]), max_size=6),
       st.lists(st.sampled_from(['op=PAM:session_open', 'acct="root"', 'acct="a b"', "'",
                                 'res=success', 'free', '', ' ', 'res=failed)', "x='y'",
                                 'hostname=?', 'k=', '=v']), max_size=6),
       st.sampled_from(["msg='", " msg='", "msg=", "msg='x", "amsg='", "msg=''"]),
       st.sampled_from(["'", "", "' ", "''", "'x"]))
def test_user_space_tokenizer_agrees_with_the_exact_one(outer: list[str], inner: list[str],
                                                        opening: str, closing: str) -> None:
    """libaudit's ``k=v ... msg='k=v ...'`` bodies, read by split() (records._pairs_user),
    read as the general tokenizer reads them, whatever the words around."""
    body = " ".join(outer) + (" " if outer else "") + opening + " ".join(inner) + closing
    fast = _pairs_user(body)
    if fast is not None:
        assert _pairs_exact(body) == (fast, "", "")


def test_user_space_bodies_take_the_split_reading() -> None:
    body = ("pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:setcred "
            'grantors=pam_permit acct="root" exe="/usr/sbin/cron" hostname=? addr=? '
            "terminal=cron res=success'")
    assert _pairs_user(body) == [("pid", "1"), ("uid", "0"), ("auid", "4294967295"),
                                 ("ses", "4294967295"), ("msg", body[body.index("'"):])]
    assert _pairs_user(body + " x=1") is None and _pairs_user("msg='a'b'") is None
    r = ok(parse_kernel(1103, f"audit(1.000:1): {body}"))
    assert r.msg_fields == 8 and r.fields[4] == ("op", "PAM:setcred")


def test_the_body_memo_is_bounded_by_size() -> None:
    """parse_line's memo keeps a body of at most BODY_MEMO_MAX characters and
    BODY_MEMO_FIELDS fields: a parse holds ~150 bytes a field, and 4 KB of one-letter
    arguments (a user's exec) would hold ~100 KB. The parse is the same either way."""
    bodies: dict[str, Body] = {}
    for count, kept in ((BODY_MEMO_FIELDS - 1, True), (BODY_MEMO_FIELDS, False)):
        body = f"argc={count} " + " ".join(f'a{i}="x"' for i in range(count))
        assert len(body) <= BODY_MEMO_MAX
        got = parse_body(body, bodies)
        assert (body in bodies) is kept and got == parse_body(body, {})
        assert len(got[0]) == count + 1
    long = 'cwd="' + "x" * BODY_MEMO_MAX + '"'
    assert parse_body(long, bodies)[0] == (("cwd", long[4:]),) and long not in bodies

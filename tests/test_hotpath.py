"""The bytes-first hot path writes the frames the general path writes, byte for byte.

The general path (MessageBuilder.build, then encode_message) is the reference:
Session(fast=False) takes it for every event. These tests compare the two on
the checked-in corpus (and with what main 8a1b372 wrote, tests/golden_frames.py),
on mutated records of every record type in log and live mode (hypothesis),
and across the changes the memos must notice.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import golden_frames
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_heka.core.entries import Rec, string_element
from audit_heka.core.events import PROCTITLE, Assembler, Event
from audit_heka.core.hotpath import FastEncoder
from audit_heka.core.interpret import Interpreter
from audit_heka.core.line_entries import (
    ARGV_KEPT_MAX,
    BASES_MAX,
    CALL_BASES,
    EXECVE_BASE_MAX,
    LONG_EXECVE_SHAPES,
    LineEntries,
)
from audit_heka.core.record_entries import BASES, MEMO_BODY_MAX
from audit_heka.core.records import BODY_MEMO_FIELDS, Record, parse_line
from audit_heka.core.schema import EXECVE, INTEGER_KEYS, MessageBuilder, event_uuid
from audit_heka.core.session import Session, Shipment
from audit_heka.heka.message import encode_message
from audit_heka.host.accounts import AccountNames
from audit_heka.tables.fieldtypes import FIELD_TYPES
from audit_heka.tables.msgtypes import MSG_TYPES
from audit_heka.tables.syscalls import SYSCALLS
from audit_heka.tables.valuenames import ARG_KINDS

GOLDEN = golden_frames.CORPUS / "golden.json"
USERS = {0: "root", 1000: "alice"}
GROUPS = {0: "root"}


def session(fast: bool, live: bool = False, **options: Any) -> Session:
    builder = MessageBuilder(Interpreter(USERS, GROUPS, machine="x86_64"), hostname="h",
                             **options)
    return Session(builder, Assembler(live=live), fast=fast)


def shipped(s: Session, lines: list[str], live: bool) -> list[Shipment]:
    out: list[Shipment] = []
    now = 100.0
    for position, line in enumerate(lines):
        if live:
            now += 0.3
            out += s.feed(line, now, position=position)
        else:
            out += s.feed(line, position=position)
    return out + s.finish()


BATCHES = (5, 1, 12, 3, 40, 2)  # sizes of the runs of lines fed_lines() takes, in turn


def shipped_in_batches(s: Session, lines: list[str], live: bool,
                       batched: bool) -> list[Shipment]:
    """As the shipper and replay feed: runs of lines, one ``now`` for each run (live),
    with Session.feed_lines (``batched``) or line by line."""
    out: list[Shipment] = []
    now = 100.0
    start = 0
    sizes = itertools.cycle(BATCHES)
    while start < len(lines):
        end = min(len(lines), start + next(sizes))
        now += 0.7
        if batched:
            out += s.feed_lines(lines[start:end], now if live else None,
                                positions=range(start, end))
        else:
            for position in range(start, end):
                out += s.feed(lines[position], now if live else None, position=position)
        start = end
    return out + s.finish()


def assert_same(a: list[Shipment], b: list[Shipment], one: Session, other: Session) -> None:
    assert [x.frame for x in a] == [x.frame for x in b]
    assert [x.position for x in a] == [x.position for x in b]
    assert [(x.uuid, x.timestamp) for x in a] == [(x.message.uuid, x.message.timestamp)
                                                 for x in b]
    assert [x.event for x in a] == [x.event for x in b]
    assert one.counters() == other.counters()
    assert one.lowest_pending() == other.lowest_pending()


def same(lines: list[str], live: bool, **options: Any) -> tuple[Session, Session]:
    """Both paths over ``lines``: frames, positions, events and counters equal; and
    the hot path fed runs of lines at once (Session.feed_lines) as the general one
    fed them line by line."""
    hot, general = session(True, live, **options), session(False, live, **options)
    assert_same(shipped(hot, lines, live), shipped(general, lines, live), hot, general)
    batched, one_by_one = session(True, live, **options), session(False, live, **options)
    assert_same(shipped_in_batches(batched, lines, live, True),
                shipped_in_batches(one_by_one, lines, live, False), batched, one_by_one)
    return hot, general


def same_both_ways(lines: list[str]) -> tuple[Session, FastEncoder]:
    """:func:`same` in log mode and live; then a new hot session and its encoder, for a
    test to feed the lines again and look at the mechanism."""
    for live in (False, True):
        same(lines, live)
    hot = session(True)
    assert isinstance(hot.fast, FastEncoder)
    return hot, hot.fast


def lane_reads(rtype: int, type_name: str, bodies: Iterable[str]
               ) -> tuple[list[Rec | None], list[str]]:
    """A new hot session's lane reads these bodies one after the other
    (LineEntries.line_rec): their entries, and the bodies it parsed (parse_line's memo)."""
    fast = session(True).fast
    assert fast is not None
    parsed: dict[str, Any] = {}
    recs = [fast.lines.line_rec(rtype, type_name, body, parsed) for body in bodies]
    return recs, list(parsed)


def parsed_fields(lines: Iterable[str]) -> list[Any]:
    """The fields parse_line gives these lines' records (to compare entries' with)."""
    return [parse_line(line).fields for line in lines]  # type: ignore[union-attr]


def fields_of(recs: list[Rec | None]) -> list[Any]:
    return [r.fields if r is not None else None for r in recs]


# --------------------------------------------------------------- the corpus


def test_frames_match_main_8a1b372() -> None:
    """Digests of every corpus log x variant, from the hot path, the general path and
    (checked in) main 8a1b372 before the hot path: all equal, counters too."""
    golden = json.loads(GOLDEN.read_text())
    for fast in (True, False):
        got = golden_frames.digests(fast)
        assert got.keys() == golden.keys()
        for name, want in golden.items():
            assert got[name] == want, f"{name} (fast={fast})"


@pytest.mark.parametrize("name", ["exec-300", "exec-ptr-300", "storm-4k", "captured-raw",
                                  "captured-enriched", "mixed-7k",
                                  "userspace-raw-2k", "userspace-enriched-2k"])
def test_the_hot_path_does_the_work(name: str) -> None:
    """The identity above is not the general path answering for the hot one."""
    lines = golden_frames.logs()[name]
    for live in (False, True):
        hot, _ = same(lines, live)
        assert hot.fast is not None
        # The captured logs hold a few events the general path must build
        # (a user message with a repeated key, one too large for Heka).
        assert hot.fast.encoded >= 0.9 * hot.messages, (hot.fast.encoded, hot.messages)


def test_seeds_and_kernel_records_both_ways() -> None:
    lines = golden_frames.logs()["seeds"]
    for live in (False, True):
        same(lines, live)
        same(lines, live, payload=False, message_type="x")


def test_shipment_message_is_the_general_paths() -> None:
    lines = golden_frames.logs()["exec-300"][:70]
    a = shipped(session(True), lines, False)
    b = shipped(session(False), lines, False)
    assert [x.message for x in a] == [x.message for x in b]
    assert all(x.event is not None and x.event.records for x in a)


# --------------------------------------------------- mutated records (hypothesis)

KEYS = sorted({*FIELD_TYPES, *INTEGER_KEYS, "pid", "msg", "res", "success", "key", "a0",
               "a1", "a2", "a3", "argc", "item", "name", "type", "serial", "argv", "node"})
VALUES = st.one_of(
    st.sampled_from(["0", "1", "-2", "4294967295", "4242", "1000", "c000003e", "59", "257",
                     "yes", "no", "failed", "(null)", "(none)", "?", "7fff0000", "0100755",
                     '"/bin/true"', '"a b"', "2F62696E", "00", '"x', "ffffff9c", "3",
                     "'op=x acct=\"root\" exe=\"/bin/su\" hostname=? addr=? terminal=? "
                     "res=success'", "{ saddr_fam=inet }", "1,", "500:", "res)"]),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e,
                                   blacklist_characters=" "), min_size=0, max_size=8),
)
TYPE_NAMES = [*sorted(MSG_TYPES.values()), "UNKNOWN[1338]", "UNKNOWN[1309]", "NOT_A_TYPE"]


@st.composite
def records(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(type name, key=value words) of one record."""
    type_name = draw(st.sampled_from(TYPE_NAMES))
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=0, max_size=8))
    words = [f"{k}={v}" for k, v in pairs]
    if draw(st.booleans()):
        words.insert(0, draw(st.sampled_from(["avc:  denied  { read } for", "free text"])))
    if draw(st.integers(0, 9)) == 0:
        words.append("\x1dAUID=\"root\" UID=\"alice\" SYSCALL=execve ARCH=x86_64")
    return type_name, words


def _mutated(draw: st.DrawFn, words: list[str]) -> list[str]:
    """Some values of ``words`` changed, maybe one word repeated or dropped."""
    out = list(words)
    for _ in range(draw(st.integers(0, 3))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        key, sep, _ = out[i].partition("=")
        if sep:
            out[i] = f"{key}={draw(VALUES)}"
    if out and draw(st.integers(0, 5)) == 0:
        out.append(draw(st.sampled_from(out)))
    if out and draw(st.integers(0, 5)) == 0:
        del out[draw(st.integers(0, len(out) - 1))]
    return out


@st.composite
def logs(draw: st.DrawFn) -> list[str]:
    """Events of several records, some repeated (memo hits), some interleaved."""
    shapes = draw(st.lists(st.lists(records(), min_size=1, max_size=5), min_size=1,
                           max_size=4))
    lines: list[str] = []
    serial = 100
    for _ in range(draw(st.integers(1, 12))):
        shape = draw(st.sampled_from(shapes))
        if draw(st.booleans()):  # the same kind of record with a few values new
            shape = [(t, _mutated(draw, w)) for t, w in shape]
        serial += draw(st.sampled_from([1, 1, 1, 0, 2]))
        stamp = draw(st.sampled_from([f"{1700000000 + serial // 3}.{serial % 1000:03d}",
                                      "1700000000.5", "0001700000000.500"]))
        node = draw(st.sampled_from(["", "", "", "node=vm "]))
        event = [f"{node}type={t} msg=audit({stamp}:{serial}): {' '.join(w)}".rstrip()
                 for t, w in shape]
        if draw(st.booleans()):
            event.append(f"{node}type=PROCTITLE msg=audit({stamp}:{serial}): "
                         "proctitle=2F62696E2F74727565")
        if draw(st.booleans()):  # the journal's end-of-event line (live mode's close)
            event.insert(draw(st.integers(0, len(event))),
                         f"{node}type=EOE msg=audit({stamp}:{serial}): ")
        lines += event
    if draw(st.booleans()) and len(lines) > 2:  # interleaving, as several CPUs write
        i = draw(st.integers(0, len(lines) - 2))
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    odd = ["", "# comment", "garbage", "type=EOE msg=audit(1.0:1): ", f"{lines[0]} {lines[-1]}"]
    extra = draw(st.lists(st.sampled_from(odd), max_size=2))
    for e in extra:
        lines.insert(draw(st.integers(0, len(lines))), e)
    return lines


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.booleans())
def test_mutated_records_of_every_type_both_ways(lines: list[str], live: bool) -> None:
    same(lines, live)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs())
def test_mutated_records_with_other_options(lines: list[str]) -> None:
    same(lines, False, payload=False, message_type="other")
    same(lines + lines, False)  # the second pass: memo hits


# ------------------------------------------ user-space records (hypothesis)

USER_TYPES = ["USER_AUTH", "USER_ACCT", "CRED_ACQ", "CRED_DISP", "CRED_REFR", "USER_START",
              "USER_END", "USER_LOGIN", "USER_LOGOUT", "USER_CMD", "SERVICE_START",
              "SERVICE_STOP", "USER", "USER_AVC", "USER_ERR", "USER_TTY", "ADD_GROUP",
              "USER_MGMT", "UNKNOWN[1199]", "LOGIN"]
IDS = ["0", "1000", "4242", "4294967295", "-1", "65534", "x"]
INNER = {
    "op": ["PAM:session_open", "PAM:setcred", "PAM:authentication", "login", "changing"],
    "grantors": ["pam_unix", "pam_permit,pam_cap", "?"],
    "acct": ['"root"', '"alice"', '"a b"', "726F6F74", '"unknown"', "(unknown)"],
    "id": IDS,
    "exe": ['"/usr/sbin/sshd"', '"/usr/sbin/cron"', "2F7573722F62696E2F7375"],
    "hostname": ["?", "192.0.2.1", "host.example"],
    "addr": ["?", "192.0.2.1", "2001:db8::5"],
    "terminal": ["ssh", "cron", "/dev/pts/0", "?"],
    "res": ["success", "failed", "yes", "0"],
    "cwd": ['"/root"', '"/a b"'],
    "cmd": ["6C73202D6C61", '"ls"'],
    "unit": ["cron.service", "user@1000.service"],
    "comm": ['"systemd"', '"x"'],
}
LIBRARY_ORDER = ["exe", "hostname", "addr", "terminal", "res"]


@st.composite
def user_records(draw: st.DrawFn) -> tuple[str, str]:
    """(type name, body) of a record written by user space, as libaudit writes them,
    or nearly (forged library fields, free text, a subj=, an ENRICHED part)."""
    type_name = draw(st.sampled_from(USER_TYPES))
    outer = [f"pid={draw(st.sampled_from(['1', '4242', '31337']))}",
             f"uid={draw(st.sampled_from(IDS))}", f"auid={draw(st.sampled_from(IDS))}",
             f"ses={draw(st.sampled_from(['1', '7', '4294967295']))}"]
    if draw(st.booleans()):
        outer.append("subj=" + draw(st.sampled_from(
            ["unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023", "unconfined"])))
    head = draw(st.sampled_from([["op"], ["op", "grantors"], ["cwd", "cmd"], ["unit"],
                                 ["unit", "comm"], []]))
    middle = draw(st.sampled_from([["acct"], ["id"], [], ["acct", "acct"]]))
    keys = head + middle + draw(st.sampled_from([LIBRARY_ORDER, LIBRARY_ORDER[:-1],
                                                 ["res"], [*LIBRARY_ORDER, "exe"]]))
    inner = [f"{k}={draw(st.sampled_from(INNER[k]))}" for k in keys]
    if draw(st.integers(0, 5)) == 0:
        inner.insert(0, draw(st.sampled_from(["avc:  denied  { send_msg } for",
                                              "text=backup round 1 done", "free"])))
    body = " ".join([*outer, "msg='" + " ".join(inner) + "'"])
    if draw(st.integers(0, 3)) == 0:
        body += draw(st.sampled_from(['\x1dUID="root" AUID="unset"',
                                      '\x1dUID="root" AUID="alice" ID="alice"',
                                      '\x1dUID="root"']))
    return type_name, body


@st.composite
def user_logs(draw: st.DrawFn) -> list[str]:
    """Sessions of user-space records: each new one like an earlier one but for its pid,
    session, account or address (memo hits and patches); some followed by a syscall's
    records under the same serial, as in real logs."""
    kinds = draw(st.lists(user_records(), min_size=1, max_size=4))
    lines: list[str] = []
    serial = 500
    for _ in range(draw(st.integers(1, 14))):
        type_name, body = draw(st.sampled_from(kinds))
        for _ in range(draw(st.integers(0, 3))):  # a few words of the body changed
            words = body.split(" ")
            i = draw(st.integers(0, len(words) - 1))
            key, sep, value = words[i].partition("=")
            if sep and key in INNER and not value.endswith("'"):
                words[i] = f"{key}={draw(st.sampled_from(INNER[key]))}"
            elif sep and key in ("pid", "ses", "auid", "uid"):
                words[i] = f"{key}={draw(st.sampled_from(IDS))}"
            body = " ".join(words)
        serial += draw(st.sampled_from([1, 1, 2, 0]))
        stamp = f"1700000000.{serial % 1000:03d}:{serial}"
        node = draw(st.sampled_from(["", "", "node=vm "]))
        lines.append(f"{node}type={type_name} msg=audit({stamp}): {body}")
        if draw(st.integers(0, 4)) == 0:
            lines += [f"{node}type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=46 "
                      f"success=yes exit=1 pid=1 auid=0 uid=0",
                      f"{node}type=PROCTITLE msg=audit({stamp}): proctitle=7373686400"]
    return lines


ARGUMENTS = st.one_of(
    st.sampled_from(['"cc"', '"-c"', '"src/f.c"', '"a b"', '"x', '""', "6363", "2F62696E",
                     "(null)", "00", '"\\x"', "x,", '"s\"t"']),
    st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=10),
)


@st.composite
def call_logs(draw: st.DrawFn) -> list[str]:
    """Exec and syscall events whose SYSCALL, EXECVE and PROCTITLE change a few words
    from event to event, some of them shorter than a call's head: the lane's bases,
    its EXECVE patches and the loop over a run's lines (session 11). Some have a C++
    build's include paths: over BODY_MEMO_FIELDS fields, MEMO_BODY_MAX characters or
    EXECVE_BASE_MAX (session 14)."""
    lines: list[str] = []
    args = [draw(ARGUMENTS) for _ in range(draw(st.integers(1, 4)))]
    args += [f'"-I/usr/src/project/third_party/library{k}/include"'
             for k in range(draw(st.sampled_from([0, 0, 70, 130, 130, 200])))]
    argc = len(args)
    for serial in range(1, draw(st.integers(2, 10))):
        stamp = f"msg=audit(1700000000.{serial:03d}:{serial})"
        node = draw(st.sampled_from(["", "node=vm "]))
        call = draw(st.sampled_from(["59", "2", "257", "41"]))
        syscall = [f"arch={draw(st.sampled_from(['c000003e', '40000003']))}",
                   f"syscall={call}", f"a0={draw(st.sampled_from(['3', '7ffd', '1']))}",
                   f"pid={100 + serial}", "uid=0", 'comm="cc"']
        syscall = syscall[:draw(st.sampled_from([1, 2, 6, 6, 6]))]
        if draw(st.booleans()) and args:
            args[draw(st.integers(0, len(args) - 1))] = draw(ARGUMENTS)
        words = [f"argc={draw(st.sampled_from([argc, argc, argc + 1]))}"]
        words += [f"a{i}={a}" for i, a in enumerate(args)]
        if draw(st.integers(0, 5)) == 0:
            words.append(draw(st.sampled_from(["a1_len=4", "a1[0]=6363", "key=x", "a1=1"])))
        title = draw(st.sampled_from(["6363", "2F62696E2F74727565", f"{serial:04X}"]))
        event = [f"{node}type=SYSCALL {stamp}: {' '.join(syscall)}",
                 f"{node}type=EXECVE {stamp}: {' '.join(words)}",
                 f"{node}type=PROCTITLE {stamp}: proctitle={title}"]
        if draw(st.booleans()):
            event.insert(2, f"{node}type=EOE {stamp}: ")
        lines += event
    return lines


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call_logs(), st.booleans())
def test_exec_events_of_changing_calls_and_arguments_both_ways(lines: list[str],
                                                               live: bool) -> None:
    same(lines, live)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_logs(), st.booleans())
def test_mutated_user_space_records_both_ways(lines: list[str], live: bool) -> None:
    same(lines, live)
    same(lines + lines, live)  # the second pass: memo hits


def test_user_space_records_take_the_hot_path() -> None:
    """Each new PAM record differs from the last of its type in pid, ses and a word or
    two of its msg: none is handed to the general path, the frames alike."""
    lines: list[str] = []
    for n in range(60):
        acct = ["root", "alice", "bob"][n % 3]
        for t, op in (("USER_ACCT", "PAM:accounting"), ("CRED_ACQ", "PAM:setcred"),
                      ("USER_START", "PAM:session_open")):
            serial = 100 + n * 3 + len(lines) % 3
            lines.append(f"type={t} msg=audit(1700000000.{n:03d}:{serial}): pid={900 + n} "
                         f"uid=0 auid={[0, 1000, 4242][n % 3]} ses={n} msg='op={op} "
                         f'grantors=pam_permit acct="{acct}" exe="/usr/sbin/sshd" '
                         f"hostname=192.0.2.{n} addr=192.0.2.{n} terminal=ssh res=success'")
    for live in (False, True):
        hot, _ = same(lines, live)
        assert hot.fast is not None and hot.fast.general == 0


def test_records_of_two_kinds_that_take_turns_are_each_patched() -> None:
    """sshd's failed logins (``acct=``) and its logins (``id=``) have the same first
    words and cannot be patched from each other: the base of the other kind is kept
    beside the last one, so that after the first of each kind none is parsed. The
    frames are the general path's, both ways."""
    bodies = []
    for n in range(12):
        who = f'acct="guest{n}"' if n % 3 else f"id={1000 + n % 2}"
        res = "failed" if n % 3 else "success"
        bodies.append(f"pid={900 + n} uid=0 auid=4294967295 ses=4294967295 msg='op=login "
                      f'{who} exe="/usr/sbin/sshd" hostname=? addr=192.0.2.{n} '
                      f"terminal=ssh res={res}'")
    lines = [f"type=USER_LOGIN msg=audit(1700000000.{n:03d}:{n}): {body}"
             for n, body in enumerate(bodies)]
    for live in (False, True):
        hot, _ = same(lines, live)
        assert hot.fast is not None and hot.fast.general == 0
    recs, parsed = lane_reads(1112, "USER_LOGIN", bodies)
    assert parsed == bodies[:2]
    assert fields_of(recs) == parsed_fields(lines)


def patched_alike(bodies: list[str]) -> None:
    """SYSCALL ``bodies``, one event each with a PROCTITLE: the hot path encodes all
    but the first two or so itself, with the same frames as the general path."""
    lines = []
    for n, body in enumerate(bodies):
        lines += [f"type=SYSCALL msg=audit(1700000000.{n:03d}:{n}): {body}",
                  f"type=PROCTITLE msg=audit(1700000000.{n:03d}:{n}): proctitle=6C73"]
    for live in (False, True):
        hot, _ = same(lines, live)
        assert hot.fast is not None and hot.fast.encoded >= len(bodies) - 2


def test_records_like_the_last_but_for_a_few_words() -> None:
    """The patched entries (hotpath's words): a new pid, a new context for the syscall's
    and arguments' texts, a repeated key, a word of another form."""
    base = ("arch=c000003e syscall={sc} success=yes exit=0 a0={a0} a1={a1} a2=3 a3=0 "
            "items=0 ppid=1 pid={pid} auid=4242 uid=0 comm=\"x\" key=(null)")
    bodies = [base.format(sc=72, a0=3, a1=8, pid=10),  # fcntl(F_SETOWN): a2 is a uid
              base.format(sc=72, a0=3, a1=8, pid=11),
              base.format(sc=72, a0=3, a1=2, pid=12),  # F_SETFD: a2 otherwise
              base.format(sc=102, a0=3, a1=2, pid=13),  # getuid
              base.format(sc=157, a0=23, a1=2, pid=14),  # prctl(PR_CAPBSET_READ)
              base.format(sc=157, a0=1, a1=2, pid=15),  # prctl(PR_SET_PDEATHSIG)
              base.format(sc=157, a0=1, a1=2, pid=16) + " pid=17",  # a repeated key
              base.format(sc=157, a0=1, a1=2, pid=18).replace("key=(null)", 'key="a b"'),
              base.format(sc=157, a0=1, a1=2, pid=19).replace("comm=\"x\"", "comm=(x,")]
    patched_alike(bodies)


def test_aligned_groups_like_the_last_but_for_a_few_pieces() -> None:
    """Events of one plan whose PATH records change in a few pieces (the next file of
    a directory, a malformed inode, an item missing a key, a name seen before): each
    group is encoded again only where it changed (plans.Recent), with the frames and
    the malformed and filler counts of the general path."""
    path = ("item={item} name={name} inode={inode} dev=fe:00 mode=0100644 ouid=0 ogid=0 "
            "rdev=00:00 nametype={kind}")
    rows = [("a", "11", "NORMAL"), ("b", "12", "NORMAL"), ("c", "1x3", "NORMAL"),
            ("d", "14", "DELETE"), ("a", "11", "NORMAL"), ("e", "15", "")]
    lines = []
    for n, (name, inode, kind) in enumerate(rows):
        stamp = f"msg=audit(1700000000.{n:03d}:{n})"
        second = path.format(item=1, name=f'"{name}"', inode=inode, kind=kind)
        if not kind:
            second = second.replace(" nametype=", "")
        lines += [f"type=SYSCALL {stamp}: arch=c000003e syscall=263 success=yes exit=0 "
                  f"a0=6 a1=5{n}0 a2=0 a3=0 items=2 ppid=1 pid=2 auid=4242 uid=0 "
                  'comm="find" exe="/usr/bin/find" key="delete"',
                  f'type=CWD {stamp}: cwd="/tmp"',
                  f"type=PATH {stamp}: " + path.format(item=0, name='"/tmp"', inode=10,
                                                      kind="PARENT"),
                  f"type=PATH {stamp}: {second}",
                  f"type=PROCTITLE {stamp}: proctitle=66696E64"]
    for live in (False, True):
        hot, general = same(lines, live)
        assert hot.fast is not None and hot.fast.encoded >= len(rows) - 1
        counters = general.counters()
        assert counters["malformed_integer"] == 1, counters


def test_enriched_records_like_the_last_but_for_a_few_words() -> None:
    """ENRICHED records patched from one with the same ENRICHED part: new pieces take
    their text from those pairs (uid), a new context (fcntl's a1), a word that opens a
    msg=' (the \x1d is then data), another ENRICHED part, one that is no ENRICHED part."""
    base = ("arch=c000003e syscall={sc} success=yes exit=0 a0={a0} a1={a1} a2=3 a3=0 "
            "items=0 ppid=1 pid={pid} auid=4242 uid={uid} comm={comm} key=(null)")
    tail = '\x1dARCH=x86_64 SYSCALL={name} AUID="unknown(4242)" UID="root"'
    rows = [(72, 3, 8, 10, 0, '"x"', "fcntl"), (72, 3, 8, 11, 0, '"x"', "fcntl"),
            (72, 3, 2, 12, 0, '"x"', "fcntl"), (72, 3, 2, 13, 1000, '"x"', "fcntl"),
            (72, 3, 2, 14, 1000, '"y"', "fcntl"), (72, 3, 2, 14, 1000, '"y"', "fcntl"),
            (2, 3, 2, 15, 1000, '"y"', "open"), (2, 3, 2, 16, 0, "amsg='", "open"),
            (2, 3, 2, 17, 0, '"a b"', "open"), (2, 3, 2, 18, 0, "x\x1dY=z", "open")]
    bodies = [base.format(sc=sc, a0=a0, a1=a1, pid=pid, uid=uid, comm=comm)
              + tail.format(name=name) for sc, a0, a1, pid, uid, comm, name in rows]
    bodies.append(bodies[-1].replace("ARCH=", "arch="))  # no ENRICHED part: data
    patched_alike(bodies)


def test_an_enriched_record_takes_each_text_from_its_pair_or_its_word() -> None:
    """A patched ENRICHED record: a key with a pair takes its text from the pair, even
    where the word memo holds the word with the users' name (uid=1000, read from a RAW
    record as "alice", while the ENRICHED part says UID="root"); a key without one takes
    the word memo's piece as a RAW record does (exit=-2, read from a RAW record)."""
    raw = ("arch=c000003e syscall=2 success={ok} exit={exit} a0=3 a1=0 a2=0 a3=0 items=0 "
           "ppid=1 pid={pid} auid=0 uid={uid} comm=\"x\" key=(null)")
    tail = '\x1dARCH=x86_64 SYSCALL=open AUID="root" UID="root"'
    rows = [(raw, "yes", 0, 10, 0), (raw, "no", -2, 11, 1000), (raw, "yes", 0, 12, 0),
            (raw + tail, "yes", 0, 13, 0), (raw + tail, "yes", 0, 14, 0),
            (raw + tail, "yes", 0, 15, 1000), (raw + tail, "no", -2, 16, 0)]
    bodies = [form.format(ok=ok, exit=exit_, pid=pid, uid=uid)
              for form, ok, exit_, pid, uid in rows]
    patched_alike(bodies)
    hot = session(True)
    for n, body in enumerate(bodies):
        hot.feed_lines([f"type=SYSCALL msg=audit(1700000000.{n:03d}:{n}): {body}",
                        f"type=PROCTITLE msg=audit(1700000000.{n:03d}:{n}): proctitle=6C73"])
    fast = hot.fast
    assert fast is not None
    exit_word = fast.lines._words[1300]["exit=-2"]  # (learnt from the RAW record)
    uid_word = fast.lines._words[1300]["uid=1000"]
    last = fast.lines.line_rec(1300, "SYSCALL", bodies[-1], {})
    assert last is not None and last.pieces[3] is exit_word[1]
    by_uid = fast.lines.line_rec(1300, "SYSCALL", bodies[-2], {})
    assert by_uid is not None and by_uid.pieces[12] is not uid_word[1]
    assert by_uid.pieces[12].text == "root" and uid_word[1].text == "alice"


def test_an_enriched_record_of_another_call_is_put_together_not_parsed() -> None:
    """An ENRICHED SYSCALL of a call whose ENRICHED part is new (SYSCALL=fchmodat after
    openat's) is put together from its words, as a RAW record of a new call is: not
    parsed. A key with a pair takes its text from it (uid=1000 as UID="root", where the
    users' name is "alice"); and a RAW record put together from the same words takes
    the users' text: the word memo keeps such a word, first read in a parse or put
    together, for its pair alone (uid=1000, uid=1001). Pointers and
    pid new at each call. The frames are the general path's, both ways; and the
    fields the parse's."""
    raw = ("arch=c000003e syscall={sc} success=yes exit=0 a0={a0:x} a1=7ffc{a1:04x} a2=0 "
           'a3=0 items=1 ppid=1 pid={pid} auid=0 uid={uid} comm="x" key=(null)')
    enriched = raw + '\x1dARCH=x86_64 SYSCALL={name} AUID="root" UID="root"'
    calls = [(enriched, 257, "openat", 1000), (enriched, 257, "openat", 0),
             (enriched, 268, "fchmodat", 1000), (enriched, 268, "fchmodat", 0),
             (enriched, 263, "unlinkat", 1001)] * 3 + [(raw, 2, "", 1000), (raw, 2, "", 1001)]
    bodies = [form.format(sc=sc, a0=3 + n, a1=n, pid=100 + n, uid=uid, name=name)
              for n, (form, sc, name, uid) in enumerate(calls)]
    lines = []
    for n, body in enumerate(bodies):
        stamp = f"msg=audit(1700000000.{n:03d}:{n})"
        lines += [f"type=SYSCALL {stamp}: {body}", f"type=PROCTITLE {stamp}: proctitle=6C73"]
    for live in (False, True):
        hot, _ = same(lines, live)
        assert hot.fast is not None and hot.fast.encoded == len(bodies)
    recs, parsed = lane_reads(1300, "SYSCALL", bodies)
    assert parsed == bodies[:1]  # then patched (openat) or put together (the others)
    assert fields_of(recs) == parsed_fields(lines[::2])
    uid_texts = [r.pieces[12].text for r in recs if r is not None]
    assert uid_texts[:5] == ["root"] * 5 and uid_texts[-2:] == ["alice", "unknown(1001)"]


def test_events_going_by_while_others_wait_for_their_timeout() -> None:
    """User records wait in the assembler for their timeout (log mode); the events going
    by meanwhile take the assembler's expiry step at each record, two events at most,
    as add() does; interleaving and a full assembler hand everything back to it."""
    lines = [f"type=USER msg=audit(1700000000.{n:03d}:{n}): pid=1 uid=0 msg='op=x res=success'"
             for n in range(7)]
    for n in range(100, 112):
        stamp = f"msg=audit(1700000009.{n % 1000:03d}:{n})"
        lines += [f"type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes pid={n}",
                  f"type=CWD {stamp}: cwd=\"/\"",
                  f"type=PROCTITLE {stamp}: proctitle=6C73"]
    lines[-4:-2] = lines[-4:-2][::-1]  # two records of different events swapped
    for live in (False, True):
        same(lines, live)
    tight = Session(MessageBuilder(Interpreter(USERS, GROUPS), hostname="h"),
                    Assembler(live=False, max_in_flight=3))
    loose = Session(MessageBuilder(Interpreter(USERS, GROUPS), hostname="h"),
                    Assembler(live=False, max_in_flight=3), fast=False)
    assert ([x.frame for x in shipped(tight, lines, False)]
            == [x.frame for x in shipped(loose, lines, False)])
    assert tight.counters() == loose.counters()


def test_live_events_closed_by_their_eoe_or_their_timeout() -> None:
    """The shipper's journal: records, then an EOE line; the clock is the shipper's. An
    event whose EOE comes late times out first; one interleaves with another."""
    lines: list[str] = []
    nows: list[float] = []
    now = 50.0
    for n in range(30):
        stamp = f"msg=audit(1700000000.{n:03d}:{n})"
        event = [f"type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes pid={n} "
                 "auid=4242 uid=0",
                 f"type=CWD {stamp}: cwd=\"/\"", f"type=PROCTITLE {stamp}: proctitle=6C73",
                 f"type=EOE {stamp}: "]
        for i, line in enumerate(event):
            now += 3.0 if (n == 7 and i == 2) else 0.01  # event 7 times out before its EOE
            lines.append(line)
            nows.append(now)
    lines[40:42] = lines[40:42][::-1]
    hot = session(True, live=True)
    general = session(False, live=True)
    a = [x for line, t in zip(lines, nows, strict=True) for x in hot.feed(line, t, 0)]
    b = [x for line, t in zip(lines, nows, strict=True) for x in general.feed(line, t, 0)]
    a += hot.expire(now + 10)
    b += general.expire(now + 10)
    assert [x.frame for x in a] == [x.frame for x in b]
    assert hot.counters() == general.counters()
    assert hot.counters()["events_completed_by_eoe"] >= 25
    assert hot.fast is not None and hot.fast.encoded == len(a)


# ------------------------------------------------------------ what memos notice


def test_names_read_again_reach_the_memoised_texts(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n")
    users = AccountNames(passwd)
    builder = MessageBuilder(Interpreter(users, {}), hostname="h")
    s = Session(builder, Assembler(live=False))
    line = ("type=LOGIN msg=audit(1.000:{n}): pid=1 uid=0 old-auid=4294967295 auid=1000 "
            "tty=(none) old-ses=4294967295 ses=1 res=1 auid2=1501")

    def auid_text(n: int) -> object:
        (out,) = s.feed(line.format(n=n)) + s.finish()
        field = out.message.field("auid_i")
        return field.values if field else None

    assert auid_text(1) == ("alice",)
    passwd.write_text("root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/:/bin/sh\n")
    users.reload()
    builder.interpreter.forget_names()  # type: ignore[attr-defined]  # the shipper does this
    assert auid_text(2) == ("bob",)


def test_names_read_again_while_an_event_goes_by() -> None:
    """The general path interprets an event when it is complete: so does the hot path."""
    users = {0: "root", 1000: "alice"}
    interpreter = Interpreter(users, {})
    s = Session(MessageBuilder(interpreter, hostname="h"), Assembler(live=False))
    stamp = "msg=audit(1.000:7):"
    assert s.feed(f"type=SYSCALL {stamp} arch=c000003e syscall=59 auid=1000 uid=0") == []
    users[1000] = "bob"
    interpreter.forget_names()
    (out,) = s.feed(f"type=PROCTITLE {stamp} proctitle=6C73")
    assert out.message.field("auid_i").values == ("bob",)  # type: ignore[union-attr]


def test_an_unknown_id_is_asked_again() -> None:
    users: dict[int, str] = {0: "root"}
    s = Session(MessageBuilder(Interpreter(users, {}), hostname="h"), Assembler(live=False))
    line = "type=LOGIN msg=audit(1.000:{n}): pid=1 uid=0 auid=1501 ses=1 res=1"
    first = s.feed(line.format(n=1)) + s.finish()
    users[1501] = "carol"  # an account created since (the interpreter asks each time)
    second = s.feed(line.format(n=2)) + s.finish()
    assert first[0].message.field("auid_i").values == ("unknown(1501)",)  # type: ignore[union-attr]
    assert second[0].message.field("auid_i").values == ("carol",)  # type: ignore[union-attr]


def test_an_account_created_since_shows_in_patched_user_records(tmp_path: Path) -> None:
    """The daemon's names (accounts.AccountNames): a PAM record of an unknown login uid,
    patched from the last one, names the account once passwd has it -- no forget_names,
    no restart -- and stays identical to the general path before and after."""
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0::/root:/bin/sh\n")
    now = [100.0]
    lines = [f"type=USER_START msg=audit(1700000000.{n:03d}:{n}): pid={700 + n} uid=0 "
             f"auid=1501 ses={n} msg='op=PAM:session_open grantors=pam_unix acct=\"carol\" "
             "exe=\"/usr/sbin/sshd\" hostname=? addr=? terminal=ssh res=success'"
             for n in range(6)]
    out: dict[bool, list[bytes | None]] = {}
    for fast in (True, False):
        users = AccountNames(passwd, clock=lambda: now[0])
        s = Session(MessageBuilder(Interpreter(users, {}), hostname="h"),
                    Assembler(live=True), fast=fast)
        frames = [x.frame for line in lines[:3] for x in s.feed(line, 1.0)]
        assert all(b"unknown(1501)" in (frame or b"") for frame in frames)
        with passwd.open("a") as f:
            f.write("carol:x:1501:1501::/:/bin/sh\n")
        now[0] += 1.0
        shipments = [x for line in lines[3:] for x in s.feed(line, 2.0)]
        assert all(x.message.field("auid_i").values == ("carol",)  # type: ignore[union-attr]
                   for x in shipments)
        out[fast] = frames + [x.frame for x in shipments]
        if fast:
            assert s.fast is not None and s.fast.general == 0
        passwd.write_text("root:x:0:0::/root:/bin/sh\n")
        now[0] += 1.0
    assert out[True] == out[False]


def test_hostname_and_options_set_later_are_followed() -> None:
    lines = golden_frames.logs()["storm-4k"][:400]
    hot, general = session(True), session(False)
    for s in (hot, general):
        shipped(s, lines[:200], False)
        s.builder.hostname = "renamed"
        s.builder.payload = False
    assert ([x.frame for x in shipped(hot, lines[200:], False)]
            == [x.frame for x in shipped(general, lines[200:], False)])


def test_memos_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = []
    for n in range(3000):  # every value new: a hostile or just very varied log
        lines += [f"type=SYSCALL msg=audit(1700000000.{n % 1000:03d}:{n}): arch=c000003e "
                  f"syscall=59 success=yes exit=0 a0={n:x} a1=1 pid={n} uid={n % 7} "
                  f'comm="c{n}" key="k{n % 5}"',
                  f"type=PROCTITLE msg=audit(1700000000.{n % 1000:03d}:{n}): proctitle=6C73"]
    hot, _ = same(lines, False)
    fast = hot.fast
    assert isinstance(fast, FastEncoder)
    limits = {"records": 8192, "fields": 16384, "words": 16384}
    assert len(fast._records) <= limits["records"]
    assert len(fast.records.fields) <= limits["fields"]
    assert sum(len(w) for w in fast.lines._words.values()) <= limits["words"] + 64
    assert len(hot._bodies) <= 8192
    assert len(fast.lines._last) <= 1024 and all(len(b) <= 4 for b in fast.lines._last.values())


def test_a_record_seen_once_keys_no_group_memo() -> None:
    """A PATH item patched with a value never seen before (the next file's inode) does
    not come back: the groups and aligned fields encoded from it are not remembered,
    so that they do not push out the ones that do come back. The frames are the same."""
    lines = []
    for n in range(300):
        stamp = f"msg=audit(1700000000.{n % 1000:03d}:{n})"
        lines += [f"type=SYSCALL {stamp}: arch=c000003e syscall=263 success=yes exit=0 "
                  f"a0=4 a1=55 a2=0 a3=0 items=2 ppid=1 pid=7 uid=0 comm=\"rm\" key=\"d\"",
                  f"type=PATH {stamp}: item=0 name=\"/tmp/d/\" inode=12 dev=fe:00 "
                  "mode=040700 ouid=0 ogid=0 rdev=00:00 nametype=PARENT",
                  f"type=PATH {stamp}: item=1 name=\"/tmp/d/f\" inode={1000 + n} dev=fe:00 "
                  "mode=0100600 ouid=0 ogid=0 rdev=00:00 nametype=DELETE",
                  f"type=PROCTITLE {stamp}: proctitle=726D"]
    hot, _ = same(lines, False)
    fast = hot.fast
    assert isinstance(fast, FastEncoder)
    assert fast.encoded >= 290
    groups = [group[3] for plan in fast._plans.values() if plan is not None
              for group in plan.groups]
    aligned = [op[7] for plan in fast._plans.values() if plan is not None
               for group in plan.groups for op in group[2]]
    remembered = sum(map(len, groups)) + sum(map(len, aligned))
    assert remembered < 40, remembered  # the first events' (a value not yet patched in)


def test_a_one_word_record_with_a_new_value_is_patched_not_parsed() -> None:
    """A PROCTITLE new at each exec (a build's compiler lines) is patched from the last
    one parsed, as a SYSCALL with a new pid is: not parsed again. The frames are the
    same."""
    lines = []
    for n in range(200):
        stamp = f"msg=audit(1700000000.{n % 1000:03d}:{n})"
        title = f"cc\0-c\0src/file{n}.c".encode().hex().upper()
        lines += [f"type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes exit=0 "
                  f'a0=4 a1=55 a2=0 a3=0 items=1 ppid=1 pid={100 + n} uid=0 comm="cc" key="x"',
                  f'type=CWD {stamp}: cwd="/build"',
                  f"type=PROCTITLE {stamp}: proctitle={title}"]
    hot, _ = same(lines, False)
    assert isinstance(hot.fast, FastEncoder) and hot.fast.encoded == 200
    first, second, third = (line.partition("): ")[2] for line in lines[2:9:3])
    recs, parsed = lane_reads(PROCTITLE, "PROCTITLE", (first, second, third))
    assert parsed == [first]  # the next ones patched from it
    assert fields_of(recs) == parsed_fields(lines[2:9:3])


def test_records_of_one_or_two_words_that_begin_as_a_call_does() -> None:
    """A record whose first words are arch= (and syscall=) but that has fewer than two,
    new at each event: looked for among the bases of its shape like any other."""
    lines = []
    for n in range(1, 30):
        stamp = f"msg=audit(1700000000.{n:03d}:{n})"
        lines += [f"type=SYSCALL {stamp}: arch=c00000{n % 10}e",
                  f"type=SYSCALL {stamp}: arch=c000003e syscall={n}",
                  f"type=PROCTITLE {stamp}: proctitle=6363"]
    for live in (False, True):
        same(lines, live)


def exec_lines(bodies: Iterable[str]) -> list[str]:
    """Exec events (SYSCALL, EXECVE, PROCTITLE) of these EXECVE bodies, serials 0, 1, ...,
    a new pid each."""
    lines = []
    for n, body in enumerate(bodies):
        stamp = f"msg=audit(1700000000.{n % 1000:03d}:{n})"
        lines += [f"type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes exit=0 "
                  f'a0=4 a1=55 a2=0 a3=0 items=1 ppid=1 pid={100 + n} uid=0 comm="cc" key="x"',
                  f"type=EXECVE {stamp}: {body}",
                  f"type=PROCTITLE {stamp}: proctitle=6363"]
    return lines


def test_an_exec_whose_arguments_are_new_is_patched_not_parsed() -> None:
    """A build's next compiler line: an EXECVE like the last of its length but for some
    arguments takes that entry with the new words as fields, not a parse. Where a word
    that changed is not an argument of the same key, or does not read alone, it is
    parsed. The frames are the general path's."""
    args = ['argc=4 a0="cc" a1="-c" a2="src/f{n}.c" a3="-O2"',
            'argc=4 a0="cc" a1="-c" a2="src/f{n}.c" a3="-O2"',
            'argc=4 a0="cc" a1="-c" a2=7372632F6620{n}2E63 a3="-O2"',  # hex: a space in it
            'argc=4 a0="cc" a1="-c" a2="src/g{n}.c" a3="-O3"',  # two arguments
            'argc=5 a0="cc" a1="-c" a2="src/f{n}.c" a3="-O2"',  # argc: not an argument
            'argc=4 a0="cc" a1="-c" a2="src/f{n}.c" a9="-O2"',  # another key
            'argc=4 a0="cc" a1="-c" a2="s\"{n}" a3="-O2"',  # a quote inside: parsed
            'argc=4 a0="cc" a1="-c" a2=(src/f{n}.c) a3="-O2"',  # read alone otherwise
            'argc=4 a0="ld" a1="-o" a2_len=8 a3="-O2"',
            'argc=4 a0="ld" a1="-o" a2_len=9{n} a3="-O2"']
    lines = exec_lines(body.format(n=n)
                       for n, body in enumerate(itertools.islice(itertools.cycle(args), 120)))
    hot, _ = same(lines, False)
    assert isinstance(hot.fast, FastEncoder) and hot.fast.encoded >= 108  # (a2="s\"n": general)
    execve = [line.partition("): ")[2] for line in lines[1::3]]
    recs, read = lane_reads(EXECVE, "EXECVE", execve)
    assert [i for i, r in enumerate(recs) if r is None] == list(range(6, 120, 10))
    assert [r.fields for r in recs if r is not None] == parsed_fields(
        line for i, line in enumerate(lines[1::3]) if i % 10 != 6)
    parsed = set(read)
    assert execve[0] in parsed and execve[10] not in parsed and execve[11] not in parsed
    assert execve[13] not in parsed  # (two arguments new)
    assert execve[4] in parsed and execve[5] in parsed and execve[6] in parsed
    assert len(parsed) < 60, len(parsed)


def encoded_as_event(lines: list[str]) -> FastEncoder:
    """A new encoder, once it encoded these lines (one event's) handed as an Event, the
    assembler's way (FastEncoder.encode), not the lane's."""
    records = [parse_line(line) for line in lines]
    encoder = session(True).fast
    assert encoder is not None
    assert encoder.encode(Event(None, 0, 1700000000, 0, tuple(
        r for r in records if isinstance(r, Record)), 0), 1 << 16) is not None
    return encoder


def let_go(rec: Rec) -> bool:
    """Whether the entry let its base's argv elements go (its own are made)."""
    return rec.argv_base is None


def test_a_patched_exec_takes_its_argv_from_the_last_command_line() -> None:
    """A build's next compiler line, patched from the last one, makes its argv from that
    one's by the arguments that changed (LineEntries.argv_elements), an argc above
    their number included. Where argv is not the record's values in order -- an
    aN_len, the arguments spread over records -- it is read whole as always. The
    frames are the general path's, both ways."""
    flags = " ".join(f'a{i}="-W{i}"' for i in range(1, 30))
    forms = ['argc=33 a0="cc" {flags} a30="-c" a31="src/f{n}.c" a32=62{n:04X}',
             'argc=33 a0="cc" {flags} a30="-c" a31="src/f{n}.c" a32=62{n:04X}',
             'argc=33 a0="cc" {flags} a30="-c" a31="src/f{n}.c" a32=62{n:04X}',
             'argc=35 a0="cc" {flags} a30="-c" a31="src/f{n}.c" a32=62{n:04X}',  # 2 more,
             'argc=35 a0="cc" {flags} a30="-c" a31="src/f{n}.c" a32=62{n:04X}',  # empty
             'argc=33 a0="cc" {flags} a30="-c" a31="src/f{n}.c" a32_len=2{n}',  # not a value
             'argc=33 a0="cc" {flags} a30="-c" a31="src/f{n}.c" a32="x{n}"']
    lines = exec_lines(form.format(n=n, flags=flags)
                       for n, form in enumerate(itertools.islice(itertools.cycle(forms), 70)))
    # Two events spread over records: an argv no one record holds.
    lines += ["type=SYSCALL msg=audit(1700000000.100:100): arch=c000003e syscall=59 pid=9",
              'type=EXECVE msg=audit(1700000000.100:100): argc=3 a0="cc" a1="-c"',
              'type=EXECVE msg=audit(1700000000.100:100): a2="src/g.c"',
              "type=PROCTITLE msg=audit(1700000000.100:100): proctitle=6363"]
    for live in (False, True):
        same(lines, live)
    # The mechanism, line by line: event 1's entry keeps its elements; event 2's entry,
    # patched from it, holds them with the fields that changed until its argv is made.
    hot = session(True)
    fast = hot.fast
    assert isinstance(fast, FastEncoder)
    hot.feed_lines(lines[3:6])
    first = fast.lines._last[(EXECVE, 34, "")][("argc=33", 'a0="cc"')][2]
    hot.feed_lines(lines[6:8])  # event 2's SYSCALL and EXECVE: held by the lane
    second = hot._run_recs[1]
    assert first.argv_elements is not None and second.argv_base is not None
    assert second.argv_base[0] is first.argv_elements and second.argv_base[1] == [32, 33]
    (shipment,) = hot.feed_lines(lines[8:9])
    assert let_go(second) and second.argv_elements is not None
    message = shipment.message
    argv = next(f for f in message.fields if f.name == "argv").values
    assert [string_element(str(a)) for a in argv] == second.argv_elements
    assert argv[31:] == ("src/f2.c", "b\x00\x02")
    # The argv memo keeps the argv of an entry a memo keeps (its body may come again), not
    # of one patched (a new command line: never asked again).
    assert first.lasting and (first,) in fast._argvs
    assert not second.lasting and (second,) not in fast._argvs


def test_execs_read_in_one_round_take_their_argv_from_the_last_command_line() -> None:
    """Session.feed_lines reads a round's lines before it encodes their events, so a
    compiler line is patched from one whose event is not encoded yet: that one's argv
    elements are made when it is patched from (LineEntries.argv_elements), and the
    next takes them with the arguments that changed -- not its whole argv read."""
    flags = " ".join(f'a{i}="-W{i}"' for i in range(1, 30))
    lines = exec_lines(f'argc=33 a0="cc" {flags} a30="-c" a31="src/f{n}.c" a32=62{n:04X}'
                       for n in range(6))
    same(lines, False)
    hot = session(True)
    hot.feed_lines(lines[:17])  # five events, and the sixth's SYSCALL and EXECVE: held
    sixth = hot._run_recs[1]
    assert sixth.argv_base is not None and sixth.argv_base[1] == [32, 33]
    made = sixth.argv_elements
    assert made is None  # (made when its event is encoded)
    (shipment,) = hot.feed_lines(lines[17:])
    assert let_go(sixth) and sixth.argv_elements is not None
    argv = next(f for f in shipment.message.fields if f.name == "argv").values
    assert [string_element(str(a)) for a in argv] == sixth.argv_elements


def test_a_long_compiler_line_is_patched_from_the_last_one() -> None:
    """A C++ build's compiler line of 5-7 KB (many -I and -D flags) is one EXECVE record
    over MEMO_BODY_MAX, and is patched from the last one of its length as a short one
    is: its fields and argv made from the new words, not a parse. Its bases are kept
    apart, for LONG_EXECVE_SHAPES word counts, least recent out; a body over
    EXECVE_BASE_MAX is parsed. The frames are the general path's, both ways."""
    def line(n: int, flags: int = 119, pad: int = 0) -> str:
        """Exec n's compiler line: ``flags`` include paths (the first ``pad`` longer)."""
        longer = "x" * pad
        paths = " ".join(f'a{i}="-I{longer if i == 1 else ""}/usr/src/project/third_party/'
                         f'library{i}/include"' for i in range(1, flags + 1))
        return (f'argc={flags + 5} a0="c++" {paths} a{flags + 1}="-c" '
                f'a{flags + 2}="src/f{n}.cc" a{flags + 3}="-o" a{flags + 4}=62{n:04X}')

    bodies = [line(n) for n in range(8)]
    assert MEMO_BODY_MAX < len(bodies[0]) < EXECVE_BASE_MAX
    at_most = line(8, pad=EXECVE_BASE_MAX - len(bodies[0]))
    assert len(at_most) == EXECVE_BASE_MAX
    # Two lengths interleaved (a parallel build), then lines at and over EXECVE_BASE_MAX.
    lines = exec_lines([*itertools.chain.from_iterable(
        (body, line(n, flags=118)) for n, body in enumerate(bodies)),
        at_most, line(9, pad=len(at_most) - len(bodies[0]) + 1), line(10)])
    hot, fast = same_both_ways(lines)
    hot.feed_lines(lines[:3])
    first = fast.lines._long[125][("argc=124", 'a0="c++"')][2]
    hot.feed_lines(lines[6:8])  # event 3 (the next line of event 1's length): held
    third = hot._run_recs[1]
    assert third.argv_base is not None and third.argv_base[0] is first.argv_elements
    assert third.argv_base[1] == [122, 124]
    assert not any(body in hot._bodies for body in bodies[1:])  # (not parsed)
    (shipment,) = hot.feed_lines(lines[8:9])
    argv = next(f for f in shipment.message.fields if f.name == "argv").values
    assert argv[121] == "src/f1.cc" and len(argv) == 124
    # No memo keeps these entries (over MEMO_BODY_MAX, or patched): nor what is keyed by
    # them (the argv memo held 1,024 such entries, with their fields, for nothing).
    assert not first.lasting and not third.lasting and not fast._argvs
    # So too for an Event's records handed to the encoder (the assembler's way), while
    # the argv of a shorter one, which its memo keeps, is remembered.
    few = "argc=40 " + " ".join(f'a{i}="{"-I/usr/src/project" * 7}{i}"' for i in range(40))
    assert len(few) > MEMO_BODY_MAX  # (in 41 fields)
    for body, kept in ((bodies[0], 0), (few, 0), ("argc=2 a0=\"cc\" a1=\"-c\"", 1)):
        assert len(encoded_as_event(exec_lines([body]))._argvs) == kept
    # The store's bound: the least recent word count goes first, a use making it recent.
    long = fast.lines._long

    def other(words: int) -> None:  # a compiler line of another length, read
        args = " ".join(f'a{i}="-I/src/lib{i:04}/inc"' for i in range(words - 1))
        body = f"argc={words - 1} {args}"
        assert MEMO_BODY_MAX < len(body) <= EXECVE_BASE_MAX
        fast.lines.line_rec(EXECVE, "EXECVE", body, {})

    for words in range(200, 200 + LONG_EXECVE_SHAPES - len(long)):
        other(words)
    assert len(long) == LONG_EXECVE_SHAPES and next(iter(long)) == 125
    fast.lines.line_rec(EXECVE, "EXECVE", bodies[5], {})  # (patched: 125 the most recent)
    other(300)
    assert len(long) == LONG_EXECVE_SHAPES and 125 in long and 200 not in long
    for words in range(220, 220 + LONG_EXECVE_SHAPES):
        other(words)
    assert len(long) == LONG_EXECVE_SHAPES and 125 not in long
    # Over EXECVE_BASE_MAX: no base, and no patch.
    fast.lines.line_rec(EXECVE, "EXECVE", line(9, pad=EXECVE_BASE_MAX), {})
    assert len(long) == LONG_EXECVE_SHAPES and 125 not in long


def test_an_exec_of_many_arguments_is_kept_by_no_memo() -> None:
    """Memory bounded by size: an EXECVE of more than BODY_MEMO_FIELDS fields (a user's
    exec of 4 KB of one-letter arguments held ~100 KB of parse) is remembered by no
    memo, by body nor by what is keyed by its entry; the same line again is patched from
    it, not parsed. The frames are the general path's."""
    args = " ".join(f'a{i}="{chr(97 + i % 26)}"' for i in range(1, BODY_MEMO_FIELDS))
    body = f'argc={BODY_MEMO_FIELDS} a0="cc" {args}'
    assert len(body) <= MEMO_BODY_MAX
    lines = exec_lines([body, body, body.replace('a1="b"', 'a1="c"')])
    hot, fast = same_both_ways(lines)
    hot.feed_lines(lines[:2])
    first = hot._run_recs[1]
    hot.feed_lines(lines[2:5])
    second = hot._run_recs[1]
    assert second is not first and second.argv_base is not None  # (patched: not parsed)
    assert second.argv_base[0] is first.argv_elements and second.fields == first.fields
    hot.feed_lines(lines[5:])
    assert not first.lasting and not second.lasting
    assert body not in hot._bodies and body not in fast.lines.entries and not fast._argvs
    # So too for an Event's records handed to the encoder (the assembler's way).
    encoder = encoded_as_event(lines[:3])
    assert len(encoder._records) == 2 and not encoder._argvs  # (the SYSCALL, PROCTITLE)


def test_an_argv_over_the_memo_size_is_not_kept_on_its_entry() -> None:
    """Memory bounded by size: an exec whose argv encodes to more than MEMO_BYTES_MAX
    keeps no elements on its entry (nor in the argv memo), nor one of more than
    ARGV_KEPT_MAX arguments; its frames are the general path's."""
    args = " ".join(f'a{i}="{chr(97 + i % 26) * 100}"' for i in range(1, 200))
    stamp = "msg=audit(1700000000.001:1)"
    lines = [f"type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes exit=0 pid=1",
             f'type=EXECVE {stamp}: argc=200 a0="cc" {args}',
             f"type=PROCTITLE {stamp}: proctitle=6363"]
    same(lines, False)
    hot = session(True)
    hot.feed_lines(lines[:2])
    rec = hot._run_recs[1]
    (shipment,) = hot.feed_lines(lines[2:])
    assert shipment.frame is not None and len(shipment.frame) > 16384
    assert rec.execve and rec.argv_elements is None and let_go(rec)
    assert hot.fast is not None and not hot.fast._argvs
    # Nor past ARGV_KEPT_MAX arguments, however short: the memos keep entries by count.
    for count, kept in ((ARGV_KEPT_MAX, True), (ARGV_KEPT_MAX + 1, False)):
        args = " ".join(f'a{i}="x"' for i in range(count))
        lines = [f"type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes exit=0 pid=1",
                 f"type=EXECVE {stamp}: argc={count} {args}",
                 f"type=PROCTITLE {stamp}: proctitle=6363"]
        hot = session(True)
        hot.feed_lines(lines[:2])
        rec = hot._run_recs[1]
        hot.feed_lines(lines[2:])
        assert (rec.argv_elements is not None) is kept, count


def test_large_values_are_not_remembered() -> None:
    """Memory is bounded by size too: long values, bodies and encodings are computed at
    each use, with the same frames."""
    lines = []
    for n in range(40):
        stamp = f"msg=audit(1700000000.{n:03d}:{n})"
        big = f"{n:04x}" * 1500  # 6000 hex digits
        lines += [f"type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes pid={n}",
                  f"type=EXECVE {stamp}: argc=2 a0=\"x\" a1={big}",
                  f"type=CWD {stamp}: cwd={big[:3000]}",
                  *[f"type=PATH {stamp}: item={i} name={big} inode={n} nametype=NORMAL"
                    for i in range(3)],
                  f"type=PROCTITLE {stamp}: proctitle={big[:4200]}"]
    hot, _ = same(lines, False)
    fast = hot.fast
    assert isinstance(fast, FastEncoder)
    assert all(len(body) <= 4096 for body in fast.lines.entries)
    assert all(len(body) <= 4096 for body in hot._bodies)
    assert all(len(key[2]) <= 1024 for key in fast.records.fields if isinstance(key[2], str))
    assert all(len(data) <= 16384 for data in fast._argvs.values())
    assert all(len(" ".join(split)) <= 4096 for bases in fast.lines._last.values()
               for _, split, _ in bases.values())
    recents = [group[4] for plan in fast._plans.values() if plan is not None
               for group in plan.groups if group[4] is not None]
    assert recents and all(sum(map(len, recent.parts)) <= 16384 for recent in recents)


def test_context_key_covers_every_call_whose_texts_read_its_arguments() -> None:
    """interpret.context_key keeps a0/a1 for the calls _contextual or the multiplexers
    read them for: the hot path keys memoised texts with it."""
    interpreter = Interpreter({}, {}, machine="x86_64")
    names = {n for n, kinds in ARG_KINDS.items() if kinds and "contextual" in kinds}
    names |= {"socketcall", "ipc"}
    for arch, machine in (("c000003e", "x86_64"), ("40000003", "i386")):
        numbers = {name: number for number, name in SYSCALLS[machine].items()}
        for name in sorted(names & numbers.keys()):
            record = parse_line(f"type=SYSCALL msg=audit(1.000:1): arch={arch} "
                                f"syscall={numbers[name]} a0=1 a1=2")
            assert isinstance(record, Record)
            assert len(interpreter.context_key(record)) == 4, name
    plain = parse_line("type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 a0=1 a1=2")
    assert isinstance(plain, Record)
    assert len(interpreter.context_key(plain)) == 2  # execve's texts read no argument


def test_exec_events_whose_pointers_change() -> None:
    """Real exec events: a0-a2 are new pointers each time, ppid and pid new too."""
    lines = []
    for n in range(60):
        stamp = f"msg=audit(1700000000.{n:03d}:{n})"
        lines += [f"type=SYSCALL {stamp}: arch=c000003e syscall={59 if n % 7 else 41} "
                  f"success=yes exit=0 a0={0x7f0000 + n * 977:x} a1={0x7e0000 + n * 31:x} "
                  f"a2={n * 4099:x} a3=8 items=2 ppid={1000 + n * 3} pid={2000 + n} "
                  "auid=4242 uid=0 gid=0 comm=\"true\" exe=\"/usr/bin/true\" key=\"exec\"",
                  f"type=EXECVE {stamp}: argc=1 a0=\"/bin/true\"",
                  f"type=PATH {stamp}: item=0 name=\"/bin/true\" inode=5 nametype=NORMAL",
                  f"type=PATH {stamp}: item=1 name=\"/lib/ld.so\" inode=6 nametype=NORMAL",
                  f"type=PROCTITLE {stamp}: proctitle=2F62696E2F74727565"]
    for live in (False, True):
        hot, _ = same(lines, live)
        assert hot.fast is not None and hot.fast.encoded == 60


def test_an_event_too_large_for_the_hot_path_costs_it_nothing() -> None:
    """An event whose lines pass half the message limit (a long argv, written to cost
    us) goes straight to the general path, which degrades it: no entries made for its
    long records, no plan, no encoding thrown away -- and the same frames. One of
    half that size still takes the hot path."""
    def exec_event(serial: int, records: int) -> list[str]:
        stamp = f"msg=audit(1700000000.{serial:03d}:{serial})"
        args = [f"type=EXECVE {stamp}: argc={4 * records}"] + [
            f"type=EXECVE {stamp}: " + " ".join(
                f'a{4 * r + i}="{chr(97 + i) * 1700}"' for i in range(4))
            for r in range(records)]
        return [f"type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes exit=0 "
                f"a0=55 a1=66 a2=77 a3=8 items=1 ppid=1 pid={serial} uid=0 comm=\"x\"",
                *args, f"type=CWD {stamp}: cwd=\"/\"",
                f"type=PATH {stamp}: item=0 name=\"/bin/x\" inode=5 nametype=NORMAL",
                f"type=PROCTITLE {stamp}: proctitle=78"]

    large = exec_event(1, 6)  # ~41,000 characters: over half of 64 KiB
    assert sum(map(len, large)) > 64 * 1024 // 2
    for live in (False, True):
        hot, general = same(large, live)
        fast = hot.fast
        assert isinstance(fast, FastEncoder)
        assert (fast.encoded, fast.general, len(fast._plans)) == (0, 1, 0)
        assert hot.framer.payload_dropped == general.framer.payload_dropped == 1
        hot, _ = same(exec_event(2, 3), live)  # ~20,000 characters: the hot path's
        assert hot.fast is not None and hot.fast.encoded == 1
    # An Event handed to the encoder: its bodies are asked first (no lines made), its
    # lines then, with the limit between the two.
    records: list[Record] = []
    for line in exec_event(3, 3):
        record = parse_line(line)
        assert isinstance(record, Record)
        records.append(record)
    event = Event(None, 3, 1700000000, 3, tuple(records), 0)
    bodies = sum(len(r.text) for r in records)
    lines = sum(len(r.log_line()) for r in records)
    fast = session(True).fast
    assert fast is not None and bodies < lines
    for limit in (2 * bodies - 2, 2 * bodies + 2, 2 * lines - 2):
        assert fast.encode(event, limit) is None
    assert (fast.general, fast.encoded) == (3, 0)
    assert fast.encode(event, 8 * lines) is not None and fast.encoded == 1


#: What two entries of one record must agree on (Rec.context and the argv memos are kept
#: for later records, not read by the encoding).
_ENTRY_FACTS = ("type_name", "execve", "keys", "fields", "enriched", "free_text",
                "msg_fields", "pieces", "singles", "joined", "malformed", "volatiles",
                "volatile", "warn", "has_pid", "pid", "pid_index")


def test_a_patched_kernel_entry_is_the_entry_its_parse_gives() -> None:
    """LineEntries patches a kernel record from the last one of its call without making
    its Record (Rec.patch), its texts read in the base's call context (Rec.context):
    each entry must be what a parse of its body gives -- the same facts and bytes --
    for calls whose texts read a0/a1 (fcntl, socketcall) or not (openat), a base with
    a volatile piece (an unknown auid) and changes that bear on the severity, RAW and
    ENRICHED."""
    syscall = ("arch=c000003e syscall={call} success={ok} exit={exit} a0={a0} a1={a1} "
               "a2={a2} a3=0 items=1 ppid=1 pid={pid} auid={auid} uid=0 gid=0 euid=0 "
               'suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=3 comm="x" '
               'exe="/usr/bin/x" key=(null)')
    series = []
    for call, a0 in ((257, "ffffff9c"), (72, "3"), (102, "1")):  # openat, fcntl, socketcall
        for n in range(6):
            series.append(syscall.format(
                call=call, ok="yes" if n != 4 else "no", exit=-2 if n == 4 else 3,
                a0=a0 if n != 3 else "4", a1=f"{0x7ffc0000 + n * 16:x}" if n != 2 else "2",
                a2="1" if call == 72 else f"{0x800 * n:x}",  # fcntl F_SETFD 1: FD_CLOEXEC
                pid=100 + n, auid=1000 if call != 72 else 4321))
    series += [f"item=0 name=\"/tmp/f{n % 2}\" inode={700 + n} dev=fe:00 mode=0100644 "
               "ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 "
               "cap_fver=0 cap_frootid=0" for n in range(6)]
    # The same as ENRICHED records (auditd's default format): patched with their pairs.
    series += [body + ('\x1dARCH=x86_64 SYSCALL=call AUID="alice" UID="root"'
                       if body.startswith("arch=") else '\x1dOUID="root" OGID="root"')
               for body in series]
    interpreter = Interpreter(USERS, GROUPS, machine="x86_64")
    patching = FastEncoder(MessageBuilder(interpreter, hostname="h"), interpreter).lines
    patched = 0
    for body in series:
        rtype, name = (1300, "SYSCALL") if body.startswith("arch=") else (1302, "PATH")
        rec = _read_as_its_parse(patching, rtype, name, body)
        patched += rec.context is not None
    assert patched >= 16  # (the test reaches the patches it is about)


def _read_as_its_parse(lines: LineEntries, rtype: int, name: str, body: str) -> Rec:
    """The entry ``lines`` reads of a body, checked against a fresh reading's (a parse)."""
    rec = lines.line_rec(rtype, name, body, {})
    fresh = Interpreter(USERS, GROUPS, machine="x86_64")
    parsed = FastEncoder(MessageBuilder(fresh, hostname="h"), fresh).lines.line_rec(
        rtype, name, body, {})
    assert rec is not None and parsed is not None
    _assert_same_entry(rec, parsed, body)
    assert [p.kind for p in rec.pieces] == [p.kind for p in parsed.pieces], body
    return rec


def _assert_same_entry(rec: Rec, parsed: Rec, body: str) -> None:
    """Every fact and byte of a line's entry is that of its parse's."""
    for fact in _ENTRY_FACTS:
        mine, theirs = getattr(rec, fact), getattr(parsed, fact)
        if fact == "pieces":
            mine = [(p.key, p.raw, p.text, p.single, p.volatile) for p in mine]
            theirs = [(p.key, p.raw, p.text, p.single, p.volatile) for p in theirs]
        assert mine == theirs, (fact, body)
    assert rec.joined == parsed.joined, body
    assert [(p.single, after) for p, after in rec.parts] == [
        (p.single, after) for p, after in parsed.parts], body


def test_times_and_serials_at_the_edges_of_hekas_int64() -> None:
    """An event whose time in ns or serial is past Heka's int64 is left to the general
    path, one at the edge encoded here: the same frames either way (records made by
    hand: a log line past the edge does not parse)."""
    edge = (1 << 63) - 1
    events = []
    for seconds, milliseconds, serial in ((edge // 10**9, 0, 1), (edge // 10**9 - 1, 999, 2),
                                          (0, 0, edge), (0, 0, edge + 1), (0, 0, -1),
                                          (-1, 999, 5), (edge // 10**9 + 1, 0, 6)):
        record = Record(1300, "SYSCALL", seconds, milliseconds, serial, None,
                        (("arch", "c000003e"), ("syscall", "2"), ("pid", "7")), (), "",
                        "arch=c000003e syscall=2 pid=7")
        events.append(Event(None, serial, seconds, milliseconds, (record,), 0))
    interpreter = Interpreter(USERS, GROUPS, machine="x86_64")
    builder = MessageBuilder(interpreter, hostname="h")
    fast = FastEncoder(builder, interpreter)
    encoded = [fast.encode(event, 1 << 20) for event in events]
    fits = [0 <= e.seconds * 10**9 + e.milliseconds * 10**6 <= edge and 0 <= e.serial <= edge
            for e in events]
    assert [data is not None for data in encoded] == fits == [True, True, True, False,
                                                              False, False, False]
    for event, data in zip(events, encoded, strict=True):
        if data is not None:
            assert data == encode_message(builder.build(event))


def test_a_patched_word_takes_its_bases_kind_but_where_the_value_decides_it() -> None:
    """A new word's kind is its base's piece's of the same key (a kind depends on the
    record type and key), but for acct: hex is an escaped name, a plain word none."""
    interpreter = Interpreter(USERS, GROUPS, machine="x86_64")
    lines = FastEncoder(MessageBuilder(interpreter, hostname="h"), interpreter).lines
    series = ["op=login acct=726F6F74 pid=1 uid=0 res=1",  # hex: ESCAPED ("root")
              "op=login acct=alice pid=2 uid=0 res=1",  # a word: no text
              "op=login acct=626F62 pid=3 uid=1000 res=1"]  # (and a uid: UID)
    patched = 0
    for body in series:
        patched += _read_as_its_parse(lines, 1399, "UNKNOWN[1399]", body).context is not None
    assert patched == 2  # (the last two)


def test_a_calls_base_outlives_dozens_of_other_calls_in_bounded_memory() -> None:
    """A SYSCALL is patched from the last record of its call (arch, syscall): a process
    that runs 40 calls in turn finds each call's base again (CALL_BASES per shape), not
    only the last BASES ones; and the bases of all shapes together are bounded
    (BASES_MAX: dropped when more, as the other memos)."""
    body = ("arch=c000003e syscall={call} success=yes exit=0 a0=1 a1=2 a2={n:x} a3=3 "
            "items=0 ppid=1 pid=7 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 "
            'sgid=0 fsgid=0 tty=(none) ses=3 comm="x" exe="/usr/bin/x" key=(null)')
    calls = [c for c in range(40) if c not in (0, 1, 59, 102)][:36]  # (no socketcall)
    interpreter = Interpreter(USERS, GROUPS, machine="x86_64")
    lines = FastEncoder(MessageBuilder(interpreter, hostname="h"), interpreter).lines
    assert CALL_BASES >= len(calls) > BASES
    for n, call in enumerate(calls):  # (the first SYSCALL is parsed; the others put together)
        rec = lines.line_rec(1300, "SYSCALL", body.format(call=call, n=n), {})
        assert rec is not None and rec.context is None  # (no patch keeps a context)
    for n, call in enumerate(calls):  # each call again, with a new a2: a patch
        rec = lines.line_rec(1300, "SYSCALL", body.format(call=call, n=100 + n), {})
        assert rec is not None and rec.context is not None, call  # (patched: its call's)
        assert not rec.lasting  # (a new word: an entry kept by no memo)
    assert lines._base_count == len(calls) <= BASES_MAX
    lines._base_count = BASES_MAX  # as if the bases of many shapes were kept: one more
    lines.line_rec(1300, "SYSCALL", body.format(call=50, n=999), {})  # (a new call's)
    assert lines._base_count == 0 and not lines._last  # all dropped


def test_a_new_process_exec_is_patched_from_the_last_exec_of_its_call() -> None:
    """A new process's execve changes half a dozen words of the last one (its pid and
    ppid, its arguments' pointers, comm and exe): still a patch of that record, as
    long as at most half of the words changed -- cheaper than putting it together
    or parsing it -- and the entry its parse gives. More than half: not a patch."""
    exec_ = ("arch=c000003e syscall=59 success=yes exit=0 a0={a0:x} a1={a1:x} a2={a2:x} "
             "a3={a3:x} items=2 ppid={ppid} pid={pid} auid=1000 uid=0 gid=0 euid=0 suid=0 "
             'fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="{comm}" exe="/usr/bin/{comm}"'
             " key=(null)")
    programs = ["true", "sed", "grep", "true", "awk", "sort"]
    series = [exec_.format(a0=0x55550000 + n * 16, a1=0x55560000 + n * 32,
                           a2=0x7ffc0000 + n * 8, a3=8 + n, ppid=100 + n, pid=200 + n,
                           comm=comm) for n, comm in enumerate(programs)]
    # Every word but arch and syscall new: more than half, not patched.
    series.append(exec_.format(a0=1, a1=2, a2=3, a3=4, ppid=5, pid=6, comm="vi").replace(
        "auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3",
        "auid=1001 uid=1 gid=1 euid=1 suid=1 fsuid=1 egid=1 sgid=1 fsgid=1 tty=pts1 ses=4"
    ).replace("items=2", "items=3").replace("exit=0", "exit=1").replace(
        "success=yes", "success=no"))
    interpreter = Interpreter(USERS, GROUPS, machine="x86_64")
    lines = FastEncoder(MessageBuilder(interpreter, hostname="h"), interpreter).lines
    for n, body in enumerate(series):
        rec = _read_as_its_parse(lines, 1300, "SYSCALL", body)
        # A patch keeps its call's context (Rec.context); a record put together or
        # parsed has none: the first, and the last (more than half of it new).
        assert (rec.context is not None) is (0 < n < len(series) - 1), n


def test_a_patch_before_the_uid_names_keeps_its_bases_bytes_after_them() -> None:
    """A record patched only before its first volatile piece (a new pointer before an
    unknown uid, whose name is asked at each use) takes over its base's bytes from
    there on; one patched after it (a new comm, a new key) has them made anew:
    either way the bytes its parse gives."""
    call = ("arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1={a1:x} a2=80000 "
            "a3=0 items=1 ppid=1 pid=42 auid=4242 uid=0 gid=0 euid=4243 suid=0 fsuid=0 "
            'egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="{comm}" exe="/usr/bin/cat" key={key}')
    interpreter = Interpreter(USERS, GROUPS, machine="x86_64")
    lines = FastEncoder(MessageBuilder(interpreter, hostname="h"), interpreter).lines
    first = _read_as_its_parse(lines, 1300, "SYSCALL",
                               call.format(a1=0x7ffd0000, comm="cat", key="(null)"))
    before = _read_as_its_parse(lines, 1300, "SYSCALL",
                                call.format(a1=0x7ffd0010, comm="cat", key="(null)"))
    assert before.context is not None and before.parts is first.parts  # (patched)
    for n, (comm, key) in enumerate([("dog", "(null)"), ("dog", '"files"'),
                                     ("cat", '"files"')]):
        after = _read_as_its_parse(lines, 1300, "SYSCALL",
                                   call.format(a1=0x7ffd0020 + n, comm=comm, key=key))
        assert after.context is not None and after.parts is not before.parts


def test_names_read_again_between_rounds_of_lines() -> None:
    """feed_lines after the names were re-read (the shipper does it between rounds):
    no entry read ahead or held by the memo carries the old names' texts, in any
    record of an event (one that comes after its first record too)."""
    users = {0: "root", 1000: "alice"}
    interpreter = Interpreter(users, {})
    s = Session(MessageBuilder(interpreter, hostname="h"), Assembler(live=False))

    def event(serial: int) -> list[str]:
        stamp = f"msg=audit(1.{serial:03d}:{serial}):"
        return [f"type=SYSCALL {stamp} arch=c000003e syscall=257 success=yes exit=3 "
                "a0=ffffff9c a1=7ffd0000 a2=0 a3=0 items=1 ppid=1 pid=42 auid=0 uid=0 "
                'gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 '
                'comm="cat" exe="/usr/bin/cat" key=(null)',
                f"type=CWD {stamp} cwd=\"/\"",
                f'type=PATH {stamp} item=0 name="/etc/motd" inode=12 dev=fe:01 mode=0100644 '
                "ouid=1000 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 "
                "cap_fver=0 cap_frootid=0",
                f"type=PROCTITLE {stamp} proctitle=636174"]

    def owners(shipped: list[Shipment]) -> list[object]:
        return [x.message.field("ouid_i").values for x in shipped]  # type: ignore[union-attr]

    assert owners(s.feed_lines(event(1) + event(2))) == [("alice",), ("alice",)]
    users[1000] = "bob"
    interpreter.forget_names()
    assert owners(s.feed_lines(event(3) + event(4)) + s.finish()) == [("bob",), ("bob",)]


def test_uuids_across_seconds_and_hosts() -> None:
    """The uuid's name (host|seconds.ms|serial) is put together from parts kept while
    they stay (the host, the second): each is event_uuid's, whatever changed from the
    last event -- the second, the host (node=), or both."""
    stamps = [(None, 1700000000, 999, 5), (None, 1700000001, 0, 6), ("web1", 1700000001, 0, 6),
              ("web1", 1700000001, 1, 7), (None, 1700000001, 1, 7), ("web2", 1700000002, 5, 8),
              (None, 1700000002, 50, 9)]
    lines = []
    for node, seconds, ms, serial in stamps:
        head = "" if node is None else f"node={node} "
        stamp = f"msg=audit({seconds}.{ms:03d}:{serial}):"
        lines += [f"{head}type=SYSCALL {stamp} arch=c000003e syscall=59 success=yes exit=0 "
                  "a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid=8 uid=0 comm=\"cc\" exe=\"/cc\"",
                  f"{head}type=PROCTITLE {stamp} proctitle=6363"]
    hot = session(True)
    out = hot.feed_lines(lines) + hot.finish()
    assert hot.fast is not None and hot.fast.encoded == len(stamps)  # (all on the hot path)
    assert [x.uuid for x in out] == [
        event_uuid(node or "h", seconds, ms, serial) for node, seconds, ms, serial in stamps]


def test_the_hot_paths_size_guess_at_its_edge() -> None:
    """encode_parts declines at once an event whose lines' characters pass half the
    limit (surely_too_large: no plan made, no encoding), and encodes one at half the
    limit exactly -- the "\\n"s that join the lines into the payload not counted."""
    stamp = "msg=audit(1700000000.001:1):"
    lines = [f"type=SYSCALL {stamp} arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 "
             'a2=3 a3=0 items=1 ppid=1 pid=8 uid=0 comm="cc" exe="/cc"',
             f"type=PROCTITLE {stamp} proctitle=6363"]
    size = sum(map(len, lines))
    for limit, planned in ((2 * size, True), (2 * size + 1, True), (2 * size - 2, False)):
        interpreter = Interpreter(USERS, GROUPS, machine="x86_64")
        fast = FastEncoder(MessageBuilder(interpreter, hostname="h"), interpreter)
        recs = []
        for line in lines:
            record = parse_line(line)
            assert isinstance(record, Record)
            rec = fast.lines.line_rec(record.type, record.type_name, record.text, {})
            assert rec is not None
            recs.append(rec)
        fast.check_options()

        def record_at(i: int) -> Record:
            raise AssertionError(i)  # (not asked of such records)

        data = fast.encode_parts(None, 1, 1700000000, 1, 0, recs, lines, record_at, limit)
        assert bool(fast._plans) is planned, limit
        assert (fast.encoded, fast.general) == ((1, 0) if data is not None else (0, 1))

"""The session: one sans-IO object from lines to frames (positions, deadlines, poison)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from audit_heka.core.degrade import degrade
from audit_heka.core.events import Assembler, Event
from audit_heka.core.interpret import Interpreter
from audit_heka.core.record_entries import MEMO_BODY_MAX
from audit_heka.core.records import (
    MAX_RECORD_LENGTH,
    ParseError,
    Record,
    is_comment,
    parse_line,
    split_records,
)
from audit_heka.core.schema import MessageBuilder
from audit_heka.core.session import Session, Shipment
from audit_heka.heka.errors import MessageTooLarge
from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, Signer, frame
from audit_heka.heka.message import Message, encode_message

FUZZ = Path(__file__).parent / "data" / "fuzz"


def session(live: bool = True, **kwargs: object) -> Session:
    builder = MessageBuilder(Interpreter({0: "root"}, {0: "root"}), hostname="h")
    return Session(builder, Assembler(live=live), **kwargs)  # type: ignore[arg-type]


def event_of(shipment: Shipment) -> Event:
    assert shipment.event is not None, "an unparsed line, not an event"
    return shipment.event


def rec(kind: str, serial: int, body: str = "pid=1") -> str:
    return f"type={kind} msg=audit(1700000000.{serial % 1000:03d}:{serial}): {body}"


def test_a_shipment_carries_the_lowest_position_of_its_records() -> None:
    s = session()
    # Two events interleaved; the second completes first.
    assert s.feed(rec("SYSCALL", 1), 0.0, position=100) == []
    assert s.feed(rec("SYSCALL", 2), 0.0, position=200) == []
    assert s.feed(rec("PATH", 1, "item=0 name=\"/a\""), 0.0, position=300) == []
    assert s.lowest_pending() == 100
    (second,) = s.feed(rec("EOE", 2, ""), 0.0, position=400)
    assert event_of(second).serial == 2 and second.position == 200
    assert s.lowest_pending() == 100
    (first,) = s.feed(rec("EOE", 1, ""), 0.0, position=500)
    assert first.position == 100 and len(event_of(first).records) == 2
    assert s.lowest_pending() is None
    assert first.frame is not None and first.frame[0] == 0x1E


def test_late_records_of_a_completed_event_get_their_own_position() -> None:
    s = session()
    s.feed(rec("SYSCALL", 7), 0.0, position=10)
    (done,) = s.feed(rec("EOE", 7, ""), 0.0, position=20)
    assert done.position == 10
    s.feed(rec("PATH", 7, "item=0"), 0.5, position=30)  # late: a part 1 of serial 7
    assert s.lowest_pending() == 30
    (late,) = s.expire(10.0)
    assert event_of(late).part == 1 and late.position == 30


def test_an_unparsable_line_ships_at_its_position_without_an_event() -> None:
    # Nothing is discarded (issue 17): the shipper's cursor must not pass the
    # line before its message is acknowledged, like any event's.
    s = session()
    s.feed(rec("SYSCALL", 1), 0.0, position=0)
    (bad,) = s.feed("garbage line\n", 0.0, position=1)
    assert bad.event is None and bad.position == 1 and bad.frame is not None
    assert bad.message.field("parse_error") is not None
    assert s.counters()["unparsed_shipped"] == 1 and s.counters()["malformed_records"] == 1
    assert s.lowest_pending() == 0


def test_next_deadline_is_when_an_idle_event_times_out() -> None:
    s = session()
    assert s.next_deadline() is None
    s.feed(rec("SYSCALL", 1), 5.0, position=0)
    deadline = s.next_deadline()
    assert deadline == 5.0 + s.assembler.timeout
    assert s.expire(deadline - 0.01) == []
    (out,) = s.expire(deadline)
    assert event_of(out).serial == 1 and s.next_deadline() is None


class Exploding(MessageBuilder):
    def build(self, event: Event) -> Message:
        if event.serial == 13:
            raise RuntimeError("interpretation bug")
        return super().build(event)


def test_an_event_that_cannot_be_built_ships_raw_with_an_error_field() -> None:
    builder = Exploding(Interpreter({}, {}), hostname="h")
    s = Session(builder, Assembler(live=True))
    out = []
    for serial in (12, 13, 14):
        out += s.feed(rec("USER", serial, "pid=1 uid=0 msg='op=x'"), 0.0, position=serial)
    assert [event_of(x).serial for x in out] == [12, 13, 14]
    poison = out[1].message
    assert poison.field("error") is not None
    assert "interpretation bug" in str(poison.field("error").values[0])  # type: ignore[union-attr]
    assert poison.payload is not None and "msg=audit(1700000000.013:13)" in poison.payload
    assert out[1].frame is not None and out[1].position == 13
    assert s.counters()["build_errors"] == 1
    assert list(s.build_error_samples) == ["event 13: RuntimeError: interpretation bug"]


def direct(lines: Sequence[str], live: bool) -> list[bytes | None]:
    """The same stages composed by hand from their public functions."""
    builder = MessageBuilder(Interpreter({0: "root"}, {0: "root"}), hostname="h")
    assembler = Assembler(live=live)
    out: list[bytes | None] = []

    last_ns = 0

    def put(message: Message) -> None:
        encoded = encode_message(message)
        if len(encoded) > DEFAULT_MAX_MESSAGE_SIZE:  # the documented fallback: degraded
            degraded = degrade(message, DEFAULT_MAX_MESSAGE_SIZE)
            if degraded is None:
                out.append(None)
                return
            encoded = encode_message(degraded.message)
        try:
            out.append(frame(encoded))
        except MessageTooLarge:
            out.append(None)

    def ship(events: list[Event]) -> None:
        for event in events:
            put(builder.build(event))

    for index, line in enumerate(lines):
        if not line.strip() or is_comment(line):
            continue
        text = line.rstrip("\r\n")
        pieces = [text] if len(text) > MAX_RECORD_LENGTH else split_records(text)
        for piece in pieces if len(pieces) > 1 else [line]:
            parsed = parse_line(piece)
            if isinstance(parsed, ParseError):  # shipped, never dropped (issue 17)
                put(builder.build_unparsed(parsed, last_ns))
                continue
            last_ns = parsed.timestamp_ns
            now = index * 0.001 if live else parsed.seconds + parsed.milliseconds / 1000
            ship(assembler.add(parsed, now))
    ship(assembler.flush())
    return out


@pytest.mark.parametrize("live", [False, True])
def test_frames_equal_the_stages_composed_by_hand_on_the_corpus(live: bool) -> None:
    lines: list[str] = []
    for path in sorted(FUZZ.rglob("*")):
        if path.is_file():
            lines += [r.decode("utf-8", "backslashreplace") for r in path.read_bytes().split(b"\n")]
    s = session(live)
    got: list[bytes | None] = []
    for index, line in enumerate(lines):
        got += [x.frame for x in s.feed(line, index * 0.001 if live else None, index)]
    got += [x.frame for x in s.finish()]
    expected = direct(lines, live)
    assert got == expected and len(got) > 100
    assert s.lowest_pending() is None


def test_signed_frames_and_health_messages_go_through_the_same_framer() -> None:
    signer = Signer("s", 1, b"key", "md5")
    s = session(signer=signer)
    (out,) = s.feed(rec("USER", 1, "pid=1 msg='x'"), 0.0)
    assert out.frame is not None and out.frame == frame(encode_message(out.message), signer)
    data = s.frame_message(Message(uuid=b"\0" * 16, timestamp=1, type="t"))
    assert data is not None and s.counters()["frames"] == 2


def test_an_input_gap_is_not_counted_again_as_serial_gaps() -> None:
    """Serials missing where the journal gave records up (counted by the
    reader) are not lost upstream; serials missing elsewhere still count."""
    s = session()
    s.feed(rec("USER", 10), 0.0)
    s.input_gap()  # records 11-19 were in a deleted journal file
    s.feed(rec("USER", 20), 0.0)
    assert s.counters()["serial_gaps"] == 0
    s.feed(rec("USER", 23), 0.0)  # 21, 22 never came: lost before the journal
    assert s.counters()["serial_gaps"] == 2


def test_feed_lines_reads_a_run_as_the_canonical_form_does() -> None:
    # feed_lines takes a line of the event going by without its regex: these look like
    # one (a known body, the run's audit(...) as written) and are not, or are of
    # another node or type; each must go as feed() takes it.
    body = "arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=1 pid=7 uid=0"
    cwd, path = 'cwd="/"', 'item=0 name="/bin/true" nametype=NORMAL'
    stamp = "msg=audit(1700000000.001:1): "
    odd = [f"type=CWD  {stamp}{cwd}", f"type=C WD {stamp}{cwd}", f"type=CWD {stamp} {cwd}",
           f"node=h type=CWD {stamp}{cwd}", f"type=PATH {stamp}{cwd}", f"type={stamp}{cwd}",
           f"type=CWD msg=audit(1700000000.001:1):{cwd}", f"type=CWD {stamp}{cwd}\r\n",
           f"type=CWD msg=audit(1700000000.001:10): {cwd}",
           f"type=CWD {cwd} {stamp}{cwd}"]  # (the run's audit(...) after a word, not a name)
    for node in ("", "node=h "):
        for written in odd:
            line = written.replace("type=", node + "type=", 1) if node and not (
                written.startswith("node=")) else written
            lines = [f"{node}type=SYSCALL {stamp}{body}", f"{node}type=CWD {stamp}{cwd}",
                     f"{node}type=PATH {stamp}{path}", line,
                     f"{node}type=PROCTITLE {stamp}proctitle=2F62696E2F74727565"]
            lines += [x.replace(":1)", ":2)").replace(".001:", ".002:") for x in lines]
            for live in (False, True):
                one, many = session(live), session(live)
                now = None if not live else 100.0
                a = [s for i, x in enumerate(lines) for s in one.feed(x, now, i)]
                b = many.feed_lines(lines, now, range(len(lines)))
                a += one.finish() if not live else one.expire(200.0)
                b += many.finish() if not live else many.expire(200.0)
                assert [(x.frame, x.position) for x in a] == [
                    (x.frame, x.position) for x in b], line
                assert one.counters() == many.counters(), line


def test_feed_lines_puts_a_line_that_raises_in_failed_and_feeds_the_rest() -> None:
    lines = [rec("USER", serial, f"pid={serial} msg='op=x res=success'")
             for serial in range(1, 7)] + [rec("EOE", 6, "")]
    for fast in (True, False):
        one, many = session(fast=fast), session(fast=fast)
        for s in (one, many):  # (the lane reads the line, or the assembler takes it)
            record_line, take = s._record_line, s._take

            def flaky_line(*args: Any, record_line: Any = record_line) -> Any:
                if ":2): " in args[1] or ":5): " in args[1]:
                    raise RuntimeError(f"serial {2 if ':2): ' in args[1] else 5}")
                return record_line(*args)

            def flaky_take(record: Any, *args: Any, take: Any = take) -> Any:
                if isinstance(record, Record) and record.serial in (2, 5):
                    raise RuntimeError(f"serial {record.serial}")
                return take(record, *args)

            s._record_line = flaky_line  # type: ignore[method-assign,assignment]
            s._take = flaky_take  # type: ignore[method-assign,assignment]
        a: list[Shipment] = []
        for i, line in enumerate(lines):
            with contextlib.suppress(RuntimeError):
                a += one.feed(line, 10.0, i)
        failed: list[tuple[int, Exception]] = []
        b = many.feed_lines(lines, 10.0, range(len(lines)), failed)
        assert [(i, str(e)) for i, e in failed] == [(1, "serial 2"), (4, "serial 5")]
        assert [(x.frame, x.position) for x in a] == [(x.frame, x.position) for x in b]
        assert [x.position for x in b] == [0, 2, 3, 5]  # serials 1, 3, 4 and 6
        with pytest.raises(RuntimeError, match="serial 2"):
            many.feed_lines([rec("USER", 2, "pid=2")], 10.0)  # no ``failed``: it raises


def open_events(count: int, eoe: bool = False) -> list[str]:
    """Events of a process that opens one new file after another (SYSCALL, CWD, PATH,
    PROCTITLE, and the kernel's EOE if ``eoe``): each has a new pointer and a new inode,
    bodies no memo holds."""
    lines = []
    for serial in range(1, count + 1):
        lines += [rec("SYSCALL", serial, "arch=c000003e syscall=257 success=yes exit=3 "
                      f"a0=ffffff9c a1={0x5570 + 16 * serial:x} a2=0 a3=0 items=1 "
                      'ppid=1 pid=7 uid=0 comm="cat" exe="/usr/bin/cat" key="k"'),
                  rec("CWD", serial, 'cwd="/"'),
                  rec("PATH", serial, f'item=0 name="/etc/f{serial}" inode={9000 + serial} '
                      "dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"),
                  rec("PROCTITLE", serial, "proctitle=636174")]
        if eoe:
            lines.append(rec("EOE", serial, ""))
    return lines


def fed_as_line_by_line(one: Session, many: Session, lines: list[str],
                        live: bool) -> list[Shipment]:
    """``lines`` to ``one`` line by line and to ``many`` in one feed_lines (live: at
    now 100, then expired at 200): the same frames, positions, uuids and counters.
    What ``many`` shipped."""
    now = 100.0 if live else None
    a = [x for i, line in enumerate(lines) for x in one.feed(line, now, i)]
    b = many.feed_lines(lines, now, range(len(lines)))
    a += one.finish() if not live else one.expire(200.0)
    b += many.finish() if not live else many.expire(200.0)
    assert [(x.frame, x.position, x.uuid) for x in a] == [
        (x.frame, x.position, x.uuid) for x in b]
    assert one.counters() == many.counters()
    return b


def test_feed_lines_reads_a_rounds_new_bodies_then_its_lines_then_encodes() -> None:
    """feed_lines works in three passes: the entries of the new bodies (Session._read_ahead),
    then the lines, then the encodings of the events they closed (Session._encode_closed)
    -- the same frames, positions and counters as feed() line by line."""
    for live in (False, True):
        lines = open_events(6, eoe=live)  # (live: the lane closes an event at its EOE)
        one, many = session(live), session(live)
        fast = many.fast
        assert fast is not None
        calls: list[str] = []
        line_rec, encode_parts = fast.lines.line_rec, fast.encode_parts

        def reading(*args: Any, line_rec: Any = line_rec, calls: list[str] = calls,
                    **kwargs: Any) -> Any:
            calls.append("read")
            return line_rec(*args, **kwargs)

        def encoding(*args: Any, encode_parts: Any = encode_parts,
                     calls: list[str] = calls) -> Any:
            calls.append("encode")
            return encode_parts(*args)

        def closing(*args: Any, went_by: Any = many.assembler.went_by,
                    calls: list[str] = calls) -> Any:
            calls.append("close")
            return went_by(*args)

        fast.lines.line_rec = reading  # type: ignore[method-assign]
        fast.encode_parts = encoding  # type: ignore[method-assign,assignment]
        many.assembler.went_by = closing  # type: ignore[method-assign,assignment]
        b = fed_as_line_by_line(one, many, lines, live)
        # Every new body of the round read before the lane takes its first line, every
        # event it closed encoded after its last.
        reads = calls.count("read")
        assert reads >= 10 and calls == ["read"] * reads + ["close"] * 6 + ["encode"] * 6
        assert not many._ahead and many._closed is None
        # In one pass (the compiled build's way): the same shipments.
        single = session(live)
        single.passes = False
        c = single.feed_lines(lines, 100.0 if live else None, range(len(lines)))
        c += single.finish() if not live else single.expire(200.0)
        assert [(x.frame, x.position, x.uuid) for x in b] == [
            (x.frame, x.position, x.uuid) for x in c]
        assert single.counters() == many.counters()


def test_a_new_body_twice_in_a_round_is_read_once_and_taken_as_a_memo_hit() -> None:
    """A body no memo holds, on two lines of one round (the same call on the same
    pointer in two events): read ahead once, and each line takes that entry as the
    lane takes the memo's -- no second reading, no way round the lane -- with what
    feed() line by line gives. An EXECVE over MEMO_BODY_MAX is read ahead too, and
    its line goes the lane's way for long bodies (checked for size there)."""
    long_args = " ".join(f'a{i}="-Iinclude/a/longer/directory/number/{i}"' for i in range(1, 100))
    for live in (False, True):
        events = open_events(3, eoe=live)
        per = 5 if live else 4
        again = [line.replace(":2)", ":4)").replace(".002:", ".004:")
                 for line in events[per:2 * per]]  # event 2's bodies (patched: new) again
        execve = [rec("SYSCALL", 5, "arch=c000003e syscall=59 success=yes exit=0 a0=1 "
                      'a1=2 a2=3 a3=0 items=1 ppid=1 pid=8 uid=0 comm="cc" exe="/cc"'),
                  rec("EXECVE", 5, f"argc=100 a0=\"cc\" {long_args}"),
                  rec("PROCTITLE", 5, "proctitle=6363")] + ([rec("EOE", 5, "")] if live else [])
        lines = events + again + execve
        assert len(execve[1].partition("): ")[2]) > MEMO_BODY_MAX
        one, many = session(live), session(live)
        fast = many.fast
        assert fast is not None
        read: list[str] = []
        line_rec = fast.lines.line_rec

        def reading(rtype: int, type_name: str, body: str, *args: Any,
                    line_rec: Any = line_rec, read: list[str] = read, **kwargs: Any) -> Any:
            read.append(body)
            return line_rec(rtype, type_name, body, *args, **kwargs)

        fast.lines.line_rec = reading  # type: ignore[method-assign]
        lane_next = many._lane_next
        missed: list[str] = []

        def next_line(fast: Any, text: str, *args: Any, lane_next: Any = lane_next,
                      missed: list[str] = missed, **kwargs: Any) -> Any:
            missed.append(text)
            return lane_next(fast, text, *args, **kwargs)

        many._lane_next = next_line  # type: ignore[method-assign]
        fed_as_line_by_line(one, many, lines, live)
        assert len(read) == len(set(read))  # each body read once
        assert events[per].partition("): ")[2] in read  # (event 2's SYSCALL: read ahead)
        # The lines after a run's first took their entries as hits: only the EOEs (live)
        # and the long EXECVE went the other way.
        assert [x for x in missed if ":4)" in x] == ([again[-1]] if live else [])
        assert execve[1] in missed


def test_a_line_whose_reading_ahead_raises_is_left_to_the_lane() -> None:
    """A body whose entry raises when read ahead is read again at its line, and fails
    there: feed_lines puts that line's index in ``failed`` and ships the others, as
    feed() line by line would."""
    for live in (False, True):
        lines = open_events(3, eoe=live)
        bad = lines[6 + live].partition("): ")[2]  # event 2's PATH
        one, many = session(live), session(live)
        for s in (one, many):
            fast = s.fast
            assert fast is not None

            def flaky(rtype: int, type_name: str, body: str, *args: Any,
                      line_rec: Any = fast.lines.line_rec, bad: str = bad,
                      **kwargs: Any) -> Any:
                if body == bad:
                    raise RuntimeError("event 2's PATH")
                return line_rec(rtype, type_name, body, *args, **kwargs)

            fast.lines.line_rec = flaky  # type: ignore[method-assign]
        now = 100.0 if live else None
        a: list[Shipment] = []
        for i, line in enumerate(lines):
            with contextlib.suppress(RuntimeError):
                a += one.feed(line, now, i)
        failed: list[tuple[int, Exception]] = []
        b = many.feed_lines(lines, now, range(len(lines)), failed)
        a += one.finish() if not live else one.expire(200.0)
        b += many.finish() if not live else many.expire(200.0)
        assert [(i, str(e)) for i, e in failed] == [(6 + live, "event 2's PATH")]
        assert [(x.frame, x.position) for x in a] == [(x.frame, x.position) for x in b]
        # (event 2 without its PATH: the assembler's)
        assert [x.position for x in b] == [0, 5, 10] if live else [0, 4, 8]


def test_an_event_whose_encoding_raises_fails_at_the_line_that_closed_it() -> None:
    """An event the lane closed is encoded after the round's lines; one whose encoding
    raises is taken out of the shipments and put in ``failed`` with the index of the
    line that closed it (its PROCTITLE), the others shipped; without ``failed`` the
    call raises."""
    lines = open_events(3)

    def flaky_session() -> Session:
        s = session(False)
        fast = s.fast
        assert fast is not None

        def flaky(node: Any, serial: int, *args: Any,
                  encode_parts: Any = fast.encode_parts) -> Any:
            if serial == 2:
                raise RuntimeError("serial 2")
            return encode_parts(node, serial, *args)

        fast.encode_parts = flaky  # type: ignore[method-assign,assignment]
        return s

    failed: list[tuple[int, Exception]] = []
    shipped = flaky_session().feed_lines(lines, None, range(len(lines)), failed)
    assert [(i, str(e)) for i, e in failed] == [(7, "serial 2")]
    assert [x.position for x in shipped] == [0, 8]
    assert all(x.frame is not None for x in shipped)
    assert [event_of(x).serial for x in shipped] == [1, 3]
    with pytest.raises(RuntimeError, match="serial 2"):
        flaky_session().feed_lines(lines, None, range(len(lines)))


def test_feed_lines_takes_every_kind_of_line_as_feed_does() -> None:
    # Runs of lines where the lane takes some and hands others on: two records on one
    # line, a line too long, a NUL, blank and comment lines, an EOE in a log, a line
    # that is not a record, and events whose bodies repeat (memo hits in the loop).
    body = "arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=1 pid={} uid=0"
    event = [rec("SYSCALL", 0, body), rec("CWD", 0, 'cwd="/"'),
             rec("PATH", 0, 'item=0 name="/bin/true" nametype=NORMAL'),
             rec("PROCTITLE", 0, "proctitle=2F62696E2F74727565")]
    lines: list[str] = []
    for serial in range(1, 9):
        lines += [line.replace(":0)", f":{serial})").replace(".000:", f".{serial:03d}:")
                  .format(100 + serial % 3) for line in event]
    lines[5] += " " + rec("USER", 90, "pid=2 msg='x'")  # two records on one line
    lines[9] = lines[9] + " a=" + "x" * MAX_RECORD_LENGTH  # too long
    lines[13] = lines[13].replace("cwd=", "c\x00wd=")
    lines[17:17] = ["", "# a comment", "not a record", rec("EOE", 5, "")]
    lines[24] += "\r"
    for live in (False, True):
        one, many = session(live), session(live)
        now = None if not live else 100.0
        a = [s for i, line in enumerate(lines) for s in one.feed(line, now, i)]
        b = many.feed_lines(lines[:11], now, range(11)) + many.feed_lines(
            lines[11:], now, range(11, len(lines)))
        a += one.finish() if not live else one.expire(200.0)
        b += many.finish() if not live else many.expire(200.0)
        assert [(x.frame, x.position) for x in a] == [(x.frame, x.position) for x in b]
        assert one.counters() == many.counters()
        assert many.counters()["shared_lines"] == 1


def test_feed_lines_times_out_waiting_events_record_by_record_in_a_run() -> None:
    # Log mode: user messages wait in the assembler for their timeout; the lines of a
    # later event's run complete EXPIRE_PER_RECORD of them each, in order -- as the
    # general path (no lane) and line-by-line feeding do -- also after a line of the
    # run found nothing due and before one that does.
    users = [rec("USER", serial, f"pid={serial} msg='op=x res=success'")
             for serial in range(1, 10)]
    body = "arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=1 pid=7 uid=0"
    event = [rec("SYSCALL", 0, body), rec("CWD", 0, 'cwd="/"'),
             rec("PATH", 0, 'item=0 name="/bin/true" nametype=NORMAL'),
             rec("CWD", 0, 'cwd="/"'), rec("CWD", 0, 'cwd="/"'),
             rec("PROCTITLE", 0, "proctitle=2F62696E2F74727565")]

    def at(serial: int, seconds: int) -> list[str]:
        return [line.replace("1700000000.000:0)", f"{seconds}.500:{serial})")
                for line in event]

    lines = at(100, 1700000000) + users + at(101, 1700000000) + at(102, 1700000030)
    lines += at(103, 1700000031)
    outputs = []
    for fast, batched in ((False, False), (True, False), (True, True)):
        s = session(live=False, fast=fast)
        if batched:
            got = s.feed_lines(lines, None, range(len(lines)))
        else:
            got = [x for i, line in enumerate(lines) for x in s.feed(line, None, i)]
        got += s.finish()
        outputs.append(([(x.frame, x.position) for x in got], s.counters()))
    assert outputs[0] == outputs[1] == outputs[2]
    positions = [p for _, p in outputs[0][0]]
    assert len(positions) == 4 + len(users)
    assert outputs[0][1]["events_timed_out"] == len(users)

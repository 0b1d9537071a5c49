"""events.py: grouping records into events."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_heka.core.events import EOE, PROCTITLE, Assembler, Event, stands_alone
from audit_heka.core.records import Record, type_name_for

SYSCALL, CWD, PATH, USER, LOGIN, CONFIG_CHANGE, AVC = 1300, 1307, 1302, 1005, 1006, 1305, 1400


def rec(msg_type: int, serial: int, sec: int = 100, ms: int = 0, node: str | None = None,
        tag: str = "") -> Record:
    fields = (("tag", tag),) if tag else ()
    return Record(msg_type, type_name_for(msg_type), sec, ms, serial, node, fields, (), "", tag)


def feed(asm: Assembler, records: list[Record], now: float = 0.0) -> list[Event]:
    out: list[Event] = []
    for r in records:
        out += asm.add(r, now)
    return out


def types(event: Event) -> list[int]:
    return [r.type for r in event.records]


def test_eoe_completes_and_is_not_kept() -> None:
    asm = Assembler(live=True)
    assert feed(asm, [rec(SYSCALL, 1), rec(CWD, 1), rec(PATH, 1), rec(PROCTITLE, 1)]) == []
    (event,) = asm.add(rec(EOE, 1), 0.0)
    assert types(event) == [SYSCALL, CWD, PATH, PROCTITLE]
    assert (event.serial, event.seconds, event.milliseconds, event.part) == (1, 100, 0, 0)
    assert event.timestamp_ns == 100_000_000_000
    assert asm.completed_by_eoe == 1 and asm.in_flight == 0


def test_log_mode_proctitle_ends_event() -> None:
    asm = Assembler(live=False)
    out = feed(asm, [rec(SYSCALL, 1), rec(CWD, 1), rec(PROCTITLE, 1)])
    assert [types(e) for e in out] == [[SYSCALL, CWD, PROCTITLE]]


def test_live_mode_waits_for_eoe_after_proctitle() -> None:
    # Multi-LSM kernels log records after PROCTITLE; only EOE is final live.
    asm = Assembler(live=True)
    assert feed(asm, [rec(SYSCALL, 1), rec(PROCTITLE, 1), rec(1420, 1)]) == []
    (event,) = asm.add(rec(EOE, 1), 0.0)
    assert types(event) == [SYSCALL, PROCTITLE, 1420]


def test_stand_alone_types() -> None:
    for t in (1005, 1100, 1123, 1199, 1200, 2000, 2100, 2999):
        assert stands_alone(t), t
    for t in (1006, 1300, 1305, 1400, 1406, 1419, 1700, 3000):
        assert not stands_alone(t), t
    asm = Assembler(live=True)
    (event,) = asm.add(rec(USER, 5), 0.0)
    assert types(event) == [USER]


def test_login_does_not_split_its_syscall() -> None:
    # The kernel logs LOGIN inside the write() to /proc/self/loginuid: same serial.
    asm = Assembler(live=False)
    out = feed(asm, [rec(LOGIN, 8), rec(SYSCALL, 8), rec(PROCTITLE, 8)])
    assert [types(e) for e in out] == [[LOGIN, SYSCALL, PROCTITLE]]


def test_timeout_with_now() -> None:
    asm = Assembler(live=True, timeout=2.0)
    assert asm.add(rec(AVC, 1), 10.0) == []
    assert asm.expire(11.9) == []
    (event,) = asm.expire(12.0)
    assert types(event) == [AVC] and asm.timed_out == 1
    # add() also expires: a record at event time 100 closes an event last seen at 97.
    asm = Assembler(live=False)
    asm.add(rec(CONFIG_CHANGE, 1, sec=97), 97.0)
    out = asm.add(rec(CONFIG_CHANGE, 2, sec=100), 100.0)
    assert [e.serial for e in out] == [1]


def test_late_eoe_after_timeout_is_absorbed() -> None:
    asm = Assembler(live=True, timeout=1.0)
    asm.add(rec(SYSCALL, 1), 0.0)
    assert len(asm.expire(5.0)) == 1
    assert asm.add(rec(EOE, 1), 5.0) == []
    assert asm.orphan_eoe == 0
    assert asm.add(rec(EOE, 99), 5.0) == []
    assert asm.orphan_eoe == 1


def test_late_record_becomes_next_part() -> None:
    asm = Assembler(live=False)
    (first,) = feed(asm, [rec(SYSCALL, 1), rec(PROCTITLE, 1)])
    assert feed(asm, [rec(1420, 1)]) == []
    (second,) = asm.flush()
    assert (first.part, second.part) == (0, 1)
    assert types(second) == [1420] and asm.late_records == 1


def test_interleaving() -> None:
    asm = Assembler(live=True)
    out = feed(asm, [rec(SYSCALL, 1), rec(SYSCALL, 2), rec(CWD, 2), rec(CWD, 1),
                     rec(EOE, 2), rec(PATH, 1), rec(EOE, 1)])
    assert [(e.serial, types(e)) for e in out] == [(2, [SYSCALL, CWD]), (1, [SYSCALL, CWD, PATH])]


def test_nodes_keep_events_apart() -> None:
    asm = Assembler(live=False)
    out = feed(asm, [rec(SYSCALL, 1, node="a"), rec(SYSCALL, 1, node="b"),
                     rec(PROCTITLE, 1, node="b"), rec(PROCTITLE, 1, node="a")])
    assert [(e.node, len(e.records)) for e in out] == [("b", 2), ("a", 2)]


def test_duplicate_serial_with_other_time_is_another_event() -> None:
    # Serials restart at boot: the same serial at another time is another event.
    asm = Assembler(live=False)
    out = feed(asm, [rec(SYSCALL, 7, sec=100), rec(SYSCALL, 7, sec=200),
                     rec(PROCTITLE, 7, sec=200), rec(PROCTITLE, 7, sec=100)])
    assert [(e.seconds, types(e)) for e in out] == [
        (200, [SYSCALL, PROCTITLE]), (100, [SYSCALL, PROCTITLE])]


def test_duplicate_records_are_kept() -> None:
    asm = Assembler(live=False)
    (event,) = feed(asm, [rec(SYSCALL, 3), rec(SYSCALL, 3), rec(PROCTITLE, 3)])
    assert types(event) == [SYSCALL, SYSCALL, PROCTITLE]


def test_out_of_order_arrival() -> None:
    asm = Assembler(live=True)
    out = feed(asm, [rec(PATH, 4), rec(CWD, 4), rec(SYSCALL, 4), rec(EOE, 4)])
    assert [types(e) for e in out] == [[PATH, CWD, SYSCALL]]


def test_max_in_flight_flushes_oldest() -> None:
    asm = Assembler(live=True, max_in_flight=2)
    out = feed(asm, [rec(SYSCALL, 1), rec(SYSCALL, 2), rec(CWD, 1), rec(SYSCALL, 3)])
    # serial 2 is the least recently updated one when serial 3 arrives.
    assert [e.serial for e in out] == [2]
    assert asm.overflowed == 1 and asm.in_flight == 2
    assert sorted(e.serial for e in asm.flush()) == [1, 3]
    assert asm.flushed == 2


def test_serial_gaps_live() -> None:
    asm = Assembler(live=True)
    feed(asm, [rec(USER, 10), rec(USER, 11), rec(USER, 15)])
    assert asm.serial_gaps == 3
    feed(asm, [rec(USER, 13)])  # late, not lost
    assert asm.serial_gaps == 2
    feed(asm, [rec(USER, 13)])  # seen twice: no change
    assert asm.serial_gaps == 2
    wrap = Assembler(live=True)
    feed(wrap, [rec(USER, 2**32 - 2), rec(USER, 2**32 - 1), rec(USER, 0), rec(USER, 2)])
    assert wrap.serial_gaps == 1
    assert Assembler(live=False).track_gaps is False


# ------------------------------------------------------------ property tests

EVENT_SHAPES = st.lists(
    st.lists(st.sampled_from([SYSCALL, CWD, PATH, AVC, CONFIG_CHANGE, LOGIN, PROCTITLE, USER,
                              1420]), min_size=1, max_size=6),
    min_size=1, max_size=12,
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Record], bool, int, list[float]]:
    shapes = draw(EVENT_SHAPES)
    live = draw(st.booleans())
    queues: list[list[Record]] = []
    for serial, shape in enumerate(shapes, start=1):
        node = draw(st.sampled_from([None, "a"]))
        records = [rec(t, serial, node=node, tag=f"{serial}.{i}") for i, t in enumerate(shape)]
        if live and draw(st.booleans()):
            records.append(rec(EOE, serial, node=node))
        queues.append(records)
    # Any interleaving of the events (each keeps its own order) ...
    stream: list[Record] = []
    while any(queues):
        choices = [q for q in queues if q]
        q = draw(st.sampled_from(choices))
        stream.append(q.pop(0))
    # ... or plain out-of-order arrival.
    if draw(st.booleans()):
        stream = draw(st.permutations(stream))
    max_in_flight = draw(st.integers(min_value=1, max_value=8))
    times = draw(st.lists(st.floats(min_value=0, max_value=10), min_size=len(stream),
                          max_size=len(stream)))
    return stream, live, max_in_flight, times


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_no_record_lost_or_duplicated(case: tuple[list[Record], bool, int, list[float]]) -> None:
    stream, live, max_in_flight, times = case
    asm = Assembler(live=live, max_in_flight=max_in_flight, timeout=2.0)
    out: list[Event] = []
    for record, now in zip(stream, times, strict=True):
        out += asm.add(record, now)
        assert asm.in_flight <= max_in_flight
    out += asm.flush()
    sent = Counter(r for r in stream if r.type != EOE)
    got = Counter(r for e in out for r in e.records)
    assert got == sent
    for e in out:
        assert e.records, "empty event"
        assert all((r.node, r.serial) == (e.node, e.serial) for r in e.records)
    # Parts of one event have distinct part numbers, so their uuids differ.
    parts = Counter((e.node, e.serial, e.seconds, e.milliseconds, e.part) for e in out)
    assert max(parts.values()) == 1
    assert asm.records_in == sum(sent.values())
    assert asm.events_out == len(out)


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.lists(st.floats(min_value=0, max_value=14), min_size=1, max_size=4))
def test_first_step_due_says_whether_first_step_acts(
        case: tuple[list[Record], bool, int, list[float]], probes: list[float]) -> None:
    """The session's lane asks first_step_due() at each record instead of taking the
    first step: it must say yes exactly when the step would complete or track something."""
    stream, live, max_in_flight, times = case

    def assembler(steps: int) -> Assembler:
        # (built again rather than copied: the compiled build's records do not deepcopy)
        asm = Assembler(live=live, max_in_flight=max_in_flight, timeout=2.0)
        for i, (record, now) in enumerate(zip(stream[:steps], times, strict=False)):
            if i % 3 == 2:
                asm.expire(now, 1)
            else:
                asm.add(record, now)
        return asm

    for steps in range(1, len(stream) + 1):
        asm = assembler(steps)
        for probe in probes:
            twin = assembler(steps)
            acted = bool(twin.first_step(stream[steps - 1].serial, probe)) or twin.track_gaps
            assert asm.first_step_due(probe) == acted
    asm = assembler(len(stream))
    asm.flush()
    assert not asm.first_step_due(1e9) or asm.track_gaps


@settings(max_examples=200, deadline=None)
@given(EVENT_SHAPES, st.randoms(use_true_random=False))
def test_live_events_with_eoe_come_out_whole(shapes: list[list[int]], rnd: random.Random) -> None:
    # With EOE, no timeout and room in flight, every syscall event is exactly one event.
    shapes = [[t for t in shape if not stands_alone(t)] or [SYSCALL] for shape in shapes]
    queues = [[rec(t, s, tag=f"{s}.{i}") for i, t in enumerate(shape) if not stands_alone(t)]
              + [rec(EOE, s)] for s, shape in enumerate(shapes, start=1)]
    stream: list[Record] = []
    while any(queues):
        q = rnd.choice([q for q in queues if q])
        stream.append(q.pop(0))
    asm = Assembler(live=True, max_in_flight=len(shapes) + 1)
    out = feed(asm, stream)
    assert asm.flush() == []
    assert sorted(e.serial for e in out) == list(range(1, len(shapes) + 1))
    for e in out:
        assert [r.fields for r in e.records] == [
            (("tag", f"{e.serial}.{i}"),) for i, t in enumerate(shapes[e.serial - 1])
            if not stands_alone(t)
        ]

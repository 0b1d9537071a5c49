"""The pure delivery state: in flight, acknowledged, to resend -- no sockets, no clocks."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_heka.core.delivery_state import DeliveryState


def send_all(state: DeliveryState, now: float) -> list[bytes]:
    out = []
    while (frame := state.next_frame()) is not None:
        out.append(frame)
        state.on_sent(now)
    return out


def test_frames_are_done_only_when_acknowledged_and_held() -> None:
    state = DeliveryState(hold=1.0)
    for i in range(3):
        state.push(b"f%d" % i, token=10 + i)
    assert send_all(state, now=0.0) == [b"f0", b"f1", b"f2"]
    assert state.in_flight == 3 and state.written == 6
    assert state.on_acked(6, now=0.5) == []  # acknowledged, but held
    assert state.on_acked(4, now=1.0) == [10, 11]  # only what the bytes cover
    assert state.lowest_token() == 12
    assert state.on_acked(6, now=1.0) == [12]
    assert state.pending == 0 and state.lowest_token() is None
    assert state.counters == {"queued": 3, "sent": 3, "resent": 0, "acked": 3, "oversize": 0}


def test_a_lost_connection_resends_everything_not_done_from_the_oldest() -> None:
    state = DeliveryState(hold=0.0)
    for i in range(4):
        state.push(b"frame%d" % i, token=i)
    send_all(state, now=0.0)
    assert state.on_acked(6, now=0.0) == [0]  # one frame of 6 bytes got over
    state.on_connection_lost()
    assert state.written == 0 and state.in_flight == 0
    assert send_all(state, now=1.0) == [b"frame1", b"frame2", b"frame3"]
    assert state.counters["resent"] == 3
    assert state.on_acked(18, now=1.0) == [1, 2, 3]


def test_bytes_are_counted_per_connection() -> None:
    state = DeliveryState()
    state.push(b"aaaa", token=1)
    send_all(state, 0.0)
    state.on_connected()  # a new connection: its acknowledged count starts at 0
    state.push(b"bb", token=2)
    assert send_all(state, 0.0) == [b"aaaa", b"bb"]
    assert state.on_acked(4, 0.0) == [1]
    assert state.on_acked(6, 0.0) == [2]


def test_refused_frames_are_done_and_counted_once_even_across_reconnects() -> None:
    state = DeliveryState()
    state.push(b"ok1", token=1)
    state.push(b"too-big", token=2)
    state.push(b"ok3", token=3)
    assert state.next_frame() == b"ok1"
    state.on_sent(0.0)
    assert state.next_frame() == b"too-big"
    state.on_refused()
    state.on_connection_lost()
    assert send_all(state, 0.0) == [b"ok1", b"ok3"]  # the refused one is not offered again
    assert state.on_acked(6, 0.0) == [1, 2, 3]
    assert state.counters["oversize"] == 1 and state.counters["acked"] == 2


def test_room_is_bounded_but_one_frame_always_fits() -> None:
    state = DeliveryState(max_bytes=10)
    assert state.has_room(100)  # empty: an oversize frame never blocks forever
    state.push(b"x" * 8)
    assert state.has_room(2) and not state.has_room(3)
    assert state.pending_bytes == 8
    with pytest.raises(ValueError):
        DeliveryState(max_bytes=0)


def test_lowest_token_is_the_minimum_not_the_oldest() -> None:
    state = DeliveryState()
    state.push(b"a", token=50)  # an event completed late (timed out) has a lower position
    state.push(b"b", token=7)
    state.push(b"c", token=None)  # a health message: no journal position
    assert state.lowest_token() == 7


def test_ack_deadline_follows_the_oldest_in_flight() -> None:
    state = DeliveryState(hold=2.0)
    assert state.next_ack_deadline() is None
    state.push(b"a")
    send_all(state, now=5.0)
    assert state.next_ack_deadline() == 7.0


@given(st.lists(st.sampled_from(["push", "send", "ack", "lose"]), max_size=200),
       st.integers(0, 2**31))
@settings(max_examples=300, deadline=None)
def test_every_frame_is_done_exactly_once_whatever_happens(ops: list[str], seed: int) -> None:
    """Any interleaving of pushes, sends, partial acks and losses, then a clean
    connection: every pushed token comes out of on_acked exactly once, in order."""
    rng = random.Random(seed)
    state = DeliveryState(hold=0.0)
    pushed: list[int] = []
    done: list[int | None] = []
    for op in ops:
        if op == "push":
            pushed.append(len(pushed))
            state.push(b"x" * rng.randint(1, 9), token=pushed[-1])
        elif op == "send" and state.next_frame() is not None:
            state.on_sent(0.0)
        elif op == "ack":
            done += state.on_acked(rng.randint(0, state.written), 0.0)
        elif op == "lose":
            state.on_connection_lost()
    state.on_connected()
    send_all(state, 0.0)
    done += state.on_acked(state.written, 0.0)
    assert done == pushed
    assert state.pending == 0 and state.pending_bytes == 0


def test_joined_frames_are_accounted_as_if_sent_one_by_one() -> None:
    """next_frames() for a transport that writes a batch at once: bounded by
    bytes (at least one frame), never past a refused frame, and on_sent per
    frame gives the same offsets, acks and counters as frame by frame."""
    joined, single = DeliveryState(hold=0.0), DeliveryState(hold=0.0)
    for state in (joined, single):
        for i in range(5):
            state.push(b"frame%d" % i, token=i)
    assert joined.next_frames(0) == [b"frame0"]  # one frame always
    batch = joined.next_frames(13)
    assert batch == [b"frame0", b"frame1"]  # 12 bytes; a third would be 18
    for _ in batch:
        joined.on_sent(0.0)
    rest = joined.next_frames(1 << 20)
    assert rest == [b"frame2", b"frame3", b"frame4"]
    for _ in rest:
        joined.on_sent(0.0)
    send_all(single, 0.0)
    assert joined.written == single.written == 30
    assert joined.on_acked(18, 0.0) == single.on_acked(18, 0.0) == [0, 1, 2]
    assert joined.counters == single.counters
    assert joined.next_frames(1 << 20) == []

    state = DeliveryState()
    for frame, token in ((b"ok1", 1), (b"bad", 2), (b"ok3", 3)):
        state.push(frame, token=token)
    state.next_frame()
    state.on_sent(0.0)
    assert state.next_frame() == b"bad"
    state.on_refused()
    state.on_connection_lost()
    assert state.next_frames(1 << 20) == [b"ok1"]  # a batch stops before a refused frame
    state.on_sent(0.0)
    assert state.next_frames(1 << 20) == [b"ok3"]  # which is then skipped, not offered

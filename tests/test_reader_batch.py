"""Datagrams many per call (recvmmsg) and one per call give the reader the same journal.

No kernel needed: a datagram socket pair carries netlink-framed audit
datagrams as the kernel sends them (16-byte header, the record text, often a
trailing NUL). The live kernel path is tests/kernel/test_journal_reader.py.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from audit_heka.netlink.batch import DatagramBatch, open_batch
from audit_heka.netlink.reader import (
    LOAD_DRAIN,
    QUICK_WAKE_INTERVAL,
    STORM_DRAIN,
    WAKE_INTERVAL,
    Reader,
    wake_after,
)
from audit_heka.netlink.status import encode_status_set

HEADER = struct.Struct("=IHHII")


def datagram(mtype: int, text: bytes) -> bytes:
    return HEADER.pack(len(text), mtype, 0, 0, 0) + text


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for sock, opt in ((a, socket.SO_SNDBUF), (b, socket.SO_RCVBUF)):
        sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
    yield a, b
    a.close()
    b.close()


def received(batch: DatagramBatch, sock: socket.socket, most: int) -> list[bytes]:
    got = batch.receive(sock, socket.MSG_DONTWAIT, most)
    return [bytes(batch.view[i * batch.slot_bytes:i * batch.slot_bytes
                             + batch.words[batch.len_at[i]]]) for i in range(got)]


def test_recvmmsg_takes_up_to_its_slots_per_call(
        pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    batch = open_batch(slots=8)
    assert batch.batched  # glibc has recvmmsg: the fallback is not what runs here
    sent = [bytes([65 + i % 26]) * (1 + 37 * i) for i in range(20)]
    for data in sent:
        sender.send(data)
    out = received(batch, receiver, 8) + received(batch, receiver, 8)
    out += received(batch, receiver, 3)
    assert out == sent[:19]
    assert received(batch, receiver, 8) == sent[19:]
    assert batch.receive(receiver, socket.MSG_DONTWAIT, 8) == 0  # empty: no exception
    batch.close()
    one = DatagramBatch(None)
    sender.send(b"last")
    assert received(one, receiver, 8) == [b"last"]
    assert one.receive(receiver, socket.MSG_DONTWAIT, 8) == 0


@pytest.mark.parametrize("batched", [True, False])
def test_a_datagram_longer_than_its_slot_is_flagged(
        pair: tuple[socket.socket, socket.socket], batched: bool) -> None:
    sender, receiver = pair
    batch = open_batch(slots=4, slot_bytes=64) if batched else DatagramBatch(None, slot_bytes=64)
    sender.send(b"x" * 100)
    sender.send(b"y" * 10)
    got = batch.receive(receiver, socket.MSG_DONTWAIT, 4)
    if batched:  # recvmmsg says so; recv_into cannot (the reader's slots are 64 KiB)
        assert got == 2
        assert batch.words[batch.flags_at[0]] & 0x20
        assert not batch.words[batch.flags_at[1]] & 0x20


STREAM = [
    datagram(1300, b"audit(1700000000.100:7): arch=c000003e syscall=59 success=yes exit=0 "
                   b'comm="true" exe="/usr/bin/true" key="exec"\0'),
    datagram(1309, b'audit(1700000000.100:7): argc=1 a0="true"'),
    b"\x01\x02\x03",  # shorter than a netlink header: malformed
    datagram(1000, encode_status_set(pid=0)),  # a status reply on the records' socket
    datagram(1302, b"audit(1700000000.100:7): item=0 name=\"/tmp/a\x1bb\\x41\"\0\0\0"),
    datagram(1320, b"audit(1700000000.100:7): \0"),
]
JOURNAL = (
    b'type=SYSCALL msg=audit(1700000000.100:7): arch=c000003e syscall=59 success=yes exit=0 '
    b'comm="true" exe="/usr/bin/true" key="exec"\n'
    b'type=EXECVE msg=audit(1700000000.100:7): argc=1 a0="true"\n'
    b'type=PATH msg=audit(1700000000.100:7): item=0 name="/tmp/a\\x1bb\\x5cx41"\n'
    b"type=EOE msg=audit(1700000000.100:7): \n"
)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("most", [32, 2, 1])
def test_reader_journals_the_same_lines_either_way(
        pair: tuple[socket.socket, socket.socket], reader: Reader, batched: bool,
        most: int) -> None:
    sender, receiver = pair
    reader.sock = receiver
    reader.rx = open_batch() if batched else DatagramBatch(None)
    for data in STREAM * 50:
        sender.send(data)
    assert reader._drain(1 << 30, most=most)  # True: the socket is empty
    assert bytes(reader.writer.buffer) == JOURNAL * 50
    counters = reader.counters()
    assert counters["netlink_records"] == 4 * 50
    assert counters["netlink_malformed"] == 50
    reader.sock = None


@pytest.mark.parametrize("batched", [True, False])
def test_plain_batches_are_written_as_received(
        pair: tuple[socket.socket, socket.socket], reader: Reader, batched: bool) -> None:
    sender, receiver = pair
    reader.sock = receiver
    reader.rx = open_batch() if batched else DatagramBatch(None)
    plain = [data for data in STREAM if len(data) >= 16 and b"\x1b" not in data]
    for data in plain * 40:  # batches without a byte to escape: the fast path only
        sender.send(data)
    assert reader._drain(1 << 30)
    expected = b"".join(line + b"\n" for line in JOURNAL.split(b"\n") if line
                        and b"type=PATH" not in line)
    assert bytes(reader.writer.buffer) == expected * 40
    reader.sock = None


def test_paced_drain_takes_one_record(pair: tuple[socket.socket, socket.socket],
                                      reader: Reader) -> None:
    sender, receiver = pair
    reader.sock = receiver
    for data in STREAM:
        sender.send(data)
    assert not reader._drain(1, most=1)  # the buffer is past its limit after one record
    assert reader.counters()["netlink_records"] == 1
    reader.sock = None


def test_the_wait_after_a_busy_drain_follows_its_size() -> None:
    """Light load keeps its latency, load pays fewer wake-ups, a storm keeps the
    socket buffer far from full (reader.WAKE_INTERVAL, LOAD_DRAIN)."""
    assert QUICK_WAKE_INTERVAL < WAKE_INTERVAL <= 0.1
    assert [wake_after(n) for n in (1, LOAD_DRAIN - 1)] == [QUICK_WAKE_INTERVAL] * 2
    assert [wake_after(n) for n in (LOAD_DRAIN, 220, STORM_DRAIN - 1)] == [WAKE_INTERVAL] * 3
    assert [wake_after(n) for n in (STORM_DRAIN, 100_000)] == [QUICK_WAKE_INTERVAL] * 2
    assert wake_after(220, 0.06) == 0.06

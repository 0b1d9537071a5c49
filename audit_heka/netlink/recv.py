"""The audit record socket at its rawest: open it, register on it, slice datagrams.

Shared by :class:`audit_heka.netlink.source.AuditSource` (records as
objects, for the in-process pipeline and tests) and the journal reader
(:mod:`audit_heka.netlink.reader`, bytes in, bytes out), so the framing rule
lives in one place:

one datagram is one record. On the unicast stream the kernel sets
``nlmsg_len`` to the payload length only (a quirk it keeps for auditd;
reference/kernel-audit.md), so we never walk by nlmsg_len: the record text is
``datagram[16:]`` minus trailing NULs.

Imports stay minimal (socket, struct, select): the reader loads this module
and little else.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
from collections.abc import Callable

from audit_heka.netlink.uapi import (
    AUDIT_NLGRP_READLOG,
    NETLINK_AUDIT,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_HDRLEN,
    MsgType,
)

#: Large enough for any record (AUDIT_MESSAGE_TEXT_MAX 8560 + header) with room.
RECV_BUFFER = 65536
#: Default socket receive buffer: bursts of tens of thousands of records fit.
DEFAULT_RCVBUF = 32 * 1024 * 1024

NLMSGHDR = struct.Struct("=IHHII")
#: The type of a datagram (bytes 4-6 of its header).
TYPE = struct.Struct("=4xH")
_ERRCODE = struct.Struct("=i")
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
AUDIT_GET = int(MsgType.GET)
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
#: Netlink control types, status replies (AUDIT_GET = 1000) and AUDIT_REPLACE
#: (a liveness probe from the kernel when someone else tries to register)
#: are not records.
NOT_RECORDS = frozenset({1, NLMSG_ERROR, NLMSG_DONE, 4, AUDIT_GET, int(MsgType.REPLACE)})


class SourceError(Exception):
    """The source could not be set up; the message says why and what to do."""


def open_socket(*, multicast: bool, rcvbuf: int = DEFAULT_RCVBUF) -> socket.socket:
    """A NETLINK_AUDIT socket with a large receive buffer, bound for unicast
    (to be registered with :func:`set_pid`) or joined to the read-log group."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    except OSError as exc:
        raise SourceError(f"cannot open an audit netlink socket: {exc.strerror}") from None
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, rcvbuf)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if multicast:
            try:
                sock.bind((0, 1 << (AUDIT_NLGRP_READLOG - 1)))
            except OSError as exc:
                raise SourceError(
                    "cannot join the audit multicast group (needs CAP_AUDIT_READ): "
                    f"{exc.strerror}"
                ) from None
        else:
            sock.bind((0, 0))
    except BaseException:
        sock.close()
        raise
    return sock


def request(sock: socket.socket, mtype: int, payload: bytes, seq: int, flags: int) -> None:
    """Send one audit request on ``sock``."""
    sock.send(NLMSGHDR.pack(NLMSG_HDRLEN + len(payload), mtype, flags, seq, 0) + payload)


def await_ack(
    sock: socket.socket, buf: bytearray, seq: int, keep: Callable[[int], None]
) -> int:
    """Wait for the ACK of request ``seq``; return its code (0 ok, -errno).

    Records queued ahead of it (e.g. while unregistering) are not dropped:
    ``keep(n)`` is called for each datagram of ``n`` bytes left in ``buf``.
    """
    for _ in range(100_000):
        ready, _w, _x = select.select([sock], [], [], 5.0)
        if not ready:
            return -errno.ETIMEDOUT
        try:
            n = sock.recv_into(buf)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                continue  # the caller's overrun counter misses this one; rare (set-up only)
            raise
        if n < NLMSG_HDRLEN:
            continue
        _len, mtype, _flags, rseq, _pid = NLMSGHDR.unpack_from(buf)
        if mtype == NLMSG_ERROR and rseq == seq and n >= NLMSG_HDRLEN + 4:
            (code,) = _ERRCODE.unpack_from(buf, NLMSG_HDRLEN)
            return int(code)
        keep(n)
    return -errno.EPROTO


def record_text(view: memoryview, n: int) -> bytes:
    """The record text of a datagram of ``n`` bytes in ``view`` (the framing rule)."""
    return bytes(view[NLMSG_HDRLEN:n]).rstrip(b"\0")

"""Many datagrams per system call: recvmmsg(2) for the reader.

Why: at 400 exec events a second the kernel sends 3,200 datagrams (seven
records and an EOE per event), and the reader's cost was mostly the
per-datagram price of ``socket.recv_into``: argument parsing, the GIL let go
and taken back, a system call. recvmmsg(2) takes up to :data:`SLOTS`
datagrams in one call (measured: 2.3 us -> 1.0 us per datagram); the
standard library has no binding for it (``socket.recvmsg`` takes one), so
this is ctypes, set up once: the ``mmsghdr`` array, one ``iovec`` per slot
pointing into one ``bytearray``.

Each slot is as large as the reader's single-datagram buffer (no record is
cut; a datagram the kernel had to cut anyway is flagged ``MSG_TRUNC`` and
counted as malformed by the caller). Where libc has no recvmmsg,
:func:`open_batch` gives the same interface over ``socket.recv_into``,
and the reader receives one datagram per call.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
from collections.abc import Callable

from audit_heka.netlink.recv import RECV_BUFFER

#: Datagrams per call: enough that a burst costs few calls, small enough that
#: the buffer stays 2 MiB.
SLOTS = 32
#: msg_flags bit: the datagram was longer than its slot.
MSG_TRUNC = 0x20


class _IOVec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))


class _MsgHdr(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_void_p),
        ("namelen", ctypes.c_uint32),
        ("iov", ctypes.c_void_p),
        ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("controllen", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    )


class _MMsgHdr(ctypes.Structure):
    _fields_ = (("hdr", _MsgHdr), ("len", ctypes.c_uint))


class DatagramBatch:
    """Receive up to ``slots`` datagrams into one buffer with one call.

    After :meth:`receive` returned ``k``, datagram ``i < k`` is
    ``view[i * slot_bytes : i * slot_bytes + words[len_at[i]]]`` and was cut
    by the kernel when ``words[flags_at[i]] & MSG_TRUNC``. Plain attributes,
    no accessor methods: the reader's loop indexes them per datagram. Read
    the datagrams before the next call.

    Without ``recvmmsg`` (libc has none) it is one slot filled by
    ``socket.recv_into``: the same interface, one datagram per call.
    """

    def __init__(self, recvmmsg: Callable[..., int] | None, slots: int = SLOTS,
                 slot_bytes: int = RECV_BUFFER) -> None:
        self._recvmmsg = recvmmsg
        self.slots = slots if recvmmsg is not None else 1
        self.slot_bytes = slot_bytes
        self.buffer = bytearray(self.slots * slot_bytes)
        self.view = memoryview(self.buffer)
        self.words: memoryview | list[int] = [0, 0]
        self.len_at = [0]
        self.flags_at = [1]
        if recvmmsg is None:
            return
        self._data = (ctypes.c_char * len(self.buffer)).from_buffer(self.buffer)
        self._iovecs = (_IOVec * slots)()
        self._msgs = (_MMsgHdr * slots)()
        base = ctypes.addressof(self._data)
        first_iovec = ctypes.addressof(self._iovecs)
        for i in range(slots):
            self._iovecs[i].base = base + i * slot_bytes
            self._iovecs[i].len = slot_bytes
            self._msgs[i].hdr.iov = first_iovec + i * ctypes.sizeof(_IOVec)
            self._msgs[i].hdr.iovlen = 1
        # msg_len and msg_flags of every slot, read as one flat array of C
        # unsigned ints: an index per datagram, not two ctypes look-ups.
        self.words = memoryview(self._msgs).cast("B").cast("I")
        stride = ctypes.sizeof(_MMsgHdr) // 4
        self.len_at = [i * stride + _MMsgHdr.len.offset // 4 for i in range(slots)]
        self.flags_at = [i * stride + (_MMsgHdr.hdr.offset + _MsgHdr.flags.offset) // 4
                         for i in range(slots)]

    @property
    def batched(self) -> bool:
        """Whether a call can take more than one datagram (recvmmsg)."""
        return self._recvmmsg is not None

    def receive(self, sock: socket.socket, flags: int, most: int) -> int:
        """How many datagrams (up to ``most``) arrived; OSError as recv raises it.

        0 when the socket is empty (``MSG_DONTWAIT``): the reader meets that
        at every wake-up, and an exception object with its message and
        traceback costs more than the rest of a small wake-up's work. An
        error met after some datagrams (an overrun's ENOBUFS) comes with the
        next call: the kernel keeps it for then.
        """
        if self._recvmmsg is None:
            try:
                self.words[0] = sock.recv_into(self.buffer, self.slot_bytes, flags)
            except BlockingIOError:
                return 0
            return 1
        got = self._recvmmsg(sock.fileno(), self._msgs, min(most, self.slots), flags, None)
        if got < 0:
            code = ctypes.get_errno()
            if code == errno.EAGAIN:
                return 0
            raise OSError(code, os.strerror(code))  # InterruptedError etc. by errno
        return got

    def close(self) -> None:
        """Let the buffer go (its views first)."""
        if isinstance(self.words, memoryview):
            self.words.release()
        self.view.release()


def open_batch(slots: int = SLOTS, slot_bytes: int = RECV_BUFFER) -> DatagramBatch:
    """A recvmmsg(2) batch, or one datagram per call where libc has no recvmmsg."""
    try:
        recvmmsg = ctypes.CDLL(None, use_errno=True).recvmmsg
    except (OSError, AttributeError):
        return DatagramBatch(None, slot_bytes=slot_bytes)
    recvmmsg.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                         ctypes.c_void_p)
    recvmmsg.restype = ctypes.c_int
    return DatagramBatch(recvmmsg, slots, slot_bytes)

"""Receive audit records from the kernel (an I/O edge; the hot path).

Two ways in (reference/kernel-audit.md §1.4, §2):
- ``unicast``: become THE audit daemon (AUDIT_SET pid). The kernel then sends
  every record to our socket and waits (backlog_wait_time) when we are slow.
  Only one process can hold this; we refuse clearly, naming the holder.
- ``multicast``: join AUDIT_NLGRP_READLOG beside whoever holds the pid,
  without touching any setting. Needs CAP_AUDIT_READ; the kernel never waits
  for multicast readers, so a slow reader loses records (ENOBUFS).

Framing: one datagram is one record. On the unicast stream the kernel sets
``nlmsg_len`` to the payload length only (a quirk it keeps for auditd), so we
never walk by nlmsg_len: payload = ``datagram[16:]`` minus trailing NULs. The
record path does not touch pyroute2: a preallocated buffer, ``recv_into`` and
one precompiled struct per datagram.

On close (normal exit, exception, or a signal turned into SystemExit by
``exit_on_signals``) we hand the pid back and restore the settings we changed
(backlog limit/wait time, enabled) unless told to keep them. SIGKILL cannot be
caught: the kernel then notices the dead socket at its next send and clears
the pid itself.
"""

from __future__ import annotations

import enum
import errno
import itertools
import os
import select
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Protocol

from audit_heka.netlink.recv import (
    DEFAULT_RCVBUF,
    NLM_F_ACK,
    NLM_F_REQUEST,
    NOT_RECORDS,
    RECV_BUFFER,
    TYPE,
    SourceError,
    await_ack,
    open_socket,
    record_text,
    request,
)
from audit_heka.netlink.status import AuditStatus, encode_status_set
from audit_heka.netlink.uapi import NLMSG_HDRLEN, MsgType

__all__ = ["DEFAULT_RCVBUF", "RECV_BUFFER", "SourceError"]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as the kernel sent it: type number and the text
    ``audit(SEC.MSEC:SERIAL): body`` (bytes that are not UTF-8 are kept as
    backslash escapes, so nothing is lost or crashes later encoders)."""

    type: int
    text: str


@dataclass(slots=True)
class SourceStats:
    """Counters, so that no loss is silent."""

    records: int = 0
    bytes: int = 0
    enobufs: int = 0  # socket overflowed: records lost between kernel and us
    malformed: int = 0  # datagrams shorter than a netlink header
    control: int = 0  # netlink/audit control messages seen on the stream


class SourceMode(enum.Enum):
    UNICAST = "unicast"
    MULTICAST = "multicast"


class RegistrationRefused(SourceError):
    """Another live process is the audit daemon."""

    def __init__(self, holder: int, message: str) -> None:
        self.holder = holder
        super().__init__(message)


def process_name(pid: int) -> str | None:
    """The command name of a live pid, or None if it does not exist."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def holder_message(holder: int, name: str) -> str:
    """Why we cannot become the audit daemon: who is, and what to do."""
    return (
        f"another audit daemon is registered: pid {holder} ({name}). Stop it first, or "
        "read beside it with multicast mode (--multicast)."
    )


class StatusControl(Protocol):
    """What the source needs of the control channel (AuditControl has it)."""

    def get_status(self) -> AuditStatus: ...

    def set_status(self, **changes: int) -> None: ...

    def close(self) -> None: ...


class AuditSource:
    """Records from the kernel, as RawRecord values.

    ``settings`` are AUDIT_SET changes to apply after registering (e.g.
    ``{"backlog_limit": 8192, "enabled": 1}``); the old values come back on
    close unless ``keep_settings``. ``control`` builds the control channel
    (an AuditControl); injected so tests can mock it.
    """

    def __init__(
        self,
        mode: SourceMode = SourceMode.UNICAST,
        *,
        rcvbuf: int = DEFAULT_RCVBUF,
        settings: dict[str, int] | None = None,
        keep_settings: bool = False,
        control: Callable[[], StatusControl] | None = None,
    ) -> None:
        self.mode = mode
        self.rcvbuf = rcvbuf
        self.settings = dict(settings or {})
        self.keep_settings = keep_settings
        self._control_factory = control
        self.stats = SourceStats()
        self._sock: socket.socket | None = None
        self._buf = bytearray(RECV_BUFFER)
        self._view = memoryview(self._buf)
        self._registered = False
        self._saved: dict[str, int] = {}
        self._seq = itertools.count(1)
        self._pending: list[RawRecord] = []

    # -- lifecycle --

    def __enter__(self) -> AuditSource:
        self.open()
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _control(self) -> StatusControl:
        if self._control_factory is not None:
            return self._control_factory()
        from audit_heka.netlink.control import AuditControl  # noqa: PLC0415 - I/O edge

        return AuditControl()

    def open(self) -> None:
        if self._sock is not None:
            return
        sock = open_socket(
            multicast=self.mode is SourceMode.MULTICAST, rcvbuf=self.rcvbuf
        )
        try:
            self._sock = sock
            if self.mode is SourceMode.UNICAST:
                self._register()
                self._apply_settings()
        except BaseException:
            self.close()
            sock.close()
            raise

    def _register(self) -> None:
        ctl = self._control()
        try:
            status = ctl.get_status()
        finally:
            ctl.close()
        me = os.getpid()
        holder = status.pid
        if holder == me:
            raise RegistrationRefused(me, f"this process ({me}) is already the audit daemon")
        if holder:
            name = process_name(holder)
            if name is not None:
                raise RegistrationRefused(holder, self._holder_message(holder, name))
        code = self._set_pid(me)
        if code == -errno.EEXIST:
            holder = self._current_pid()
            raise RegistrationRefused(
                holder, self._holder_message(holder, process_name(holder) or "?")
            )
        if code:
            raise SourceError(
                f"registering as the audit daemon failed: {os.strerror(-code)}"
            )
        self._registered = True

    _holder_message = staticmethod(holder_message)

    def _current_pid(self) -> int:
        ctl = self._control()
        try:
            pid: int = ctl.get_status().pid
            return pid
        finally:
            ctl.close()

    def _set_pid(self, pid: int) -> int:
        """AUDIT_SET pid on OUR socket: the kernel remembers the sending
        socket's port as the daemon's, so this cannot go through another
        socket. Returns the NLMSG_ERROR code (0 = ok, negative errno)."""
        assert self._sock is not None
        seq = next(self._seq)
        request(self._sock, MsgType.SET, encode_status_set(pid=pid), seq, NLM_F_REQUEST | NLM_F_ACK)
        # Records can be queued ahead of the ACK: keep them for read().
        return await_ack(self._sock, self._buf, seq, lambda n: self._take(n, self._pending))

    def _apply_settings(self) -> None:
        if not self.settings:
            return
        ctl = self._control()
        try:
            before = ctl.get_status()
            for name, value in self.settings.items():
                old = getattr(before, name)
                if old is not None and old != value:
                    self._saved[name] = old
                    ctl.set_status(**{name: value})
        finally:
            ctl.close()

    def stop_receiving(self) -> None:
        """Hand the pid back but keep the socket, so what is queued can still be read.

        A daemon that is told to stop calls this first, then ``read(0)`` until
        it returns nothing: records the kernel had already sent (up to a full
        receive buffer) are shipped instead of dying with the socket. After
        this the kernel sends nothing new to us (it holds or logs records per
        its own failure policy, as for any stopped auditd).
        """
        if self._sock is None or not self._registered:
            return
        try:
            self._set_pid(0)
        finally:
            self._registered = False

    def close(self) -> None:
        """Hand the pid back and restore changed settings; safe to call twice.

        Records that arrived while unregistering stay in ``pending``."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            if self._registered:
                self._sock = sock
                try:
                    self._set_pid(0)
                finally:
                    self._sock = None
                    self._registered = False
            if self._saved and not self.keep_settings:
                ctl = self._control()
                try:
                    # enabled last: turning audit off first would log less.
                    for name in sorted(self._saved, key=lambda n: n == "enabled"):
                        ctl.set_status(**{name: self._saved[name]})
                finally:
                    ctl.close()
                self._saved.clear()
        finally:
            sock.close()

    @property
    def pending(self) -> list[RawRecord]:
        """Records received but not yet returned by read() (e.g. after close)."""
        return list(self._pending)

    def fileno(self) -> int:
        if self._sock is None:
            raise SourceError("the audit source is not open")
        return self._sock.fileno()

    # -- the hot path --

    def _take(self, n: int, out: list[RawRecord]) -> None:
        if n < NLMSG_HDRLEN:
            self.stats.malformed += 1
            return
        (mtype,) = TYPE.unpack_from(self._buf)
        if mtype in NOT_RECORDS:
            self.stats.control += 1
            return
        data = record_text(self._view, n)
        self.stats.records += 1
        self.stats.bytes += n
        out.append(RawRecord(mtype, data.decode("utf-8", "backslashreplace")))

    def read(self, timeout: float | None = None, max_records: int = 4096) -> list[RawRecord]:
        """Wait up to ``timeout`` seconds (None = forever) for records, then
        drain what is queued without blocking, up to ``max_records``.

        Returns [] on timeout. ENOBUFS (the socket overflowed) is counted in
        ``stats.enobufs`` and reading continues.
        """
        sock = self._sock
        if sock is None:
            raise SourceError("the audit source is not open")
        out, self._pending = self._pending, []
        ready, _w, _x = select.select([sock], [], [], 0 if out else timeout)
        if not ready:
            return out
        recv_into = sock.recv_into
        buf = self._buf
        flags = socket.MSG_DONTWAIT
        while len(out) < max_records:
            try:
                n = recv_into(buf, RECV_BUFFER, flags)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.stats.enobufs += 1
                    continue
                raise
            self._take(n, out)
        return out

    def __iter__(self) -> Iterator[RawRecord]:
        while True:
            yield from self.read(None)


def exit_on_signals(
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT),
) -> None:
    """Turn these signals into SystemExit so ``with AuditSource()`` blocks
    unwind and hand the pid back (the default SIGTERM action would not)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in signals:
        signal.signal(sig, handler)

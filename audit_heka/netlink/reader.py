"""The reader: drain the kernel's audit socket into the journal, nothing else.

``python -m audit_heka.netlink.reader --config RUN.JSON [--ready-fd N]``

Why a process of its own (../shared/design.md §7): while the daemon is slow
the kernel makes every audited task wait (backlog_wait_time) and then loses
records. This process does only what must keep up with the kernel -- recv,
escape the rare control byte, append to a large buffer, write(2) it -- and
so waits on nothing but the disk. Parsing, interpreting, encoding and
sending happen in the shipper, which follows the journal.

Bytes in, bytes out: no record object, no decoding. Per datagram: a share
of one recvmmsg(2) (netlink/batch.py), one header unpack, one slice, two C
scans for bytes to escape (none in what the kernel writes), three
``bytearray +=``.

Counted (reader.status in ``status_dir``, else the journal directory,
rewritten about once a second, also while blocked): records, bytes, netlink overruns (ENOBUFS:
the socket's buffer overflowed, records lost between kernel and us),
malformed datagrams, the kernel's own ``lost`` and backlog (from AUDIT_GET
replies on this same socket), and the journal writer's counters.

SIGTERM/SIGINT: hand the audit pid back (records that arrive meanwhile are
kept), drain what the socket still holds into the journal, write it, exit 0.
The supervisor owns every other kernel setting (rules, enabled, backlog).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from audit_heka.core.counters import READER_STATUS_NAME
from audit_heka.host.private_files import write_private_json
from audit_heka.journal.format import LineBuilder, lines_need_escape
from audit_heka.journal.format import escape as escape_text
from audit_heka.journal.policy import FullAction
from audit_heka.journal.writer import FlushPolicy, JournalConfig, JournalWriter
from audit_heka.logconfig import plain_line, under_journald
from audit_heka.netlink.batch import MSG_TRUNC, SLOTS, open_batch
from audit_heka.netlink.recv import (
    AUDIT_GET,
    DEFAULT_RCVBUF,
    NLM_F_ACK,
    NLM_F_REQUEST,
    NLMSGHDR,
    NOT_RECORDS,
    RECV_BUFFER,
    SourceError,
    await_ack,
    open_socket,
    request,
)
from audit_heka.netlink.status import StatusError, decode_status, encode_status_set
from audit_heka.netlink.uapi import NLMSG_HDRLEN, MsgType

if TYPE_CHECKING:
    from typing import Any

STATUS_NAME = READER_STATUS_NAME
#: Seconds between status files and AUDIT_GET polls of the kernel's counters.
STATUS_INTERVAL = 1.0
#: How long a stop may wait for a blocked journal before giving records up (counted).
STOP_GRACE = 5.0
#: After a quiet spell, how long the first record waits for company (seconds).
COALESCE = 0.005
#: Under load, the least time between two wake-ups (seconds): at most 25 a
#: second, whatever the rate. Why: a wake-up of a Python process on a busy
#: machine costs far more than its few system calls -- cold caches, a context
#: switch, the loop's own work -- about 200 us of CPU measured at 400 exec
#: events/s, against ~1.5 us per record; and each journal write wakes the
#: shipper for a round (a delivery thread's wake-up, a send) that costs more.
#: Measured at 400 events/s: 97-107 us of reader CPU per event waking every
#: 5 ms, 50-52 us every 20 ms; reader and shipper together 140-155 us per
#: event every 40 ms, 113 us every 80 ms. This is also the batching latency
#: under load (the shipper's round follows each write at once): at 400
#: events/s p50 31 / p99 56 ms every 40 ms, 56 / 96 ms every 80 ms. Records
#: wait in the socket's buffer meanwhile.
WAKE_INTERVAL = 0.08
#: After a drain of fewer than LOAD_DRAIN records (light load: a few events a
#: drain) or of STORM_DRAIN or more (a storm), the next one comes after
#: QUICK_WAKE_INTERVAL instead: at light load the wait is latency that saves
#: little CPU (issue 12: < 50 ms p99 to a receiver), and in a storm the socket's
#: buffer (32 MiB holds ~25,000 small records, a tenth of a second of the storm
#: benchmark's) must stay far from full. 400 exec events/s drain ~220 records
#: every 80 ms.
LOAD_DRAIN = 64
STORM_DRAIN = 2000
QUICK_WAKE_INTERVAL = 0.04
#: The least socket buffer for which the reader waits WAKE_INTERVAL (bytes).
WAKE_RCVBUF = 4 * 1024 * 1024

#: While the journal is blocked: read one record this often. The kernel gives
#: its daemon HZ/10 to make room on the socket (``sk_sndtimeo`` in
#: kernel/audit.c), then moves its whole queue to retry/hold queues and drops
#: what they cannot hold. A read well inside that time keeps kauditd *waiting*
#: instead of failing, so the kernel's backlog fills and backlog_wait_time
#: throttles the audited tasks (auditd's disk_full_action=suspend, without
#: the loss): the storm goes on at this pace until the shipper makes room.
BLOCKED_PACE = 0.01
#: What a block may hold in memory on top of the write buffer (records read at
#: BLOCKED_PACE): about half an hour of a block at 100 records/s. When it is
#: spent the reader stops reading, logs it, and the kernel's losses are counted
#: (kernel_lost, netlink_overruns, serial_gaps).
BLOCKED_HOLD_BYTES = 32 * 1024 * 1024
EXIT_USAGE = 2
EXIT_SETUP = 3


@functools.cache
def _to_journal() -> bool:
    return under_journald(sys.stderr, os.environ)


def log(message: str, level: str = "INFO") -> None:
    """One line on stderr (the supervisor's, hence journald's), formatted as
    logconfig formats the other processes' lines, without a logging handler."""
    line = plain_line("audit-heka", level, f"reader: {message}", journal=_to_journal(),
                      created=time.time())
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def wake_after(drained: int, interval: float = WAKE_INTERVAL) -> float:
    """Seconds from a busy drain of ``drained`` records to the next (see LOAD_DRAIN)."""
    return interval if LOAD_DRAIN <= drained < STORM_DRAIN else QUICK_WAKE_INTERVAL


class Reader:
    """One run of the reader. ``run()`` returns the exit status."""

    def __init__(self, conf: dict[str, Any], ready_fd: int | None = None) -> None:
        self.conf = conf
        self.multicast = bool(conf.get("multicast", False))
        self.ready_fd = ready_fd
        journal = JournalConfig(
            directory=Path(conf["journal_dir"]),
            file_bytes=int(conf["journal_file_bytes"]),
            max_bytes=int(conf["journal_max_bytes"]),
            full=FullAction(conf.get("journal_full", "block")),
            flush=FlushPolicy(conf.get("flush", "incremental")),
            freq=int(conf.get("freq", 1000)),
            owners=frozenset(conf["owners"]) if conf.get("owners") else None,
        )
        self.writer = JournalWriter(journal, log)
        self.builder = LineBuilder(conf.get("node"))
        # Beside the supervisor's status file (/run, a tmpfs) when given: a
        # status on the journal's filesystem could not be updated when that
        # filesystem is full, which is exactly when an operator looks.
        self.status_path = Path(conf.get("status_dir") or journal.directory) / STATUS_NAME
        self.sock: socket.socket | None = None
        #: AUDIT_GET requests and replies (see _poll_kernel), apart from the records.
        self.status_sock: socket.socket | None = None
        self.status_buf = bytearray(8192)
        #: Set-up exchanges (register, unregister) receive here ...
        self.buf = bytearray(RECV_BUFFER)
        #: ... the records here, many per system call (recvmmsg).
        self.rx = open_batch()
        self.seq = 0
        self.wake_interval = COALESCE
        self.registered = False
        self.stop = False
        self.started = time.time()
        # counters
        self.records = 0
        self.bytes = 0
        self.overruns = 0
        self.malformed = 0
        self.control = 0
        self.dropped_at_stop = 0
        self.reregistrations = 0
        self._lost_registration: int | None = None  # the audit pid the kernel reported
        self.blocked_reads = 0
        self.blocked_hold_full = 0
        self._hold_full_logged = False
        self.kernel_lost_base: int | None = None
        self.kernel_lost = 0
        self.kernel_backlog = 0
        self._rate_mark = (time.monotonic(), 0)
        self.rate = 0.0
        self._wake_r, self._wake_w = socket.socketpair()

    # ----------------------------------------------------------------- set-up

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stop = True

    def _signals(self) -> None:
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's business

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _set_pid(self, pid: int) -> int:
        assert self.sock is not None
        seq = self._next_seq()
        request(self.sock, MsgType.SET, encode_status_set(pid=pid), seq, NLM_F_REQUEST | NLM_F_ACK)
        return await_ack(self.sock, self.buf, seq, self._take)

    def _register(self) -> None:
        code = self._set_pid(os.getpid())
        if code == -errno.EEXIST:
            raise SourceError(
                "another audit daemon is registered (see `audit-heka status`); stop it "
                "first, or read beside it with --multicast"
            )
        if code:
            raise SourceError(f"registering as the audit daemon failed: {os.strerror(-code)}")
        self.registered = True

    def _unregister(self) -> None:
        if not self.registered:
            return
        self.registered = False
        try:
            code = self._set_pid(0)
        except OSError as exc:
            log(f"could not hand the audit pid back: {exc.strerror}", "ERROR")
            return
        if code:
            log(f"could not hand the audit pid back: {os.strerror(-code)}", "ERROR")

    def _drop(self, user: str) -> None:
        """--user: become that user, keeping CAP_AUDIT_CONTROL (the pid goes back at
        the stop) and, multicast, CAP_AUDIT_READ. The journal directory is its."""
        from audit_heka.host.privileges import (  # noqa: PLC0415 - only with --user
            PrivilegeError,
            drop_privileges,
            plan_drop,
        )

        try:
            drop_privileges(plan_drop(user, multicast=self.multicast))
        except PrivilegeError as exc:
            raise ValueError(str(exc)) from None
        # The credentials change cleared the parent-death signal the supervisor
        # set: set it again (SIGTERM when the supervisor dies).
        import ctypes  # noqa: PLC0415

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
        if os.getppid() == 1:  # the supervisor died before that
            self.stop = True

    def _ready(self) -> None:
        if self.ready_fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self.ready_fd, b"1")
            os.close(self.ready_fd)
        self.ready_fd = None

    # --------------------------------------------------------------- the loop

    def run(self) -> int:
        self._signals()
        try:
            # With --user, drop first: the journal files are then the user's
            # (the shipper, running as that user, reads them) and registering
            # needs only the CAP_AUDIT_CONTROL the drop keeps.
            if self.conf.get("user"):
                self._drop(str(self.conf["user"]))
            self.writer.open()
            rcvbuf = int(self.conf.get("rcvbuf") or DEFAULT_RCVBUF)
            self.sock = open_socket(multicast=self.multicast, rcvbuf=rcvbuf)
            # A small socket buffer (--rcvbuf) cannot hold WAKE_INTERVAL of a storm.
            self.wake_interval = WAKE_INTERVAL if rcvbuf >= WAKE_RCVBUF else COALESCE
            self.status_sock = open_socket(multicast=False, rcvbuf=65536)
            if not self.multicast:
                self._register()
        except (SourceError, OSError, ValueError) as exc:
            log(f"cannot start: {exc}", "ERROR")
            self._close()
            return EXIT_SETUP
        mode = "multicast" if self.multicast else f"unicast, audit pid {os.getpid()}"
        log(f"reading the kernel ({mode}) into {self.writer.config.directory}")
        self._ready()
        try:
            self._loop()
            self._finish()
        finally:
            self._close()
        return 0

    def _loop(self) -> None:
        sock = self.sock
        assert sock is not None
        writer = self.writer
        wake = self._wake_r
        fds = [sock, wake]
        next_status = 0.0
        last_wake = 0.0
        while not self.stop:
            now = time.monotonic()
            if now >= next_status:
                self._poll_kernel()
                self._write_status(now)
                next_status = now + STATUS_INTERVAL
            if writer.blocked is not None:
                self._paced_read(now)
                timeout = max(0.0, min(writer.next_retry(), next_status, now + BLOCKED_PACE)
                              - now)
                ready, _w, _x = select.select([wake], [], [], timeout)
                if ready:
                    self._drain_wake()
                writer.flush(time.monotonic())
                continue
            self._hold_full_logged = False
            before = self.records
            idle = self._drain(writer.buffer_limit)
            writer.flush(time.monotonic())
            if self._lost_registration is not None:
                self._check_registration()
            if not idle:
                continue
            now = time.monotonic()
            if self.records != before and self.wake_interval > COALESCE:
                # Busy: more records are on their way. Sleep straight to the
                # next drain (see WAKE_INTERVAL), no select first: one
                # wake-up per drain, not two. They wait in the socket.
                due = last_wake + wake_after(self.records - before, self.wake_interval)
                if due > now:
                    time.sleep(due - now)
                last_wake = max(due, now)
                continue
            ready, _w, _x = select.select(fds, [], [], max(0.0, next_status - now))
            if wake in ready:
                self._drain_wake()
            elif ready:
                # Records after a quiet spell: let the next few arrive too,
                # so that one wake-up, one write and one shipper wake-up
                # serve several events.
                time.sleep(COALESCE)
                last_wake = time.monotonic()

    def _paced_read(self, now: float) -> None:
        """Blocked: take one record (see BLOCKED_PACE) into memory, within its bound."""
        held = len(self.writer.buffer)
        if held < self.writer.buffer_limit + BLOCKED_HOLD_BYTES:
            before = self.records
            self._drain(held + 1, most=1)
            self.blocked_reads += self.records - before
            return
        if not self._hold_full_logged:
            self._hold_full_logged = True
            self.blocked_hold_full += 1
            log(
                f"journal blocked ({self.writer.blocked}) and {held} bytes held in memory: "
                "reading the kernel stops; what it cannot hold is counted as lost",
                "ERROR",
            )

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(512):
                pass
        except BlockingIOError:
            pass

    def _drain(self, limit: int, most: int = SLOTS) -> bool:
        """Receive until the socket is empty (True) or the buffer holds ``limit`` bytes.

        Up to ``most`` datagrams per call (recvmmsg), so the buffer may pass
        ``limit`` by that many records. The hot path: locals only; per
        record a header unpack and three appends (the text straight from the
        receive buffer), per batch one check for bytes to escape -- none in
        what the kernel writes itself; a batch that has some is written again
        record by record, escaped.
        """
        sock = self.sock
        assert sock is not None
        rx = self.rx
        receive = rx.receive
        buf = rx.buffer
        view = rx.view
        words = rx.words
        len_at = rx.len_at
        flags_at = rx.flags_at
        slot = rx.slot_bytes
        out = self.writer.buffer
        unpack = NLMSGHDR.unpack_from
        prefixes: dict[int, bytes] = {}
        prefix_for = self.builder.prefix
        not_records = NOT_RECORDS
        flags = socket.MSG_DONTWAIT
        records = 0
        nbytes = 0
        idle = False
        try:
            while len(out) < limit:
                try:
                    got = receive(sock, flags, most)
                except InterruptedError:
                    continue
                except OSError as exc:
                    if exc.errno == errno.ENOBUFS:
                        self.overruns += 1
                        continue
                    raise
                if not got:
                    idle = True
                    break
                mark = len(out)
                spans: list[tuple[bytes, int, int]] = []
                for i in range(got):
                    n = words[len_at[i]]
                    start = i * slot
                    if n < NLMSG_HDRLEN or words[flags_at[i]] & MSG_TRUNC:
                        self.malformed += 1
                        continue
                    mtype = unpack(buf, start)[1]
                    if mtype in not_records:
                        self._control(mtype, bytes(view[start + NLMSG_HDRLEN:start + n]))
                        continue
                    first = start + NLMSG_HDRLEN
                    end = start + n
                    while end > first and not buf[end - 1]:  # the kernel's trailing NUL
                        end -= 1
                    prefix = prefixes.get(mtype)
                    if prefix is None:
                        prefix = prefixes[mtype] = prefix_for(mtype)
                    out += prefix
                    out += view[first:end]
                    out += b"\n"
                    spans.append((prefix, first, end))
                    nbytes += n
                if spans:
                    records += len(spans)
                    if lines_need_escape(out[mark:], len(spans)):
                        del out[mark:]
                        for prefix, first, end in spans:
                            out += prefix
                            out += escape_text(bytes(view[first:end]))
                            out += b"\n"
        finally:
            self.records += records
            self.bytes += nbytes
        return idle

    def _take(self, n: int) -> None:
        """One datagram left in ``buf`` by a set-up exchange: journal it too."""
        if n < NLMSG_HDRLEN:
            self.malformed += 1
            return
        mtype = NLMSGHDR.unpack_from(self.buf)[1]
        if mtype in NOT_RECORDS:
            self._control(mtype, bytes(self.buf[NLMSG_HDRLEN:n]))
            return
        text = bytes(memoryview(self.buf)[NLMSG_HDRLEN:n]).rstrip(b"\0")
        self.writer.buffer += self.builder.line(mtype, text)
        self.records += 1
        self.bytes += n

    def _control(self, mtype: int, payload: bytes) -> None:
        self.control += 1
        if mtype == AUDIT_GET:
            self._kernel_status(payload)

    def _kernel_status(self, payload: bytes) -> None:
        """An AUDIT_GET reply: the kernel's lost counter, backlog and audit pid."""
        try:
            status = decode_status(payload)
        except StatusError:
            return
        if self.kernel_lost_base is None:
            self.kernel_lost_base = status.lost
        grew = status.lost - self.kernel_lost_base - self.kernel_lost
        if grew > 0:
            log(f"the kernel lost {grew} audit records (backlog {status.backlog})", "WARNING")
        self.kernel_lost = max(0, status.lost - self.kernel_lost_base)
        self.kernel_backlog = status.backlog
        if self.registered and status.pid != os.getpid():
            self._lost_registration = status.pid  # handled by the loop, off this socket read

    def _check_registration(self) -> None:
        """The kernel dropped us as its daemon: take the audit pid back.

        kauditd resets its daemon when a send from its retry queue fails
        (the socket stayed full for HZ/10 twice: the reader was late once,
        a CPU starved it). Nothing says so on the socket; only AUDIT_GET
        shows the pid gone. Without this the reader would stay alive,
        reading nothing, while the kernel printk()s or drops the records
        (counted by the kernel as lost). If another daemon took the pid in
        the meantime it is not ours to take: stop, loudly, and let the
        supervisor's restart report the conflict.
        """
        pid, self._lost_registration = self._lost_registration, None
        if pid is None or not self.registered:
            return
        if pid != 0:
            self.registered = False  # never hand back a pid that is not ours
            log(f"the kernel's audit daemon is now pid {pid}, not this reader: stopping", "ERROR")
            self.stop = True
            return
        self.registered = False
        try:
            self._register()
        except (SourceError, OSError) as exc:
            log(f"the kernel dropped this reader as its audit daemon and registering again "
                f"failed: {exc}", "ERROR")
            self.stop = True
            return
        self.reregistrations += 1
        log("the kernel had dropped this reader as its audit daemon (a send to it timed out); "
            f"registered again ({self.reregistrations} time(s)); records it could not send "
            "meanwhile are in the kernel's lost counter", "WARNING")

    def _poll_kernel(self) -> None:
        """Take the reply to the last AUDIT_GET, ask again (answered by the next call).

        On a socket of its own, never on the one the records come on: the
        kernel sends the reply from a thread that waits HZ/10 for room, and
        when the records' socket is full (a storm, a block, a late reader)
        it drops the reply and marks that socket congested, after which
        kauditd waits for an *empty* queue before it sends again. The
        records' socket only ever carries records.
        """
        sock = self.status_sock
        if sock is None:
            return
        buf = self.status_buf
        while True:
            try:
                n = sock.recv_into(buf, len(buf), socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # ENOBUFS: a reply lost; the next one will do
                continue
            if n >= NLMSG_HDRLEN and NLMSGHDR.unpack_from(buf)[1] == AUDIT_GET:
                self._kernel_status(bytes(buf[NLMSG_HDRLEN:n]))
        # Without CAP_AUDIT_CONTROL (multicast) this fails: lost stays unknown.
        with contextlib.suppress(OSError):
            request(sock, AUDIT_GET, b"", self._next_seq(), NLM_F_REQUEST)

    def _finish(self) -> None:
        """The stop: pid back first, then everything the socket still holds."""
        self._unregister()
        while not self._drain(1 << 62):
            pass
        deadline = time.monotonic() + STOP_GRACE
        while self.writer.buffer:
            now = time.monotonic()
            self.writer.flush(now)
            if not self.writer.buffer or now >= deadline:
                break
            time.sleep(max(0.0, min(self.writer.next_retry(), deadline) - now))
        if self.writer.buffer:
            self.dropped_at_stop = self.writer.give_up_buffer()
            log(
                f"stopping: {self.dropped_at_stop} records could not be journaled "
                f"({self.writer.blocked}) and are lost", "ERROR",
            )
        self._write_status(time.monotonic())
        log(f"stopped: {self.records} records journaled")

    def _close(self) -> None:
        if self.status_sock is not None:
            self.status_sock.close()
            self.status_sock = None
        if self.sock is not None:
            if self.registered:
                self._unregister()
            self.sock.close()
            self.sock = None
        self.writer.close()

    # ----------------------------------------------------------------- status

    def counters(self) -> dict[str, int | float]:
        """Every counter of the reader and its journal writer."""
        j = self.writer.counters
        return {
            "netlink_records": self.records,
            "netlink_bytes": self.bytes,
            "netlink_overruns": self.overruns,
            "netlink_malformed": self.malformed,
            "netlink_control": self.control,
            "kernel_lost": self.kernel_lost,
            "kernel_backlog": self.kernel_backlog,
            "journal_bytes_written": j.bytes_written,
            "journal_writes": j.writes,
            "journal_rotations": j.rotations,
            "journal_files_deleted": j.files_deleted,
            "journal_dropped_records": j.records_dropped,
            "journal_write_errors": j.write_errors,
            "journal_disk_full": j.disk_full,
            "journal_blocks": j.blocks,
            "journal_blocked_seconds": round(self.writer.blocked_for(time.monotonic()), 3),
            "journal_torn_bytes_repaired": j.torn_bytes_repaired,
            "journal_syncs": j.syncs,
            "journal_sync_errors": self.writer.sync_errors,
            "dropped_at_stop": self.dropped_at_stop,
            "reregistrations": self.reregistrations,
            "journal_blocked_reads": self.blocked_reads,
            "journal_blocked_hold_full": self.blocked_hold_full,
        }

    def _write_status(self, now: float) -> None:
        mark_time, mark_records = self._rate_mark
        if now > mark_time:
            self.rate = (self.records - mark_records) / (now - mark_time)
        self._rate_mark = (now, self.records)
        doc = {
            "pid": os.getpid(),
            "started": self.started,
            "updated": time.time(),
            "mode": "multicast" if self.multicast else "unicast",
            "registered": self.registered,
            "blocked": self.writer.blocked,
            "records_per_second": round(self.rate, 1),
            "counters": self.counters(),
            "files": [
                {"dev": f.dev, "ino": f.ino, "size": f.size} for f in self.writer.files
            ],
        }
        try:
            write_private_json(self.status_path, doc, indent=None)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):  # counted by the writer
                log(f"cannot write {self.status_path}: {exc.strerror}", "WARNING")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    config: str | None = None
    ready_fd: int | None = None
    it = iter(args)
    for arg in it:
        if arg == "--config":
            config = next(it, None)
        elif arg == "--ready-fd":
            value = next(it, "")
            ready_fd = int(value) if value.isdigit() else None
        else:
            log(f"unknown argument {arg!r}", "ERROR")
            return EXIT_USAGE
    if config is None:
        log("usage: python -m audit_heka.netlink.reader --config RUN.JSON [--ready-fd N]", "ERROR")
        return EXIT_USAGE
    try:
        conf = json.loads(Path(config).read_text())
    except (OSError, ValueError) as exc:
        log(f"cannot read {config}: {exc}", "ERROR")
        return EXIT_USAGE
    try:
        reader = Reader(conf, ready_fd)
    except (KeyError, ValueError, TypeError) as exc:
        log(f"bad configuration in {config}: {exc}", "ERROR")
        return EXIT_USAGE
    return reader.run()


if __name__ == "__main__":
    sys.exit(main())

"""Delivery: from "a framed Heka message" to "it reached the receiver", losing nothing silently.

Each target gets a spool (on disk under ``spool_dir/<target>``, or a bounded
memory queue without one) and a worker thread. ``Delivery.submit`` appends
the frame to every target's spool *before* anything is sent; the worker reads
the spool in order, writes frames whole, and *releases* them only when they
are safely over:

* stream targets (tcp, tls): when the receiver's TCP has acknowledged the
  bytes (SIOCOUTQ) **and** ``hold`` seconds have passed since the write. Heka
  has no application acknowledgement; a receiver killed with frames still
  unread in its socket buffer loses them, so the last ``hold`` seconds of
  acknowledged frames stay re-sendable. After any connection loss the worker
  reconnects (exponential backoff with jitter) and resends everything not
  released, from the oldest, frame by frame: the receiver's splitter drops a
  partial frame, so a frame cut by a disconnect arrives whole later.
  Duplicates are harmless (deterministic uuids) and counted as ``resent``.
* file: when fsync-ed according to the fsync policy (immediately with
  ``never``).
* udp, stdout: when the kernel accepted the write.

Workers use blocking calls bounded by timeouts; ``close`` drains for at most
``flush_timeout`` seconds, then aborts stuck sends (socket shutdown) so
shutdown is bounded even against a receiver that accepts nothing. Whatever
was not released stays in the disk spool and goes first at the next start.

Threads rather than a select loop: TLS handshakes, connects and fsyncs are
blocking by nature, and the daemon's main loop must never wait on a slow
receiver. The only shared state is each target's spool, behind that
target's lock.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from audit_heka.backoff import Backoff
from audit_heka.outputs.target import Target
from audit_heka.outputs.transport import Transport, TransportOptions, open_transport
from audit_heka.private_files import UnsafePathError, ensure_private_dir
from audit_heka.spool import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MEMORY_BYTES,
    DEFAULT_SEGMENT_BYTES,
    DiskSpool,
    FullAction,
    MemorySpool,
    Spool,
    SpoolError,
    SpoolRecord,
    record_size,
)

log = logging.getLogger(__name__)

#: Every counter ``Delivery.counters`` reports (all present, 0 when nothing happened).
COUNTER_NAMES = (
    "submitted",  # frames handed to submit() and accepted for this target
    "sent",  # frames written whole to the transport (resends included)
    "resent",  # frames written again after a reconnect (duplicates on the far side)
    "released",  # frames released from the spool (delivered per the rules above)
    "send_errors",  # connections lost while sending or found closed before sending
    "connect_errors",  # failed connection attempts
    "reconnects",  # successful connections after the first
    "refitted",  # frames degraded again to fit this target (UDP datagram size)
    "oversize",  # frames this target cannot carry even degraded: not sent
    "spool_full",  # submit() refused under --spool-full block
    "spool_drops_oldest",  # frames dropped by --spool-full drop-oldest
    "spool_drops_newest",  # frames dropped by --spool-full drop-newest
    "spool_errors",  # spool I/O errors (unwritable, ENOSPC, ...)
    "spool_memory_mode",  # 1 while the spool runs in memory because the disk failed
    "corrupt",  # damaged spool records or cursor found (torn write, bad block)
    "malformed",  # frames the stdout target could not decode
    "discarded",  # frames for a target that is gone for good (stdout closed by its reader)
)

#: Degrades a frame so that it is at most ``max_frame`` bytes, or None.
Refit = Callable[[bytes, int], bytes | None]

#: At most this many written-but-unreleased frames are tracked per target;
#: beyond it the worker waits for acknowledgements before sending more.
MAX_IN_FLIGHT = 100_000


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Delivery settings; the ``run`` command fills it from its options."""

    spool_dir: Path | None = None
    spool_max_bytes: int = DEFAULT_MAX_BYTES
    spool_full: FullAction = FullAction.BLOCK
    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    #: Seconds an acknowledged frame stays re-sendable (stream targets).
    hold: float = 1.0
    backoff_base: float = 0.1
    backoff_cap: float = 30.0
    #: Idle wake-up period of the workers (settling acks, timed fsync).
    poll_interval: float = 0.05
    transport: TransportOptions = field(default_factory=TransportOptions)
    #: uids that may own the spool directories (None: our euid). ``run --user``
    #: adds the user it drops to, so a restart accepts the directory it chowned.
    spool_owners: frozenset[int] | None = None


def spool_dir_name(target: Target) -> str:
    """A stable directory name per target, so a restart finds its own spool."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", str(target)).strip("_") or "stdout"


@dataclass(frozen=True, slots=True)
class _InFlight:
    record: SpoolRecord  # without its frame bytes (memory stays bounded)
    end: int  # bytes written on this connection once this frame was
    written_at: float


class TargetWorker:
    """One target: its spool, its transport, its thread."""

    def __init__(
        self,
        target: Target,
        transport: Transport,
        spool: Spool,
        config: DeliveryConfig,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        refit: Refit | None = None,
    ) -> None:
        self.target = target
        self._refit = refit
        self.transport = transport
        self.spool = spool
        self.config = config
        self.hold = config.hold if target.is_stream else 0.0
        self._clock = clock
        self._backoff = Backoff(config.backoff_base, config.backoff_cap, rng or random.Random())
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._done = threading.Event()
        self._counters: collections.Counter[str] = collections.Counter(
            dict.fromkeys(COUNTER_NAMES, 0)
        )
        self._in_flight: collections.deque[_InFlight] = collections.deque()
        self._written = 0
        self._max_sent_seq = -1
        self._retry_at = 0.0
        self._ever_connected = False
        self._last_error = ""
        #: Set whenever frames are released (wakes a source blocked on a full spool).
        self.room = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            name=f"delivery {transport.name}",
            daemon=True,
        )

    # ----------------------------------------------------------- main thread
    def start(self) -> None:
        self._thread.start()

    def fitted(self, frame: bytes) -> bytes | None:
        """The frame as this target can carry it: itself, degraded to the
        target's limit (``refitted``), or None (counted ``oversize``).

        Why here: the frame is built once for every target at Heka's
        ``max_message_size``; only a target with a smaller limit (UDP's
        datagram) needs a smaller one, and only for its own copy.
        """
        limit = self.transport.max_frame
        if limit is None or len(frame) <= limit:
            return frame
        smaller = self._refit(frame, limit) if self._refit is not None else None
        if smaller is None or len(smaller) > limit:
            self.count_oversize(frame)
            return None
        self._counters["refitted"] += 1
        return smaller

    def count_oversize(self, frame: bytes) -> None:
        self._counters["oversize"] += 1
        log.error(
            "%s: frame of %d bytes exceeds the datagram size %s: not sent",
            self.transport.name,
            len(frame),
            self.transport.max_frame,
        )

    @property
    def cond(self) -> threading.Condition:
        """The lock guarding this target's spool (``submit`` holds every target's)."""
        return self._cond

    def accepts(self, frame: bytes) -> bool:
        """Under ``block``: whether the frame fits now (else counted). Hold ``cond``."""
        if self.spool.full_action is FullAction.BLOCK and not self.spool.has_room(
            record_size(frame),
        ):
            self.spool.counters["spool_full"] += 1
            return False
        return True

    def append(self, frame: bytes, *, notify: bool = True) -> None:
        """Spool the frame (hold ``cond``); the full policy applies inside the spool."""
        if self.spool.append(frame):
            self._counters["submitted"] += 1
        if notify:
            self._cond.notify()

    def counters(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._counters)
            for name, value in self.spool.counters.items():
                out[name] = out.get(name, 0) + value
            for name, value in self.transport.errors.items():
                out[name] = out.get(name, 0) + value
        return out

    def pending(self) -> bool:
        with self._lock:
            return self.spool.pending()

    def begin_drain(self) -> None:
        self._draining.set()
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        self._stop.set()
        self.transport.abort()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float) -> bool:
        self._thread.join(max(0.0, timeout))
        return not self._thread.is_alive()

    # --------------------------------------------------------- worker thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._draining.is_set() and not self.pending():
                    break
                if not self.transport.connected and not self._connect():
                    continue
                if not self.transport.alive():
                    self._lost("the receiver closed the connection")
                    continue
                self._step()
        except Exception:  # a bug must not kill delivery silently
            log.exception("%s: delivery worker failed", self.transport.name)
            self._counters["send_errors"] += 1
        finally:
            self._done.set()

    def _connect(self) -> bool:
        wait = self._retry_at - self._clock()
        if wait > 0:
            self._stop.wait(min(wait, 0.25))
            return False
        try:
            self.transport.connect()
        except (OSError, ValueError) as exc:
            self._counters["connect_errors"] += 1
            message = f"{self.transport.name}: cannot connect: {exc}"
            if message != self._last_error:
                log.warning("%s (retrying with backoff)", message)
                self._last_error = message
            self._retry_at = self._clock() + self._backoff.next_delay()
            return False
        if self._ever_connected:
            self._counters["reconnects"] += 1
        self._ever_connected = True
        self._last_error = ""
        with self._lock:
            self.spool.rewind()
            self._in_flight.clear()
            self._written = 0
        return True

    def _lost(self, why: str) -> None:
        self.transport.close()
        if self._stop.is_set():
            return
        self._counters["send_errors"] += 1
        log.warning("%s: %s; will resend unreleased frames", self.transport.name, why)
        with self._lock:
            self.spool.rewind()
            self._in_flight.clear()
            self._written = 0
        self._retry_at = self._clock() + self._backoff.next_delay()

    def _step(self) -> None:
        with self._cond:
            self._settle()
            record = None
            if len(self._in_flight) < MAX_IN_FLIGHT:
                record = self.spool.read_next()
            if record is None:
                self.transport.tick()
                self._settle()
                if not self._draining.is_set() or self._in_flight:
                    self._cond.wait(self.config.poll_interval)
                return
        now = self._clock()
        light = SpoolRecord(record.seq, b"", record.segment, record.next_offset)
        data = self.fitted(record.frame)  # spooled under an earlier, larger limit
        if data is None:
            self._in_flight.append(_InFlight(light, self._written, float("-inf")))
            return
        try:
            self.transport.send(data)
        except OSError as exc:
            self._lost(f"send failed: {exc}")
            return
        self._written += len(data)
        self._counters["sent"] += 1
        if record.seq <= self._max_sent_seq:
            self._counters["resent"] += 1
        else:
            self._max_sent_seq = record.seq
        self._in_flight.append(_InFlight(light, self._written, now))

    def _settle(self) -> None:
        """Release the frames that are safely over (call with the lock held)."""
        if not self._in_flight or not self.transport.connected:
            return
        acked_upto = self._written - self.transport.unacked_bytes()
        now = self._clock()
        last = None
        while self._in_flight:
            head = self._in_flight[0]
            if head.end > acked_upto or now - head.written_at < self.hold:
                break
            last = self._in_flight.popleft()
            self._counters["released"] += 1
        if last is not None:
            self.spool.release(last.record)
            self._backoff.reset()
            self.room.set()


class Delivery:
    """Every target of a run. Drive it from the daemon's main loop:

    ``submit(frame)`` for each framed message (False: a spool is full under
    ``block``; keep the frame, stop reading the source, retry after
    ``wait_for_room``), ``counters()`` for the health message and status,
    ``close(flush_timeout)`` at exit.
    """

    def __init__(self, workers: Sequence[TargetWorker]) -> None:
        self.workers = list(workers)

    @classmethod
    def open(
        cls,
        targets: Iterable[Target],
        config: DeliveryConfig,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        refit: Refit | None = None,
    ) -> Delivery:
        """Open spools and transports and start one worker per target.

        ``refit(frame, max_frame)`` degrades a frame for a target whose limit
        is below the frame's size (pipeline.Framer.refit); without it such
        frames are counted ``oversize``.

        Raises ``ValueError`` (bad TLS files, bad options) or
        ``spool.SpoolError`` (spool in use by another process) with a clear
        message; spool I/O failures are not raised but counted (memory mode).
        """
        workers: list[TargetWorker] = []
        if config.spool_dir is not None:
            try:
                # The operator may point --spool at a symlink; what it points to
                # must still be private. I/O errors are the spool's to degrade on.
                ensure_private_dir(config.spool_dir, config.spool_owners, follow=True)
            except UnsafePathError as exc:
                raise SpoolError(f"spool: {exc}") from None
            except OSError:
                pass
        try:
            for target in targets:
                transport = open_transport(target, config.transport)
                spool: Spool
                if config.spool_dir is not None:
                    spool = DiskSpool(
                        config.spool_dir / spool_dir_name(target),
                        max_bytes=config.spool_max_bytes,
                        full_action=config.spool_full,
                        segment_bytes=config.segment_bytes,
                        memory_bytes=config.memory_bytes,
                        clock=clock,
                        owners=config.spool_owners,
                    )
                else:
                    spool = MemorySpool(config.memory_bytes, config.spool_full)
                workers.append(TargetWorker(target, transport, spool, config, clock, rng,
                                            refit))
        except BaseException:
            for worker in workers:
                worker.spool.close()
            raise
        for worker in workers:
            worker.start()
        return cls(workers)

    def submit(self, frame: bytes) -> bool:
        """Spool ``frame`` for every target; False if refused (``block`` and full).

        All or nothing: under ``block`` a frame is spooled for every target or
        for none, so a retry never duplicates it on one target and not another.
        """
        return self.submit_many([frame]) == 1

    def submit_many(self, frames: list[bytes]) -> int:
        """Spool ``frames`` in order, as ``submit`` would one by one; return how
        many were taken (fewer only when a ``block`` spool filled up: the caller
        holds the rest).

        Why: the per-frame lock round trip with the delivery threads (and the
        wake-up of each worker per frame) was a tenth of the daemon's time
        under a storm; a batch takes each target's lock once.
        """
        taken = 0
        with contextlib.ExitStack() as stack:
            for worker in self.workers:
                stack.enter_context(worker.cond)
            try:
                for frame in frames:
                    able = []
                    for worker in self.workers:
                        data = worker.fitted(frame)
                        if data is not None:
                            able.append((worker, data))
                    for worker, data in able:
                        if not worker.accepts(data):
                            worker.room.clear()
                            return taken
                    for worker, data in able:
                        worker.append(data, notify=False)
                    taken += 1
            finally:
                for worker in self.workers:
                    worker.cond.notify()
        return taken

    def wait_for_room(self, timeout: float) -> None:
        """Sleep until a spool released something or ``timeout`` passed (for ``block``)."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.room.wait(max(0.0, deadline - time.monotonic()))

    def pending(self) -> bool:
        """Whether any target still has unreleased frames."""
        return any(worker.pending() for worker in self.workers)

    def counters(self) -> dict[str, int]:
        """Counters summed over the targets (names: ``COUNTER_NAMES``)."""
        total: collections.Counter[str] = collections.Counter(dict.fromkeys(COUNTER_NAMES, 0))
        for worker in self.workers:
            total.update(worker.counters())
        return dict(total)

    def target_counters(self) -> dict[str, dict[str, int]]:
        """Counters per target, keyed by the target's canonical string."""
        return {str(worker.target): worker.counters() for worker in self.workers}

    def close(self, flush_timeout: float = 5.0) -> None:
        """Send what can be sent within ``flush_timeout`` seconds, then stop.

        Bounded: after the deadline stuck sends are aborted; unreleased frames
        stay in the disk spool for the next start.
        """
        deadline = time.monotonic() + flush_timeout
        for worker in self.workers:
            worker.begin_drain()
        for worker in self.workers:
            worker.join(deadline - time.monotonic())
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            if not worker.join(worker.config.transport.connect_timeout + 1.0):
                log.error("%s: delivery worker did not stop", worker.transport.name)
        for worker in self.workers:
            with worker._lock:
                worker.transport.close()
                worker.spool.close()

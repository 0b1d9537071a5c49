"""Delivery: the thin I/O loop that drives each target's :class:`DeliveryState`.

All reliability decisions (what is in flight, what is done, what goes again
after a broken connection) are in the pure :mod:`audit_heka.core.delivery_state`;
this module only moves bytes and reads clocks. Each target gets a worker
thread: TLS handshakes, connects and fsyncs block by nature, and the caller
(the shipper) must never wait on a slow receiver except by choice, when a
target's bounded queue is full -- then it stops reading the journal, which
keeps everything (the journal is the one durable store; there is no spool).

Frames carry a ``token`` (the journal position of the event's first record);
:meth:`Delivery.lowest_token` is the oldest token some target has not done
yet, which the shipper's cursor never passes.

When is a frame done (see delivery_state): stream targets (tcp, tls) once
the receiver's TCP acknowledged its bytes (SIOCOUTQ) and ``hold`` seconds
passed; file once fsync-ed per the fsync policy; udp and stdout once the
kernel took the write.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from audit_heka.core.backoff import Backoff
from audit_heka.core.delivery_state import COUNTER_NAMES as STATE_COUNTERS
from audit_heka.core.delivery_state import DEFAULT_MAX_BYTES, DeliveryState
from audit_heka.outputs.target import Target
from audit_heka.outputs.transport import TransportOptions, open_transport

if TYPE_CHECKING:
    from audit_heka.outputs.transport import Transport  # a Protocol: for the type checker only

log = logging.getLogger(__name__)

#: Every counter ``Delivery.counters`` reports (all present, 0 when nothing happened).
COUNTER_NAMES = (
    *STATE_COUNTERS,
    "send_errors",  # connections lost while sending or found closed before sending
    "connect_errors",  # failed connection attempts
    "reconnects",  # successful connections after the first
    "refitted",  # frames degraded again to fit this target (UDP datagram size)
    "malformed",  # frames the stdout target could not decode
    "discarded",  # frames for a target that is gone for good (stdout closed by its reader)
)


#: Degrades a frame so that it is at most ``max_frame`` bytes, or None
#: (``session.Framer.refit``).
Refit = Callable[[bytes, int], bytes | None]

#: Longest sleep of an idle worker (nothing queued, nothing in flight).
IDLE_WAIT = 1.0
#: Most bytes written with one send when the transport joins frames.
JOIN_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Delivery settings; the shipper fills it from run.json."""

    #: Bytes of frames each target may hold not yet done (then the caller waits).
    max_bytes: int = DEFAULT_MAX_BYTES
    #: Seconds an acknowledged frame stays re-sendable (stream targets).
    hold: float = 1.0
    backoff_base: float = 0.1
    backoff_cap: float = 30.0
    #: Idle wake-up period of the workers (settling acks, timed fsync).
    poll_interval: float = 0.05
    transport: TransportOptions = field(default_factory=TransportOptions)


class TargetWorker:
    """One target: its delivery state, its transport, its thread."""

    def __init__(
        self,
        target: Target,
        transport: Transport,
        config: DeliveryConfig,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        refit: Refit | None = None,
    ) -> None:
        self.target = target
        self._refit = refit
        self.transport = transport
        self.config = config
        self.state = DeliveryState(hold=config.hold if target.is_stream else 0.0,
                                   max_bytes=config.max_bytes)
        self._clock = clock
        self._backoff = Backoff(config.backoff_base, config.backoff_cap, rng or random.Random())
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._errors: dict[str, int] = dict.fromkeys(
            ("send_errors", "connect_errors", "reconnects", "refitted"), 0)
        self._retry_at = 0.0
        self._ever_connected = False
        self.last_error = ""
        #: Set whenever frames are done (wakes a caller waiting for room).
        self.room = threading.Event()
        #: Called (in this worker's thread) after frames are done.
        self.on_done: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, name=f"delivery {transport.name}",
                                        daemon=True)

    # ----------------------------------------------------------- caller side
    def start(self) -> None:
        self._thread.start()

    def fitted(self, frame: bytes) -> tuple[bytes, bool]:
        """The frame as this target can carry it, and whether it was refitted.

        Why here: the frame is built once for every target at Heka's
        ``max_message_size``; only a target with a smaller limit (UDP's
        datagram) needs a smaller one, and only for its own copy. A frame
        that cannot be refitted is returned as is: the worker refuses it when
        it comes to send it (counted ``oversize`` there, in order).
        """
        limit = self.transport.max_frame
        if limit is None or len(frame) <= limit or self._refit is None:
            return frame, False
        smaller = self._refit(frame, limit)
        if smaller is None or len(smaller) > limit:
            return frame, False
        return smaller, True

    def push_locked(self, data: bytes, token: int | None, *, refitted: bool) -> None:
        """Queue a frame (hold ``cond``), counting a refitted copy."""
        self.state.push(data, token)
        if refitted:
            self._errors["refitted"] += 1

    def counters(self) -> dict[str, int]:
        with self.cond:
            out = dict(self.state.counters)
            out.update(self._errors)
        for name, value in self.transport.errors.items():
            out[name] = out.get(name, 0) + value
        return out

    def status(self) -> dict[str, object]:
        """State for ``shipper.status``: connected, pending frames, last error."""
        with self.cond:
            return {
                "connected": self.transport.connected,
                "pending": self.state.pending,
                "pending_bytes": self.state.pending_bytes,
                "in_flight": self.state.in_flight,
                "last_error": self.last_error,
                **self.counters_locked(),
            }

    def counters_locked(self) -> dict[str, int]:
        out = dict(self.state.counters)
        out.update(self._errors)
        return out

    def pending(self) -> bool:
        with self.cond:
            return self.state.pending > 0

    def begin_drain(self) -> None:
        self._draining.set()
        with self.cond:
            self.cond.notify_all()

    def stop(self) -> None:
        self._stop.set()
        self.transport.abort()
        with self.cond:
            self.cond.notify_all()

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
            self._errors["send_errors"] += 1

    def _connect(self) -> bool:
        wait = self._retry_at - self._clock()
        if wait > 0:
            self._stop.wait(min(wait, 0.25))
            return False
        try:
            self.transport.connect()
        except (OSError, ValueError) as exc:
            self._errors["connect_errors"] += 1
            message = f"{self.transport.name}: cannot connect: {exc}"
            if message != self.last_error:
                log.warning("%s (retrying with backoff)", message)
                self.last_error = message
            self._retry_at = self._clock() + self._backoff.next_delay()
            return False
        if self._ever_connected:
            self._errors["reconnects"] += 1
        self._ever_connected = True
        self.last_error = ""
        with self.cond:
            self.state.on_connected()
        return True

    def _lost(self, why: str) -> None:
        self.transport.close()
        if self._stop.is_set():
            return
        self._errors["send_errors"] += 1
        self.last_error = f"{self.transport.name}: {why}"
        log.warning("%s: %s; will resend what was not acknowledged", self.transport.name, why)
        with self.cond:
            self.state.on_connection_lost()
        self._retry_at = self._clock() + self._backoff.next_delay()

    def _settle(self) -> None:
        """Tell the state what the far side acknowledged (hold ``cond``)."""
        if not self.state.in_flight or not self.transport.connected:
            return
        acked = self.state.written - self.transport.unacked_bytes()
        if self.state.on_acked(acked, self._clock()):
            self._backoff.reset()
            self.room.set()
            if self.on_done is not None:
                self.on_done()

    def _step(self) -> None:
        with self.cond:
            self._settle()
            data = self.state.next_frame()
            if data is None:
                self.transport.tick()
                self._settle()
                if self.state.in_flight:
                    # Acknowledgements (SIOCOUTQ, fsync) raise no event: look again soon.
                    self.cond.wait(self.config.poll_interval)
                elif not self._draining.is_set():
                    self.cond.wait(IDLE_WAIT)  # push() and stop() notify
                return
            limit = self.transport.max_frame
            if limit is not None and len(data) > limit:
                self.state.on_refused()
                log.error("%s: frame of %d bytes exceeds the datagram size %d: not sent",
                          self.transport.name, len(data), limit)
                return
            # One write for what is queued: at light load a batch of the
            # shipper's events costs one wake-up, one liveness check, one
            # send and one acknowledgement poll instead of one per frame.
            frames = (self.state.next_frames(JOIN_BYTES) if self.transport.joins_frames
                      else [data])
        try:
            self.transport.send(frames[0] if len(frames) == 1 else b"".join(frames))
        except OSError as exc:
            self._lost(f"send failed: {exc}")
            return
        with self.cond:
            now = self._clock()
            for _ in frames:
                self.state.on_sent(now)


class Delivery:
    """Every target of a shipper. ``submit`` frames with their tokens,
    ``lowest_token`` for the cursor, ``close`` to drain and stop."""

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
        """Open the transports (not connected yet) and start one worker per target.

        ``refit(frame, max_frame)`` degrades a frame for a target whose limit
        is below the frame's size (``session.Framer.refit``); without it such
        frames are counted ``oversize``.

        Raises ``ValueError`` (bad TLS files, bad options) with a clear message.
        """
        workers = [TargetWorker(t, open_transport(t, config.transport), config, clock, rng, refit)
                   for t in targets]
        for worker in workers:
            worker.start()
        return cls(workers)

    def submit(self, frame: bytes, token: int | None = None) -> bool:
        """Queue ``frame`` for every target; False (nothing queued) if one is full."""
        return self.submit_many([(frame, token)]) == 1

    def submit_many(self, frames: Sequence[bytes | tuple[bytes, int | None]]) -> int:
        """Queue frames in order, all or nothing per frame; return how many were
        taken (fewer when a target's queue filled up: the caller keeps the rest).

        One lock round per target per batch, not per frame.
        """
        taken = 0
        # Per-target copies first, outside the locks (refitting decodes and
        # re-encodes; only frames over a target's limit pay for it).
        copies = []
        for item in frames:
            data, token = (item, None) if isinstance(item, bytes) else item
            copies.append(([w.fitted(data) for w in self.workers], token))
        for worker in self.workers:
            worker.cond.acquire()
        try:
            for fitted, token in copies:
                if not all(w.state.has_room(len(data))
                           for w, (data, _) in zip(self.workers, fitted, strict=True)):
                    for worker in self.workers:
                        worker.room.clear()
                    break
                for worker, (data, refitted) in zip(self.workers, fitted, strict=True):
                    worker.push_locked(data, token, refitted=refitted)
                taken += 1
        finally:
            for worker in self.workers:
                worker.cond.notify()
                worker.cond.release()
        return taken

    def wait_for_room(self, timeout: float) -> None:
        """Sleep until a target finished frames or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.room.wait(max(0.0, deadline - time.monotonic()))

    def lowest_token(self) -> int | None:
        """The oldest token not done by every target (None: all done)."""
        lowest: int | None = None
        for worker in self.workers:
            with worker.cond:
                token = worker.state.lowest_token()
            if token is not None and (lowest is None or token < lowest):
                lowest = token
        return lowest

    def pending(self) -> bool:
        """Whether any target still has frames not done."""
        return any(worker.pending() for worker in self.workers)

    def counters(self) -> dict[str, int]:
        """Counters summed over the targets (names: ``COUNTER_NAMES``)."""
        total = dict.fromkeys(COUNTER_NAMES, 0)
        for worker in self.workers:
            for name, value in worker.counters().items():
                total[name] = total.get(name, 0) + value
        return total

    def target_counters(self) -> dict[str, dict[str, int]]:
        """Counters per target, keyed by the target's canonical string."""
        return {str(worker.target): worker.counters() for worker in self.workers}

    def target_status(self) -> dict[str, dict[str, object]]:
        """State and counters per target (``shipper.status``)."""
        return {str(worker.target): worker.status() for worker in self.workers}

    def close(self, flush_timeout: float = 5.0) -> None:
        """Send what can be sent within ``flush_timeout`` seconds, then stop.

        Bounded: after the deadline stuck sends are aborted. What was not
        done is still in the journal, after the cursor, for the next start.
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
            with worker.cond:
                worker.transport.close()

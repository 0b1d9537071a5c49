"""Delivery reliability of one target as a pure state object.

Why pure: what is in flight, what is acknowledged and what must go again
after a broken connection is the whole reliability logic of delivery; with
threads, locks and clocks around it, it could only be tested through real
sockets. Here it takes frames, ``now`` and acknowledged byte counts, and
answers "what to write next" and "what is done" -- as aioquic's
``recovery.py`` tracks sent packets and acks without touching a socket.
A thin I/O loop (``audit_heka.delivery``) drives it.

The rules:

* Frames are queued in order, each with an opaque ``token`` (the shipper
  passes the journal position of the event's first record).
* :meth:`next_frame` gives the next frame to write; after writing it whole,
  the loop calls :meth:`on_sent` with ``now``. Bytes are counted per
  connection.
* :meth:`on_acked` takes how many bytes of this connection the far side has
  acknowledged (for TCP/TLS: bytes written minus SIOCOUTQ; for a file: bytes
  written minus the ones not yet fsync-ed; UDP/stdout: all) and ``now``.
  A frame is *done* when all its bytes are acknowledged **and** ``hold``
  seconds have passed since it was written: Heka has no application-level
  acknowledgement, so a receiver killed with acknowledged frames still
  unread in its socket buffer loses them; the last ``hold`` seconds stay
  re-sendable.
* :meth:`on_connection_lost` makes every frame not done go again, from the
  oldest (the receiver's splitter drops a partial frame, so a frame cut by a
  disconnect arrives whole later). Duplicates are harmless (deterministic
  uuids) and counted as ``resent``.
* A frame the transport can never carry (:meth:`on_refused`: a UDP datagram
  too large) is done at once and counted as ``oversize``.

Memory is bounded by ``max_bytes`` of queued frames: :meth:`has_room` says
whether the caller may queue more; when it may not, the caller stops reading
its input (the shipper: the journal keeps the rest).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

#: Default bound on the bytes of frames queued per target (not yet done).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class _Entry:
    seq: int
    frame: bytes
    token: int | None
    end: int = -1  # bytes of this connection once the frame was written (-1: not written)
    written_at: float = 0.0
    refused: bool = False  # the target can never carry it: done once reached


COUNTER_NAMES = (
    "queued",  # frames queued for this target
    "sent",  # frames written whole (resends included)
    "resent",  # frames written again after a reconnect
    "acked",  # frames done (acknowledged and held)
    "oversize",  # frames the target can never carry (datagram size): not sent, counted
)


class DeliveryState:
    """In flight / acknowledged / to resend, for one target. Sans-IO."""

    def __init__(self, *, hold: float = 0.0, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.hold = hold
        self.max_bytes = max_bytes
        self._queue: deque[_Entry] = deque()
        self._next = 0  # index in _queue of the next frame to write
        self._written = 0  # bytes written on the current connection
        self._bytes = 0  # bytes of the frames in _queue
        self._seq = 0
        self._max_sent_seq = -1
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)

    # ----------------------------------------------------------------- queue
    def has_room(self, size: int = 0) -> bool:
        """Whether a frame of ``size`` bytes may be queued now (one always fits
        into an empty queue, so an oversize frame never blocks forever)."""
        return not self._queue or self._bytes + size <= self.max_bytes

    def push(self, frame: bytes, token: int | None = None) -> None:
        """Queue a frame to send (the caller checked :meth:`has_room`)."""
        self._queue.append(_Entry(self._seq, frame, token))
        self._seq += 1
        self._bytes += len(frame)
        self.counters["queued"] += 1

    @property
    def pending(self) -> int:
        """Frames not done yet (queued or in flight)."""
        return len(self._queue)

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    @property
    def in_flight(self) -> int:
        """Frames written on this connection and not done yet."""
        return self._next

    def lowest_token(self) -> int | None:
        """The lowest token of a frame not done (None: all done).

        Tokens need not grow in queue order (an event that timed out is
        completed after later ones), so this is a scan: called a few times a
        second, not per frame.
        """
        return min((e.token for e in self._queue if e.token is not None), default=None)

    # ----------------------------------------------------------------- sending
    def next_frame(self) -> bytes | None:
        """The next frame to write, or None when everything queued was written."""
        while self._next < len(self._queue):
            entry = self._queue[self._next]
            if not entry.refused:
                return entry.frame
            # Refused before a reconnect: done as soon as the frames before it are.
            entry.end = self._written
            self._next += 1
        return None

    def next_frames(self, max_bytes: int) -> list[bytes]:
        """The frames to write next, in order, for a transport that joins them:
        the next frame (as :meth:`next_frame`) and those after it, up to
        ``max_bytes`` in all (always at least one) and never past a refused
        one. The caller writes them together and calls :meth:`on_sent` once
        for each: the accounting is the same as frame by frame."""
        first = self.next_frame()
        if first is None:
            return []
        frames = [first]
        size = len(first)
        queue = self._queue
        for index in range(self._next + 1, len(queue)):
            entry = queue[index]
            if entry.refused or size + len(entry.frame) > max_bytes:
                break
            frames.append(entry.frame)
            size += len(entry.frame)
        return frames

    def on_sent(self, now: float) -> None:
        """The frame from :meth:`next_frame` was written whole at ``now``."""
        entry = self._queue[self._next]
        self._next += 1
        self._written += len(entry.frame)
        entry.end = self._written
        entry.written_at = now
        self.counters["sent"] += 1
        if entry.seq <= self._max_sent_seq:
            self.counters["resent"] += 1
        else:
            self._max_sent_seq = entry.seq

    def on_refused(self) -> None:
        """The frame from :meth:`next_frame` can never be carried: done, counted."""
        entry = self._queue[self._next]
        self._next += 1
        entry.end = self._written
        entry.written_at = float("-inf")
        entry.refused = True
        self.counters["oversize"] += 1

    @property
    def written(self) -> int:
        """Bytes written on the current connection."""
        return self._written

    def on_acked(self, acked_bytes: int, now: float) -> list[int | None]:
        """The far side acknowledged ``acked_bytes`` of this connection; return
        the tokens of the frames now done, oldest first."""
        done: list[int | None] = []
        while self._next:
            head = self._queue[0]
            if head.end > acked_bytes or (not head.refused and now - head.written_at < self.hold):
                break
            self._queue.popleft()
            self._next -= 1
            self._bytes -= len(head.frame)
            if not head.refused:
                self.counters["acked"] += 1
            done.append(head.token)
        return done

    def next_ack_deadline(self) -> float | None:
        """When the oldest in-flight frame's ``hold`` runs out (None: nothing in flight)."""
        if not self._next:
            return None
        return self._queue[0].written_at + self.hold

    def on_connection_lost(self) -> None:
        """Everything not done goes again on the next connection, oldest first."""
        for index in range(self._next):
            self._queue[index].end = -1
        self._next = 0
        self._written = 0

    def on_connected(self) -> None:
        """A new connection: byte counts start from zero (nothing in flight on it)."""
        self.on_connection_lost()

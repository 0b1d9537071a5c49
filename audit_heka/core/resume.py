"""Where an interrupted replay may start again without losing an event.

``replay`` sends without a spool, so when it stops early (Ctrl-C, SIGTERM, a
receiver reset) it must say from which input line a second run loses
nothing. That line is not simply "the last line read":

* events still being assembled started at earlier lines (the pipeline knows
  the line of each pending event's first record: ``Session.lowest_pending``);
* frames written to a TCP socket may not have reached the receiver: only
  bytes the receiver's TCP acknowledged (SIOCOUTQ), and acknowledged at
  least ``hold`` seconds ago (a receiver killed with unread data in its
  socket loses it, as the daemon's delivery assumes too), count as delivered.

So after each batch of frames the caller records a *checkpoint*: "once every
byte written so far is delivered, re-reading from line M loses nothing". The
resume point is the mark of the newest checkpoint known delivered. What is
sent twice on resume are the events between that line and the stop, with the
same deterministic uuids: receivers deduplicate them.

Sans-IO: byte counts, acknowledgements and ``now`` come from the caller.
"""

from __future__ import annotations

from collections import deque

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class Checkpoint:
    """A resume point waiting for its bytes to be delivered (a plain class: start-up)."""

    __slots__ = ("at", "end", "frames", "mark")

    def __init__(self, end: int, at: float, mark: int, frames: int) -> None:
        self.end: Final = end  # bytes written when it was taken
        self.at: Final = at  # when (the caller's clock)
        self.mark: Final = mark  # re-read from here once those bytes are delivered
        self.frames: Final = frames  # frames written when it was taken


class ResumeTracker:
    """The delivered resume point of a stream of frames (see the module docstring)."""

    def __init__(self, start_mark: int, hold: float = 0.0) -> None:
        self.hold = hold
        #: Re-reading from this mark loses nothing (everything before it is delivered).
        self.safe_mark = start_mark
        self.written = 0  # bytes written
        self.frames = 0  # frames written
        self.delivered_frames = 0  # frames known delivered (covered by ``safe_mark``)
        self.delivered_bytes = 0
        self._checkpoints: deque[Checkpoint] = deque()

    def sent(self, nbytes: int) -> None:
        """A whole frame of ``nbytes`` was written."""
        self.written += nbytes
        self.frames += 1

    def checkpoint(self, mark: int, now: float) -> None:
        """Once everything written so far is delivered, resuming at ``mark`` is safe.

        Marks never decrease; a checkpoint with no new bytes replaces the last one.
        """
        last = self._checkpoints[-1] if self._checkpoints else None
        if last is not None and last.end == self.written:
            self._checkpoints[-1] = Checkpoint(last.end, last.at, max(mark, last.mark),
                                               last.frames)
            return
        if last is None and self.written == self.delivered_bytes:
            self.safe_mark = max(self.safe_mark, mark)  # nothing in flight
            return
        self._checkpoints.append(Checkpoint(self.written, now, mark, self.frames))

    def acknowledged(self, acked_upto: int, now: float) -> None:
        """The receiver has acknowledged the first ``acked_upto`` bytes (as of ``now``).

        Checkpoints acknowledged at least ``hold`` seconds ago become the resume
        point. Pass ``now=float("inf")`` when the receiver is known to be healthy
        (a clean stop), so acknowledged means delivered.
        """
        while self._checkpoints:
            head = self._checkpoints[0]
            if head.end > acked_upto or now - head.at < self.hold:
                break
            self._checkpoints.popleft()
            self.safe_mark = max(self.safe_mark, head.mark)
            self.delivered_frames = head.frames
            self.delivered_bytes = head.end

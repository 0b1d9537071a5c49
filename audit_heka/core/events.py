"""Group records into events: all records of one (node, serial, time).

The kernel writes an event as several records that share
``audit(SEC.MSEC:SERIAL)``: SYSCALL, aux records, CWD, PATH..., PROCTITLE, and
on the netlink stream an EOE ("end of event"). Records of different events can
interleave (several CPUs), and some events never get an EOE: records logged
without a syscall context have a serial of their own, and auditd does not
write EOE lines to its log files. So an event is complete when

* an EOE arrives for it (EOE only ends events; it is not kept in them);
* on the live stream (``live=True``), its record is of a user-space or
  KERNEL type (USER 1005, 1100-1299, 2000, 2100-2999): a message that
  normally stands alone, and waiting for an EOE that may never come would
  delay every such event by ``timeout``. (auparse also closes on LOGIN 1006
  and MAC_UNLBL_* 1406-1419, but the kernel logs those inside a syscall, so a
  SYSCALL record with the same serial follows; closing there would split the
  event -- which newer audit-userspace fixed for LOGIN.) The cost: a
  user-space message sent during an audited syscall (systemd's SERVICE_START
  inside its sendmsg, when sendmsg is audited) gets the syscall's serial, and
  the syscall's records then form part 1 of the event;
* in log mode (``live=False``: files have no EOE), its PROCTITLE arrives --
  normally the last record of a syscall event. A user-space record does NOT
  complete an event in log mode (issue 16): on real logs it can share its
  serial with the SYSCALL/SOCKADDR/PROCTITLE records that follow it, and
  ``ausearch`` shows them as one event. Stand-alone user records are
  completed by the timeout below (event time), the window, or the end of
  input;
* no record arrived for it for ``timeout`` seconds of ``now``. ``now`` is a
  parameter, not a clock: replay passes event time (auparse's EOE_TIMEOUT of
  2 s of event time), the live source passes a monotonic clock;
* or more than ``max_in_flight`` events are pending: the least recently
  updated one is flushed (counted in ``overflowed``).

No record is ever dropped or duplicated: a record that arrives for an event
already completed (after a timeout, an overflow, or a record after PROCTITLE)
starts a new *part* of that event (``Event.part`` 1, 2, ...; counted in
``late_records``) so that the message built from it gets a uuid of its own.

On the live stream the assembler also counts serial gaps as possible losses:
serials are allocated in order, so a serial that never shows up (within a
window, since events of different CPUs interleave) is an event the kernel
lost or filtered.
"""

from __future__ import annotations

from collections import OrderedDict

from audit_heka.core.records import Record
from audit_heka.value import Value

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

EOE = 1320
PROCTITLE = 1327
EXPIRE_PER_RECORD = 2  # log mode: timed-out events completed per record at most
EOE_TIMEOUT = 2.0  # auditd's end_of_event_timeout default (seconds)
DEFAULT_MAX_IN_FLIGHT = 4096
CLOSED_MEMORY = 8192  # completed keys remembered to place late records
_NEVER = float("inf")  # the head time of no pending event: never due
GAP_WINDOW = 4096  # serials below the highest seen by more than this are settled
SERIAL_SPACE = 1 << 32

Key = tuple[str | None, int, int, int]  # node, serial, seconds, milliseconds


#: Types the kernel logs without a syscall context: never more records (1005, the user
#: messages 1100-1299, 2000, 2100-2999).
STANDS_ALONE = frozenset((1005, *range(1100, 1300), 2000, *range(2100, 3000)))
#: Whether a record of this type stands alone: the set's own look-up, no function of
#: ours around it (the lane asks it for every new line).
stands_alone = STANDS_ALONE.__contains__


class Event(Value):
    """All records of one audit event, in arrival order (EOE not included).

    A :class:`~audit_heka.value.Value`, not a dataclass: start-up cost (measured there).
    """

    __slots__ = ("milliseconds", "node", "part", "records", "seconds", "serial")

    def __init__(self, node: str | None, serial: int, seconds: int, milliseconds: int,
                 records: tuple[Record, ...], part: int = 0) -> None:
        self.node: Final = node
        self.serial: Final = serial
        self.seconds: Final = seconds
        self.milliseconds: Final = milliseconds
        self.records: Final = records
        self.part: Final = part  # > 0 only for records that arrived after the event was completed

    def _as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "serial": self.serial, "seconds": self.seconds,
                "milliseconds": self.milliseconds, "records": self.records, "part": self.part}

    @property
    def timestamp_ns(self) -> int:
        return self.seconds * 1_000_000_000 + self.milliseconds * 1_000_000


class _Pending:
    """The records of an event still open (a plain class: see Event)."""

    __slots__ = ("last_seen", "mark", "part", "records")

    def __init__(self, mark: int = 0) -> None:
        self.records: list[Record] = []
        self.last_seen = 0.0
        self.part = 0
        self.mark = mark  # the caller's position of the first record (replay: its line)


class Assembler:
    """Records in (any interleaving), events out. Sans-IO: time is ``now``."""

    def __init__(
        self,
        *,
        live: bool = False,
        timeout: float = EOE_TIMEOUT,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        track_gaps: bool | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.live = live
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.track_gaps = live if track_gaps is None else track_gaps
        self._pending: OrderedDict[Key, _Pending] = OrderedDict()
        #: last_seen of the first pending event (the one expire() looks at), or +inf.
        self._head_seen = _NEVER
        self._closed: OrderedDict[Key, int] = OrderedDict()  # key -> next part number
        # Counters (read by status/health reporting).
        self.records_in = 0
        self.events_out = 0
        self.completed_by_eoe = 0
        self.completed_alone = 0  # stand-alone types (live), PROCTITLE (log mode)
        self.timed_out = 0
        self.overflowed = 0
        self.flushed = 0  # pending at flush() (end of input)
        self.late_records = 0  # records that arrived after their event was completed
        self.orphan_eoe = 0  # EOE for no known event
        self.serial_gaps = 0  # serials never seen (live): possible losses
        self._highest_serial: int | None = None
        self._missing: OrderedDict[int, None] = OrderedDict()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def oldest_mark(self) -> int | None:
        """The smallest ``mark`` of a pending event (None when nothing is pending)."""
        return min((p.mark for p in self._pending.values()), default=None)

    # ------------------------------------------------------------------ input

    def add(self, record: Record, now: float, mark: int = 0) -> list[Event]:
        """Take one record; return the events it (and the passing of time) completed.

        ``mark`` is an opaque position of the record in the caller's input
        (replay passes its line number): :meth:`oldest_mark` tells from where
        to re-read to rebuild every pending event.
        """
        # Log mode: a burst of pending events (user records wait for their
        # timeout there) followed by a gap in the log would otherwise all
        # complete at one record; the Lua decoder does this work inside one
        # process_message call, under Heka's instruction limit. A few per
        # record drain any backlog (each record adds at most one event).
        out = self.expire(now, None if self.live else EXPIRE_PER_RECORD)
        return self.add_expired(record, now, mark, out)

    def first_step(self, serial: int, now: float) -> list[Event]:
        """What add() does for any record before it looks at the record's event: the
        expiry (all that is due in live mode, EXPIRE_PER_RECORD in log mode) and, when
        tracking gaps, the serial. For the session's lane (:meth:`may_hold`)."""
        out = self.expire(now, None if self.live else EXPIRE_PER_RECORD)
        if self.track_gaps:
            self._see_serial(serial)
        return out

    def first_step_due(self, now: float) -> bool:
        """Whether :meth:`first_step` at ``now`` would do anything: expire the first
        pending event (as :meth:`expire` looks at it) or track a serial. The lane asks
        this at every record; the answer is nearly always no."""
        return self.track_gaps or self._head_seen <= now - self.timeout

    def add_expired(self, record: Record, now: float, mark: int = 0,
                    out: list[Event] | None = None, serial_seen: bool = False) -> list[Event]:
        """add() without its first step, the expiry (:meth:`first_step`): for a caller
        that took it itself when the record came -- the session's lane, which holds
        records back (see :meth:`may_hold`); ``serial_seen``: and the serial's too."""
        if out is None:
            out = []
        key: Key = (record.node, record.serial, record.seconds, record.milliseconds)
        if self.track_gaps and not serial_seen:
            self._see_serial(record.serial)
        if record.type == EOE:
            pending = self._pending.pop(key, None)
            if pending is None:
                if key not in self._closed:
                    self.orphan_eoe += 1
                return out
            self.completed_by_eoe += 1
            out.append(self._close(key, pending))
            self._note_head()
            return out
        self.records_in += 1
        pending = self._pending.get(key)
        if pending is None:
            pending = _Pending(mark=mark)
            part = self._closed.get(key)
            if part is not None:
                pending.part = part
                self.late_records += 1
            self._pending[key] = pending
        else:
            if pending.part:
                self.late_records += 1
            self._pending.move_to_end(key)
        pending.records.append(record)
        pending.last_seen = now
        if record.type == PROCTITLE if not self.live else stands_alone(record.type):
            del self._pending[key]
            self.completed_alone += 1
            out.append(self._close(key, pending))
        elif len(self._pending) > self.max_in_flight:
            oldest, victim = self._pending.popitem(last=False)
            self.overflowed += 1
            out.append(self._close(oldest, victim))
        self._note_head()
        return out

    def expire(self, now: float, most: int | None = None) -> list[Event]:
        """Complete the events that saw no record for ``timeout`` seconds of ``now``.

        ``most``: complete no more than this many (the oldest); the others stay
        pending for the next call.
        """
        out: list[Event] = []
        limit = now - self.timeout
        while self._pending and (most is None or len(out) < most):
            key, pending = next(iter(self._pending.items()))
            if pending.last_seen > limit:
                break
            del self._pending[key]
            self.timed_out += 1
            out.append(self._close(key, pending))
        if out:
            self._note_head()
        return out

    def flush(self) -> list[Event]:
        """Complete every pending event (end of input, shutdown, idle follow)."""
        out: list[Event] = []
        while self._pending:
            key, pending = self._pending.popitem(last=False)
            self.flushed += 1
            out.append(self._close(key, pending))
        self._head_seen = _NEVER
        return out

    def may_hold(self, key: Key) -> bool:
        """Whether the records of event ``key`` may go by this assembler until their
        PROCTITLE (:meth:`went_by`), with the same outcome as if each had been added.

        True (with a positive timeout) for an event neither pending nor
        completed before, with room for one more pending event. Then add()
        would hold its records -- holding them cannot overflow -- and close
        the event at its PROCTITLE (log mode) or its EOE (live). The caller
        takes add()'s first step itself for each record as it comes
        (:meth:`first_step`), makes sure the held event itself would not time
        out meanwhile, and hands back records it held with :meth:`add_expired`
        if the event turns out otherwise. The session's hot path
        (audit_heka.core.session) uses it to skip the per-record bookkeeping of the
        common case.
        """
        return (self.timeout > 0 and key not in self._pending and key not in self._closed
                and len(self._pending) < self.max_in_flight)

    def went_by(self, key: Key, records: int, by_eoe: bool = False) -> None:
        """Count an event of ``records`` records that went by while :meth:`may_hold`
        said so, closed by its PROCTITLE (log mode) or, ``by_eoe``, its EOE (live):
        the state add() would have left."""
        self.records_in += records
        if by_eoe:
            self.completed_by_eoe += 1
        else:
            self.completed_alone += 1
        self._closed[key] = 1
        if len(self._closed) > CLOSED_MEMORY:
            self._closed.popitem(last=False)
        self.events_out += 1

    def reset_serials(self) -> None:
        """Forget the serial history (a new kernel connection or boot)."""
        self._highest_serial = None
        self._missing.clear()

    # --------------------------------------------------------------- internals

    def _note_head(self) -> None:
        """The first pending event changed (or its time): keep its last_seen at hand."""
        pending = self._pending
        self._head_seen = next(iter(pending.values())).last_seen if pending else _NEVER

    def _close(self, key: Key, pending: _Pending) -> Event:
        self._closed[key] = pending.part + 1
        self._closed.move_to_end(key)
        if len(self._closed) > CLOSED_MEMORY:
            self._closed.popitem(last=False)
        self.events_out += 1
        node, serial, seconds, milliseconds = key
        return Event(node, serial, seconds, milliseconds, tuple(pending.records), pending.part)

    def _see_serial(self, serial: int) -> None:
        highest = self._highest_serial
        if highest is None:
            self._highest_serial = serial
            return
        ahead = (serial - highest) % SERIAL_SPACE  # wrap-around aware distance
        if ahead == 0:
            return
        if ahead < SERIAL_SPACE // 2:  # a newer serial
            if ahead > 1:
                skipped = min(ahead - 1, GAP_WINDOW)
                self.serial_gaps += ahead - 1
                for missing in range(serial - skipped, serial):
                    self._missing[missing % SERIAL_SPACE] = None
                while len(self._missing) > GAP_WINDOW:
                    self._missing.popitem(last=False)
            self._highest_serial = serial
        elif serial in self._missing:  # a late serial we had counted as missing
            del self._missing[serial]
            self.serial_gaps -= 1

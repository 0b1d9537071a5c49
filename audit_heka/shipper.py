"""The shipper: follow the journal, turn records into frames, deliver, move the cursor.

``python -m audit_heka.shipper --config STATE_DIR/run.json`` -- started (and
restarted) by the supervisor. The journal is the one durable store: the
shipper keeps no spool. It remembers only a cursor, the journal position of
the first record not yet acknowledged by every target, and after any restart
it re-derives the frames from there; they are byte-identical to the first
delivery because every uuid is a function of the event (host, time, serial).

The loop is single-threaded (the targets' own workers move bytes):

    follower.read()  -> lines (bounded per round)
    session.feed_lines() -> shipments (event, frame, position of its first record)
    delivery.submit  -> queued per target, or held when a target is full
                        (then the shipper stops reading: the journal keeps it)
    cursor           = min(oldest position not done by every target,
                           oldest position waiting in the assembler,
                           the follower's next line)

and sleeps in inotify (the reader's writes wake it) or until the session's
next deadline, the next status or health report. SIGTERM: read what the
journal holds, complete pending events, deliver within ``drain_seconds``,
persist the cursor, exit 0.

After each round the shipper writes its *consumed mark* (the position of the
first line not yet handed to the session) for the reader: under
``--journal-full drop-oldest`` what it has consumed is not given up
(:mod:`audit_heka.journal.consumed`).

Resuming: the follower starts ``WARMUP_BYTES`` before the cursor so that an
event whose records interleave with the cursor's event is assembled whole;
every event whose first record lies before the cursor was acknowledged by
every target already and is not sent again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from audit_heka.auditlog import AuditLogWriter
from audit_heka.core.counters import (
    LOSS_COUNTERS,
    READER_STATUS_NAME,
    SUPERVISOR_STATUS_NAME,
    UPSTREAM_COUNTERS,
)
from audit_heka.core.delivery_state import DEFAULT_MAX_BYTES
from audit_heka.core.events import Assembler
from audit_heka.core.health import health_message
from audit_heka.core.interpret import Interpreter
from audit_heka.core.schema import DEFAULT_MESSAGE_TYPE, MessageBuilder
from audit_heka.core.session import Session, Shipment
from audit_heka.delivery import COUNTER_NAMES, Delivery, DeliveryConfig
from audit_heka.heap import settle_for_streaming
from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, Signer
from audit_heka.host.accounts import AccountNames
from audit_heka.host.enrich import Enricher, LiveProcFS
from audit_heka.host.private_files import write_private_json
from audit_heka.journal.consumed import MarkWriter
from audit_heka.journal.cursor import CursorError, read_cursor, write_cursor
from audit_heka.journal.follower import COUNTER_NAMES as JOURNAL_COUNTERS
from audit_heka.journal.follower import Inotify, JournalFollower, find_file, journal_files
from audit_heka.journal.format import Cursor, format_cursor, parse_cursor
from audit_heka.logconfig import LEVELS, configure_logging
from audit_heka.outputs.file import FsyncPolicy
from audit_heka.outputs.target import Target, TlsOptions, parse_target
from audit_heka.outputs.transport import TransportOptions
from audit_heka.outputs.udp import DEFAULT_MAX_DATAGRAM

log = logging.getLogger("audit_heka.shipper")

#: Bytes of journal read per round: bounds the work between two looks at the
#: clock, the cursor and the signals.
ROUND_BYTES = 256 * 1024
#: Least seconds between the starts of two rounds under load (ShipperConfig.round_interval).
ROUND_INTERVAL = 0.02
#: Bytes re-read before the cursor at start (context for interleaved events).
WARMUP_BYTES = 256 * 1024
STATUS_NAME = "shipper.status"
#: The signals the shipper handles; the supervisor starts it with them blocked
#: and :meth:`Shipper.run` unblocks them once its handlers are in place.
HANDLED_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
#: After this many unclean exits in a row at one cursor, the next round is
#: shipped raw (uninterpreted): a record that kills the process cannot make a
#: crash loop that ships nothing.
CRASH_LIMIT = 2


def worth_logging(count: int) -> bool:
    """The 1st, 10th, 100th and every 1000th occurrence: visible, not a flood."""
    return count in (1, 10, 100) or not count % 1000


class ShipperError(Exception):
    """The shipper cannot start (the message says why, for the operator)."""


@dataclass(frozen=True, slots=True)
class LogTarget:
    """``log:PATH``: events in auditd's log format, rotated like auditd's."""

    path: Path
    max_bytes: int = 8 * 1024 * 1024
    num_logs: int = 5


@dataclass(frozen=True, slots=True)
class ShipperConfig:
    """What the shipper needs of run.json (the rest is the reader's)."""

    journal_dir: Path
    state_dir: Path
    #: Where shipper.status goes (beside the supervisor's status file, which
    #: stays writable when the journal's disk is full); None: state_dir.
    status_dir: Path | None = None
    targets: tuple[Target, ...] = ()
    logs: tuple[LogTarget, ...] = ()
    hostname: str = field(default_factory=socket.gethostname)
    message_type: str = DEFAULT_MESSAGE_TYPE
    payload: bool = True
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    signer: Signer | None = None
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    health_interval: float = 60.0
    status_interval: float = 1.0
    #: Seconds between cursor saves while it moves. Each save is two fsyncs
    #: (the file, the directory); every 0.2 s they were 6-9 % of the shipper's
    #: CPU at 400 exec events/s. The cursor only bounds what a crash makes the
    #: next start send again (a clean stop saves it last); the delivery's
    #: ``hold`` keeps frames re-sendable for as long.
    cursor_interval: float = 1.0
    #: After an idle wake-up, wait this long before reading: at 400 exec events/s
    #: the shipper's CPU per event fell by 25-37 % with 10-25 ms (bench/RESULTS.md),
    #: well inside the 50 ms p99 light-load latency (bench/shipper_latency.py).
    batch_wait: float = 0.015
    #: Under load, the least time between the starts of two rounds. Why: a
    #: round's fixed cost (a wake-up with cold caches, the hand-over to the
    #: delivery thread and its wake-up, a send) was ~0.7 ms of CPU at 400 exec
    #: events/s, more than the events of a short round. Busy, a round follows
    #: each of the reader's writes (batched by its WAKE_INTERVAL) at once;
    #: this bounds the rounds when the reader writes more often (a storm).
    round_interval: float = ROUND_INTERVAL
    #: The reader's --journal-full: under drop-oldest, records missing where a
    #: journal file was deleted early are counted by the reader, not as serial gaps.
    journal_full: str = "block"
    drain_seconds: float = 5.0
    enrich: bool = False


def _get(data: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return default


def config_from_json(data: Mapping[str, Any]) -> ShipperConfig:
    """The shipper's settings from run.json (keys as ``run``'s options, dashes or
    underscores); raises ShipperError naming a bad value."""
    norm = {str(k).replace("-", "_"): v for k, v in data.items()}
    try:
        journal_dir = Path(_get(norm, "journal_dir", default="/var/lib/audit-heka/journal"))
        state_dir = Path(_get(norm, "state_dir", default=str(journal_dir)))
        targets: list[Target] = []
        logs: list[LogTarget] = []
        log_max = int(_get(norm, "log_max_bytes", default=8 * 1024 * 1024))
        log_num = int(_get(norm, "log_num_logs", default=5))
        raw_targets = _get(norm, "targets", "target", default=["-"])
        if isinstance(raw_targets, str):
            raw_targets = [raw_targets]
        for text in raw_targets:
            if text.startswith("log:"):
                logs.append(LogTarget(Path(text[4:]), log_max, log_num))
            else:
                targets.append(parse_target(text))
        signer = None
        keys = _get(norm, "hmac_keys", "hmac_key", default=[])
        if isinstance(keys, str):
            keys = [keys]
        if len(keys) > 1:
            raise ShipperError("give one signing key (hmac_key)")
        if keys:
            parsed = Signer.parse(keys[0])
            sha1 = _get(norm, "hmac_hash", default="md5") == "sha1"
            signer = Signer(parsed.name, parsed.version, parsed.key, "sha1" if sha1 else "md5")
        transport = TransportOptions(
            max_datagram=int(_get(norm, "udp_max_datagram", default=DEFAULT_MAX_DATAGRAM)),
            tls=TlsOptions(ca=_get(norm, "ca"), cert=_get(norm, "cert"), key=_get(norm, "key"),
                           server_name=_get(norm, "server_name"),
                           insecure=bool(_get(norm, "insecure", default=False))),
            fsync=FsyncPolicy.parse(str(_get(norm, "fsync", default="never"))),
            signers={signer.lookup_key: signer} if signer else {},
        )
        delivery = DeliveryConfig(
            max_bytes=int(_get(norm, "delivery_max_bytes", default=DEFAULT_MAX_BYTES)),
            hold=float(_get(norm, "delivery_hold", default=1.0)),
            transport=transport,
        )
        return ShipperConfig(
            journal_dir=journal_dir,
            state_dir=state_dir,
            status_dir=Path(_get(norm, "status_dir")) if _get(norm, "status_dir") else None,
            targets=tuple(targets),
            logs=tuple(logs),
            hostname=_get(norm, "hostname", default=None) or socket.gethostname(),
            message_type=_get(norm, "message_type", "type", default=DEFAULT_MESSAGE_TYPE),
            payload=bool(_get(norm, "payload", default=True)),
            max_message_size=int(_get(norm, "max_message_size",
                                      default=DEFAULT_MAX_MESSAGE_SIZE)),
            signer=signer,
            delivery=delivery,
            health_interval=float(_get(norm, "health_interval", default=60.0)),
            status_interval=float(_get(norm, "status_interval", default=1.0)),
            drain_seconds=float(_get(norm, "drain_seconds", default=5.0)),
            batch_wait=float(_get(norm, "batch_wait", default=0.015)),
            round_interval=float(_get(norm, "round_interval", default=ROUND_INTERVAL)),
            journal_full=str(_get(norm, "journal_full", default="block")),
            enrich=bool(_get(norm, "enrich", default=False)),
        )
    except (ValueError, TypeError) as exc:
        raise ShipperError(f"run.json: {exc}") from None


class Shipper:
    """One run of the shipper. Construct, then :meth:`run`."""

    def __init__(self, config: ShipperConfig) -> None:
        self.config = config
        self.started = time.time()
        self.enricher = Enricher(LiveProcFS()) if config.enrich else None
        # Names stay current: re-read when passwd/group change and on SIGHUP.
        self.users, self.groups = AccountNames.users(), AccountNames.groups()
        self._names_generation = (self.users.generation, self.groups.generation)
        self.interpreter = Interpreter(self.users, self.groups, os.uname().machine)
        builder = MessageBuilder(
            self.interpreter,
            hostname=config.hostname,
            message_type=config.message_type,
            payload=config.payload,
            enricher=self.enricher,
        )
        self.session = Session(builder, Assembler(live=True), signer=config.signer,
                               max_message_size=config.max_message_size)
        self.books: dict[str, int] = {
            "log_events": 0, "log_write_errors": 0, "health_messages": 0,
            "cursor_writes": 0, "cursor_errors": 0, "blocked_ms": 0, "line_errors": 0,
            "resumed_skipped": 0, "crashes_at_cursor": 0, "mark_errors": 0,
        }
        self._stop = False
        self._reload = False
        self._upstream: dict[str, int] = {}  # last counters read from supervisor/reader status
        self._wake_read = -1
        self._logged_build_errors = 0
        self._degraded = 0  # degraded events seen, for worth_logging
        self._state = "running"
        self._held: list[tuple[bytes, int | None]] = []
        self._stamps: dict[int, int] = {}  # token -> event time (ns), for the lag's age
        self._cursor: Cursor | None = None
        self._cursor_position = -1
        self._cursor_settled = False  # see JournalFollower.settled
        self._last_health: dict[str, int] = {}
        self._logged_losses: dict[str, int] = {}
        self._logs: list[AuditLogWriter] = []
        self._log_resume: Cursor | None = None
        self.delivery: Delivery | None = None
        self.follower: JournalFollower | None = None
        self._marks: MarkWriter | None = None
        self._mark_floor: Cursor | None = None  # the last run's mark, until passed
        self._mark_position = -1

    @property
    def status_path(self) -> Path:
        return (self.config.status_dir or self.config.state_dir) / STATUS_NAME

    # ----------------------------------------------------------------- signals
    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self._reload = True

    def stop(self) -> None:
        self._stop = True

    # --------------------------------------------------------------------- run
    def run(self) -> int:
        config = self.config
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop)
        # A signal writes to this pipe, which ends the inotify sleep at once.
        self._wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        # The supervisor reloads the rules on SIGHUP, then forwards it here:
        # the shipper re-reads user and group names (as auditd's HUP does).
        signal.signal(signal.SIGHUP, self._on_reload)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)  # see start_shipper
        try:
            cursor = read_cursor(config.journal_dir)
        except CursorError as exc:
            log.error("%s; starting at the oldest journal file", exc)
            cursor = None
        self._cursor = cursor
        inotify = Inotify(config.journal_dir)
        self.follower = JournalFollower(config.journal_dir, cursor, warmup=WARMUP_BYTES)
        try:
            self._marks = MarkWriter(config.journal_dir)
            self._mark_floor = self._marks.previous
        except OSError as exc:  # e.g. a planted symlink: ship on, without a mark
            log.error("cannot open the consumed mark: %s (drop-oldest counts from the "
                      "cursor: records this shipper has may count as given up)", exc)
        self.delivery = Delivery.open(config.targets, config.delivery,
                                      refit=self.session.framer.refit)
        for target in config.logs:
            self._logs.append(AuditLogWriter(target.path, target.max_bytes, target.num_logs))
        previous = self._previous_status()
        self._check_crash_loop(cursor, previous)
        self._log_resume = self._previous_log_cursor(previous)
        log.info("shipper running (pid %d), journal %s from %s -> %s", os.getpid(),
                 config.journal_dir, cursor or "the start",
                 ", ".join([str(t) for t in config.targets]
                           + [f"log:{t.path}" for t in config.logs]))
        settle_for_streaming()
        try:
            self._save_cursor()  # at once: the reader waits for a cursor before deleting
            self._write_status()  # at once: a crash loop is seen even if each run is short
            self._loop(inotify)
            self._drain()
            self._state = "stopped"
            self._write_status()
        finally:
            inotify.close()
            self.follower.close()
            if self._marks is not None:
                self._marks.close()
            for writer in self._logs:
                writer.close()
        return 0

    def _previous_status(self) -> dict[str, Any]:
        """The last run's shipper.status ({} when there is none or it is unreadable)."""
        try:
            previous = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {}
        return previous if isinstance(previous, dict) else {}

    def _previous_log_cursor(self, previous: Mapping[str, Any]) -> Cursor | None:
        """The last run's log high-water mark, if log: targets and its file remain."""
        mark = previous.get("log_cursor")
        if not self._logs or not isinstance(mark, dict):
            return None
        cursor = _cursor_from_json(mark)
        if cursor is None or find_file(journal_files(self.config.journal_dir), cursor) is None:
            return None  # gone, or its inode number now names a newer file
        return cursor

    def _check_crash_loop(self, cursor: Cursor | None, previous: Mapping[str, Any]) -> None:
        """Count unclean exits at this cursor (from the last status); past
        CRASH_LIMIT, ship the first round after the cursor raw."""
        assert self.follower is not None
        if previous.get("state") != "running":
            return
        same = cursor is not None and previous.get("cursor") == _cursor_json(cursor)
        if not same:
            return
        counters = previous.get("counters")
        crashes = 1
        if isinstance(counters, dict):
            with contextlib.suppress(TypeError, ValueError):
                crashes += int(counters.get("crashes_at_cursor", 0))
        self.books["crashes_at_cursor"] = crashes
        log.warning("the last shipper did not stop cleanly at cursor %s (%d time(s) in a row)",
                    cursor, crashes)
        if crashes >= CRASH_LIMIT:
            self.session.raw_below = self.follower.start_position + ROUND_BYTES
            log.error("shipping the events of the next %d journal bytes raw (uninterpreted) "
                      "so that one record cannot stop the shipper for good", ROUND_BYTES)

    def _loop(self, inotify: Inotify) -> None:
        assert self.follower is not None
        now = time.monotonic()
        next_status = now
        next_cursor = now + self.config.cursor_interval
        next_health = now + self.config.health_interval
        while not self._stop:
            self._refresh_names(force=self._reload)
            self._reload = False
            round_start = time.monotonic()
            lines_before = self.session.lines
            caught_up = self._round()
            now = time.monotonic()
            deadline = self.session.next_deadline()
            if deadline is not None and now >= deadline:
                self._take(self.session.expire(now))
                deadline = self.session.next_deadline()
            if now >= next_cursor:
                self._save_cursor()
                next_cursor = now + self.config.cursor_interval
            if now >= next_status:
                self._write_status()
                self._log_losses()
                next_status = now + self.config.status_interval
            if now >= next_health:
                self._send_health(final=False)
                next_health = now + self.config.health_interval
            if self._held:
                self._wait_for_room(0.05)
            elif caught_up:
                busy = self.session.lines != lines_before
                # Idle: sleep until the reader writes (inotify) or a timer is due;
                # the cursor's timer only while it has somewhere to move.
                cursor_due = next_cursor if self._cursor_moved() else None
                wake = min(x for x in (deadline, next_status, next_health, cursor_due)
                           if x is not None)
                if inotify.wait(max(0.0, wake - time.monotonic()), self._wake_read) \
                        and self.config.batch_wait:
                    # After a quiet spell, let a few more events arrive: the
                    # round, the hand-over to the delivery threads, the send and
                    # its acknowledgement are then paid once per batch instead
                    # of once per event. Busy, the reader's write is the batch
                    # (netlink/reader.py WAKE_INTERVAL): go, at most once per
                    # round_interval.
                    pause = (round_start + self.config.round_interval - time.monotonic()
                             if busy else self.config.batch_wait)
                    if pause > 0:
                        time.sleep(pause)

    def _round(self) -> bool:
        """One bounded round of reading and shipping; True when at the journal's end."""
        assert self.follower is not None
        if self._held and not self._submit_held():
            return False
        if self.follower.take_gap() and self.config.journal_full == "drop-oldest":
            # Under block the reader deletes only shipped files: a file gone
            # before its end is then an operator's doing, and its serials do
            # count as lost.
            self.session.input_gap()
        lines, at_end = self.follower.read(ROUND_BYTES)
        now = time.monotonic()
        # The round's lines in one call (the session's lane takes most of them in one
        # loop); one line must never stop the shipper: a line that raises is counted
        # and logged, and the others are shipped.
        failed: list[tuple[int, Exception]] = []
        self._take(self.session.feed_lines(
            [raw.decode("utf-8", "backslashreplace") for _, raw in lines], now,
            [position for position, _ in lines], failed))
        for i, exc in failed:
            position, raw = lines[i]
            self.books["line_errors"] += 1
            log.error("journal line at position %d could not be processed: %r", position,
                      raw[:200], exc_info=exc)
        self._publish_consumed()
        self._log_build_errors()
        self._submit_held()
        return at_end

    def _publish_consumed(self) -> None:
        """Tell the reader how far this shipper has consumed the journal (every
        line read so far is in the session now), then let go of the finished
        files behind that point (:mod:`audit_heka.journal.consumed`).

        A restart re-reads from the cursor, behind the last run's mark: that
        run had consumed up to its mark, so the mark is not moved back; it
        moves once this run passes it (or at once when its file is gone).
        """
        assert self.follower is not None
        position = max(self.follower.position, self.follower.start_position)
        if position == self._mark_position:
            return
        if self.follower.others_held():
            # The last run stopped in a file deleted under it: the reader counts
            # what it left unread there from its mark once it sees the file let
            # go. Replacing that mark (or letting go of our files, which the mark
            # does not cover) first would hide those records or count ours.
            return
        if self._marks is None:
            self.follower.release(position)
            return
        floor = self._mark_floor
        if floor is not None:
            at = self.follower.position_of(floor)
            if at is None and not self._ahead(floor, position):
                at = position  # its file is gone or behind ours: nothing to hold it for
            if at is None or position < at:
                self.follower.release(position)
                return
            self._mark_floor = None
        cursor = self.follower.cursor_at(position)
        if cursor is None:
            return
        try:
            self._marks.publish(cursor)
        except OSError as exc:
            self.books["mark_errors"] += 1
            if worth_logging(self.books["mark_errors"]):
                log.error("cannot write the consumed mark: %s (drop-oldest may count records "
                          "this shipper has as given up)", exc)
            return
        self._mark_position = position
        self.follower.release(position)

    def _ahead(self, mark: Cursor, position: int) -> bool:
        """Whether ``mark`` names a journal file after the one holding ``position``."""
        assert self.follower is not None
        files = journal_files(self.config.journal_dir)
        index = find_file(files, mark)
        here = self.follower.cursor_at(position)
        current = None if here is None else find_file(files, here)
        return index is not None and (current is None or index > current)

    def _log_build_errors(self) -> None:
        """Log events that went out raw because they could not be built."""
        count = self.session.build_errors
        if count == self._logged_build_errors:
            return
        for sample in list(self.session.build_error_samples)[
                -min(count - self._logged_build_errors, 3):]:
            log.error("%s: shipped raw with an error field (%d so far)", sample, count)
        self._logged_build_errors = count

    def _take(self, shipments: Sequence[Shipment]) -> None:
        """Shipments to log: targets and into the held list (submitted in order)."""
        start = self.follower.start_position if self.follower is not None else 0
        for item in shipments:
            if item.position is not None and item.position < start:
                # Acknowledged by every target before the restart.
                self.books["resumed_skipped"] += 1
                continue
            if self._logs and item.event is not None and self._log_wanted(item.position):
                for writer in self._logs:
                    self._write_log(writer, item)
            if item.degraded:
                self._degraded += 1
                if worth_logging(self._degraded):
                    log.warning("event %s degraded to fit max_message_size (its truncated "
                                "field says what was cut; %d so far)",
                                item.uuid.hex(), self._degraded)
            if item.frame is None:
                log.warning("event %s refused: its header alone exceeds max_message_size",
                            item.uuid.hex())
                continue
            if item.position is not None:
                self._stamps[item.position] = item.timestamp
            self._held.append((item.frame, item.position))

    def _log_wanted(self, position: int | None) -> bool:
        """Whether a log: copy of the event at ``position`` is still to be written.

        ``log:`` targets are written at once, not acknowledged, so after a
        restart the events between the cursor and the last run's log high-water
        mark (``log_cursor`` in its status) are already in the copy: skip them.
        """
        resume = self._log_resume
        if resume is None or position is None or self.follower is None:
            return True
        at = self.follower.position_of(resume)
        if at is None:
            return False  # still in a file older than the mark's
        if self.follower.position >= at and position >= at:
            self._log_resume = None
        return position >= at

    def _log_done_position(self) -> int:
        """Every event below this position is in the log: copies."""
        assert self.follower is not None
        candidates = [self.follower.position]
        pending = self.session.lowest_pending()
        if pending is not None:
            candidates.append(pending)
        return max(min(candidates), self.follower.start_position)

    def _write_log(self, writer: AuditLogWriter, item: Shipment) -> None:
        assert item.event is not None  # unparsable input has no records to write
        try:
            writer.write_event(item.event)
        except OSError as exc:
            self.books["log_write_errors"] += 1
            count = self.books["log_write_errors"]
            if worth_logging(count):
                log.error("%s: event %d not written: %s (%d so far)", writer.path,
                          item.event.serial, exc.strerror, count)
        else:
            self.books["log_events"] += 1

    def _submit_held(self) -> bool:
        """Queue the held frames; False when a target is full (some remain held)."""
        assert self.delivery is not None
        if not self._held:
            return True
        taken = self.delivery.submit_many(self._held)
        del self._held[:taken]
        return not self._held

    def _wait_for_room(self, timeout: float) -> None:
        assert self.delivery is not None
        began = time.monotonic()
        self.delivery.wait_for_room(timeout)
        self.books["blocked_ms"] += int((time.monotonic() - began) * 1000)

    # ------------------------------------------------------------------ cursor
    def cursor_position(self) -> int:
        """The position of the first record not yet done by every target."""
        assert self.follower is not None and self.delivery is not None
        candidates = [self.follower.position]
        for value in (self.delivery.lowest_token(), self.session.lowest_pending()):
            if value is not None:
                candidates.append(value)
        candidates += [token for _, token in self._held if token is not None]
        return max(min(candidates), self.follower.start_position)

    def _cursor_moved(self) -> bool:
        """Whether the persisted cursor may be behind where it could be (or can
        name its position better: see JournalFollower.settled).

        Cheap on purpose (asked at every idle wait): the cursor cannot pass
        what was read, so a saved cursor at the read position is done;
        anything else wakes the cursor timer, whose :meth:`_save_cursor`
        finds the exact position (a scan of the frames in flight).
        """
        assert self.follower is not None
        return self._cursor_position != self.follower.position or not self._cursor_settled

    def _save_cursor(self) -> None:
        assert self.follower is not None
        position = self.cursor_position()
        if position == self._cursor_position and self._cursor_settled:
            return
        cursor = self.follower.cursor_at(position)
        if cursor is None:
            return  # no journal file yet
        self._cursor_settled = self.follower.settled(position)
        if cursor == self._cursor:
            self._cursor_position = position
            return
        try:
            write_cursor(self.config.journal_dir, cursor)
        except OSError as exc:
            self.books["cursor_errors"] += 1
            log.error("cannot write the cursor: %s", exc)
            return
        self.books["cursor_writes"] += 1
        self._cursor = cursor
        self._cursor_position = position
        for token in [t for t in self._stamps if t < position]:
            del self._stamps[token]

    # ------------------------------------------------------------------- drain
    def _drain(self) -> None:
        """SIGTERM: ship what the journal holds within drain_seconds, save the cursor."""
        assert self.follower is not None and self.delivery is not None
        deadline = time.monotonic() + self.config.drain_seconds
        while time.monotonic() < deadline:
            at_end = self._round()
            if self._held:
                self._wait_for_room(min(0.05, max(0.0, deadline - time.monotonic())))
            elif at_end:
                break
        if not self._held:
            self._take(self.session.finish())
            while self._held and time.monotonic() < deadline:
                if not self._submit_held():
                    self._wait_for_room(min(0.05, max(0.0, deadline - time.monotonic())))
        self._send_health(final=True)
        self._submit_held()
        self.delivery.close(max(0.0, deadline - time.monotonic()))
        self._save_cursor()
        self._write_status()
        left = self.delivery.pending() or bool(self._held)
        log.info("shipper stopped; cursor %s%s", self._cursor,
                 " (frames not acknowledged stay in the journal for the next start)"
                 if left else "")

    # --------------------------------------------------------------- reporting
    def counters(self) -> dict[str, int]:
        out = dict(self.session.counters())
        out.update(dict.fromkeys(JOURNAL_COUNTERS, 0))
        if self.follower is not None:
            out.update(self.follower.counters)
        out.update(self.books)
        if self.enricher is not None:
            out.update(self.enricher.counters)
        delivered = self.delivery.counters() if self.delivery is not None else {}
        for name in COUNTER_NAMES:
            out[f"delivery_{name}"] = delivered.get(name, 0)
        return out

    def _lag(self) -> dict[str, object]:
        assert self.follower is not None
        position = self.cursor_position()
        oldest = min((t for p, t in self._stamps.items() if p >= position), default=None)
        behind = self._journal_bytes_after(self.follower.cursor_at(position))
        return {
            "unshipped_frames": len(self._held) + self._most_pending(),
            "events_in_flight": self.session.assembler.in_flight,
            "journal_bytes_behind": behind,
            "oldest_unshipped_age": None if oldest is None
            else max(0.0, time.time() - oldest / 1e9),
        }

    def _journal_bytes_after(self, cursor: Cursor | None) -> int:
        """Journal bytes from the cursor to the end (what is not yet done)."""
        total = 0
        files = journal_files(self.config.journal_dir)
        start = 0 if cursor is None else find_file(files, cursor)
        if start is None:
            # The cursor's file is gone (drop-oldest deleted it before all of
            # it was acknowledged): nothing present is acknowledged either.
            return sum(st.st_size for _path, st in files)
        for index, (_path, st) in enumerate(files[start:]):
            total += st.st_size - (min(cursor.offset, st.st_size)
                                   if index == 0 and cursor is not None else 0)
        return total

    def _most_pending(self) -> int:
        if self.delivery is None:
            return 0
        return max((w.state.pending for w in self.delivery.workers), default=0)

    def _target_status(self) -> dict[str, dict[str, object]]:
        return self.delivery.target_status() if self.delivery is not None else {}

    def _write_status(self) -> None:
        data: dict[str, object] = {
            "pid": os.getpid(),
            "state": self._state,
            "started": self.started,
            "updated": time.time(),
            "cursor": _cursor_json(self._cursor),
            "log_cursor": _cursor_json(self._log_cursor()),
            "counters": self.counters(),
            "lag": self._lag(),
            "targets": self._target_status(),
            "logs": [str(t.path) for t in self.config.logs],
        }
        try:
            write_private_json(self.status_path, data)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.status_path, exc)

    def _log_cursor(self) -> Cursor | None:
        if not self._logs or self.follower is None:
            return None
        if self._log_resume is not None:
            return self._log_resume  # not past the last run's mark yet
        return self.follower.cursor_at(self._log_done_position())

    def _log_losses(self) -> None:
        counters = self.counters()
        for name in LOSS_COUNTERS:
            grew = counters.get(name, 0) - self._logged_losses.get(name, 0)
            if grew > 0:
                log.warning("%s +%d (total %d): audit events may be missing",
                            name, grew, counters[name])
            self._logged_losses[name] = counters.get(name, 0)

    def _refresh_names(self, *, force: bool) -> None:
        """Re-read passwd/group if they changed (stat()ed at most every 0.1 s), or
        always (SIGHUP: a change that kept mtime and size shows only then)."""
        for names in (self.users, self.groups):
            if force:
                names.reload()
            else:
                names.refresh()
        generation = (self.users.generation, self.groups.generation)
        if generation != self._names_generation:
            self._names_generation = generation
            self.interpreter.forget_names()
            log.info("user/group names re-read (%s)",
                     "SIGHUP" if force else "passwd or group changed")

    def upstream_counters(self) -> dict[str, int]:
        """The supervisor's and the reader's registered counters, from their status
        files (the last values read when a file is missing or being replaced)."""
        places = [p for p in (self.config.status_dir, self.config.journal_dir,
                              self.config.state_dir) if p is not None]
        for name in (SUPERVISOR_STATUS_NAME, READER_STATUS_NAME):
            for place in places:
                try:
                    doc = json.loads((place / name).read_text())
                    counters = doc["counters"]
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                if isinstance(counters, dict):
                    self._upstream.update({k: int(v) for k, v in counters.items()
                                           if k in UPSTREAM_COUNTERS
                                           and isinstance(v, (int, float))})
                    break
        return dict(self._upstream)

    def _send_health(self, *, final: bool) -> None:
        counters = self.upstream_counters()
        counters.update(self.counters())
        message = health_message(
            counters,
            timestamp_ns=time.time_ns(),
            uuid=uuid.uuid4().bytes,
            hostname=self.config.hostname,
            pid=os.getpid(),
            final=final,
            previous=self._last_health,
        )
        self._last_health = counters
        self.books["health_messages"] += 1
        data = self.session.frame_message(message)
        if data is not None:
            self._held.append((data, None))


def _cursor_json(cursor: Cursor | None) -> dict[str, int | str] | None:
    """A cursor for shipper.status (the head only when it has one: v1 marks)."""
    if cursor is None:
        return None
    out: dict[str, int | str] = {"dev": cursor.dev, "ino": cursor.ino, "offset": cursor.offset}
    if cursor.head is not None:
        out["head"] = cursor.head
    return out


def _cursor_from_json(mark: Mapping[str, Any]) -> Cursor | None:
    """The inverse of :func:`_cursor_json` (None when ``mark`` is not one)."""
    head = mark.get("head")
    try:
        cursor = Cursor(int(mark["dev"]), int(mark["ino"]), int(mark["offset"]),
                        head if isinstance(head, str) else None)
        line = format_cursor(cursor)
    except (KeyError, TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return None
    if head is not None and cursor.head is None:
        return None
    return cursor if parse_cursor(line) == cursor else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit_heka.shipper",
                                     description="Follow the journal and ship its events.")
    parser.add_argument("--config", required=True, type=Path, help="run.json written by run")
    args = parser.parse_args(argv)
    try:
        data = json.loads(args.config.read_text())
    except (OSError, ValueError) as exc:
        print(f"audit-heka shipper: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    level = str(data.get("log_level") or "info").lower()
    configure_logging(level if level in LEVELS else "info", who="shipper: ")
    try:
        config = config_from_json(data)
        return Shipper(config).run()
    except (ShipperError, ValueError) as exc:
        print(f"audit-heka shipper: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"audit-heka shipper: {exc.filename or ''}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

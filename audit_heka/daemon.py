"""The daemon: kernel records in, framed Heka messages out, no silent loss.

This module only wires the pieces together and keeps the books; it holds no
protocol logic. The main loop is single-threaded and driven by the netlink
socket (``AuditSource.read`` with a short timeout), so timers (event
time-outs, kernel status polls, health reports, the status file) run
between reads. Delivery runs in its own worker threads behind a bounded
bounded queue per target; when a queue is full the loop stops
reading the kernel, which then applies its own backlog policy (it makes
audited tasks wait up to backlog_wait_time, then counts ``lost``) — the
kernel's counter is polled and reported, so even that loss is visible.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from audit_heka.accounts import read_groups, read_users
from audit_heka.auditlog import AuditLogWriter
from audit_heka.delivery import COUNTER_NAMES, Delivery, DeliveryConfig
from audit_heka.enrich import Enricher, LiveProcFS
from audit_heka.events import Assembler
from audit_heka.health import LOSS_COUNTERS, health_message
from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, Signer
from audit_heka.interpret import Interpreter
from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.rulefile import load_sources
from audit_heka.netlink.rules import Rule, RuleEnv, RuleError
from audit_heka.netlink.source import AuditSource, SourceError, SourceMode, SourceStats
from audit_heka.outputs.target import Target
from audit_heka.private_files import create_exclusive, hand_over
from audit_heka.privileges import drop_privileges, plan_drop
from audit_heka.schema import DEFAULT_MESSAGE_TYPE, MessageBuilder
from audit_heka.session import Session, Shipment

log = logging.getLogger("audit_heka.daemon")

#: The kernel's own default is 64: far too small for a burst. auditd's
#: default rules use 8192, and so do we unless told otherwise.
DEFAULT_BACKLOG_LIMIT = 8192
#: Where `run` keeps its counters for `audit-heka status`.
DEFAULT_STATUS_FILE = Path("/run/audit-heka/status.json")


class DaemonError(Exception):
    """The daemon cannot start (the message says why, for the operator)."""


@dataclass(frozen=True, slots=True)
class LogTarget:
    """``--target log:PATH``: records in auditd's log format, rotated like auditd's."""

    path: Path
    max_bytes: int = 8 * 1024 * 1024
    num_logs: int = 5


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything ``audit-heka run`` was told (from the CLI and the config file)."""

    targets: tuple[Target, ...]
    delivery: DeliveryConfig
    logs: tuple[LogTarget, ...] = ()
    rules: tuple[Path, ...] = ()
    keep_rules: bool = False
    signer: Signer | None = None
    multicast: bool = False
    backlog_limit: int | None = DEFAULT_BACKLOG_LIMIT
    backlog_wait_time: int | None = None
    message_type: str = DEFAULT_MESSAGE_TYPE
    payload: bool = True
    hostname: str = field(default_factory=socket.gethostname)
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    health_interval: float = 60.0
    status_interval: float = 1.0
    kernel_poll_interval: float = 5.0
    status_file: Path | None = None
    user: str | None = None
    flush_timeout: float = 5.0
    enrich: bool = False


@dataclass
class _Books:
    """The daemon's own counters (the pipeline and delivery keep theirs)."""

    kernel_lost: int = 0  # growth of the kernel's lost counter since start
    kernel_backlog_wait: int = 0  # growth of backlog_wait_time_actual (jiffies)
    kernel_backlog: int = 0  # the kernel's queue length at the last poll
    blocked_seconds: float = 0.0  # time the source was paused by full delivery queues
    rule_reloads: int = 0
    rule_reload_errors: int = 0
    health_messages: int = 0
    dropped_at_stop: int = 0  # frames full delivery queues could not take at shutdown
    log_events: int = 0  # events written to log: targets
    log_write_errors: int = 0  # events a log: target could not write (disk full, ...)


def write_status_file(path: Path, data: dict[str, object]) -> None:
    """Replace ``path`` atomically with ``data`` as JSON, mode 0600.

    The temporary is created afresh (``O_EXCL``, never through a symlink or
    a planted hard link) and renamed over ``path``: a rename replaces a
    symlink at ``path`` instead of writing through it.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = create_exclusive(tmp)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=1, sort_keys=True)
    tmp.replace(path)


class Daemon:
    """One run of ``audit-heka run``. Construct, then call :meth:`run`."""

    def __init__(self, config: RunConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.books = _Books()
        self.started = time.time()
        interpreter = Interpreter(read_users(), read_groups())
        self.enricher = Enricher(LiveProcFS()) if config.enrich else None
        builder = MessageBuilder(
            interpreter,
            hostname=config.hostname,
            message_type=config.message_type,
            payload=config.payload,
            enricher=self.enricher,
        )
        self.session = Session(builder, Assembler(live=True), signer=config.signer,
                               max_message_size=config.max_message_size)
        self._log_writers: list[AuditLogWriter] = []
        self._stop = False
        self._reload = False
        self._rules_before: list[Rule] | None = None
        self._kernel_base: tuple[int, int] | None = None
        self._last_health: dict[str, int] = {}
        self._logged_losses: dict[str, int] = {}
        self._delivery: Delivery | None = None
        self._source: AuditSource | None = None

    # ------------------------------------------------------------------ signals

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self._reload = True

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        old = {
            sig: signal.signal(sig, handler)
            for sig, handler in (
                (signal.SIGTERM, self._on_stop),
                (signal.SIGINT, self._on_stop),
                (signal.SIGHUP, self._on_reload),
            )
        }
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Ask the main loop to finish (thread-safe: it only sets a flag)."""
        self._stop = True


    # --------------------------------------------------------------------- run

    def run(self) -> int:
        """Run until SIGTERM/SIGINT. Returns the process exit status."""
        config = self.config
        mode = SourceMode.MULTICAST if config.multicast else SourceMode.UNICAST
        settings: dict[str, int] = {}
        if not config.multicast:
            settings["enabled"] = 1
            if config.backlog_limit is not None:
                settings["backlog_limit"] = config.backlog_limit
            if config.backlog_wait_time is not None:
                settings["backlog_wait_time"] = config.backlog_wait_time
        with self._signals(), contextlib.ExitStack() as stack:
            # Delivery first: a bad target fails before we touch the kernel.
            self._delivery = Delivery.open(config.targets, config.delivery)
            stack.callback(self._close_delivery)
            for target in config.logs:
                writer = AuditLogWriter(target.path, target.max_bytes, target.num_logs)
                stack.callback(writer.close)
                self._log_writers.append(writer)
            self._source = AuditSource(mode, settings=settings)
            self._source.open()
            stack.callback(self._source.close)
            control = stack.enter_context(AuditControl())
            if config.rules:
                self._rules_before = control.list_rules()
                if not config.keep_rules:
                    stack.callback(self._restore_rules)
                self._load_rules(control, initial=True)
            self._poll_kernel(control)
            if config.user is not None:
                self._drop_privileges()
            log.info(
                "audit-heka running (%s, pid %d) -> %s",
                mode.value,
                os.getpid(),
                ", ".join(str(t) for t in config.targets),
            )
            self._loop(control)
            self._finish()
        return 0

    def _drop_privileges(self) -> None:
        assert self.config.user is not None
        plan = plan_drop(self.config.user, multicast=self.config.multicast)
        # The dropped daemon still writes the status file and
        # log: files, so their (private) directories become the user's.
        config = self.config
        if config.status_file is not None:
            hand_over(config.status_file.parent, plan.uid, plan.gid, recursive=False,
                      files=[config.status_file])
        for target in config.logs:
            rotated = [target.path.with_name(f"{target.path.name}.{i}")
                       for i in range(1, target.num_logs)]
            hand_over(target.path.parent, plan.uid, plan.gid, recursive=False,
                      files=[target.path, *rotated])
        drop_privileges(plan)

    def _loop(self, control: AuditControl) -> None:
        assert self._source is not None
        now = self.clock()
        next_tick = now + 0.5
        next_status = now
        next_poll = now + self.config.kernel_poll_interval
        next_health = now + self.config.health_interval
        while not self._stop:
            # Events of one read are shipped together (one lock round with the
            # delivery threads per batch, not per event).
            batch: list[Shipment] = []
            for raw in self._source.read(timeout=0.25):
                batch += self.session.feed_kernel(raw.type, raw.text, self.clock())
            self._ship(batch)
            now = self.clock()
            if now >= next_tick:
                self._ship(self.session.expire(now))
                next_tick = now + 0.5
            if self._reload:
                self._reload = False
                self._load_rules(control, initial=False)
            if now >= next_poll:
                self._poll_kernel(control)
                self._log_losses()
                next_poll = now + self.config.kernel_poll_interval
            if now >= next_health:
                self._send_health(final=False)
                next_health = now + self.config.health_interval
            if now >= next_status:
                self._write_status()
                next_status = now + self.config.status_interval

    def _finish(self) -> None:
        # Stop the kernel sending, then ship everything it had already queued
        # on our socket: a stop must not throw away a full receive buffer.
        assert self._source is not None
        try:
            self._source.stop_receiving()
        except (SourceError, OSError) as exc:
            log.error("could not hand the audit pid back: %s", exc)
        while raws := self._source.read(timeout=0):
            now = self.clock()
            self._ship([m for r in raws for m in self.session.feed_kernel(r.type, r.text, now)])
        self._ship(self.session.finish())
        with contextlib.suppress(AuditError, OSError), AuditControl() as control:
            self._poll_kernel(control)
        self._send_health(final=True)
        self._write_status()

    def _close_delivery(self) -> None:
        assert self._delivery is not None
        self._delivery.close(self.config.flush_timeout)
        self._write_status()

    # ---------------------------------------------------------------- shipping

    def _write_logs(self, item: Shipment) -> None:
        for writer in self._log_writers:
            try:
                writer.write_event(item.event)
            except OSError as exc:
                self.books.log_write_errors += 1
                if self.books.log_write_errors in (1, 10, 100) or not (
                    self.books.log_write_errors % 1000
                ):
                    log.error("%s: event %d not written: %s (%d so far)", writer.path,
                              item.event.serial, exc.strerror, self.books.log_write_errors)
            else:
                self.books.log_events += 1

    def _ship(self, shipments: list[Shipment]) -> None:
        frames = []
        for item in shipments:
            self._write_logs(item)
            if item.frame is None:
                log.warning("event %s refused: larger than max_message_size",
                            item.message.uuid.hex())
                continue
            frames.append(item.frame)
        self._send(frames)

    def _send(self, frames: list[bytes]) -> None:
        assert self._delivery is not None
        if not frames:
            return
        taken = self._delivery.submit_many(frames)
        for index in range(taken, len(frames)):
            data = frames[index]
            if self._delivery.submit(data):
                continue
            # A target's queue is full: hold the frame, stop reading the kernel.
            paused = self.clock()
            while not self._delivery.submit(data):
                self._delivery.wait_for_room(0.5)
                if self._stop:
                    break
            self.books.blocked_seconds += self.clock() - paused
            if self._stop:
                self.books.dropped_at_stop += len(frames) - index
                log.error("stopping with full delivery queues: %d frames not queued",
                          len(frames) - index)
                return

    def _send_health(self, *, final: bool) -> None:
        counters = self.counters()
        msg = health_message(
            counters,
            timestamp_ns=time.time_ns(),
            uuid=uuid.uuid4().bytes,
            hostname=self.config.hostname,
            pid=os.getpid(),
            final=final,
            previous=self._last_health,
        )
        self._last_health = counters
        self.books.health_messages += 1
        data = self.session.frame_message(msg)
        if data is not None:
            self._send([data])

    # ------------------------------------------------------------------ kernel

    def _poll_kernel(self, control: AuditControl) -> None:
        try:
            status = control.get_status()
        except (AuditError, OSError) as exc:
            log.warning("cannot read the kernel's audit status: %s", exc)
            return
        lost = status.lost
        waited = status.backlog_wait_time_actual or 0
        if self._kernel_base is None:
            self._kernel_base = (lost, waited)
        grew = lost - self._kernel_base[0] - self.books.kernel_lost
        if grew > 0:
            log.warning("the kernel lost %d audit records (backlog %d)", grew, status.backlog)
        self.books.kernel_lost = max(0, lost - self._kernel_base[0])
        self.books.kernel_backlog_wait = max(0, waited - self._kernel_base[1])
        self.books.kernel_backlog = status.backlog

    def _log_losses(self) -> None:
        """Log every loss counter that grew since the last look (kernel_lost logs itself)."""
        counters = self.counters()
        for name in LOSS_COUNTERS:
            grew = counters.get(name, 0) - self._logged_losses.get(name, 0)
            if grew > 0 and name != "kernel_lost":
                log.warning("%s +%d (total %d): audit events may be missing",
                            name, grew, counters[name])
            self._logged_losses[name] = counters.get(name, 0)

    def _load_rules(self, control: AuditControl, *, initial: bool) -> None:
        # A reload *replaces* the rules: the files say what is in force, so a
        # file without a leading -D does not fail on its own rules (EEXIST).
        # If it fails, the rules in force before the reload are put back.
        in_force: list[Rule] | None = None
        try:
            env = RuleEnv.system(control.get_status().feature_bitmap or 0)
            if not initial:
                in_force = control.list_rules()
                control.delete_all()
            errors = load_sources(control, self.config.rules, env)
        except (AuditError, RuleError, OSError) as exc:
            errors = [str(exc)]
        if not initial:
            self.books.rule_reloads += 1
        for message in errors:
            log.error("rules: %s", message)
        if errors:
            if initial:
                raise DaemonError("the rules could not be loaded; nothing was changed")
            self.books.rule_reload_errors += 1
            if in_force is not None:
                try:
                    control.delete_all()
                    for rule in in_force:
                        control.add_rule(rule)
                except (AuditError, OSError) as exc:
                    log.error("could not put the previous rules back: %s", exc)
                    return
            log.error("rules reload failed; the previous rules stay in force")

    def _restore_rules(self) -> None:
        if self._rules_before is None:
            return
        try:
            with AuditControl() as control:
                control.delete_all()
                for rule in self._rules_before:
                    control.add_rule(rule)
        except (AuditError, OSError) as exc:
            log.error("could not restore the audit rules found at start: %s", exc)

    # -------------------------------------------------------------- reporting

    def counters(self) -> dict[str, int]:
        """Every counter: pipeline, framing, source, kernel, delivery."""
        out = dict(self.session.counters())
        stats = self._source.stats if self._source is not None else SourceStats()
        out["netlink_records"] = stats.records
        out["netlink_overruns"] = stats.enobufs
        out["netlink_malformed"] = stats.malformed
        books = self.books
        out["kernel_lost"] = books.kernel_lost
        out["kernel_backlog_wait_jiffies"] = books.kernel_backlog_wait
        out["kernel_backlog"] = books.kernel_backlog
        out["blocked_ms"] = int(books.blocked_seconds * 1000)
        out["rule_reloads"] = books.rule_reloads
        out["rule_reload_errors"] = books.rule_reload_errors
        out["health_messages"] = books.health_messages
        out["dropped_at_stop"] = books.dropped_at_stop
        out["log_events"] = books.log_events
        out["log_write_errors"] = books.log_write_errors
        if self.enricher is not None:
            out.update(self.enricher.counters)
        delivered = self._delivery.counters() if self._delivery is not None else {}
        for name in COUNTER_NAMES:
            out[f"delivery_{name}"] = delivered.get(name, 0)
        return out

    def _write_status(self) -> None:
        path = self.config.status_file
        if path is None:
            return
        data: dict[str, object] = {
            "pid": os.getpid(),
            "started": self.started,
            "updated": time.time(),
            "mode": "multicast" if self.config.multicast else "unicast",
            "targets": [str(t) for t in self.config.targets]
            + [f"log:{t.path}" for t in self.config.logs],
            "counters": self.counters(),
        }
        if self._delivery is not None:
            data["per_target"] = self._delivery.target_counters()
        try:
            write_status_file(path, data)
        except OSError as exc:
            log.warning("cannot write the status file %s: %s", path, exc)

"""The daemon: kernel records in, framed Heka messages out, no silent loss.

This module only wires the pieces together and keeps the books; it holds no
protocol logic. The main loop is single-threaded and driven by the netlink
socket (``AuditSource.read`` with a short timeout), so timers (event
time-outs, kernel status polls, health reports, the status file) run
between reads. Delivery runs in its own worker threads behind a bounded
spool; when a spool is full under ``--spool-full block`` the loop stops
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

from audit_heka.accounts import AccountNames
from audit_heka.auditlog import AuditLogWriter
from audit_heka.delivery import COUNTER_NAMES, Delivery, DeliveryConfig
from audit_heka.enrich import Enricher, LiveProcFS
from audit_heka.events import Assembler, Event
from audit_heka.health import LOSS_COUNTERS, health_message
from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, Signer
from audit_heka.heka.message import Message
from audit_heka.interpret import Interpreter
from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.kernelstate import (
    SETTINGS,
    KernelStateError,
    KernelStateFile,
    SavedKernelState,
    restore,
)
from audit_heka.netlink.rulefile import RuleSourceError, augenrules_load
from audit_heka.netlink.rules import RuleEnv, RuleError
from audit_heka.netlink.rulesync import Wanted, sync_rules
from audit_heka.netlink.source import AuditSource, SourceError, SourceMode, SourceStats
from audit_heka.outputs.target import Target
from audit_heka.pipeline import Framer, Pipeline
from audit_heka.private_files import create_exclusive, hand_over
from audit_heka.privileges import drop_privileges, plan_drop, read_problem
from audit_heka.schema import DEFAULT_MESSAGE_TYPE, MessageBuilder
from audit_heka.statusfile import status_file_for

log = logging.getLogger("audit_heka.daemon")

#: The kernel's own default is 64: far too small for a burst. auditd's
#: default rules use 8192, and so do we unless told otherwise.
DEFAULT_BACKLOG_LIMIT = 8192
#: Where `run` keeps its counters for `audit-heka status` (named by mode, so a
#: unicast and a multicast daemon do not overwrite each other's).
DEFAULT_STATUS_FILE = status_file_for(multicast=False)
#: Where `run` keeps what must survive a crash (the kernel state it found).
DEFAULT_STATE_DIR = Path("/var/lib/audit-heka")


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
    state_dir: Path = DEFAULT_STATE_DIR
    strict_rules: bool = False


@dataclass
class _Books:
    """The daemon's own counters (the pipeline and delivery keep theirs)."""

    kernel_lost: int = 0  # growth of the kernel's lost counter since start
    kernel_backlog_wait: int = 0  # growth of backlog_wait_time_actual (jiffies)
    kernel_backlog: int = 0  # the kernel's queue length at the last poll
    blocked_seconds: float = 0.0  # time the source was paused by a full spool
    rule_reloads: int = 0
    rule_reload_errors: int = 0
    rules_refused: int = 0  # rule lines not loaded (bad or refused by the kernel), all loads
    health_messages: int = 0
    dropped_at_stop: int = 0  # frames a full `block` spool could not take at shutdown
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


def _worth_logging(count: int) -> bool:
    """The 1st, 10th, 100th and every 1000th occurrence: visible, not a flood."""
    return count in (1, 10, 100) or not count % 1000


class Daemon:
    """One run of ``audit-heka run``. Construct, then call :meth:`run`."""

    def __init__(self, config: RunConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.books = _Books()
        self.started = time.time()
        # Names stay current: re-read when passwd/group change and on SIGHUP.
        self.users, self.groups = AccountNames.users(), AccountNames.groups()
        self._names_generation = (self.users.generation, self.groups.generation)
        self.interpreter = interpreter = Interpreter(self.users, self.groups)
        self.enricher = Enricher(LiveProcFS()) if config.enrich else None
        builder = MessageBuilder(
            interpreter,
            hostname=config.hostname,
            message_type=config.message_type,
            payload=config.payload,
            enricher=self.enricher,
        )
        self.pipeline = Pipeline(builder, Assembler(live=True))
        self.framer = Framer(config.signer, config.max_message_size)
        self._stop = False
        self._reload = False
        self._kernel_file: KernelStateFile | None = None
        self._kernel_found: SavedKernelState | None = None
        self._file_settings: set[str] = set()  # settings the rule files made
        self._rules_unreadable = ""  # why --user cannot read the rules (SIGHUP cannot reload)
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
            # Delivery first: frames left in the spool by a previous run go out
            # before anything new, and a bad target fails before we touch the kernel.
            self._delivery = Delivery.open(config.targets, config.delivery,
                                           refit=self.framer.refit)
            stack.callback(self._close_delivery)
            for target in config.logs:
                writer = AuditLogWriter(target.path, target.max_bytes, target.num_logs)
                stack.callback(writer.close)
                self.pipeline.event_sinks.append(self._log_sink(writer))
            control = stack.enter_context(AuditControl())
            # Saved before anything changes; restored after the pid is handed back.
            if settings or config.rules:
                self._claim_kernel_state(control, config.state_dir)
                stack.callback(self._restore_kernel_state)
            self._source = AuditSource(
                mode, settings=settings, keep_settings=self._kernel_file is not None
            )
            self._source.open()
            stack.callback(self._source.close)
            if config.rules:
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
        counters = self.counters()
        log.info("audit-heka stopped: %d events shipped, %d frames delivered",
                 counters["messages"], counters["delivery_released"])
        return 0

    def _drop_privileges(self) -> None:
        assert self.config.user is not None
        plan = plan_drop(self.config.user, multicast=self.config.multicast)
        self._check_rules_readable(plan.uid, plan.gid)
        # The dropped daemon still rotates spool segments, the status file and
        # log: files, so their (private) directories become the user's.
        config = self.config
        if config.delivery.spool_dir is not None and config.delivery.spool_dir.is_dir():
            hand_over(config.delivery.spool_dir.resolve(), plan.uid, plan.gid, recursive=True)
        if config.status_file is not None:
            hand_over(config.status_file.parent, plan.uid, plan.gid, recursive=False,
                      files=[config.status_file])
        if self._kernel_file is not None:
            # At exit the dropped daemon restores the kernel state and removes its file.
            hand_over(config.state_dir, plan.uid, plan.gid, recursive=False,
                      files=[self._kernel_file.path])
        for target in config.logs:
            rotated = [target.path.with_name(f"{target.path.name}.{i}")
                       for i in range(1, target.num_logs)]
            hand_over(target.path.parent, plan.uid, plan.gid, recursive=False,
                      files=[target.path, *rotated])
        drop_privileges(plan)

    def _check_rules_readable(self, uid: int, gid: int) -> None:
        """Say at start, not at the first SIGHUP, that the dropped user cannot reload.

        The rules were read as root; after the drop only what ``uid``:``gid``
        may read can be reloaded (Debian's /etc/audit/rules.d is 0750 root).
        We do not keep CAP_DAC_READ_SEARCH for it: that reads every file.
        """
        problems = [p for path in self.config.rules if (p := read_problem(path, uid, gid))]
        if not problems:
            return
        user = self.config.user
        self._rules_unreadable = (
            f"--user {user} cannot read {'; '.join(problems)}: SIGHUP cannot reload the rules "
            f"(restart to load changed rules, or let {user} read them, e.g. "
            f"chgrp -R {user} PATH && chmod -R g+rX PATH)")
        log.warning("rules: %s", self._rules_unreadable)

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
            batch: list[Message] = []
            for raw in self._source.read(timeout=0.25):
                batch += self.pipeline.feed_kernel(raw.type, raw.text, self.clock())
            self._ship(batch)
            now = self.clock()
            if now >= next_tick:
                self._ship(self.pipeline.tick(now))
                self._refresh_names(force=False)
                next_tick = now + 0.5
            if self._reload:
                self._reload = False
                self._refresh_names(force=True)
                if self.config.rules:
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
            self._ship([m for r in raws for m in self.pipeline.feed_kernel(r.type, r.text, now)])
        self._ship(self.pipeline.finish())
        with contextlib.suppress(AuditError, OSError), AuditControl() as control:
            self._poll_kernel(control)
        self._send_health(final=True)
        self._write_status()

    def _close_delivery(self) -> None:
        assert self._delivery is not None
        self._delivery.close(self.config.flush_timeout)
        self._write_status()

    # ---------------------------------------------------------------- shipping

    def _log_sink(self, writer: AuditLogWriter) -> Callable[[Event], None]:
        def write(event: Event) -> None:
            try:
                writer.write_event(event)
            except OSError as exc:
                self.books.log_write_errors += 1
                if _worth_logging(self.books.log_write_errors):
                    log.error("%s: event %d not written: %s (%d so far)", writer.path,
                              event.serial, exc.strerror, self.books.log_write_errors)
            else:
                self.books.log_events += 1

        return write

    def _ship(self, messages: list[Message]) -> None:
        assert self._delivery is not None
        frames = []
        for msg in messages:
            degraded = self.framer.degraded
            data = self.framer.frame(msg)
            if self.framer.degraded != degraded and _worth_logging(self.framer.degraded):
                log.warning("event %s degraded to fit max_message_size (its truncated field "
                            "says what was cut; %d so far)", msg.uuid.hex(), self.framer.degraded)
            if data is None:
                log.warning("event %s refused: its header alone exceeds max_message_size",
                            msg.uuid.hex())
                continue
            frames.append(data)
        if not frames:
            return
        taken = self._delivery.submit_many(frames)
        for index in range(taken, len(frames)):
            data = frames[index]
            if self._delivery.submit(data):
                continue
            # Spool full under `block`: hold the frame, stop reading the kernel.
            paused = self.clock()
            while not self._delivery.submit(data):
                self._delivery.wait_for_room(0.5)
                if self._stop:
                    break
            self.books.blocked_seconds += self.clock() - paused
            if self._stop:
                self.books.dropped_at_stop += len(frames) - index
                log.error("stopping with a full spool: %d frames could not be spooled",
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
        self._ship([msg])

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

    def _refresh_names(self, *, force: bool) -> None:
        """Re-read passwd/group if they changed (or always, on SIGHUP)."""
        for names in (self.users, self.groups):
            if force:
                names.reload()
            else:
                names.refresh()
        generation = (self.users.generation, self.groups.generation)
        if generation != self._names_generation:
            self._names_generation = generation
            self.interpreter.forget_names()
            if not force:
                log.info("user/group names re-read (passwd or group changed)")

    def _claim_kernel_state(self, control: AuditControl, state_dir: Path) -> None:
        """Keep the kernel state as found (or as a crashed run found it) in the state dir."""
        self._kernel_file = KernelStateFile(state_dir)
        try:
            self._kernel_found = self._kernel_file.claim(control)
        except KernelStateError as exc:
            self._kernel_file = None
            raise DaemonError(str(exc)) from None
        if self._kernel_file.adopted_from is not None:
            log.warning(
                "audit-heka (pid %d) did not exit cleanly; the kernel state it found "
                "(%s) will be restored at exit", self._kernel_file.adopted_from,
                self._kernel_file.path)

    def _restore_kernel_state(self) -> None:
        """Put back the state found at start (rules unless --keep-rules), then forget it."""
        assert self._kernel_file is not None and self._kernel_found is not None
        config = self.config
        names = SETTINGS if not config.multicast else tuple(self._file_settings)
        if config.keep_rules:
            # The rule files' own settings stay with their rules.
            names = tuple(n for n in names if n not in self._file_settings)
        try:
            with AuditControl() as control:
                refused = restore(control, self._kernel_found,
                                  rules=bool(config.rules) and not config.keep_rules,
                                  settings=names)
        except (AuditError, RuleError, OSError) as exc:
            log.error("could not restore the audit state found at start: %s (kept in %s)",
                      exc, self._kernel_file.path)
            return
        for r in refused:
            log.error("restoring the audit state found at start: %s", r)
        self._kernel_file.release()

    def _load_rules(self, control: AuditControl, *, initial: bool) -> None:
        """Make the kernel's rules what the files say (augenrules --load, no -D gap).

        Every line that can be loaded is; each other line is logged with
        file:line and counted in ``rules_refused``. ``--strict-rules`` fails
        closed instead: at start the daemon stops, on reload the rules in
        force before stay. An unreadable rules path changes nothing.
        """
        if not initial:
            self.books.rule_reloads += 1
        sources = ", ".join(str(p) for p in self.config.rules)
        try:
            env = RuleEnv.system(control.get_status().feature_bitmap or 0)
            in_force = control.list_rules()
            report = augenrules_load(control, self.config.rules, env,
                                     syntax_errors_fail=not initial)
        except (RuleSourceError, AuditError, RuleError, OSError) as exc:
            if initial:
                raise DaemonError(f"rules: {exc}") from None
            self.books.rule_reload_errors += 1
            log.error("rules reload failed, the rules in force stay: %s", exc)
            if self._rules_unreadable:
                log.error("rules: %s", self._rules_unreadable)
            return
        for refused in report.refused:
            log.error("rules: %s", refused)
        self.books.rules_refused += len(report.refused)
        self._file_settings.update(report.settings)
        if report.refused and self.config.strict_rules:
            if initial:
                raise DaemonError(
                    f"--strict-rules: {len(report.refused)} rule line(s) not loaded; "
                    "not running (the audit state found at start is put back)")
            self.books.rule_reload_errors += 1
            back = sync_rules(control, [Wanted(r) for r in in_force])
            for refused in back.refused:
                log.error("rules: putting the previous rules back: %s", refused)
            log.error("rules reload refused (--strict-rules); the previous rules stay in force")
            return
        log.info("rules %s from %s: %s", "loaded" if initial else "reloaded", sources,
                 report.summary())

    # -------------------------------------------------------------- reporting

    def counters(self) -> dict[str, int]:
        """Every counter: pipeline, framing, source, kernel, delivery."""
        out = dict(self.pipeline.counters())
        out["oversize"] = self.framer.oversize
        out["payload_dropped"] = self.framer.payload_dropped
        out["degraded"] = self.framer.degraded
        out["frames"] = self.framer.frames
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
        out["rules_refused"] = books.rules_refused
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

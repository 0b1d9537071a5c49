"""``audit-heka run``: the supervisor of the reader and the shipper.

Why three processes (../shared/design.md §7): the reader must keep up with
the kernel, so it does nothing but drain the audit socket into the journal;
the shipper does everything slow after the journal. The supervisor owns what
is neither: the kernel's state (rules, enabled, backlog; restored at exit as
found), the children's lives, signals and systemd.

- Start: write ``run.json`` (the resolved configuration, 0600) in the state
  directory, set the backlog, start the reader and wait until it is the
  audit daemon (it writes one byte on a pipe), enable auditing, load the
  rules, start the shipper, tell systemd READY=1.
- Run: a dead child is restarted (logged, counted, exponential backoff);
  WATCHDOG=1 goes to systemd only while both children live; SIGHUP reloads
  the rules; the status file merges ``reader.status`` and ``shipper.status``.
- Stop (SIGTERM/SIGINT): STOPPING=1, stop the reader first (it hands the pid
  back and journals what its socket still held), then the shipper (it
  delivers what the journal holds within ``drain_seconds``), restore the
  kernel, exit 0.

systemd's notify protocol is a datagram to ``$NOTIFY_SOCKET``: done here by
hand (:func:`sd_notify`), no dependency.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from audit_heka.core.backoff import Backoff
from audit_heka.core.counters import COUNTERS, SUPERVISOR_STATUS_NAME
from audit_heka.host.private_files import (
    default_owners,
    ensure_private_dir,
    hand_over,
    write_private_json,
)
from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.kernelstate import (
    SETTINGS,
    KernelStateError,
    KernelStateFile,
    SavedKernelState,
    restore,
)
from audit_heka.netlink.recv import DEFAULT_RCVBUF
from audit_heka.netlink.rulefile import RuleSourceError, augenrules_load
from audit_heka.netlink.rules import RuleEnv, RuleError
from audit_heka.netlink.rulesync import Wanted, sync_rules
from audit_heka.netlink.source import holder_message, process_name
from audit_heka.shipper import HANDLED_SIGNALS
from audit_heka.statusfile import status_file_for

log = logging.getLogger("audit_heka.supervisor")

#: The kernel's own default is 64: far too small for a burst. auditd's
#: default rules use 8192, and so do we unless told otherwise.
DEFAULT_BACKLOG_LIMIT = 8192
DEFAULT_STATE_DIR = Path("/var/lib/audit-heka")
DEFAULT_STATUS_FILE = status_file_for(multicast=False)
READER_MODULE = "audit_heka.netlink.reader"
SHIPPER_MODULE = "audit_heka.shipper"
RUN_JSON = "run.json"
#: How long the reader may take to register before the start fails.
READY_TIMEOUT = 15.0
#: How long a stopped reader may take to journal what its socket held.
READER_STOP_TIMEOUT = 30.0
#: A child that lived this long before dying restarts without backoff.
STABLE_SECONDS = 30.0
#: Scheduling: the reader must win the CPU over the shipper (and over ordinary
#: processes, as auditd's priority_boost = 4 does), or under a storm on few
#: cores the shipper's parsing starves it and the kernel's backlog overflows;
#: the shipper catches up later from the journal.
READER_NICE = -4
SHIPPER_NICE = 10


#: prctl(2) PR_SET_PDEATHSIG: the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1


_LIBC = ctypes.CDLL(None, use_errno=True)


def stop_with_parent() -> None:
    """In a child before exec: SIGTERM when the supervisor dies (even by SIGKILL).

    A reader left without its supervisor would keep the audit pid; a shipper
    would keep moving the cursor. With SIGTERM they stop the normal way: the
    reader hands the pid back, the shipper saves its cursor. (A credentials
    change clears the setting: the reader sets it again after its --user drop.)
    Only a libc call: it runs between fork and exec.
    """
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_shipper() -> None:
    """In the shipper before exec: :func:`stop_with_parent`, and SIGTERM, SIGINT
    and SIGHUP blocked (the mask survives exec) until the shipper has its
    handlers (:data:`audit_heka.shipper.HANDLED_SIGNALS`).

    A stop or a forwarded reload can come while the shipper still imports its
    modules (a run stopped at once; a SIGHUP just after start): their default
    action would kill it before it saved its cursor, or shipped anything.
    Blocked, they wait and are handled the normal way.
    """
    stop_with_parent()
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, e.g. a killed reader not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


class SupervisorError(Exception):
    """The daemon cannot start (the message says why, for the operator)."""


# --------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True)
class KernelOptions:
    """What the supervisor sets in the kernel (and restores at exit)."""

    rules: tuple[Path, ...] = ()
    keep_rules: bool = False
    strict_rules: bool = False
    multicast: bool = False
    backlog_limit: int | None = DEFAULT_BACKLOG_LIMIT
    backlog_wait_time: int | None = None
    rcvbuf: int = DEFAULT_RCVBUF


@dataclass(frozen=True, slots=True)
class JournalOptions:
    """The journal: where, how big, what when full, how flushed (the reader's)."""

    journal_dir: Path | None = None  # default: STATE_DIR/journal
    journal_max_bytes: int = 1024 * 1024 * 1024
    journal_file_bytes: int = 8 * 1024 * 1024
    journal_full: str = "block"
    flush: str = "incremental"
    freq: int = 1000
    node: str | None = None


@dataclass(frozen=True, slots=True)
class ShipOptions:
    """What the shipper does with the journal: targets, messages, signing, TLS."""

    targets: tuple[str, ...] = ("-",)
    log_max_bytes: int = 8 * 1024 * 1024
    log_num_logs: int = 5
    hmac_key: str | None = None
    hmac_hash: str = "md5"
    message_type: str = "audit_log"
    payload: bool = True
    enrich: bool = False
    hostname: str | None = None
    max_message_size: int = 64 * 1024
    udp_max_datagram: int = 8192
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    fsync: str = "never"
    health_interval: float = 60.0
    drain_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class ProcessOptions:
    """The supervisor's own: state directory, status file, user, verbosity."""

    state_dir: Path = DEFAULT_STATE_DIR
    status_file: Path | None = DEFAULT_STATUS_FILE
    user: str | None = None
    verbose: bool = False


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything ``audit-heka run`` was told, in four groups."""

    kernel: KernelOptions = field(default_factory=KernelOptions)
    journal: JournalOptions = field(default_factory=JournalOptions)
    ship: ShipOptions = field(default_factory=ShipOptions)
    process: ProcessOptions = field(default_factory=ProcessOptions)

    @property
    def journal_dir(self) -> Path:
        return self.journal.journal_dir or self.process.state_dir / "journal"

    @property
    def status_dir(self) -> Path:
        """Where the reader and the shipper write their status: beside ours, one
        directory per status file (a unicast and a multicast run side by side)."""
        status_file = self.process.status_file
        return status_file.with_suffix(".d") if status_file is not None else self.journal_dir

    def run_json(self, owners: frozenset[int] | None = None) -> dict[str, object]:
        """The children's configuration (keys of journal-interface.md)."""
        doc: dict[str, object] = {}
        for part in (self.journal, self.ship):
            doc.update({k: str(v) if isinstance(v, Path) else v for k, v in asdict(part).items()})
        doc["targets"] = list(self.ship.targets)
        doc["hmac_keys"] = [self.ship.hmac_key] if self.ship.hmac_key else []
        doc["journal_dir"] = str(self.journal_dir)
        doc["state_dir"] = str(self.process.state_dir)
        doc["multicast"] = self.kernel.multicast
        doc["rcvbuf"] = self.kernel.rcvbuf
        doc["user"] = self.process.user
        doc["owners"] = sorted(owners) if owners else None
        doc["log_level"] = "DEBUG" if self.process.verbose else "INFO"
        # The children's status files go beside ours (a tmpfs under systemd):
        # they must stay writable when the journal's filesystem is full.
        doc["status_dir"] = str(self.status_dir)
        return doc


def options_to_config(options: Mapping[str, Any]) -> RunConfig:
    """Group a flat option mapping (click's) into a :class:`RunConfig` (pure).

    Each group takes the options named like its fields; unknown names are a
    programming error (KeyError names them) so no option is silently ignored.
    """
    groups: dict[str, type] = {
        "kernel": KernelOptions,
        "journal": JournalOptions,
        "ship": ShipOptions,
        "process": ProcessOptions,
    }
    values: dict[str, dict[str, Any]] = {name: {} for name in groups}
    owner = {f.name: name for name, cls in groups.items() for f in fields(cls)}
    unknown = sorted(set(options) - set(owner))
    if unknown:
        raise KeyError(f"options with no group: {', '.join(unknown)}")
    for key, value in options.items():
        values[owner[key]][key] = value
    return RunConfig(**{name: groups[name](**values[name]) for name in groups})


# -------------------------------------------------------------------- systemd


def sd_notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send ``message`` (e.g. ``READY=1``) to systemd; False when not under it."""
    address = environ.get("NOTIFY_SOCKET")
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("cannot notify systemd (%s): %s", message, exc.strerror)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] = os.environ, pid: int | None = None) -> float:
    """Seconds between WATCHDOG=1 pings (half systemd's WatchdogSec), 0 when off."""
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return 0.0
    if owner and owner != str(os.getpid() if pid is None else pid):
        return 0.0
    return int(usec) / 2e6


# ------------------------------------------------------------------- children


@dataclass
class Child:
    """One supervised process: how to start it, its process, its restarts."""

    name: str
    module: str
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float | None = None
    last_exit: int | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=30.0))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


def read_json_file(path: Path) -> dict[str, Any] | None:
    """A child's status document, or None (missing, partial, not an object)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def merge_status(
    reader: Mapping[str, Any] | None, shipper: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One counter set from the children's status documents (the reader's
    kernel and journal counters win over a shipper's copy of them)."""
    # Every registered counter is there from the start (0 until a child has
    # reported it): a reader of the status file never meets a missing name.
    counters: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
    for doc in (shipper, reader):
        if doc is not None and isinstance(doc.get("counters"), dict):
            counters.update(doc["counters"])
    return counters


class Supervisor:
    """One run of ``audit-heka run``. Construct, then call :meth:`run`."""

    def __init__(
        self,
        config: RunConfig,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.config = config
        self.clock = clock
        self.environ = environ
        self.started = time.time()
        self.reader = Child("reader", READER_MODULE)
        self.shipper = Child("shipper", SHIPPER_MODULE)
        self.rule_reloads = 0
        self.rule_reload_errors = 0
        self.rules_refused = 0  # rule lines not loaded (bad or refused by the kernel), all loads
        self._stop = False
        self._reload = False
        self._kernel_file: KernelStateFile | None = None
        self._kernel_found: SavedKernelState | None = None
        self._file_settings: set[str] = set()  # settings the rule files made
        self._owners: frozenset[int] | None = None
        self._drop_to: tuple[int, int] | None = None  # the shipper's uid/gid with --user
        self._run_json = config.process.state_dir / RUN_JSON
        self._wake_r, self._wake_w = socket.socketpair()
        self._ready_r: int | None = None
        self._rates: dict[str, tuple[float, int]] = {}

    # ---------------------------------------------------------------- signals

    def _on_stop(self, signum: int, frame: object) -> None:
        self._stop = True

    def _on_reload(self, signum: int, frame: object) -> None:
        self._reload = True

    @contextlib.contextmanager
    def _signals(self) -> Any:
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        old_fd = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        handlers = ((signal.SIGTERM, self._on_stop), (signal.SIGINT, self._on_stop),
                    (signal.SIGHUP, self._on_reload))
        old = {sig: signal.signal(sig, handler) for sig, handler in handlers}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(old_fd)

    def stop(self) -> None:
        """Ask the loop to finish (from a signal handler or another thread)."""
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -------------------------------------------------------------------- run

    def run(self) -> int:
        """Run until SIGTERM/SIGINT. Returns the process exit status."""
        config = self.config
        with self._signals(), contextlib.ExitStack() as stack:
            self._stop_orphans()
            if not config.kernel.multicast:
                with AuditControl() as control:
                    self._refuse_live_holder(control)
            self._prepare_dirs()
            with AuditControl() as control:
                # Saved before anything changes; restored after the reader stopped.
                if not config.kernel.multicast or config.kernel.rules:
                    self._claim_kernel_state(control)
                    stack.callback(self._restore_kernel_state)
                if not config.kernel.multicast:
                    self._apply_settings(control, self._settings(enabled=False))
            self._start_reader(wait_ready=True)
            stack.callback(self._stop_children)
            with AuditControl() as control:
                if not config.kernel.multicast:
                    self._apply_settings(control, self._settings(enabled=True))
                if config.kernel.rules:
                    self._load_rules(control, initial=True)
            self._write_own_status()  # before the shipper starts: its health carries these
            self._start(self.shipper)
            mode = "multicast" if config.kernel.multicast else "unicast"
            # READY=1 first: whoever waits for the "running" line may rely on
            # systemd having been told already.
            sd_notify(f"READY=1\nSTATUS=reading the kernel ({mode})\nMAINPID={os.getpid()}",
                      self.environ)
            log.info(
                "audit-heka running (%s, pid %d; reader %s, shipper %s) -> %s",
                mode, os.getpid(), self.reader.pid, self.shipper.pid,
                ", ".join(config.ship.targets),
            )
            self._loop()
            sd_notify("STOPPING=1", self.environ)
            log.info("stopping: the reader first, then the shipper drains the journal")
        status = self.status()
        self._write_status()
        counters = status["counters"]
        log.info("audit-heka stopped: %d events shipped, %d frames delivered",
                 counters.get("messages", 0), counters.get("delivery_acked", 0))
        return 0

    def _settings(self, *, enabled: bool) -> dict[str, int]:
        k = self.config.kernel
        out: dict[str, int] = {}
        if k.backlog_limit is not None:
            out["backlog_limit"] = k.backlog_limit
        if k.backlog_wait_time is not None:
            out["backlog_wait_time"] = k.backlog_wait_time
        if enabled:
            out["enabled"] = 1
        return out

    def _prepare_dirs(self) -> None:
        """The private state and journal directories, run.json, ownership for --user."""
        process = self.config.process
        owners = None
        plan_uid: tuple[int, int] | None = None
        if process.user is not None:
            from audit_heka.host.privileges import plan_drop  # noqa: PLC0415 - only with --user

            plan = plan_drop(process.user, multicast=self.config.kernel.multicast)
            owners = default_owners([plan.uid])
            plan_uid = (plan.uid, plan.gid)
        self._owners = owners
        self._drop_to = plan_uid
        if process.status_file is not None:
            ensure_private_dir(process.status_file.parent, owners)
            ensure_private_dir(self.config.status_dir, owners)
        ensure_private_dir(process.state_dir, owners)
        ensure_private_dir(self.config.journal_dir, owners)
        write_private_json(self._run_json, self.config.run_json(owners))
        if plan_uid is not None:
            uid, gid = plan_uid
            hand_over(process.state_dir, uid, gid, recursive=False, files=[self._run_json])
            hand_over(self.config.journal_dir, uid, gid, recursive=True)
            if process.status_file is not None:  # the children write their status there
                hand_over(process.status_file.parent, uid, gid, recursive=False)
                hand_over(self.config.status_dir, uid, gid, recursive=False)

    # --------------------------------------------------------------- children

    def _child_env(self) -> dict[str, str]:
        # The children must not talk to systemd: READY and WATCHDOG are ours.
        return {k: v for k, v in self.environ.items()
                if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS")}

    def _start(self, child: Child, extra: list[str] | None = None,
               pass_fds: tuple[int, ...] = ()) -> None:
        argv = [sys.executable, "-m", child.module, "--config", str(self._run_json)]
        # With --user the shipper starts as that user (it needs no capability);
        # the reader drops to it itself once registered, keeping CAP_AUDIT_CONTROL
        # to hand the pid back.
        ids = self._drop_to if child is self.shipper else None
        child.proc = subprocess.Popen(
            argv + (extra or []), env=self._child_env(), pass_fds=pass_fds,
            stdin=subprocess.DEVNULL,
            user=ids[0] if ids else None, group=ids[1] if ids else None,
            extra_groups=[] if ids else None,
            # the supervisor runs no threads:
            preexec_fn=start_shipper if child is self.shipper else stop_with_parent,  # noqa: PLW1509
        )
        nice = READER_NICE if child is self.reader else SHIPPER_NICE
        try:
            os.setpriority(os.PRIO_PROCESS, child.proc.pid, nice)
        except OSError as exc:  # no CAP_SYS_NICE: run at the default priority
            log.debug("cannot set the %s's priority to %d: %s", child.name, nice, exc.strerror)
        child.started_at = self.clock()
        child.next_start = None

    def _start_reader(self, *, wait_ready: bool) -> None:
        ready_r, ready_w = os.pipe()
        try:
            self._start(self.reader, ["--ready-fd", str(ready_w)], pass_fds=(ready_w,))
        finally:
            os.close(ready_w)
        if not wait_ready:
            if self._ready_r is not None:
                os.close(self._ready_r)
            self._ready_r = ready_r  # read (and logged) by the loop
            return
        try:
            ready, _w, _x = select.select([ready_r], [], [], READY_TIMEOUT)
            ok = bool(ready) and os.read(ready_r, 1) == b"1"
        finally:
            os.close(ready_r)
        if not ok:
            assert self.reader.proc is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.reader.proc.wait(5)
            code = self.reader.proc.poll()
            if code is None:
                self.reader.proc.kill()
                self.reader.proc.wait()
            raise SupervisorError(
                "the reader did not start (see its message above"
                + (f"; exit status {code}" if code is not None else "; it did not register")
                + ")"
            )

    def _check_children(self, now: float) -> None:
        for child in (self.reader, self.shipper):
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                child.last_exit = code
                child.proc = None
                if now - child.started_at >= STABLE_SECONDS:
                    child.backoff.reset()
                delay = child.backoff.next_delay()
                child.restarts += 1
                child.next_start = now + delay
                log.error("the %s exited (status %s); restart %d in %.1f s",
                          child.name, code, child.restarts, delay)
            if child.proc is None and child.next_start is not None and now >= child.next_start:
                try:
                    if child is self.reader:
                        self._start_reader(wait_ready=False)
                    else:
                        self._start(child)
                except OSError as exc:
                    log.error("cannot start the %s: %s", child.name, exc)
                    child.next_start = now + child.backoff.next_delay()
                    continue
                log.info("the %s restarted (pid %s)", child.name, child.pid)

    def _stop_children(self) -> None:
        """Reader first (pid back, socket drained), then the shipper drains the journal."""
        self._terminate(self.reader, READER_STOP_TIMEOUT)
        drain = self.config.ship.drain_seconds
        self._terminate(self.shipper, drain + 10.0)

    def _terminate(self, child: Child, timeout: float) -> None:
        proc = child.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the %s did not stop within %.0f s: killed", child.name, timeout)
            proc.kill()
            code = proc.wait()
        if code:
            log.warning("the %s stopped with status %s", child.name, code)

    # ------------------------------------------------------------------- loop

    def _loop(self) -> None:
        interval = watchdog_interval(self.environ)
        now = self.clock()
        next_status = now
        next_watchdog = now
        while not self._stop:
            now = self.clock()
            self._check_children(now)
            if self._reload:
                self._reload = False
                if self.config.kernel.rules:
                    with AuditControl() as control:
                        self._load_rules(control, initial=False)
                    self._write_own_status()
                # The shipper re-reads user and group names on SIGHUP.
                if self.shipper.proc is not None and self.shipper.alive:
                    self.shipper.proc.send_signal(signal.SIGHUP)
            if interval and now >= next_watchdog:
                if self.reader.alive and self.shipper.alive:
                    sd_notify("WATCHDOG=1", self.environ)
                next_watchdog = now + interval
            if now >= next_status:
                self._write_status()
                next_status = now + 1.0
            deadline = min(next_status, next_watchdog if interval else next_status,
                           *(c.next_start for c in (self.reader, self.shipper)
                             if c.next_start is not None))
            fds: list[Any] = [self._wake_r]
            if self._ready_r is not None:
                fds.append(self._ready_r)
            ready, _w, _x = select.select(fds, [], [], max(0.0, min(0.5, deadline - now)))
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while self._wake_r.recv(512):
                        pass
            if self._ready_r is not None and self._ready_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._ready_r, 1)
                os.close(self._ready_r)
                self._ready_r = None

    # ----------------------------------------------------------------- kernel

    def _stop_orphans(self) -> None:
        """Children a killed supervisor left behind (same run.json): reader first.

        A SIGKILLed supervisor cannot stop its children; its reader still
        holds the audit pid and its shipper still moves the cursor. They are
        stopped the normal way (SIGTERM: the reader journals what its socket
        holds and hands the pid back), then killed if they do not stop.
        """
        marker = b"\0--config\0" + os.fsencode(self._run_json) + b"\0"
        for module in (READER_MODULE, SHIPPER_MODULE):
            wanted = b"\0-m\0" + module.encode() + marker
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit() or int(entry.name) == os.getpid():
                    continue
                try:
                    cmdline = b"\0" + (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if wanted not in cmdline or not process_alive(int(entry.name)):
                    continue
                pid = int(entry.name)
                log.warning("stopping the %s (pid %d) that an earlier run left behind",
                            module.rsplit(".", 1)[-1], pid)
                self._end_process(pid)

    @staticmethod
    def _end_process(pid: int, timeout: float = 15.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process_alive(pid):
            if time.monotonic() >= deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)

    def _refuse_live_holder(self, control: AuditControl) -> None:
        """Another live process is the audit daemon: refuse before touching anything.

        (A dead holder is fine: the kernel lets a new daemon replace it.)"""
        holder = control.get_status().pid
        if holder and holder != os.getpid() and process_alive(holder):
            raise SupervisorError(holder_message(holder, process_name(holder) or "?"))

    def _apply_settings(self, control: AuditControl, settings: Mapping[str, int]) -> None:
        """AUDIT_SET what differs (the state found is in the kernel-state file)."""
        before = control.get_status()
        for name, value in settings.items():
            old = getattr(before, name)
            if old is not None and old != value:
                control.set_status(**{name: value})

    def _claim_kernel_state(self, control: AuditControl) -> None:
        """Keep the kernel state as found (or as a crashed run found it) in the state dir."""
        self._kernel_file = KernelStateFile(self.config.process.state_dir)
        try:
            self._kernel_found = self._kernel_file.claim(control)
        except KernelStateError as exc:
            self._kernel_file = None
            raise SupervisorError(str(exc)) from None
        if self._kernel_file.adopted_from is not None:
            log.warning(
                "audit-heka (pid %d) did not exit cleanly; the kernel state it found "
                "(%s) will be restored at exit", self._kernel_file.adopted_from,
                self._kernel_file.path)

    def _restore_kernel_state(self) -> None:
        """Put back the state found at start (rules unless --keep-rules), then forget it."""
        if self._kernel_file is None or self._kernel_found is None:
            return
        kernel = self.config.kernel
        names = SETTINGS if not kernel.multicast else tuple(self._file_settings)
        if kernel.keep_rules:
            # The rule files' own settings stay with their rules.
            names = tuple(n for n in names if n not in self._file_settings)
        try:
            with AuditControl() as control:
                refused = restore(control, self._kernel_found,
                                  rules=bool(kernel.rules) and not kernel.keep_rules,
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
        kernel = self.config.kernel
        if not initial:
            self.rule_reloads += 1
        sources = ", ".join(str(p) for p in kernel.rules)
        try:
            env = RuleEnv.system(control.get_status().feature_bitmap or 0)
            in_force = control.list_rules()
            report = augenrules_load(control, kernel.rules, env,
                                     syntax_errors_fail=not initial)
        except (RuleSourceError, AuditError, RuleError, OSError) as exc:
            if initial:
                raise SupervisorError(f"rules: {exc}") from None
            self.rule_reload_errors += 1
            log.error("rules reload failed, the rules in force stay: %s", exc)
            return
        for refused in report.refused:
            log.error("rules: %s", refused)
        self.rules_refused += len(report.refused)
        self._file_settings.update(report.settings)
        if report.refused and kernel.strict_rules:
            if initial:
                raise SupervisorError(
                    f"--strict-rules: {len(report.refused)} rule line(s) not loaded; "
                    "not running (the audit state found at start is put back)")
            self.rule_reload_errors += 1
            back = sync_rules(control, [Wanted(r) for r in in_force])
            for refused in back.refused:
                log.error("rules: putting the previous rules back: %s", refused)
            log.error("rules reload refused (--strict-rules); the previous rules stay in force")
            return
        log.info("rules %s from %s: %s", "loaded" if initial else "reloaded", sources,
                 report.summary())

    # ----------------------------------------------------------------- status

    def _rate(self, name: str, value: int, now: float) -> float:
        before = self._rates.get(name)
        self._rates[name] = (now, value)
        if before is None or now <= before[0]:
            return 0.0
        return round((value - before[1]) / (now - before[0]), 1)

    def status(self) -> dict[str, Any]:
        """The merged status document (the status file's content)."""
        journal_dir = self.config.journal_dir
        places = [self.config.status_dir, journal_dir, self.config.process.state_dir]
        reader = next(filter(None, (read_json_file(p / "reader.status") for p in places)), None)
        shipper = next(filter(None, (read_json_file(p / "shipper.status") for p in places)), None)
        counters = merge_status(reader, shipper)
        counters.update(self.counters())
        now = self.clock()
        rates = {
            "reader_records_per_second": self._rate(
                "reader", int(counters.get("netlink_records", 0)), now),
            "shipper_lines_per_second": self._rate(
                "shipper", int(counters.get("journal_lines", 0)), now),
        }
        return {
            "pid": os.getpid(),
            "started": self.started,
            "updated": time.time(),
            "mode": "multicast" if self.config.kernel.multicast else "unicast",
            "targets": list(self.config.ship.targets),
            "journal_dir": str(journal_dir),
            "children": {
                c.name: {"pid": c.pid, "alive": c.alive, "restarts": c.restarts,
                         "last_exit": c.last_exit}
                for c in (self.reader, self.shipper)
            },
            "rates": rates,
            "counters": counters,
            "reader": reader,
            "shipper": shipper,
            "per_target": (shipper or {}).get("targets", {}),
        }

    def counters(self) -> dict[str, int]:
        """The supervisor's own counters (kernel rules and children)."""
        return {
            "reader_restarts": self.reader.restarts,
            "shipper_restarts": self.shipper.restarts,
            "rule_reloads": self.rule_reloads,
            "rule_reload_errors": self.rule_reload_errors,
            "rules_refused": self.rules_refused,
        }

    def _write_own_status(self) -> None:
        """``supervisor.status`` beside the children's: the shipper's health
        messages carry these counters (the merged status file would hand the
        shipper its own counters back)."""
        path = self.config.status_dir / SUPERVISOR_STATUS_NAME
        doc = {"pid": os.getpid(), "updated": time.time(), "counters": self.counters()}
        try:
            write_private_json(path, doc)
            if self._drop_to is not None:  # the shipper runs as --user: it must read it
                os.chown(path, *self._drop_to)
        except OSError as exc:
            log.warning("cannot write %s: %s", path, exc)

    def _write_status(self) -> None:
        self._write_own_status()
        path = self.config.process.status_file
        if path is None:
            return
        try:
            write_private_json(path, self.status())
        except OSError as exc:
            log.warning("cannot write the status file %s: %s", path, exc)

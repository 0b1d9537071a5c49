"""``audit-heka run``: the daemon (a supervisor of the reader and the shipper)."""

from __future__ import annotations

import pwd
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from audit_heka.cli.click_build import click_callback
from audit_heka.cli.heka_options import (
    check_max_message_size,
    exposure_warning,
    parse_key_files,
)
from audit_heka.config import DEFAULT_CONFIG_FILE, ConfigError, read_config
from audit_heka.core.schema import DEFAULT_MESSAGE_TYPE
from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, Signer
from audit_heka.host.private_files import UnsafePathError
from audit_heka.host.privileges import PrivilegeError
from audit_heka.journal.policy import FullAction, JournalPolicy
from audit_heka.journal.writer import FlushPolicy
from audit_heka.logconfig import LEVELS, configure_logging
from audit_heka.netlink.control import AuditError
from audit_heka.netlink.recv import DEFAULT_RCVBUF, SourceError
from audit_heka.outputs.file import FsyncPolicy, unwritable_reason
from audit_heka.outputs.target import TargetError, TargetKind, parse_target
from audit_heka.outputs.udp import DEFAULT_MAX_DATAGRAM
from audit_heka.statusfile import status_file_for
from audit_heka.supervisor import (
    DEFAULT_BACKLOG_LIMIT,
    DEFAULT_STATE_DIR,
    RunConfig,
    Supervisor,
    SupervisorError,
    options_to_config,
)

MIB = 1024 * 1024


def check_targets(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """Heka targets and ``log:PATH``, checked here, passed on as written (run.json)."""
    for value in values:
        if value.startswith("log:"):
            if not value[4:]:
                raise click.BadParameter("log: needs a path, e.g. log:/var/log/audit/audit.log")
            continue
        try:
            target = parse_target(value)
        except TargetError as exc:
            raise click.BadParameter(f"{exc}, or log:PATH") from None
        if target.kind is TargetKind.FILE:
            # Fail at start, as log: does, rather than retry a missing directory forever.
            reason = unwritable_reason(Path(target.path))
            if reason is not None:
                raise click.BadParameter(f"{value}: {reason}")
    return values


def check_signers(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """``SIGNER:VERSION=KEY`` values, checked, passed on as written."""
    for value in values:
        try:
            Signer.parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return values


def check_fsync(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        FsyncPolicy.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _options() -> list[Callable[[Any], Any]]:
    o = click.option
    return [
        # --- where events go
        o("--target", "targets", multiple=True, default=("-",), show_default=True,
          callback=check_targets,
          help="host:port or tcp://host:port (Heka TcpInput), udp://host:port, "
          "tls://host:port, file:PATH, - (JSON lines), or log:PATH (auditd's log "
          "format, for Heka's LogstreamerInput + lua/audit_decoder.lua). Repeatable."),
        o("--log-max-bytes", type=click.IntRange(min=0), default=8 * MIB, show_default=True,
          help="log: targets rotate at this size (0: never), like auditd's max_log_file."),
        o("--log-num-logs", type=click.IntRange(min=1), default=5, show_default=True,
          help="log: files kept, the live one included, like auditd's num_logs."),
        # --- the kernel
        o("--rules", multiple=True, type=click.Path(exists=True, path_type=Path),
          help="Rule file or rules.d directory (auditctl syntax) to load. Repeatable."),
        o("--keep-rules", is_flag=True,
          help="Leave the loaded rules (and the settings their files make: -b -f -r -e "
          "--backlog_wait_time) in the kernel on exit (default: restore what was found)."),
        o("--strict-rules", is_flag=True,
          help="Fail closed: do not run (or, on SIGHUP, keep the previous rules) when any "
          "rule line is bad or refused by the kernel. Default: load every rule that can "
          "be loaded, log the others with file:line, count them (rules_refused)."),
        o("--multicast", is_flag=True,
          help="Read the multicast group beside auditd instead of becoming the audit daemon."),
        o("--backlog-limit", type=click.IntRange(min=0), default=DEFAULT_BACKLOG_LIMIT,
          show_default=True,
          help="Kernel backlog limit while we run (the kernel's default, 64, loses events)."),
        o("--backlog-wait-time", type=click.IntRange(min=0),
          help="Kernel backlog_wait_time in jiffies (default: leave as is)."),
        o("--rcvbuf", type=click.IntRange(min=65536), default=DEFAULT_RCVBUF, show_default=True,
          help="The reader's socket receive buffer (bytes): how big a burst waits in the "
          "kernel while the reader writes."),
        # --- the journal
        o("--journal-dir", type=click.Path(file_okay=False, path_type=Path),
          help="The journal: the kernel's records in auditd's log format, the one durable "
          "store between reader and shipper (default: STATE_DIR/journal; private, 0700)."),
        o("--journal-max-bytes", type=click.IntRange(min=2), default=1024 * MIB,
          show_default=True,
          help="The journal files together stay under this (auditd's num_logs x max_log_file)."),
        o("--journal-file-bytes", type=click.IntRange(min=1), default=8 * MIB,
          show_default=True,
          help="Rotate the journal's audit.log at this size (auditd's max_log_file)."),
        o("--journal-full", type=click.Choice([a.value for a in FullAction]),
          default=FullAction.BLOCK.value, show_default=True,
          help="When the shipper lags by --journal-max-bytes, or the disk is full: block "
          "(read the kernel slowly into bounded memory, so that its backlog throttles "
          "audited tasks without loss) or "
          "drop-oldest (give up the oldest unshipped records, counted)."),
        o("--flush", type=click.Choice([p.value for p in FlushPolicy]),
          default=FlushPolicy.INCREMENTAL.value, show_default=True,
          help="Journal durability, as auditd's flush: none (write only), incremental "
          "(fdatasync every --freq records), data (O_DSYNC), sync (O_SYNC)."),
        o("--freq", type=click.IntRange(min=1), default=1000, show_default=True,
          help="Records between fdatasync calls with --flush incremental (auditd's freq)."),
        o("--node", help="Write node=NAME before each journal line, as auditd's name_format."),
        # --- signing
        o("--hmac-key", "hmac_keys", multiple=True, metavar="SIGNER:VERSION=KEY",
          callback=check_signers,
          help="Sign every message (Heka [x.signer.SIGNER_VERSION] hmac_key)."),
        o("--hmac-key-file", "hmac_key_files", multiple=True, metavar="FILE",
          callback=click_callback(parse_key_files),
          help="File holding the signing key (one SIGNER:VERSION=KEY line, mode 0600): "
          "not visible in ps as --hmac-key is."),
        o("--hmac-hash", type=click.Choice(["md5", "sha1"]), default="md5", show_default=True,
          help="HMAC hash of --hmac-key (Heka's hmac_hash)."),
        # --- messages
        o("--type", "message_type", default=DEFAULT_MESSAGE_TYPE, show_default=True,
          help="Heka message Type."),
        o("--payload/--no-payload", default=True, show_default=True,
          help="Put the raw records in the message Payload."),
        o("--enrich/--no-enrich", default=False, show_default=True,
          help="Add ppid_exe, container_id, container_runtime, pod_uid from /proc "
          "(while the process exists; see docs/fields.md)."),
        o("--hostname", default=None, help="Hostname in messages (default: this host)."),
        o("--max-message-size", default=DEFAULT_MAX_MESSAGE_SIZE, show_default=True,
          callback=click_callback(check_max_message_size), help="Heka's max_message_size."),
        o("--udp-max-datagram", type=click.IntRange(min=64, max=65507),
          default=DEFAULT_MAX_DATAGRAM, show_default=True,
          help="Larger frames are degraded to fit (docs/fields.md) for UDP "
          "(Heka's buffer is 8 KiB)."),
        o("--ca", type=click.Path(exists=True, dir_okay=False),
          help="CA bundle to verify tls:// receivers (default: the system's)."),
        o("--cert", type=click.Path(exists=True, dir_okay=False),
          help="Client certificate for tls:// receivers that ask for one."),
        o("--key", type=click.Path(exists=True, dir_okay=False),
          help="Key of --cert."),
        o("--fsync", default="never", show_default=True, callback=check_fsync,
          help="file: targets: never, every:N frames, interval:SECONDS."),
        o("--health-interval", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
          help="Seconds between health messages (Type audit_heka_health)."),
        o("--drain-seconds", type=click.FloatRange(min=0), default=10.0, show_default=True,
          help="At a stop, how long the shipper may keep delivering what the journal "
          "holds (the rest is delivered at the next start)."),
        # --- the process
        o("--state-dir", type=click.Path(file_okay=False, path_type=Path),
          default=DEFAULT_STATE_DIR, show_default=True,
          help="Private directory (0700) for what must survive a crash: the kernel's audit "
          "state found at start (restored at exit even after a SIGKILL and restart), "
          "run.json and, by default, the journal."),
        o("--status-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
          help="Where `audit-heka status` finds our counters [default: "
          f"{status_file_for(False)}, or {status_file_for(True).name} with --multicast]; "
          "the reader's and the shipper's status files go beside it."),
        o("--user", help="Run the reader and shipper as this user (the reader keeps the "
          "audit capabilities)."),
        o("--log-level", type=click.Choice(LEVELS), default="info", show_default=True,
          help="debug-all also shows the libraries' debug logs (pyroute2's netlink dumps)."),
        o("-v", "--verbose", is_flag=True, help="Same as --log-level debug."),
    ]


def run_options(f: click.decorators.FC) -> click.decorators.FC:
    """The options of ``run`` (the config file takes the same names)."""
    for option in reversed(_options()):
        f = option(f)
    return f


def build_config(**options: Any) -> RunConfig:
    """Check the options together and group them into a :class:`RunConfig` (pure)."""
    keys = list(options.pop("hmac_keys")) + [
        f"{s.name}:{s.version}={s.key.decode('utf-8', 'surrogateescape')}"
        for s in options.pop("hmac_key_files")
    ]
    if len(keys) > 1:
        raise click.BadParameter("give one signing key", param_hint="--hmac-key")
    options["hmac_key"] = keys[0] if keys else None
    options.pop("log_level", None)
    if options["status_file"] is None:
        options["status_file"] = status_file_for(options["multicast"])
    options["rules"] = tuple(options["rules"])
    options["targets"] = tuple(options["targets"])
    try:
        JournalPolicy(options["journal_file_bytes"], options["journal_max_bytes"],
                      FullAction(options["journal_full"]))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--journal-max-bytes") from None
    if options["node"] is not None:
        from audit_heka.journal.format import node_prefix  # noqa: PLC0415

        try:
            node_prefix(options["node"])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--node") from None
    if options["user"] is not None:
        try:
            pwd.getpwnam(options["user"])
        except KeyError:
            raise click.BadParameter(
                f"unknown user {options['user']!r}", param_hint="--user") from None
    return options_to_config(options)


def start(config: RunConfig) -> None:
    """Run the supervisor; turn every start-up failure into a one-line message."""
    try:
        code = Supervisor(config).run()
    except (
        SupervisorError, SourceError, AuditError, PrivilegeError, UnsafePathError, ValueError,
    ) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    sys.exit(code)


def load_config_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """Eager ``--config``: the file's options become the defaults, so the command line wins."""
    path = value if value is not None else DEFAULT_CONFIG_FILE
    try:
        values = read_config(path, ctx.command, explicit=value is not None)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from None
    ctx.default_map = {**(ctx.default_map or {}), **values}
    if values.get("hmac_keys"):
        try:
            warning = exposure_warning(path, path.stat().st_mode, "an HMAC key")
        except OSError:
            warning = None
        if warning is not None:
            click.echo(f"audit-heka: {warning} (or move the key to hmac-key-file)", err=True)
    return path


@click.command()
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    is_eager=True,
    expose_value=False,
    callback=load_config_file,
    help=f"TOML file of run's options (default {DEFAULT_CONFIG_FILE}, if it exists); "
    "the command line wins over it.",
)
@run_options
def run(**options: Any) -> None:
    """Become the audit daemon (or read the multicast group) and ship every event.

    A reader process drains the kernel into the journal (auditd's log format);
    a shipper process follows the journal and delivers every event to every
    target. Losses of any kind are counted, logged, reported in health
    messages (Type audit_heka_health) and shown by `audit-heka status`.
    SIGTERM/SIGINT stop cleanly (the journal keeps what is not yet delivered),
    SIGHUP reloads the rules.
    """
    level = options["log_level"]
    configure_logging("debug" if options["verbose"] and level == "info" else level)
    start(build_config(**options))

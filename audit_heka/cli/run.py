"""``audit-heka run``: the daemon, live kernel events to Heka."""

from __future__ import annotations

import pwd
import socket
import sys
from pathlib import Path

import click

from audit_heka.cli.heka_options import (
    exposure_warning,
    max_message_size_option,
    one_signer,
    signing_options,
    tls_options,
)
from audit_heka.config import DEFAULT_CONFIG_FILE, ConfigError, read_config
from audit_heka.daemon import (
    DEFAULT_BACKLOG_LIMIT,
    DEFAULT_STATE_DIR,
    Daemon,
    DaemonError,
    LogTarget,
    RunConfig,
)
from audit_heka.delivery import DeliveryConfig
from audit_heka.heka.framing import Signer
from audit_heka.logconfig import LEVELS, configure_logging
from audit_heka.netlink.control import AuditError
from audit_heka.netlink.source import SourceError
from audit_heka.outputs.file import FsyncPolicy, unwritable_reason
from audit_heka.outputs.target import Target, TargetError, TargetKind, TlsOptions, parse_target
from audit_heka.outputs.transport import TransportOptions
from audit_heka.outputs.udp import DEFAULT_MAX_DATAGRAM
from audit_heka.private_files import UnsafePathError, default_owners, ensure_private_dir
from audit_heka.privileges import PrivilegeError
from audit_heka.schema import DEFAULT_MESSAGE_TYPE
from audit_heka.spool import DEFAULT_MAX_BYTES, FullAction, SpoolError
from audit_heka.statusfile import status_file_for


def parse_targets(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[Target | Path, ...]:
    """Heka targets, and ``log:PATH`` (records in auditd's log format) as a Path."""
    out: list[Target | Path] = []
    for value in values:
        if value.startswith("log:"):
            if not value[4:]:
                raise click.BadParameter("log: needs a path, e.g. log:/var/log/audit/audit.log")
            out.append(Path(value[4:]))
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
        out.append(target)
    return tuple(out)


def parse_fsync(ctx: click.Context, param: click.Parameter, value: str) -> FsyncPolicy:
    try:
        return FsyncPolicy.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def run_options(f: click.decorators.FC) -> click.decorators.FC:
    """The options of ``run`` (shared with ``demo``, which runs the same daemon)."""
    options = [
        click.option(
            "--target",
            "targets",
            multiple=True,
            default=("-",),
            show_default=True,
            callback=parse_targets,
            help="host:port or tcp://host:port (Heka TcpInput), udp://host:port, "
            "tls://host:port, file:PATH, - (JSON lines), or log:PATH (auditd's log "
            "format, for Heka's LogstreamerInput + lua/audit_decoder.lua). Repeatable.",
        ),
        click.option(
            "--log-max-bytes",
            type=click.IntRange(min=0),
            default=8 * 1024 * 1024,
            show_default=True,
            help="log: targets rotate at this size (0: never), like auditd's max_log_file.",
        ),
        click.option(
            "--log-num-logs",
            type=click.IntRange(min=1),
            default=5,
            show_default=True,
            help="log: files kept, the live one included, like auditd's num_logs.",
        ),
        click.option(
            "--rules",
            multiple=True,
            type=click.Path(exists=True, path_type=Path),
            help="Rule file or rules.d directory (auditctl syntax) to load. Repeatable.",
        ),
        click.option(
            "--keep-rules",
            is_flag=True,
            help="Leave the loaded rules (and the settings their files make: -b -f -r -e "
            "--backlog_wait_time) in the kernel on exit (default: restore what was found).",
        ),
        click.option(
            "--strict-rules",
            is_flag=True,
            help="Fail closed: do not run (or, on SIGHUP, keep the previous rules) when any "
            "rule line is bad or refused by the kernel. Default: load every rule that can "
            "be loaded, log the others with file:line, count them (rules_refused).",
        ),
        click.option(
            "--state-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=DEFAULT_STATE_DIR,
            show_default=True,
            help="Private directory (0700) for what must survive a crash: the kernel's audit "
            "state found at start, restored at exit even after a SIGKILL and restart.",
        ),
        click.option(
            "--multicast",
            is_flag=True,
            help="Read the multicast group beside auditd instead of becoming the audit daemon.",
        ),
        click.option(
            "--backlog-limit",
            type=click.IntRange(min=0),
            default=DEFAULT_BACKLOG_LIMIT,
            show_default=True,
            help="Kernel backlog limit while we run (the kernel's default, 64, loses events).",
        ),
        click.option(
            "--backlog-wait-time",
            type=click.IntRange(min=0),
            help="Kernel backlog_wait_time in jiffies (default: leave as is).",
        ),
        signing_options,
        click.option(
            "--spool",
            type=click.Path(file_okay=False, path_type=Path),
            help="Directory of the disk spool (at-least-once delivery across restarts).",
        ),
        click.option("--spool-max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES),
        click.option(
            "--spool-full",
            type=click.Choice([a.value for a in FullAction]),
            default=FullAction.BLOCK.value,
            show_default=True,
        ),
        click.option("--type", "message_type", default=DEFAULT_MESSAGE_TYPE, show_default=True,
                     help="Heka message Type of audit events (health reports are "
                     "audit_heka_health)."),
        click.option("--payload/--no-payload", default=True, show_default=True,
                     help="Carry the event's raw records in Payload."),
        click.option(
            "--enrich/--no-enrich",
            default=False,
            show_default=True,
            help="Add ppid_exe, container_id, container_runtime, pod_uid from /proc "
            "(while the process exists; see docs/fields.md).",
        ),
        click.option("--hostname", default=None, help="Hostname in messages (default: this host)."),
        max_message_size_option,
        click.option(
            "--udp-max-datagram",
            type=click.IntRange(min=64, max=65507),
            default=DEFAULT_MAX_DATAGRAM,
            show_default=True,
            help="Larger frames are degraded to fit (docs/fields.md) for UDP "
            "(Heka's buffer is 8 KiB).",
        ),
        tls_options,
        click.option(
            "--fsync",
            default="never",
            show_default=True,
            callback=parse_fsync,
            help="file: targets: never, every:N frames, interval:SECONDS.",
        ),
        click.option("--health-interval", type=click.FloatRange(min=0.1), default=60.0,
                     show_default=True,
                     help="Seconds between health messages (Type audit_heka_health); one "
                     "more at exit."),
        click.option(
            "--status-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Where `audit-heka status` finds our counters [default: "
            f"{status_file_for(False)}, or {status_file_for(True).name} with --multicast].",
        ),
        click.option("--user", help="Drop to this user after start-up, keeping audit caps."),
        click.option("--log-level", type=click.Choice(LEVELS), default="info", show_default=True,
                     help="debug-all also shows the libraries' debug logs (pyroute2's "
                     "netlink dumps)."),
        click.option("-v", "--verbose", is_flag=True, help="Same as --log-level debug."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_config(
    targets: tuple[Target | Path, ...],
    log_max_bytes: int,
    log_num_logs: int,
    rules: tuple[Path, ...],
    keep_rules: bool,
    strict_rules: bool,
    state_dir: Path,
    multicast: bool,
    backlog_limit: int,
    backlog_wait_time: int | None,
    hmac_keys: tuple[Signer, ...],
    hmac_key_files: tuple[Signer, ...],
    hmac_hash: str,
    spool: Path | None,
    spool_max_bytes: int,
    spool_full: str,
    message_type: str,
    payload: bool,
    enrich: bool,
    hostname: str | None,
    max_message_size: int,
    udp_max_datagram: int,
    ca: str | None,
    cert: str | None,
    key: str | None,
    fsync: FsyncPolicy,
    health_interval: float,
    status_file: Path | None,
    user: str | None,
) -> RunConfig:
    """Turn the options into a :class:`RunConfig` (pure)."""
    signer = one_signer(hmac_keys, hmac_key_files, hmac_hash)
    transport = TransportOptions(
        max_datagram=udp_max_datagram,
        tls=TlsOptions(ca=ca, cert=cert, key=key),
        fsync=fsync,
        signers={signer.lookup_key: signer} if signer else {},
    )
    owners = None
    if user is not None:
        try:
            owners = default_owners([pwd.getpwnam(user).pw_uid])
        except KeyError:
            raise click.BadParameter(f"unknown user {user!r}", param_hint="--user") from None
    delivery = DeliveryConfig(
        spool_owners=owners,
        spool_dir=spool,
        spool_max_bytes=spool_max_bytes,
        spool_full=FullAction(spool_full),
        transport=transport,
    )
    return RunConfig(
        targets=tuple(t for t in targets if isinstance(t, Target)),
        logs=tuple(
            LogTarget(t, log_max_bytes, log_num_logs) for t in targets if isinstance(t, Path)
        ),
        delivery=delivery,
        rules=rules,
        keep_rules=keep_rules,
        strict_rules=strict_rules,
        state_dir=state_dir,
        signer=signer,
        multicast=multicast,
        backlog_limit=backlog_limit,
        backlog_wait_time=backlog_wait_time,
        message_type=message_type,
        payload=payload,
        enrich=enrich,
        hostname=hostname or socket.gethostname(),
        max_message_size=max_message_size,
        health_interval=health_interval,
        status_file=status_file if status_file is not None else status_file_for(multicast),
        user=user,
    )


def start(config: RunConfig) -> None:
    """Run the daemon; turn every start-up failure into a one-line message."""
    try:
        if config.status_file is not None:
            ensure_private_dir(config.status_file.parent, config.delivery.spool_owners)
        ensure_private_dir(config.state_dir, config.delivery.spool_owners)
        code = Daemon(config).run()
    except (
        DaemonError,
        SourceError,
        AuditError,
        SpoolError,
        PrivilegeError,
        UnsafePathError,
        ValueError,
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
def run(verbose: bool, log_level: str, **options: object) -> None:
    """Become the audit daemon (or read the multicast group) and ship every event.

    Every event goes to every target through a spool; losses of any kind are
    counted, logged, reported in health messages (Type audit_heka_health) and
    shown by `audit-heka status`. SIGTERM/SIGINT stop cleanly, SIGHUP reloads
    the rules.
    """
    configure_logging("debug" if verbose and log_level == "info" else log_level)
    start(build_config(**options))  # type: ignore[arg-type]

"""``audit-heka status``: the kernel's audit state and the running daemon's counters.

Why not just ``auditctl -s``: the same numbers in JSON for monitoring, read
through the same length-tolerant codec the daemon uses, so a kernel whose
status struct is shorter or longer than ours is reported, not misread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from audit_heka.daemon import DEFAULT_STATUS_FILE
from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.status import StatusError, format_status
from audit_heka.netlink.uapi import Feature


def read_daemon_status(path: Path) -> dict[str, Any] | None:
    """The status file a running ``audit-heka run`` keeps, if any and if readable."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    pid = doc.get("pid")
    doc["running"] = isinstance(pid, int) and Path(f"/proc/{pid}").exists()
    return doc


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--status-file",
    type=click.Path(path_type=Path),
    default=DEFAULT_STATUS_FILE,
    show_default=True,
    help="Where the running daemon keeps its counters.",
)
def status(as_json: bool, status_file: Path) -> None:
    """Show the kernel audit status (enabled, pid, backlog, lost, ...) and,
    when audit-heka runs, its loss and delivery counters."""
    try:
        with AuditControl() as ctl:
            st = ctl.get_status()
            try:
                feats = ctl.get_features()
                immutable: tuple[int, bool] | None = (
                    int(feats.loginuid_immutable), feats.loginuid_immutable_locked
                )
            except AuditError:
                immutable = None
    except (AuditError, StatusError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        doc: dict[str, object] = {k: v for k, v in st.as_dict().items() if v is not None}
        doc["features"] = [f.name.lower() for f in Feature if f & st.features and f.name]
        if immutable is not None:
            doc["loginuid_immutable"] = immutable[0]
            doc["loginuid_immutable_locked"] = immutable[1]
        daemon = read_daemon_status(status_file)
        if daemon is not None:
            doc["daemon"] = daemon
        click.echo(json.dumps(doc, sort_keys=True))
        return
    for name, value in format_status(st):
        click.echo(f"{name} {value}")
    if immutable is not None:
        click.echo(f"loginuid_immutable {immutable[0]} {'locked' if immutable[1] else 'unlocked'}")
    daemon = read_daemon_status(status_file)
    if daemon is None:
        return
    state = "running" if daemon["running"] else "not running (stale status file)"
    click.echo(f"daemon.pid {daemon.get('pid')} {state}")
    for name, value in sorted(daemon.get("counters", {}).items()):
        click.echo(f"daemon.{name} {value}")

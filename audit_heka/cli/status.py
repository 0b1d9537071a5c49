"""``audit-heka status``: the kernel's audit state (every status field + lost).

Why not just ``auditctl -s``: the same numbers in JSON for monitoring, read
through the same length-tolerant codec the daemon uses, so a kernel whose
status struct is shorter or longer than ours is reported, not misread.
"""

from __future__ import annotations

import json

import click

from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.status import StatusError, format_status
from audit_heka.netlink.uapi import Feature


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(as_json: bool) -> None:
    """Show the kernel audit status (enabled, pid, backlog, lost, ...)."""
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
        click.echo(json.dumps(doc, sort_keys=True))
        return
    for name, value in format_status(st):
        click.echo(f"{name} {value}")
    if immutable is not None:
        click.echo(f"loginuid_immutable {immutable[0]} {'locked' if immutable[1] else 'unlocked'}")

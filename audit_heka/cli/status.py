"""``audit-heka status``: the kernel's audit state and the running daemon's counters.

Why not just ``auditctl -s``: the same numbers in JSON for monitoring, read
through the same length-tolerant codec the daemon uses, so a kernel whose
status struct is shorter or longer than ours is reported, not misread.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from audit_heka.journal.summary import journal_summary
from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.status import StatusError, format_status
from audit_heka.netlink.uapi import Feature
from audit_heka.supervisor import DEFAULT_STATUS_FILE


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
    journal_dir = doc.get("journal_dir")
    if isinstance(journal_dir, str):
        doc["journal"] = journal_summary(Path(journal_dir), time.time())
    return doc


def daemon_lines(daemon: dict[str, Any]) -> list[str]:
    """The daemon's part of the text report: children, rates, journal, targets, counters."""
    state = "running" if daemon["running"] else "not running (stale status file)"
    out = [f"daemon.pid {daemon.get('pid')} {state}"]
    for name, child in sorted((daemon.get("children") or {}).items()):
        alive = "alive" if child.get("alive") else "dead"
        out.append(f"daemon.{name} pid {child.get('pid')} {alive}, "
                   f"{child.get('restarts', 0)} restarts")
    for name, value in sorted((daemon.get("rates") or {}).items()):
        out.append(f"daemon.{name} {value}")
    journal = daemon.get("journal")
    if isinstance(journal, dict):
        files = journal.get("files") or []
        out.append(f"journal.directory {journal.get('directory')}")
        out.append(f"journal.files {len(files)} ({', '.join(f['name'] for f in files)})")
        out.append(f"journal.bytes {journal.get('bytes')}")
        out.append(f"journal.unshipped_records {journal.get('unshipped_records')}")
        age = journal.get("oldest_unshipped_age")
        out.append(f"journal.oldest_unshipped_age {'-' if age is None else f'{age} s'}")
        if journal.get("cursor_problem"):
            out.append(f"journal.cursor_problem {journal['cursor_problem']}")
    reader = daemon.get("reader") or {}
    if reader.get("blocked"):
        out.append(f"reader.blocked {reader['blocked']}")
    for target, state_doc in sorted((daemon.get("per_target") or {}).items()):
        if isinstance(state_doc, dict):
            text = " ".join(f"{k}={v}" for k, v in sorted(state_doc.items()))
        else:
            text = str(state_doc)
        out.append(f"target.{target} {text}")
    for name, value in sorted((daemon.get("counters") or {}).items()):
        out.append(f"daemon.{name} {value}")
    return out


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
    when audit-heka runs, its children, rates, journal (files, bytes, records
    not yet shipped, age of the oldest), per-target state and counters."""
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
    for line in daemon_lines(daemon):
        click.echo(line)

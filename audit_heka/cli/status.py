"""``audit-heka status``: the kernel's audit state and the running daemons' counters.

Why not just ``auditctl -s``: the same numbers in JSON for monitoring, read
through the same length-tolerant codec the daemon uses, so a kernel whose
status struct is shorter or longer than ours is reported, not misread.

The exit status follows systemctl's (LSB) convention so that scripts and
monitoring can ask "is it running?": 0 when an audit-heka daemon runs, 3 when
none does (a status file left by a dead run is reported as stale, never as
live counters), 4 when it cannot be told (not root).
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from audit_heka.journal.summary import journal_summary
from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.status import StatusError, format_status
from audit_heka.netlink.uapi import Feature
from audit_heka.statusfile import (
    STATUS_DIR,
    DaemonStatus,
    default_status_files,
    describe_age,
    read_status,
)

EXIT_RUNNING = 0
EXIT_NOT_RUNNING = 3
EXIT_UNKNOWN = 4
NOT_ROOT = "You must be root to run this program."


def _when(timestamp: object) -> str:
    if not isinstance(timestamp, (int, float)):
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(timestamp))


def _daemon_json(found: DaemonStatus) -> dict[str, Any]:
    doc = dict(found.doc)
    counters = doc.pop("counters", None)
    doc["status_file"] = str(found.path)
    doc["running"] = found.running
    if found.running:
        doc["counters"] = counters
        if isinstance(doc.get("journal_dir"), str):
            doc["journal"] = journal_summary(Path(doc["journal_dir"]), time.time())
        if found.stalled:
            doc["stalled"] = True
    else:
        doc["stale"] = found.why_not
        if counters is not None:
            doc["last_counters"] = counters  # the dead run's, for a post-mortem
    return doc


def _daemon_lines(found: DaemonStatus) -> list[str]:
    doc = found.doc
    mode = doc.get("mode", "?")
    age = f", {describe_age(found.age)} ago" if found.age is not None else ""
    if not found.running:
        return [f"daemon: not running (stale status file {found.path}, {mode}, last written "
                f"{_when(doc.get('updated'))}{age}: {found.why_not})"]
    lines = [f"daemon.pid {doc.get('pid')} running ({mode}, since {_when(doc.get('started'))}, "
             f"{found.path})"]
    if found.stalled:
        lines.append(f"daemon.warning status file not updated for {describe_age(found.age or 0)}"
                     ": the daemon may be stuck")
    lines += supervision_lines(doc)
    counters = doc.get("counters")
    if isinstance(counters, dict):
        lines += [f"daemon.{name} {value}" for name, value in sorted(counters.items())]
    return lines


def supervision_lines(doc: dict[str, Any]) -> list[str]:
    """Children, rates, the journal (files, bytes, unshipped records and the oldest's
    age) and per-target state of a running ``run``."""
    out: list[str] = []
    for name, child in sorted((doc.get("children") or {}).items()):
        alive = "alive" if child.get("alive") else "dead"
        out.append(f"daemon.{name} pid {child.get('pid')} {alive}, "
                   f"{child.get('restarts', 0)} restarts")
    for name, value in sorted((doc.get("rates") or {}).items()):
        out.append(f"daemon.{name} {value}")
    if isinstance(doc.get("journal_dir"), str):
        journal = journal_summary(Path(doc["journal_dir"]), time.time())
        files = journal["files"]
        assert isinstance(files, list)
        out.append(f"journal.directory {journal['directory']}")
        out.append(f"journal.files {len(files)} ({', '.join(f['name'] for f in files)})")
        out.append(f"journal.bytes {journal['bytes']}")
        out.append(f"journal.unshipped_records {journal['unshipped_records']}")
        age = journal["oldest_unshipped_age"]
        out.append(f"journal.oldest_unshipped_age {'-' if age is None else f'{age} s'}")
        if journal.get("cursor_problem"):
            out.append(f"journal.cursor_problem {journal['cursor_problem']}")
    reader = doc.get("reader") or {}
    if reader.get("blocked"):
        out.append(f"reader.blocked {reader['blocked']}")
    for target, state in sorted((doc.get("per_target") or {}).items()):
        text = (" ".join(f"{k}={v}" for k, v in sorted(state.items()))
                if isinstance(state, dict) else str(state))
        out.append(f"target.{target} {text}")
    return out


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--status-file",
    "status_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A running daemon's status file (repeatable) [default: "
    f"{STATUS_DIR}/status-unicast.json and status-multicast.json].",
)
def status(as_json: bool, status_files: tuple[Path, ...]) -> None:
    """Show the kernel audit status (enabled, pid, backlog, lost, ...) and,
    for each audit-heka daemon running, its loss and delivery counters.

    Exit status as systemctl's: 0 a daemon is running, 3 none is, 4 unknown
    (not root).
    """
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
    except AuditError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES) and os.geteuid() != 0:
            # auditctl's words: the kernel refuses AUDIT_GET without CAP_AUDIT_CONTROL,
            # which says nothing about a lock.
            click.echo(NOT_ROOT, err=True)
            sys.exit(EXIT_UNKNOWN)
        raise click.ClickException(str(exc)) from None
    except StatusError as exc:
        raise click.ClickException(str(exc)) from None
    found: list[DaemonStatus] = []
    unreadable: list[str] = []
    for path in status_files or default_status_files():
        try:
            daemon = read_status(path)
        except OSError as exc:
            unreadable.append(f"cannot read {path}: {exc.strerror}")
            continue
        if daemon is not None:
            found.append(daemon)
    running = [d for d in found if d.running]
    code = EXIT_RUNNING if running else EXIT_UNKNOWN if unreadable else EXIT_NOT_RUNNING
    if as_json:
        doc: dict[str, object] = {k: v for k, v in st.as_dict().items() if v is not None}
        doc["features"] = [f.name.lower() for f in Feature if f & st.features and f.name]
        if immutable is not None:
            doc["loginuid_immutable"] = immutable[0]
            doc["loginuid_immutable_locked"] = immutable[1]
        doc["daemons"] = [_daemon_json(d) for d in found]
        if running:
            doc["daemon"] = _daemon_json(running[0])
        if unreadable:
            doc["errors"] = unreadable
        click.echo(json.dumps(doc, sort_keys=True))
        sys.exit(code)
    for name, value in format_status(st):
        click.echo(f"{name} {value}")
    if immutable is not None:
        click.echo(f"loginuid_immutable {immutable[0]} {'locked' if immutable[1] else 'unlocked'}")
    for daemon in found:
        for line in _daemon_lines(daemon):
            click.echo(line)
    for message in unreadable:
        click.echo(f"daemon: {message}", err=True)
    if not found and not unreadable:
        where = ", ".join(str(p) for p in status_files) if status_files else str(STATUS_DIR)
        click.echo(f"daemon: not running (no status file in {where})")
    sys.exit(code)

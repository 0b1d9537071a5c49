"""``audit-heka rules``: load, list, delete and check audit rules.

Why our own loader: it speaks auditctl's rule syntax, prints exactly what
``auditctl -l`` prints, and makes loading a file all-or-nothing (auditctl
stops half way), with errors as ``file:line: message`` and never a traceback.
"""

from __future__ import annotations

import click

from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.rulefile import load_sources, matching, read_sources
from audit_heka.netlink.rules import RuleEnv, RuleError, format_rules
from audit_heka.netlink.status import StatusError


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group()
def rules() -> None:
    """Kernel audit rules in auditctl syntax."""


@rules.command("load")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--continue", "keep_going", is_flag=True,
              help="Keep going after a bad or refused line (default: all-or-nothing per file).")
def load(paths: tuple[str, ...], keep_going: bool) -> None:
    """Load rules from FILEs or rules.d DIRs (augenrules order), adding to the kernel's.

    Each file is loaded whole or not at all (--continue: every line it can);
    in a rules.d directory a bad file does not stop the others. The last
    lines say which files were loaded and which were not; the exit status is
    1 when any line was not loaded.
    """
    try:
        with AuditControl() as ctl:
            env = RuleEnv.system(ctl.get_status().feature_bitmap or 0)
            report = load_sources(ctl, paths, env, keep_going=keep_going)
    except (AuditError, StatusError, RuleError) as exc:
        raise _fail(exc) from None
    for message in report.errors:
        click.echo(f"error: {message}", err=True)
    for line in report.summary():
        click.echo(line, err=report.failed)
    if report.failed:
        raise SystemExit(1)


@rules.command("list")
@click.option("-k", "--key", default=None, help="Only rules whose key contains KEY.")
def list_(key: str | None) -> None:
    """Print the kernel's rules as `auditctl -l` does."""
    try:
        with AuditControl() as ctl:
            found = matching(ctl.list_rules(), key)
    except (AuditError, RuleError) as exc:
        raise _fail(exc) from None
    env = RuleEnv.system()
    for line in format_rules(found, env.machine):
        click.echo(line)


@rules.command("delete-all")
@click.option("-k", "--key", default=None, help="Only rules whose key contains KEY.")
def delete_all(key: str | None) -> None:
    """Delete all rules (like `auditctl -D`)."""
    try:
        with AuditControl() as ctl:
            count = ctl.delete_all(key)
    except (AuditError, RuleError) as exc:
        raise _fail(exc) from None
    click.echo(f"deleted {count} rule{'s' if count != 1 else ''}")


@rules.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def check(paths: tuple[str, ...]) -> None:
    """Parse and encode FILEs/DIRs without touching the kernel."""
    env = RuleEnv.system()
    bad = 0
    total = 0
    for parsed in read_sources(paths, env):
        total += len(parsed.commands)
        for err in parsed.errors:
            click.echo(f"error: {err}", err=True)
        bad += len(parsed.errors)
    click.echo(f"{total} line{'s' if total != 1 else ''} ok, {bad} error{'s' if bad != 1 else ''}")
    if bad:
        raise SystemExit(1)

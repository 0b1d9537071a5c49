"""Rule files and rules.d directories, read the way auditctl/augenrules do.

Why separate from rules.py: rules.py knows one line; this knows where lines
come from (file and line number, for error messages), how a rules.d
directory is ordered and merged (augenrules: ``ls -1v`` order, the last
``-D``, ``-b``, ``-f`` moved to the top, the last ``-e`` to the end), and how
a whole file is applied all-or-nothing. Parsing is pure (text in, values
out); ``read_sources`` and ``apply`` are the thin I/O parts.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from audit_heka.netlink.control import AuditError
from audit_heka.netlink.rules import (
    AddRule,
    Command,
    ContinueOnError,
    DeleteAll,
    DeleteRule,
    ResetLost,
    Rule,
    RuleEnv,
    RuleError,
    SetLoginuidImmutable,
    SetStatus,
    parse_line,
    rule_has_key,
)
from audit_heka.netlink.rulesync import (
    Refused,
    SyncReport,
    Wanted,
    load_like_augenrules,
    refusal,
    sync_rules,
)
from audit_heka.netlink.rulesync import (
    RuleControl as SyncControl,
)
from audit_heka.netlink.status import AuditStatus


@dataclass(frozen=True, slots=True)
class Located:
    """A command with the file and line it came from."""

    source: str
    lineno: int
    text: str
    command: Command

    @property
    def where(self) -> str:
        return f"{self.source}:{self.lineno}"


@dataclass(frozen=True, slots=True)
class LineError:
    source: str
    lineno: int
    text: str
    message: str

    def __str__(self) -> str:
        if not self.lineno:  # the whole file (it cannot be read)
            return f"{self.source}: {self.message}"
        return f"{self.source}:{self.lineno}: {self.message}\n    {self.text.strip()}"


@dataclass(frozen=True, slots=True)
class ParsedRules:
    """One FILE's lines, or one DIR's files merged (``files`` then holds each file's)."""

    commands: tuple[Located, ...]
    errors: tuple[LineError, ...]
    source: str = ""
    files: tuple[ParsedRules, ...] = ()
    unreadable: bool = False


def parse_rules(text: str, source: str, env: RuleEnv | None = None) -> ParsedRules:
    """Every line of one rules file; errors are collected, not raised."""
    commands: list[Located] = []
    errors: list[LineError] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            cmd = parse_line(line, env)
        except RuleError as exc:
            errors.append(LineError(source, lineno, line, str(exc)))
            continue
        if cmd is not None:
            commands.append(Located(source, lineno, line, cmd))
    return ParsedRules(tuple(commands), tuple(errors), source)


def version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key approximating ``ls -1v`` (GNU version sort) for rules.d names."""
    # ASCII digits only: "²".isdigit() is True but int() refuses it, and int() refuses
    # more than 4300 digits (both found by tests/test_fuzz.py).
    return tuple(
        (0, int(part)) if part.isascii() and part.isdigit() and len(part) <= 4300 else (1, part)
        for part in re.findall(r"[0-9]+|[^0-9]+", name)
    )


def augenrules_split(
    commands: Sequence[Located],
) -> tuple[list[Located], list[Located], list[Located]]:
    """augenrules' merge as (head, body, tail): the last -D, -b and -f (in that
    order), then the other lines in order, then the last -e."""

    def status_name(c: Located) -> str | None:
        if isinstance(c.command, SetStatus) and len(c.command.changes) == 1:
            return c.command.changes[0][0]
        return None

    last: dict[str, Located] = {}
    body: list[Located] = []
    for c in commands:
        kind = c.command
        name = "delete_all" if isinstance(kind, DeleteAll) and kind.key is None else status_name(c)
        if name in ("delete_all", "backlog_limit", "failure", "enabled"):
            last[name] = c
        else:
            body.append(c)
    head = [last[n] for n in ("delete_all", "backlog_limit", "failure") if n in last]
    tail = [last["enabled"]] if "enabled" in last else []
    return head, body, tail


def augenrules_order(commands: Sequence[Located]) -> list[Located]:
    """Merge as augenrules does (see ``augenrules_split``)."""
    head, body, tail = augenrules_split(commands)
    return head + body + tail


def read_sources(paths: Iterable[str | Path], env: RuleEnv | None = None) -> list[ParsedRules]:
    """One ParsedRules per FILE, or per DIR (its ``*.rules`` in ``ls -v``
    order, merged as augenrules does). Unreadable paths become errors."""
    out: list[ParsedRules] = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                files = sorted(
                    (p for p in path.iterdir() if p.name.endswith(".rules") and p.is_file()),
                    key=lambda p: version_key(p.name),
                )
                each = tuple(
                    parse_rules(f.read_text(errors="surrogateescape"), str(f), env)
                    for f in files
                )
                cmds = [c for parsed in each for c in parsed.commands]
                errs = tuple(e for parsed in each for e in parsed.errors)
                out.append(ParsedRules(tuple(augenrules_order(cmds)), errs, str(path), each))
            else:
                out.append(parse_rules(path.read_text(errors="surrogateescape"), str(path), env))
        except OSError as exc:
            error = LineError(str(path), 0, "", f"cannot be read: {exc.strerror or exc}")
            out.append(ParsedRules((), (error,), str(path), unreadable=True))
    return out


class RuleControl(Protocol):
    """What applying rules needs of the kernel (AuditControl has it)."""

    def list_rules(self) -> list[Rule]: ...

    def add_rule(self, rule: Rule) -> Rule: ...

    def delete_rule(self, rule: Rule) -> None: ...

    def delete_all(self, key: str | None = None) -> int: ...

    def set_status(self, **changes: int) -> None: ...

    def reset_lost(self) -> int: ...

    def set_loginuid_immutable(self) -> None: ...


@dataclass
class ApplyResult:
    applied: int = 0
    failures: list[str] = field(default_factory=list)
    rolled_back: bool = False


def _run(ctl: RuleControl, cmd: Command) -> None:
    if isinstance(cmd, AddRule):
        ctl.add_rule(cmd.rule)
    elif isinstance(cmd, DeleteRule):
        ctl.delete_rule(cmd.rule)
    elif isinstance(cmd, DeleteAll):
        ctl.delete_all(cmd.key)
    elif isinstance(cmd, SetStatus):
        for name, value in cmd.changes:
            ctl.set_status(**{name: value})
    elif isinstance(cmd, ResetLost):
        ctl.reset_lost()
    elif isinstance(cmd, SetLoginuidImmutable):
        ctl.set_loginuid_immutable()


def apply(
    ctl: RuleControl,
    commands: Sequence[Located],
    *,
    keep_going: bool = False,
    status_before: dict[str, int] | None = None,
) -> ApplyResult:
    """Apply one file's commands in order, as ``auditctl -R`` would.

    All-or-nothing unless ``keep_going`` (or a ``-c``/``-i`` line): on the
    first refusal, the kernel's rules are put back as they were before this
    file (rulesync keeps what is still in place, so no unaudited window) and
    the status fields this file changed are restored from ``status_before``.
    Failures are ``"file:line: <auditctl's words>"``; nothing raises past
    here except the failure of the rollback itself.
    """
    keep_going = keep_going or any(isinstance(c.command, ContinueOnError) for c in commands)
    snapshot = None if keep_going else ctl.list_rules()
    result = ApplyResult()
    changed: set[str] = set()
    for c in commands:
        try:
            _run(ctl, c.command)
        except AuditError as exc:
            result.failures.append(str(refusal(c, exc)))
            if keep_going:
                continue
            assert snapshot is not None
            _rollback(ctl, snapshot, changed, status_before or {})
            result.rolled_back = True
            return result
        if isinstance(c.command, SetStatus):
            changed.update(name for name, _ in c.command.changes)
        result.applied += 1
    return result


def _rollback(
    ctl: RuleControl, snapshot: list[Rule], changed: set[str], status_before: dict[str, int]
) -> None:
    report = sync_rules(ctl, [Wanted(rule) for rule in snapshot])
    if report.refused:
        raise AuditError(errno.EIO, "putting the rules back: " + "; ".join(
            r.reason for r in report.refused))
    for name in changed:
        if name in status_before and name != "enabled":
            ctl.set_status(**{name: status_before[name]})


def matching(rules: Iterable[Rule], key: str | None) -> list[Rule]:
    return [r for r in rules if key is None or rule_has_key(r, key)]


class RuleLoader(RuleControl, Protocol):
    """A RuleControl that can also read the status (to undo a failed file)."""

    def get_status(self) -> AuditStatus: ...


@dataclass
class LoadReport:
    """What ``rules load`` did, exactly: per file, loaded or not and why."""

    errors: list[str] = field(default_factory=list)  # "file:line: reason" and others
    loaded: list[str] = field(default_factory=list)  # "FILE: N lines"
    not_loaded: list[str] = field(default_factory=list)  # "FILE: why"

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.not_loaded)

    def summary(self) -> list[str]:
        lines = [f"loaded: {what}" for what in self.loaded]
        lines += [f"NOT loaded: {what}" for what in self.not_loaded]
        return lines


def _lines(n: int) -> str:
    return f"{n} line{'s' if n != 1 else ''}"


def _apply_file(
    ctl: RuleLoader, commands: Sequence[Located], keep_going: bool, report: LoadReport
) -> ApplyResult:
    before = {k: v for k, v in ctl.get_status().as_dict().items() if v is not None}
    result = apply(ctl, commands, keep_going=keep_going, status_before=before)
    report.errors += result.failures
    return result


def _account(report: LoadReport, source: str, result: ApplyResult) -> None:
    if result.rolled_back:
        report.not_loaded.append(
            f"{source}: the kernel refused a line; the file's other lines were rolled back "
            "(--continue loads the lines it can)")
        return
    refused = len(result.failures)
    report.loaded.append(f"{source}: {_lines(result.applied)}"
                         + (f" ({_lines(refused)} refused)" if refused else ""))


def load_sources(
    ctl: RuleLoader,
    paths: Iterable[str | Path],
    env: RuleEnv,
    *,
    keep_going: bool = False,
) -> LoadReport:
    """``rules load``: files/dirs in order, each FILE all-or-nothing unless ``keep_going``.

    In a rules.d directory each file is its own unit: a file with a bad or
    refused line is not loaded (and said so, by name), the others are; the
    directory's -D/-b/-f/-e are merged as augenrules merges them (and count
    for the file they come from). The report says exactly what was and was
    not loaded.
    """
    report = LoadReport()
    for parsed in read_sources(paths, env):
        report.errors += [str(err) for err in parsed.errors]
        if parsed.unreadable:
            report.not_loaded.append(f"{parsed.source}: cannot be read")
            continue
        files = parsed.files or (parsed,)
        good = [f for f in files if keep_going or not f.errors]
        for bad in files:
            if bad not in good:
                report.not_loaded.append(
                    f"{bad.source}: nothing loaded ({_lines(len(bad.errors))} with errors; "
                    "--continue loads the good lines)")
        if not parsed.files:
            if good:
                _account(report, parsed.source, _apply_file(ctl, parsed.commands, keep_going,
                                                            report))
            continue
        head, body, tail = augenrules_split([c for f in good for c in f.commands])
        results = {f.source: ApplyResult() for f in good}
        for c in head:
            one = _apply_file(ctl, [c], True, report)
            results[c.source].applied += one.applied
            results[c.source].failures += one.failures
        for f in good:
            mine = [c for c in body if c.source == f.source]
            one = _apply_file(ctl, mine, keep_going, report)
            results[f.source].applied += one.applied
            results[f.source].failures += one.failures
            results[f.source].rolled_back = one.rolled_back
        for c in tail:
            if results[c.source].rolled_back:
                report.errors.append(f"{c.where}: not applied: its file was not loaded")
                continue
            one = _apply_file(ctl, [c], True, report)
            results[c.source].applied += one.applied
            results[c.source].failures += one.failures
        for source, result in results.items():
            _account(report, source, result)
    return report


class RuleSourceError(Exception):
    """The rule files cannot be used as they are; nothing was changed."""


def augenrules_load(
    ctl: SyncControl, paths: Iterable[str | Path], env: RuleEnv, *, syntax_errors_fail: bool = False
) -> SyncReport:
    """Apply rules like ``augenrules --load``: the kernel's rules become the files'.

    ``run --rules`` and its SIGHUP reload. Every line that can be loaded is
    loaded; bad lines (parser) and refused lines (kernel) are in the
    report's ``refused``, with ``file:line``. Raises RuleSourceError before
    anything changes when a path cannot be read (deleting the rules because
    their file could not be read would be the worst answer), or, with
    ``syntax_errors_fail`` (a reload: the operator just edited the files),
    when a line does not parse.
    """
    sources = read_sources(paths, env)
    unreadable = [str(e) for s in sources if s.unreadable for e in s.errors]
    if unreadable:
        raise RuleSourceError("; ".join(unreadable))
    bad = [Refused(f"{e.source}:{e.lineno}", e.text, e.message) for s in sources for e in s.errors]
    if bad and syntax_errors_fail:
        raise RuleSourceError("\n".join(str(r) for r in bad))
    commands = [c for s in sources for c in s.commands]
    return load_like_augenrules(ctl, commands, bad)

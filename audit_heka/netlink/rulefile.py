"""Rule files and rules.d directories, read the way auditctl/augenrules do.

Why separate from rules.py: rules.py knows one line; this knows where lines
come from (file and line number, for error messages), how a rules.d
directory is ordered and merged (augenrules: ``ls -1v`` order, the last
``-D``, ``-b``, ``-f`` moved to the top, the last ``-e`` to the end), and how
a whole file is applied all-or-nothing. Parsing is pure (text in, values
out); ``read_sources`` and ``apply`` are the thin I/O parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

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
        return f"{self.source}:{self.lineno}: {self.message}\n    {self.text.strip()}"


@dataclass(frozen=True, slots=True)
class ParsedRules:
    commands: tuple[Located, ...]
    errors: tuple[LineError, ...]


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
    return ParsedRules(tuple(commands), tuple(errors))


def version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key approximating ``ls -1v`` (GNU version sort) for rules.d names."""
    # ASCII digits only: "²".isdigit() is True but int() refuses it, and int() refuses
    # more than 4300 digits (both found by tests/test_fuzz.py).
    return tuple(
        (0, int(part)) if part.isascii() and part.isdigit() and len(part) <= 4300 else (1, part)
        for part in re.findall(r"[0-9]+|[^0-9]+", name)
    )


def augenrules_order(commands: Sequence[Located]) -> list[Located]:
    """Merge as augenrules does: the last -D, -b and -f first (in that order),
    then the rules, then the last -e."""

    def status_name(c: Located) -> str | None:
        if isinstance(c.command, SetStatus) and len(c.command.changes) == 1:
            return c.command.changes[0][0]
        return None

    last: dict[str, Located] = {}
    body: list[Located] = []
    for c in commands:
        name = "delete_all" if isinstance(c.command, DeleteAll) else status_name(c)
        if name in ("delete_all", "backlog_limit", "failure", "enabled"):
            last[name] = c
        else:
            body.append(c)
    head = [last[n] for n in ("delete_all", "backlog_limit", "failure") if n in last]
    tail = [last["enabled"]] if "enabled" in last else []
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
                cmds: list[Located] = []
                errs: list[LineError] = []
                for f in files:
                    parsed = parse_rules(f.read_text(errors="surrogateescape"), str(f), env)
                    cmds += parsed.commands
                    errs += parsed.errors
                out.append(ParsedRules(tuple(augenrules_order(cmds)), tuple(errs)))
            else:
                out.append(parse_rules(path.read_text(errors="surrogateescape"), str(path), env))
        except OSError as exc:
            out.append(ParsedRules((), (LineError(str(path), 0, "", exc.strerror or str(exc)),)))
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
    """Apply one file's commands in order.

    All-or-nothing unless ``keep_going`` (or a ``-c``/``-i`` line): on the
    first refusal, the kernel's rule list is put back as it was before this
    file (snapshot, delete all, re-add in order) and the status fields this
    file changed are restored from ``status_before``. Errors are
    ``"file:line: message"`` strings; nothing raises past here except the
    failure of the rollback itself.
    """
    from audit_heka.netlink.control import AuditError  # noqa: PLC0415 - avoid a cycle

    keep_going = keep_going or any(isinstance(c.command, ContinueOnError) for c in commands)
    snapshot = None if keep_going else ctl.list_rules()
    result = ApplyResult()
    changed: set[str] = set()
    for c in commands:
        try:
            _run(ctl, c.command)
        except AuditError as exc:
            result.failures.append(f"{c.where}: {exc}\n    {c.text.strip()}")
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
    ctl.delete_all()
    for rule in snapshot:
        ctl.add_rule(rule)
    for name in changed:
        if name in status_before and name != "enabled":
            ctl.set_status(**{name: status_before[name]})


def matching(rules: Iterable[Rule], key: str | None) -> list[Rule]:
    return [r for r in rules if key is None or rule_has_key(r, key)]



class RuleLoader(RuleControl, Protocol):
    """A RuleControl that can also read the status (to undo a failed file)."""

    def get_status(self) -> AuditStatus: ...


def load_sources(
    ctl: RuleLoader,
    paths: Iterable[str | Path],
    env: RuleEnv,
    *,
    keep_going: bool = False,
) -> list[str]:
    """Load rule files/dirs in order, each all-or-nothing unless ``keep_going``.

    Shared by ``rules load`` and the daemon (``run --rules``, SIGHUP). Returns
    the error messages (``file:line: ...``); an empty list means everything
    was loaded.
    """
    errors: list[str] = []
    for parsed in read_sources(paths, env):
        errors += [str(err) for err in parsed.errors]
        if parsed.errors and not keep_going:
            errors.append(
                f"{parsed.errors[0].source}: nothing loaded from this file "
                "(use --continue to load the good lines)"
            )
            continue
        before = {k: v for k, v in ctl.get_status().as_dict().items() if v is not None}
        result = apply(ctl, parsed.commands, keep_going=keep_going, status_before=before)
        errors += result.failures
        if result.rolled_back:
            errors.append("the kernel refused a line; the rules from this file were rolled back")
    return errors

"""Make the kernel's rules what the rule files say, as ``augenrules --load`` does.

Why: ``run --rules`` must start whatever the kernel holds: after a crash the
kernel still has the crashed run's rules (adding them again fails with
EEXIST), and an operator may have added or removed rules by hand.
``augenrules --load`` runs ``auditctl -R audit.rules``, whose first line is
the ``-D`` of the base config: delete everything, then add every line, stop
at the first error. We keep its result (the kernel's rules are exactly the
files' rules, in the files' order) and change two things:

- no unaudited window: the rules the kernel already has in the right place
  (per filter list, the longest common prefix) stay; only the rest is
  deleted and added. A restart after a crash changes nothing at all.
- a refused line does not stop the others: a watch on a path missing on
  this host must not leave the host unaudited. Every refused line is
  reported with its ``file:line`` and auditctl's words, and counted.

The plan (which rules, in which order; which lines the kernel will refuse as
duplicates) is pure; ``sync_rules`` and ``load_like_augenrules`` are the thin
I/O parts, over the ``RuleControl`` protocol (AuditControl or a fake).
"""

from __future__ import annotations

import errno
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from audit_heka.netlink.control import AuditError, auditctl_words
from audit_heka.netlink.rules import (
    AddRule,
    Command,
    DeleteAll,
    DeleteRule,
    ResetLost,
    Rule,
    SetLoginuidImmutable,
    SetStatus,
    as_watch_fallback,
    kernel_form,
    rule_has_key,
)

#: A refused line's hint, by errno: what usually causes it on a real host.
_HINTS = {
    errno.ENOENT: "the watched path's directory does not exist on this host",
    errno.EPERM: "audit is locked (-e 2, only a reboot unlocks it) or CAP_AUDIT_CONTROL is"
    " missing",
    errno.EEXIST: "the kernel already has this rule",
    errno.EINVAL: "this kernel does not accept this rule",
}


class Origin(Protocol):
    """Where a rule comes from (rulefile.Located has these)."""

    @property
    def where(self) -> str: ...

    @property
    def text(self) -> str: ...


class LocatedCommand(Origin, Protocol):
    @property
    def command(self) -> Command: ...


class RuleControl(Protocol):
    """What syncing needs of the kernel (AuditControl has it)."""

    def list_rules(self) -> list[Rule]: ...

    def add_rule(self, rule: Rule) -> Rule: ...

    def delete_rule(self, rule: Rule) -> None: ...

    def set_status(self, **changes: int) -> None: ...

    def reset_lost(self) -> int: ...

    def set_loginuid_immutable(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Refused:
    """One line that is not in force, and why (auditctl's words, or the parser's)."""

    where: str
    text: str
    reason: str

    def __str__(self) -> str:
        line = self.text.strip()
        return f"{self.where}: {self.reason}" + (f"\n    {line}" if line else "")


def refusal(origin: Origin | None, exc: AuditError) -> Refused:
    """A kernel refusal in auditctl's words, with what usually causes it."""
    hint = _HINTS.get(exc.errno)
    reason = exc.auditctl + (f" ({hint})" if hint else "")
    if origin is None:
        return Refused("kernel", "", reason)
    return Refused(origin.where, origin.text, reason)


@dataclass(frozen=True, slots=True)
class Wanted:
    """A rule the kernel should hold, in the form it lists it, and its line."""

    rule: Rule
    origin: Origin | None = None


@dataclass
class SyncReport:
    """What a load did: exact counts, every refused line, the settings it made."""

    kept: int = 0  # rules already in the kernel, in place, left alone
    added: int = 0
    deleted: int = 0  # kernel rules no file has (or out of place)
    settings: dict[str, int] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)

    @property
    def in_force(self) -> int:
        return self.kept + self.added

    def summary(self) -> str:
        text = (f"{self.in_force} rule{'s' if self.in_force != 1 else ''} in force "
                f"({self.kept} kept, {self.added} added, {self.deleted} deleted)")
        if self.settings:
            text += ", " + " ".join(f"{k}={v}" for k, v in self.settings.items())
        if self.refused:
            text += f"; {len(self.refused)} line{'s' if len(self.refused) != 1 else ''} refused"
        return text


def _same(kernel: Rule, wanted: Rule) -> bool:
    if kernel == wanted:
        return True
    fallback = as_watch_fallback(wanted)
    return fallback is not None and kernel == fallback


def desired_rules(commands: Sequence[LocatedCommand]) -> tuple[list[Wanted], list[Refused]]:
    """The rules the kernel would list after these commands ran on an empty kernel.

    Pure. Per filter list, in the kernel's listing order (lists by number,
    ``-A`` at the head of its list). A rule given twice, or a ``-d`` of a
    rule that is not there, is refused as the kernel would refuse it.
    """
    lists: dict[int, list[Wanted]] = defaultdict(list)
    refused: list[Refused] = []
    for c in commands:
        cmd = c.command
        if isinstance(cmd, AddRule):
            rule = kernel_form(cmd.rule)
            rules = lists[rule.flags]
            if any(_same(w.rule, rule) for w in rules):
                words = auditctl_words("add_rule", errno.EEXIST)
                refused.append(Refused(c.where, c.text, f"{words} (the same rule is given"
                                                        " twice in the rule files)"))
            elif cmd.rule.prepend:
                rules.insert(0, Wanted(rule, c))
            else:
                rules.append(Wanted(rule, c))
        elif isinstance(cmd, DeleteRule):
            rule = kernel_form(cmd.rule)
            rules = lists[rule.flags]
            at = next((i for i, w in enumerate(rules) if _same(w.rule, rule)), None)
            if at is None:
                refused.append(Refused(c.where, c.text, auditctl_words("delete_rule",
                                                                       errno.ENOENT)))
            else:
                del rules[at]
        elif isinstance(cmd, DeleteAll):
            for number, rules in lists.items():
                lists[number] = [w for w in rules
                                 if cmd.key is not None and not rule_has_key(w.rule, cmd.key)]
    return [w for number in sorted(lists) for w in lists[number]], refused


def sync_rules(ctl: RuleControl, wanted: Sequence[Wanted]) -> SyncReport:
    """Make the kernel list exactly ``wanted``, touching as little as possible.

    Per filter list: keep the longest prefix the kernel already has in
    order, delete the kernel's rules after it, append the rest of
    ``wanted`` in order (the kernel drops the PREPEND bit, so appending in
    listing order gives the listing). A wanted rule the kernel does not
    have is tried first where the prefix stops: if the kernel refuses it
    (a watch on a missing path), the prefix goes on past it, so a refused
    line does not cost the rules after it a delete and re-add. Refusals are
    reported, not raised.
    """
    report = SyncReport()
    current: dict[int, list[Rule]] = defaultdict(list)
    for rule in ctl.list_rules():
        current[rule.filter_list].append(rule)
    target: dict[int, list[Wanted]] = defaultdict(list)
    for w in wanted:
        target[w.rule.filter_list].append(w)
    for number in sorted(set(current) | set(target)):
        have, want = current[number], target[number]
        keep = at = 0
        while at < len(want) and keep < len(have):
            if _same(have[keep], want[at].rule):
                keep += 1
                at += 1
                continue
            if any(_same(rule, want[at].rule) for rule in have[keep:]):
                break  # out of order: from here on, delete and append
            # Not in the kernel: add it (it lands at the end of the list).
            if _add(ctl, want[at], report):
                at += 1
                break  # deleting have[keep:] leaves it right after the prefix
            at += 1
        report.kept += keep
        for rule in reversed(have[keep:]):
            try:
                ctl.delete_rule(rule)
            except AuditError as exc:
                report.refused.append(refusal(None, exc))
                continue
            report.deleted += 1
        for w in want[at:]:
            _add(ctl, w, report)
    return report


def _add(ctl: RuleControl, w: Wanted, report: SyncReport) -> bool:
    try:
        ctl.add_rule(w.rule)
    except AuditError as exc:
        report.refused.append(refusal(w.origin, exc))
        return False
    report.added += 1
    return True


def _run_other(ctl: RuleControl, c: LocatedCommand, report: SyncReport) -> None:
    cmd = c.command
    try:
        if isinstance(cmd, SetStatus):
            for name, value in cmd.changes:
                ctl.set_status(**{name: value})
                report.settings[name] = value
        elif isinstance(cmd, ResetLost):
            ctl.reset_lost()
        elif isinstance(cmd, SetLoginuidImmutable):
            ctl.set_loginuid_immutable()
    except AuditError as exc:
        report.refused.append(refusal(c, exc))


_RULE_COMMANDS = (AddRule, DeleteRule, DeleteAll)


def load_like_augenrules(
    ctl: RuleControl, commands: Sequence[LocatedCommand], refused: Sequence[Refused] = ()
) -> SyncReport:
    """Apply rule files' commands so that the kernel's rules are the files'.

    ``commands`` are in augenrules order (rulefile.read_sources merges a
    rules.d that way); ``refused`` are lines already refused (by the
    parser), carried into the report. Settings before the first rule line
    (``-b``, ``-f``, ...) are made first, then the rules are synced, then
    the settings after them (the final ``-e``), as auditctl -R would.
    A ``-D`` is implied: rules no file gives are deleted.
    """
    # A plain -D is implied (the base config's first line): settings after it still
    # come before the rules, as they would under auditctl -R.
    first = next((i for i, c in enumerate(commands) if isinstance(c.command, _RULE_COMMANDS)
                  and c.command != DeleteAll()), len(commands))
    report = SyncReport(refused=list(refused))
    for c in commands[:first]:
        _run_other(ctl, c, report)
    wanted, duplicates = desired_rules(commands)
    synced = sync_rules(ctl, wanted)
    report.kept, report.added, report.deleted = synced.kept, synced.added, synced.deleted
    report.refused += duplicates + synced.refused
    for c in commands[first:]:
        if not isinstance(c.command, _RULE_COMMANDS):
            _run_other(ctl, c, report)
    return report

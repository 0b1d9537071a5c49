"""Sans-IO tests of rulesync (augenrules --load without a -D gap) and the saved kernel state."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from audit_heka.netlink.control import AuditError
from audit_heka.netlink.kernelstate import (
    KernelStateError,
    KernelStateFile,
    SavedKernelState,
    restore,
)
from audit_heka.netlink.rulefile import Located, augenrules_load, parse_rules
from audit_heka.netlink.rules import AddRule, Rule, RuleEnv, kernel_form, parse_line
from audit_heka.netlink.rulesync import Wanted, desired_rules, load_like_augenrules, sync_rules
from audit_heka.netlink.status import AuditStatus

ENV = RuleEnv("x86_64", 0x7F, {"root": 0}.get, {"root": 0}.get, lambda path: path == "/etc")


def rule(line: str) -> Rule:
    cmd = parse_line(line, ENV)
    assert isinstance(cmd, AddRule)
    return kernel_form(cmd.rule)


class Kernel:
    """A kernel stand-in with the real one's habits: per-list order, append (or
    prepend), EEXIST for a rule it has, ENOENT for watches under /nonexistent."""

    def __init__(self, *rules: Rule) -> None:
        self.rules = list(rules)
        self.ops: list[str] = []
        self.status = {"enabled": 0, "failure": 1, "rate_limit": 0, "backlog_limit": 64,
                       "backlog_wait_time": 15000}

    def list_rules(self) -> list[Rule]:
        return sorted(self.rules, key=lambda r: r.filter_list)

    def add_rule(self, r: Rule) -> Rule:
        if any(f.text and f.text.startswith("/nonexistent/") for f in r.fields):
            raise AuditError(errno.ENOENT, "adding rule", "add_rule")
        k = kernel_form(r)
        if k in self.rules:
            raise AuditError(errno.EEXIST, "adding rule", "add_rule")
        self.ops.append(f"add {k.fields[-1].text}")
        if r.prepend:
            self.rules.insert(0, k)
        else:
            self.rules.append(k)
        return r

    def delete_rule(self, r: Rule) -> None:
        if r not in self.rules:
            raise AuditError(errno.ENOENT, "deleting rule", "delete_rule")
        self.ops.append(f"del {r.fields[-1].text}")
        self.rules.remove(r)

    def set_status(self, **changes: int) -> None:
        if self.status["enabled"] == 2:
            raise AuditError(errno.EPERM, "setting", next(iter(changes)))
        self.ops += [f"set {k}={v}" for k, v in changes.items()]
        self.status.update(changes)

    def get_status(self) -> AuditStatus:
        s = self.status
        return AuditStatus(0, s["enabled"], s["failure"], 0, s["rate_limit"],
                           s["backlog_limit"], 0, 0, 0x7F, s["backlog_wait_time"], 0)

    def reset_lost(self) -> int:
        return 0

    def set_loginuid_immutable(self) -> None:
        pass


A = "-a always,exit -F arch=b64 -S chmod -k a"
B = "-a always,exit -F arch=b64 -S chown -k b"
C = "-a always,exit -F arch=b64 -S fchmod -k c"
NX = "-w /nonexistent/dir/file -p wa -k nx"


def commands(text: str) -> tuple[Located, ...]:
    parsed = parse_rules(text, "f.rules", ENV)
    assert not parsed.errors
    return parsed.commands


def test_restart_with_the_same_rules_changes_nothing() -> None:
    kernel = Kernel(rule(A), rule(B))
    report = load_like_augenrules(kernel, commands(f"-D\n{A}\n{NX}\n{B}\n"))
    assert kernel.ops == [] and report.kept == 2 and report.added == 0
    assert [str(r).splitlines()[0] for r in report.refused] == [
        "f.rules:3: Error sending add rule data request (No such file or directory) "
        "(the watched path's directory does not exist on this host)"]


def test_sync_deletes_what_no_file_has_and_adds_what_is_missing() -> None:
    kernel = Kernel(rule(A), rule(C), rule("-a never,exclude -F msgtype=CWD"))
    report = load_like_augenrules(kernel, commands(f"{A}\n{B}\n"))
    assert kernel.list_rules() == [rule(A), rule(B)]
    assert (report.kept, report.added, report.deleted) == (1, 1, 2)
    assert "del c" in kernel.ops and "add a" not in kernel.ops


def test_order_is_the_files_order_with_prepend() -> None:
    kernel = Kernel(rule(B), rule(A))
    load_like_augenrules(kernel, commands(f"{A}\n{B}\n-A always,exit -F arch=b64 -S fchmod -k c\n"))
    assert [r.fields[-1].text for r in kernel.list_rules()] == ["c", "a", "b"]


def test_duplicates_and_missing_deletes_are_refused_as_the_kernel_would() -> None:
    wanted, refused = desired_rules(commands(f"{A}\n{A}\n-d always,exit -F arch=b64 -S chown\n"))
    assert [w.rule for w in wanted] == [rule(A)]
    assert [r.reason for r in refused] == [
        "Error sending add rule data request (Rule exists) (the same rule is given twice in the"
        " rule files)",
        "Error sending delete rule data request (No such file or directory)",
    ]


def test_settings_before_rules_first_and_the_last_e_after() -> None:
    kernel = Kernel()
    report = load_like_augenrules(kernel, commands(f"-D\n-b 320\n-f 0\n{A}\n-e 1\n"))
    assert kernel.ops == ["set backlog_limit=320", "set failure=0", "add a", "set enabled=1"]
    assert report.settings == {"backlog_limit": 320, "failure": 0, "enabled": 1}


def test_augenrules_load_refuses_an_unreadable_path_before_changing_anything(
    tmp_path: Path,
) -> None:
    from audit_heka.netlink.rulefile import RuleSourceError  # noqa: PLC0415

    kernel = Kernel(rule(A))
    with pytest.raises(RuleSourceError, match="cannot be read"):
        augenrules_load(kernel, [tmp_path / "missing.rules"], ENV)
    assert kernel.ops == []


def test_a_bad_line_in_a_rules_d_skips_only_that_line_for_run(tmp_path: Path) -> None:
    (tmp_path / "10-bad.rules").write_text(f"-a always,exit -F bogus=1\n{C}\n")
    (tmp_path / "20-hosts.rules").write_text(f"{A}\n")
    kernel = Kernel()
    report = augenrules_load(kernel, [tmp_path], ENV)
    assert kernel.list_rules() == [rule(C), rule(A)]
    assert [r.where for r in report.refused] == [f"{tmp_path}/10-bad.rules:1"]


# --- the saved kernel state --------------------------------------------------------


def test_saved_state_json_roundtrip() -> None:
    state = SavedKernelState("boot", 12, {"enabled": 0, "failure": 1}, (rule(A), rule(NX)))
    assert SavedKernelState.from_json(state.to_json()) == state
    with pytest.raises(KernelStateError, match="not a kernel state file"):
        SavedKernelState.from_json(json.dumps({"version": 1, "rules": ["zz"]}))


def test_claim_adopts_a_dead_owners_state_and_refuses_a_live_one(tmp_path: Path) -> None:
    kernel = Kernel(rule(A))
    first = KernelStateFile(tmp_path, pid=100, boot=lambda: "b1", alive=lambda pid: False)
    found = first.claim(kernel)
    assert found.rules == (rule(A),) and found.settings["backlog_limit"] == 64
    kernel.rules, kernel.status["backlog_limit"] = [rule(B)], 8192  # the crashed run's doing
    second = KernelStateFile(tmp_path, pid=200, boot=lambda: "b1", alive=lambda pid: False)
    adopted = second.claim(kernel)
    assert second.adopted_from == 100
    assert adopted.rules == (rule(A),) and adopted.settings["backlog_limit"] == 64
    assert SavedKernelState.from_json(second.path.read_text()).owner == 200
    busy = KernelStateFile(tmp_path, pid=300, boot=lambda: "b1", alive=lambda pid: True)
    with pytest.raises(KernelStateError, match=r"pid 200\) manages"):
        busy.claim(kernel)
    rebooted = KernelStateFile(tmp_path, pid=400, boot=lambda: "b2", alive=lambda pid: True)
    assert rebooted.claim(kernel).rules == (rule(B),)  # another boot: the file is stale
    restore(kernel, adopted, rules=True, settings=("backlog_limit",))
    assert kernel.list_rules() == [rule(A)] and kernel.status["backlog_limit"] == 64
    rebooted.release()
    assert not rebooted.path.exists()


def test_restore_reports_a_locked_kernel() -> None:
    kernel = Kernel()
    kernel.status["enabled"] = 2
    state = SavedKernelState("b", 1, {"failure": 1, "rate_limit": 5})
    refused = restore(kernel, state, rules=False, settings=("failure", "rate_limit"))
    assert [r.reason.split(" (")[0] for r in refused] == ["Error sending rate limit request"]
    assert "locked" in refused[0].reason


def test_wanted_rule_refused_mid_list_keeps_the_rules_after_it() -> None:
    kernel = Kernel(rule(A), rule(B))
    report = sync_rules(kernel, [Wanted(rule(A)), Wanted(rule(NX)), Wanted(rule(B))])
    assert kernel.ops == [] and report.kept == 2 and len(report.refused) == 1

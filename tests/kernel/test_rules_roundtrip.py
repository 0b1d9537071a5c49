"""auditctl is the oracle for rule encoding and printing (the 211-rule corpus, and the
rule sets the auditd package ships: STIG, OSPP, PCI-DSS, ...).

1. Load with our encoder -> ``auditctl -l`` prints exactly our ``rules list``.
2. Load with ``auditctl -R`` -> our ``rules list`` equals ``auditctl -l``.
3. Byte equality: for every corpus line, what the kernel lists after auditctl
   loaded the line equals our encoding of it, after the kernel's one
   normalisation (rules.kernel_form: syscall-class bits of the last mask
   word folded away; PREPEND not kept).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from audit_state import require

from audit_heka.netlink.control import AuditControl, AuditError
from audit_heka.netlink.rulefile import apply, parse_rules, read_sources
from audit_heka.netlink.rules import (
    AddRule,
    RuleEnv,
    encode_rule,
    format_rules,
    kernel_form,
    parse_line,
)

CORPUS = Path(__file__).resolve().parent.parent / "data" / "rules"
#: The rule sets auditd ships as examples (Debian's auditd package): written by others.
SHIPPED = Path("/usr/share/doc/auditd/examples/rules")
pytestmark = pytest.mark.kernel


def auditctl(*args: str) -> str:
    return subprocess.run(["auditctl", *args], check=True, capture_output=True, text=True).stdout


def our_listing(ctl: AuditControl) -> list[str]:
    return format_rules(ctl.list_rules(), RuleEnv.system().machine)


def test_our_load_then_auditctl_lists_the_same(audit_kernel: object) -> None:
    auditctl("-D")
    with AuditControl() as ctl:
        env = RuleEnv.system(ctl.get_status().feature_bitmap or 0)
        for parsed in read_sources(sorted(CORPUS.glob("*.rules")), env):
            assert not parsed.errors
            result = apply(ctl, parsed.commands)
            assert not result.failures, result.failures
        ours = our_listing(ctl)
    theirs = auditctl("-l").splitlines()
    assert len(theirs) >= 150
    assert ours == theirs


def test_auditctl_load_then_we_list_the_same(audit_kernel: object) -> None:
    auditctl("-D")
    for f in sorted(CORPUS.glob("*.rules")):
        auditctl("-R", str(f))
    theirs = auditctl("-l").splitlines()
    with AuditControl() as ctl:
        ours = our_listing(ctl)
    assert len(theirs) >= 150
    assert ours == theirs


def auditctl_alone(ctl: AuditControl, line: list[str]) -> bytes | None:
    """The kernel's bytes of the one rule ``auditctl line`` loads (None: it refused)."""
    auditctl("-D")
    if subprocess.run(["auditctl", *line], capture_output=True, check=False).returncode:
        return None
    (payload,) = ctl.list_rule_payloads()
    return payload


def test_bytes_equal_what_auditctl_sends(audit_kernel: object) -> None:
    env = RuleEnv.system()
    equal = 0
    with AuditControl() as ctl:
        for f in sorted(CORPUS.glob("*.rules")):
            for located in parse_rules(f.read_text(), str(f), env).commands:
                if not isinstance(located.command, AddRule):
                    continue
                payload = auditctl_alone(ctl, located.text.split())
                assert payload == encode_rule(kernel_form(located.command.rule)), located.where
                equal += 1
    auditctl("-D")
    assert equal >= 150


def test_refused_file_is_rolled_back(audit_kernel: object, tmp_path: Path) -> None:
    auditctl("-D")
    auditctl("-a", "always,exit", "-F", "arch=b64", "-S", "chmod", "-k", "keepme")
    before = auditctl("-l")
    bad = tmp_path / "bad.rules"
    bad.write_text(
        "-a always,exit -F arch=b64 -S openat -k one\n"
        "-a always,exit -F arch=b64 -S chmod -k keepme\n"  # EEXIST: already loaded
        "-a always,exit -F arch=b64 -S open -k three\n"
    )
    with AuditControl() as ctl:
        (parsed,) = read_sources([bad], RuleEnv.system())
        result = apply(ctl, parsed.commands)
    assert result.rolled_back
    assert result.failures[0].startswith(
        f"{bad}:2: Error sending add rule data request (Rule exists) (the kernel already has")
    assert auditctl("-l") == before
    with AuditControl() as ctl:
        result = apply(ctl, parsed.commands, keep_going=True)
    assert result.applied == 2 and len(result.failures) == 1
    assert len(auditctl("-l").splitlines()) == 3
    auditctl("-D")


def test_kernel_einval_is_reported(audit_kernel: object) -> None:
    # fsuid=-1 parses (auditctl sends it too) but the kernel refuses it.
    cmd = parse_line("-a always,exit -F arch=b64 -S openat -F fsuid=-1", RuleEnv.system())
    assert isinstance(cmd, AddRule)
    with AuditControl() as ctl, pytest.raises(AuditError, match="invalid") as info:
        ctl.add_rule(cmd.rule)
    assert info.value.errno == 22


def test_the_rule_sets_auditd_ships_encode_as_auditctl_does(audit_kernel: object) -> None:
    """Each rule line of auditd's example rule sets, one at a time: where auditctl loads
    it, the kernel lists exactly our encoding, printed as auditctl prints it; where
    auditctl refuses it (a user this host lacks, a 32-bit rule its kernel has no
    emulation for), we refuse it too. Only rule lines are loaded: never -e 2, the
    loginuid lock or any other setting those files also hold."""
    files = sorted(SHIPPED.glob("*.rules"))
    require(len(files) >= 20, f"auditd's example rules are not in {SHIPPED}")
    env = RuleEnv.system()
    equal = refused = 0
    with AuditControl() as ctl:
        for f in files:
            parsed = parse_rules(f.read_text(), str(f), env)
            for error in parsed.errors:  # ours refused: auditctl must refuse the line too
                line = str(error).splitlines()[-1].split()
                if line and line[0] in ("-a", "-A", "-w"):
                    assert auditctl_alone(ctl, line) is None, str(error)
                    refused += 1
            for located in parsed.commands:
                if not isinstance(located.command, AddRule):
                    continue  # (settings: -D, -b, -e, --loginuid-immutable...)
                payload = auditctl_alone(ctl, located.text.split())
                if payload is None:
                    assert apply(ctl, [located]).failures, located.where
                    auditctl("-D")
                    refused += 1
                    continue
                assert payload == encode_rule(kernel_form(located.command.rule)), located.where
                assert our_listing(ctl) == auditctl("-l").splitlines(), located.where
                equal += 1
    auditctl("-D")
    assert equal >= 150, (equal, refused)

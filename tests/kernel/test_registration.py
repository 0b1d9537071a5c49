"""Registration and record reception against the live kernel.

A child process registers as the audit daemon (unicast) and prints what it
receives; meanwhile this process reads the multicast group beside it, and a
second registration from here must be refused naming the child's pid. The
child gets SIGTERM at the end and must hand the pid back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from audit_heka.netlink.control import AuditControl
from audit_heka.netlink.rules import AddRule, RuleEnv, parse_line
from audit_heka.netlink.source import AuditSource, RawRecord, RegistrationRefused, SourceMode

pytestmark = pytest.mark.kernel

CHILD = r"""
import json, sys
from audit_heka.netlink.source import AuditSource, exit_on_signals
exit_on_signals()
with AuditSource(settings={"enabled": 1, "backlog_limit": 4096}) as src:
    print("READY", flush=True)
    while True:
        for r in src.read(0.2):
            print(json.dumps([r.type, r.text]), flush=True)
"""
RULE = "-a always,exit -F arch=b64 -S execve -F exe=/usr/bin/true -k audit_heka_reg"
WANTED = {1300, 1309, 1302, 1327, 1320}  # SYSCALL EXECVE PATH PROCTITLE EOE


def events_of_true(records: list[RawRecord]) -> dict[str, set[int]]:
    by_serial: dict[str, set[int]] = {}
    for r in records:
        serial = r.text[: r.text.find(")")]
        by_serial.setdefault(serial, set()).add(r.type)
    return {s: t for s, t in by_serial.items() if t >= WANTED}


def test_unicast_multicast_and_refusal(audit_kernel: object) -> None:
    cmd = parse_line(RULE, RuleEnv.system())
    assert isinstance(cmd, AddRule)
    with AuditControl() as ctl:
        ctl.add_rule(cmd.rule)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY", child.stderr
        with AuditControl() as ctl:
            assert ctl.get_status().pid == child.pid

        # A second registration is refused cleanly, naming the holder.
        with pytest.raises(RegistrationRefused, match=f"pid {child.pid} \\(python"):
            AuditSource(SourceMode.UNICAST).open()

        # Multicast beside the registered daemon.
        with AuditSource(SourceMode.MULTICAST) as mc:
            subprocess.run(["/bin/true"], check=True)
            got: list[RawRecord] = []
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not events_of_true(got):
                got += mc.read(0.2)
        multicast_events = events_of_true(got)
        assert multicast_events, [r.type for r in got]
        # The daemon child reads on its own schedule: wait until it has printed
        # the same events before stopping it (else the test races its reads).
        early: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            early.append(line)
            seen = [RawRecord(*json.loads(x)) for x in early if x.startswith("[")]
            if set(multicast_events) <= set(events_of_true(seen)):
                break
    finally:
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=10)
    assert child.returncode == 128 + signal.SIGTERM, err
    lines = [*early, *out.splitlines()]
    unicast = [RawRecord(*json.loads(line)) for line in lines if line.startswith("[")]
    unicast_events = events_of_true(unicast)
    assert set(multicast_events) <= set(unicast_events)
    serial = next(iter(unicast_events))
    texts = [r.text for r in unicast if r.text.startswith(serial)]
    assert any('a0="/bin/true"' in t for t in texts)
    assert any(t.endswith("): ") for t in texts)  # EOE: header only, NULs stripped
    with AuditControl() as ctl:
        st = ctl.get_status()
    assert st.pid == 0  # handed back on SIGTERM


def test_close_restores_settings_and_pid(audit_kernel: object) -> None:
    with AuditControl() as ctl:
        before = ctl.get_status()
    with AuditSource(settings={"backlog_limit": before.backlog_limit + 1000}) as src:
        with AuditControl() as ctl:
            during = ctl.get_status()
        assert during.pid == os.getpid()
        assert during.backlog_limit == before.backlog_limit + 1000
        src.read(0)
    with AuditControl() as ctl:
        after = ctl.get_status()
    assert after.pid == 0 and after.backlog_limit == before.backlog_limit


def test_refuses_when_already_registered_in_this_process(audit_kernel: object) -> None:
    with AuditSource(), pytest.raises(RegistrationRefused, match="already the audit daemon"):
        AuditSource().open()

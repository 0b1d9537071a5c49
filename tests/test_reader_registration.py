"""The reader takes the audit pid back when the kernel drops it (no kernel needed).

Some kernels reset their daemon when a send times out (kauditd's retry
queue); the kernel this project is tested on keeps a stopped daemon
registered for at least 10 s (tried: SIGSTOP under a burst with a 64 KiB
socket buffer), so the kernel cannot be made to do it here. What is tested is
the reader's decision on the pid its AUDIT_GET poll reports.
"""

from __future__ import annotations

import os

import pytest

from audit_heka.netlink.reader import Reader


@pytest.fixture
def r(reader: Reader) -> Reader:
    return reader


def test_pid_gone_registers_again(r: Reader, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[bool] = []

    def register() -> None:
        calls.append(True)
        r.registered = True

    monkeypatch.setattr(r, "_register", register)
    r.registered = True
    r._lost_registration = 0
    r._check_registration()
    assert calls == [True]
    assert r.registered and not r.stop
    assert r.counters()["reregistrations"] == 1
    assert "registered again (1 time(s))" in capsys.readouterr().err
    r._check_registration()  # nothing reported since: nothing done
    assert calls == [True]


def test_pid_taken_by_another_daemon_stops_without_handing_it_back(
        r: Reader, capsys: pytest.CaptureFixture[str]) -> None:
    r.registered = True
    r._lost_registration = os.getpid() + 1
    r._check_registration()
    assert r.stop
    assert not r.registered  # the stop must not set the pid to 0: it is not ours
    assert r.counters()["reregistrations"] == 0
    assert "not this reader: stopping" in capsys.readouterr().err


def test_failed_registration_stops(r: Reader, monkeypatch: pytest.MonkeyPatch) -> None:

    def register() -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(r, "_register", register)
    r.registered = True
    r._lost_registration = 0
    r._check_registration()
    assert r.stop and not r.registered

"""AccountNames: user/group names that follow /etc/passwd, bounded against id storms."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit_heka.core.interpret import Interpreter
from audit_heka.core.records import Record, parse_line
from audit_heka.host.accounts import AccountNames


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_new_account_is_seen_without_a_restart(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0::/root:/bin/sh\n")
    clock = Clock()
    names = AccountNames(passwd, clock=clock)
    assert names.get(1501) is None
    with passwd.open("a") as f:
        f.write("alice:x:1501:1501::/home/alice:/bin/sh\n")
    assert names.get(1501) is None  # stat()ed at most every 0.1 s
    clock.now += 0.1
    assert names.get(1501) == "alice" and names.generation == 2


def test_sighup_reload_sees_a_change_that_kept_mtime_and_size(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("alice:x:1501:1501::/:/bin/sh\n")
    clock = Clock()
    names = AccountNames(passwd, clock=clock)
    st = passwd.stat()
    passwd.write_text("bobby:x:1501:1501::/:/bin/sh\n")
    os.utime(passwd, ns=(st.st_atime_ns, st.st_mtime_ns))
    clock.now += 5
    assert not names.refresh() and names[1501] == "alice"
    names.reload()
    assert names[1501] == "bobby"


def test_unknown_ids_are_asked_again_but_bounded(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0::/root:/bin/sh\n")
    clock = Clock()
    asked: list[int] = []

    def lookup(number: int) -> str | None:
        asked.append(number)
        return "ldapuser" if number == 7000 else None

    names = AccountNames(passwd, lookup, clock=clock, lookups_per_second=10)
    assert names.get(7000) == "ldapuser" and names.get(7000) == "ldapuser"
    assert asked == [7000]  # found once, remembered
    for uid in range(20_000, 30_000):  # an attacker cycling through ids
        assert names.get(uid) is None
    assert len(asked) == 10  # the budget: 10 lookups per second, the rest answer unknown
    assert names.get(20_000) is None and len(asked) == 10  # and no second ask within the TTL
    clock.now += 1.0
    names.get(40_000)
    assert len(asked) == 11
    clock.now += 61.0
    names.get(20_000)
    assert asked[-1] == 20_000  # asked again after the negative TTL


def test_interpreter_does_not_memoise_unknown_names(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0::/root:/bin/sh\n")
    clock = Clock()
    users = AccountNames(passwd, clock=clock)
    interpreter = Interpreter(users, {})
    record = parse_line(
        "type=LOGIN msg=audit(1.000:1): pid=1 uid=0 old-auid=4294967295 auid=1501 tty=(none)"
        " old-ses=4294967295 ses=1 res=1")
    assert isinstance(record, Record)
    assert interpreter.record(record)["auid"] == "unknown(1501)"
    with passwd.open("a") as f:
        f.write("alice:x:1501:1501::/:/bin/sh\n")
    clock.now += 1.0
    assert interpreter.record(record)["auid"] == "alice"
    passwd.write_text("root:x:0:0::/root:/bin/sh\nbob:x:1501:1501::/:/bin/sh\n")
    clock.now += 1.0
    assert users.refresh()
    interpreter.forget_names()  # the daemon does this when ``generation`` moves
    assert interpreter.record(record)["auid"] == "bob"


def test_get_answers_as_mapping_get_without_raising(tmp_path: Path) -> None:
    """The interpreter asks get() of every unknown id at each use: it answers as
    Mapping.get does (a default for a missing id), a KeyError only from []."""
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0::/root:/bin/sh\n")
    asked: list[int] = []

    def lookup(number: int) -> str | None:
        asked.append(number)
        return None

    names = AccountNames(passwd, lookup, clock=Clock())
    assert names.get(0) == "root" and names.get(7) is None and names.get(7, "x") == "x"
    assert asked == [7]  # (then not asked again within the negative TTL)
    with pytest.raises(KeyError):
        names[7]
    assert 7 not in names and 0 in names

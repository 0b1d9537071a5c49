"""Privilege drop: run it in a child and read the child's /proc/self/status."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from audit_state import require

from audit_heka.host.privileges import (
    CAP_AUDIT_CONTROL,
    CAP_AUDIT_READ,
    PrivilegeError,
    plan_drop,
)

CHILD = """
import json, sys
from audit_heka.host.privileges import plan_drop, drop_privileges
drop_privileges(plan_drop(sys.argv[1], multicast=sys.argv[2] == "1"))
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({k: status[k].split() for k in
      ("Uid", "Gid", "Groups", "CapEff", "CapPrm", "CapInh", "CapBnd", "NoNewPrivs")}))
"""


def test_plan() -> None:
    plan = plan_drop("nobody", multicast=True)
    assert plan.keep == {CAP_AUDIT_CONTROL, CAP_AUDIT_READ}
    assert plan.mask == (1 << 30) | (1 << 37)
    assert plan_drop("nobody", multicast=False).mask == 1 << 30
    with pytest.raises(PrivilegeError, match="unknown user"):
        plan_drop("no-such-user-audit-heka", multicast=False)


@pytest.mark.parametrize("multicast", [False, True])
def test_drop_keeps_only_audit_capabilities(multicast: bool) -> None:
    require(os.geteuid() == 0, "dropping privileges needs root")


    r = subprocess.run(
        [sys.executable, "-c", CHILD, "nobody", "1" if multicast else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    status = json.loads(r.stdout)
    nobody = 65534
    assert status["Uid"] == [str(nobody)] * 4
    assert status["Gid"] == [str(nobody)] * 4
    assert status["Groups"] == []
    expected = (1 << CAP_AUDIT_CONTROL) | ((1 << CAP_AUDIT_READ) if multicast else 0)
    assert int(status["CapEff"][0], 16) == expected
    assert int(status["CapPrm"][0], 16) == expected
    assert int(status["CapInh"][0], 16) == 0
    assert int(status["CapBnd"][0], 16) == expected
    assert status["NoNewPrivs"] == ["1"]


def test_read_problem_names_what_the_dropped_user_cannot_read() -> None:
    from audit_heka.host.privileges import read_problem  # noqa: PLC0415

    base = Path(tempfile.mkdtemp(prefix="audit-heka-read-", dir="/tmp"))
    try:
        base.chmod(0o711)
        rules_d = base / "rules.d"
        rules_d.mkdir()
        rules_d.chmod(0o750)
        (rules_d / "a.rules").write_text("-D\n")
        uid = gid = 65534
        owner = rules_d.stat()
        assert read_problem(rules_d, uid, gid) == (
            f"{rules_d} (mode 750, owner {owner.st_uid}:{owner.st_gid})")
        assert read_problem(rules_d, owner.st_uid, gid) is None
        rules_d.chmod(0o755)
        (rules_d / "a.rules").chmod(0o640)
        assert read_problem(rules_d, uid, gid) == (
            f"{rules_d / 'a.rules'} (mode 640, owner {owner.st_uid}:{owner.st_gid})")
        assert read_problem(rules_d, uid, owner.st_gid) is None  # the file's group may read it
        base.chmod(0o700)
        assert "cannot enter" in (read_problem(rules_d, uid, gid) or "")
    finally:
        shutil.rmtree(base, ignore_errors=True)

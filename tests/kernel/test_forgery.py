"""Issue 17.2/17.3 on the live kernel: an unprivileged user feeds setuid newgrp a group name.

shadow's newgrp writes the name it is given, unencoded, into the op= of a CHGRP_ID user
message (libaudit's audit_log_acct_message appends id=, exe=, hostname=, addr=, terminal=
and res= after it). Run as uid 65534 (setpriv), the kernel relays what newgrp sent; the
records are taken from our own netlink source, fed to the live pipeline, and also written
as a log file for auparse (the oracle of ``ausearch -i``).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from audit_state import require, require_tool
from auparse_oracle import agreement, ausearch_agreement

from audit_heka.core.events import Assembler
from audit_heka.core.interpret import Interpreter
from audit_heka.core.schema import MessageBuilder
from audit_heka.core.session import Session
from audit_heka.heka.message import Message
from audit_heka.host.accounts import read_groups, read_users
from audit_heka.netlink.source import AuditSource, RawRecord

pytestmark = pytest.mark.kernel

CHGRP_ID = 1119
NOBODY = 65534
FORGED_NAME = 'x acct="root" res=success'
CUTTING_NAME = 'y\x1dAUID="root"'


def newgrp_records(names: list[str]) -> list[RawRecord]:
    """The CHGRP_ID records the kernel sends when uid 65534 runs newgrp NAME, one per name."""
    newgrp, setpriv = require_tool("newgrp"), require_tool("setpriv")
    require(Path(newgrp).stat().st_mode & 0o4000 != 0, "newgrp is not setuid")
    out: list[RawRecord] = []
    with AuditSource(settings={"enabled": 1}) as source:
        for name in names:
            subprocess.run([setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            newgrp, name], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20, check=False)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(out) < len(names):
            out += [r for r in source.read(timeout=0.2)
                    if r.type == CHGRP_ID and f"uid={NOBODY} " in r.text]
    require(len(out) == len(names), "newgrp sent no CHGRP_ID record (shadow built without audit?)")
    return out


def ship(records: list[RawRecord]) -> tuple[list[Message], Session]:
    builder = MessageBuilder(Interpreter(read_users(), read_groups()), hostname="h")
    pipeline = Session(builder, Assembler(live=True))
    out: list[Message] = []
    for r in records:
        out += [s.message for s in pipeline.feed_kernel(r.type, r.text, now=0.0)]
    return out + [s.message for s in pipeline.finish()], pipeline


def test_newgrp_forgery_and_separator_from_the_kernel(audit_kernel: object,
                                                      tmp_path: Path) -> None:
    forged, cut = newgrp_records([FORGED_NAME, CUTTING_NAME])
    assert f"new-group={FORGED_NAME} id={NOBODY}" in forged.text  # what the kernel really sent
    assert f"new-group={CUTTING_NAME} id={NOBODY}" in cut.text
    messages, pipeline = ship([forged, cut])
    assert len(messages) == 2
    f = {x.name: x.values for x in messages[0].fields}
    assert f["res"] == ("failed",) and f["res_1"] == ("success",)
    assert "acct" not in f and f["acct_1"] == ("root",)
    assert f["suspicious_duplicates"] == ("acct", "res") and messages[0].severity == 4
    g = {x.name: x.values for x in messages[1].fields}
    assert g["new-group"] == (CUTTING_NAME,) and g["res"] == ("failed",)
    assert g["auid_i"] == ("unset",) and g["exe"] == ("/usr/bin/newgrp",)
    assert "parse_error" not in g
    counters = pipeline.counters()
    assert counters["malformed_records"] == 0 and counters["suspicious_duplicates"] == 1
    # The same records as auditd would log them, for auparse.
    log = tmp_path / "newgrp.log"
    log.write_text("".join(f"type=CHGRP_ID msg={r.text}\n" for r in (forged, cut)))
    builder = MessageBuilder(Interpreter(read_users(), read_groups()), hostname="h")
    result = agreement(log, builder)
    printed = ausearch_agreement(log, builder)
    print(f"\nauparse agreement on the live newgrp records: {result.percent:.2f}% of "
          f"{result.compared}; known differences {dict(result.known)}")
    print(f"ausearch -i -if agreement on them: {printed.percent:.2f}% of "
          f"{printed.compared}; known differences {dict(printed.known)}")
    assert not result.differences, result.differences
    assert not printed.differences, printed.differences

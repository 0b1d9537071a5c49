"""The Lua decoder gives `replay`'s messages for the foreign-log and forgery cases (16, 17)."""

from __future__ import annotations

from pathlib import Path

import test_foreign_logs as foreign
from lua_harness import run_decoder
from test_lua_decoder import ACCOUNTS, HOST, _compare, _replay, _write

T = foreign.T
LINES = [
    "# a comment some tool wrote",
    foreign.OLD_PAM, foreign.OLD_AVC, foreign.OLD_LOGIN, foreign.OLD_USER_LOGIN,
    foreign.OLD_DAEMON, foreign.UNTERMINATED, foreign.UNCLOSED_MSG, foreign.FORGED,
    foreign.CUT,
    foreign.FORGED.replace(":148)", ":190)") + foreign.ENRICHED_TAIL,
    foreign.CUT.replace(":149)", ":191)") + foreign.ENRICHED_TAIL,
    f'type=CWD {T}:160): cwd="/root" type=PATH {T}:160): item=0 name="/etc/x" inode=1',
    f"type=SYSCALL {T}:3): a=1 a=2 a_2=x a=3 uid=0 uid=5",
    f"type=SERVICE_START {T}:180): pid=1 uid=0 auid=4294967295 ses=4294967295 "
    "msg='unit=cron comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? "
    "terminal=? res=success'",
    f"type=SYSCALL {T}:180): arch=c000003e syscall=46 success=yes exit=100 pid=1",
    f"type=PROCTITLE {T}:180): proctitle=2F7362696E2F696E6974",
    "garbage that is no record",
    f"type=USER_AUTH {T}:200): pid=1 msg='a=(none) b=x, c=y) g=(x) u=500: ip=fe80::'",
]


def test_lua_decoder_equals_replay_on_foreign_logs(tmp_path: Path) -> None:
    log = _write(tmp_path / "audit.log", LINES)
    run = run_decoder(log, {"hostname": HOST, **ACCOUNTS})
    assert [c for c in run.calls if c.fatal] == []
    assert {c.rc for c in run.calls} == {0}
    python = _replay(log)
    assert len(python) >= 14
    assert _compare(run.json_messages(), python) == []

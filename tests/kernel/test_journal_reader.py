"""The reader on the live kernel: the journal it writes, hostile user text, a full disk.

The reader (``python -m audit_heka.netlink.reader``) runs as the audit daemon
against the real kernel; a *marker* process makes N failing opens under a rule
matching only its pid, so every expected record is known by name. The journal
must then be an ordinary auditd log (``ausearch -i -if`` and
``lua/audit_decoder.lua`` find every event), one line per record even for a
user message holding a newline and a forged record, and a journal on a full
filesystem must give a clear error, a counter, no torn line, and resume when
space returns.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from audit_state import require, require_tool
from lua_harness import LUA, run_decoder

from audit_heka.journal.format import JournalLine, parse_line, split_lines
from audit_heka.netlink.reader import BLOCKED_PACE

if TYPE_CHECKING:
    from kernel.test_run import MARKER_DIR, Marker
else:
    from test_run import MARKER_DIR, Marker

pytestmark = pytest.mark.kernel

AUDIT_USER = 1005
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4


class Reader:
    """The reader as a child process, on a run.json of its own."""

    def __init__(self, tmp: Path, journal: Path, **conf: Any) -> None:
        settings = {
            "journal_dir": str(journal),
            "journal_file_bytes": 8 * 1024 * 1024,
            "journal_max_bytes": 64 * 1024 * 1024,
            "journal_full": "block",
            "flush": "none",
            "multicast": False,
            "status_dir": str(tmp),
            **conf,
        }
        self.journal = journal
        self.status_dir = tmp
        self.run_json = tmp / f"run-{time.monotonic_ns()}.json"
        self.run_json.write_text(json.dumps(settings))
        ready_r, ready_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "audit_heka.netlink.reader", "--config", str(self.run_json),
             "--ready-fd", str(ready_w)],
            pass_fds=(ready_w,), stderr=subprocess.PIPE, text=True,
        )
        os.close(ready_w)
        try:
            ok = os.read(ready_r, 1) == b"1"
        finally:
            os.close(ready_r)
        if not ok:
            self.proc.wait(10)
            assert self.proc.stderr is not None
            raise AssertionError(f"the reader did not start: {self.proc.stderr.read()}")

    def status(self) -> dict[str, Any]:
        for _ in range(50):
            with suppress(OSError, ValueError):
                doc: dict[str, Any] = json.loads((self.status_dir / "reader.status").read_text())
                return doc
            time.sleep(0.1)
        raise AssertionError("no reader.status")

    def wait_for(self, test: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            doc = self.status()
            if test(doc):
                return doc
            assert self.proc.poll() is None, "the reader died"
            assert time.monotonic() < deadline, f"timed out; status {doc}"
            time.sleep(0.2)

    def stop(self) -> str:
        """SIGTERM; returns its stderr (it must exit 0)."""
        self.proc.send_signal(signal.SIGTERM)
        _out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return err


def auditctl(*args: str) -> None:
    subprocess.run(["auditctl", *args], check=True, capture_output=True)


def send_user_message(text: bytes) -> None:
    """An AUDIT_USER message straight over netlink (``auditctl -m`` refuses control
    characters; any process with CAP_AUDIT_WRITE can send them this way)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9) as sock:
        sock.bind((0, 0))
        payload = text + b"\0"
        sock.send(struct.pack("=IHHII", 16 + len(payload), AUDIT_USER,
                              NLM_F_REQUEST | NLM_F_ACK, 1, 0) + payload)
        sock.settimeout(5)
        reply = sock.recv(8192)
        code = struct.unpack_from("=i", reply, 16)[0]
        assert code == 0, f"the kernel refused the user message: {os.strerror(-code)}"


def journal_lines(directory: Path) -> list[bytes]:
    """Every line of every journal file, oldest file first; no file may end torn."""
    names = [p for p in directory.iterdir() if re.fullmatch(r"audit\.log(\.\d+)?", p.name)]
    names.sort(key=lambda p: -int(p.name.rsplit(".", 1)[1]) if p.name != "audit.log" else 0)
    out: list[bytes] = []
    for path in names:
        data = path.read_bytes()
        lines, used = split_lines(data)
        assert used == len(data), f"{path.name} ends with a torn line"
        out += lines
    return out


def marker_names(lines: list[bytes]) -> list[str]:
    return re.findall(rf'name="({re.escape(MARKER_DIR)}/[^"]+)"',
                      b"\n".join(lines).decode("utf-8", "replace"))


def test_journal_is_an_auditd_log_and_hostile_text_stays_one_record(
    audit_kernel: object, tmp_path: Path
) -> None:
    ausearch = require_tool("ausearch")
    journal = tmp_path / "journal"
    marker = Marker("jr", 300)
    reader = Reader(tmp_path, journal)
    try:
        auditctl("-e", "1")
        auditctl(*marker.rule().split())
        forged = (b"hi\ntype=USER_LOGIN msg=audit(1700000000.000:1): pid=1 uid=0 "
                  b"auid=0 ses=1 msg='op=login acct=\"root\" res=success' \x1d\\x41 end")
        send_user_message(forged)
        marker.go()
        marker.wait()
        reader.wait_for(lambda d: d["counters"]["netlink_records"] >= 600)
    finally:
        err = reader.stop()
    assert "stopped" in err
    lines = journal_lines(journal)
    counters = reader.status()["counters"]
    assert counters["netlink_records"] == len(lines)
    assert counters["netlink_overruns"] == 0

    # every marker event is in the journal, once
    names = marker_names(lines)
    assert sorted(names) == sorted(marker.names())

    # the hostile message: one line, nothing forged, restored exactly by unescaping
    hostile = [line for line in lines if b"USER_LOGIN" in line]
    assert len(hostile) == 1
    assert hostile[0].startswith(b"type=USER msg=audit(")
    assert not any(line.startswith(b"type=USER_LOGIN") for line in lines)
    parsed = parse_line(hostile[0])
    assert isinstance(parsed, JournalLine)
    assert forged in parsed.text

    # ausearch reads the journal as an auditd log and finds every marker event
    done = subprocess.run([ausearch, "-i", "-if", str(journal / "audit.log"), "-k", "marker"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = set(re.findall(rf"name=({re.escape(MARKER_DIR)}/\S+)", done.stdout))
    assert found == marker.names()
    raw = subprocess.run([ausearch, "--raw", "-if", str(journal / "audit.log")],
                         capture_output=True, text=True)
    assert raw.stdout.count("type=USER msg=") == 1  # still one record for ausearch

    # the Lua decoder reads it unchanged: one message per marker event
    require(LUA is not None, "lua5.1 is not installed")
    run = run_decoder(journal / "audit.log")
    decoded = [m for m in run.json_messages()
               if m.get("Fields", {}).get("key") == "marker"
               and m.get("Fields", {}).get("type") == "SYSCALL"]
    assert sorted(m["Fields"]["name"] for m in decoded) == sorted(marker.names())
    users = [m for m in run.json_messages() if m.get("Fields", {}).get("type") == "USER"]
    assert len(users) == 1


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(mode=0o700)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(path)], capture_output=True, text=True)
    require(done.returncode == 0, f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.parametrize("full", ["block", "drop-oldest"])
def test_full_filesystem(audit_kernel: object, tmp_path: Path, full: str) -> None:
    """A journal on a 256 KiB tmpfs fills up mid-storm: a clear error, counted,
    block or drop-oldest as configured, no torn line; it resumes when space returns.

    The socket buffer is the smallest allowed (64 KiB) and the block lasts 3 s,
    far beyond what the buffer absorbs and the kernel's HZ/10 send timeout: a
    reader that stopped reading would lose records here (the kernel gives up
    on its daemon); block must read on at its pace and lose nothing, while the
    kernel's backlog holds the marker back."""
    with small_tmpfs(tmp_path / "fs", "256k") as fs:
        journal = fs / "journal"
        marker = Marker("full", 4000)
        reader = Reader(tmp_path, journal, journal_full=full, rcvbuf=65536,
                        journal_file_bytes=32 * 1024, journal_max_bytes=64 * 1024 * 1024)
        try:
            auditctl("-b", "8192")
            auditctl("-e", "1")
            auditctl(*marker.rule().split())
            marker.go()
            doc = reader.wait_for(lambda d: d["counters"]["journal_disk_full"] >= 1)
            if full == "block":
                assert doc["blocked"] == "disk full"
                before = doc["counters"]["netlink_records"]
                time.sleep(3.0)  # blocked: it reads at its pace only, and says so
                doc = reader.status()
                assert doc["blocked"] == "disk full"
                read = doc["counters"]["netlink_records"] - before
                assert 0 < read <= (3.0 + 1.0) / BLOCKED_PACE, read
                assert doc["counters"]["journal_blocked_reads"] > 0
                assert doc["counters"]["journal_dropped_records"] == 0
                assert marker.proc.poll() is None  # throttled by the kernel's backlog
            else:
                reader.wait_for(lambda d: d["counters"]["journal_dropped_records"] >= 1)
            subprocess.run(["mount", "-o", "remount,size=64m", str(fs)], check=True)
            marker.wait()
            reader.wait_for(lambda d: d["blocked"] is None
                            and d["counters"]["netlink_records"] >= 8000)
        finally:
            err = reader.stop()
        assert "disk full" in err
        counters = reader.status()["counters"]
        lines = journal_lines(journal)  # asserts: no torn line in any file
        assert counters["netlink_overruns"] == 0
        assert counters["netlink_records"] == len(lines) + counters["journal_dropped_records"]
        names = marker_names(lines)
        assert len(names) == len(set(names))  # nothing written twice
        if full == "block":
            assert "reading the kernel slows" in err and "no longer blocked" in err
            assert counters["journal_dropped_records"] == 0
            assert counters["kernel_lost"] == 0
            assert sorted(names) == sorted(marker.names())
        else:
            assert "records given up" in err
            assert counters["journal_dropped_records"] > 0
            assert len(names) < marker.count

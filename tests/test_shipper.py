"""The shipper process end to end: a journal written by the journal writer, real
receivers, SIGKILL and SIGTERM. No kernel needed (the kernel tests drive `run`).

Guarantees checked here (each was a spool guarantee before, now on the journal):
every event arrives while receivers die and come back; a SIGKILLed shipper
delivers everything after its restart, with frames byte-identical to the first
delivery; a receiver down for DOWN_SECONDS (60 in the acceptance run:
AUDIT_HEKA_DOWN_SECONDS=60) loses nothing; TCP, TLS, UDP, file and log
targets all work on the new path; SIGTERM drains and exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid as uuid_module
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from heka_receivers import TcpReceiver, UdpReceiver
from test_journal_writer import FakeDisk
from test_outputs import pki, server_context  # noqa: F401 - pki is a fixture

from audit_heka.cli.run import build_config, run_options
from audit_heka.core.health import HEALTH_TYPE
from audit_heka.core.schema import event_uuid
from audit_heka.heka.framing import Unframer
from audit_heka.heka.message import Message, decode_message
from audit_heka.journal.consumed import MarkWriter, read_mark
from audit_heka.journal.cursor import read_cursor, write_cursor
from audit_heka.journal.follower import JournalFollower
from audit_heka.journal.format import Cursor, LineBuilder, file_head
from audit_heka.journal.policy import FullAction
from audit_heka.journal.writer import FlushPolicy, JournalConfig, JournalWriter
from audit_heka.shipper import (
    CRASH_LIMIT,
    Shipper,
    _cursor_from_json,
    _cursor_json,
    config_from_json,
)

HOST = "shipper-test"
ROOT = Path(__file__).resolve().parent.parent
DOWN_SECONDS = float(os.environ.get("AUDIT_HEKA_DOWN_SECONDS", "3"))


def event_lines(serial: int) -> bytes:
    """One syscall event as the reader writes it: SYSCALL, PATH, PROCTITLE, EOE."""
    b = LineBuilder()
    stamp = b"audit(1700000000.%03d:%d): " % (serial % 1000, serial)
    return (
        b.line(1300, stamp + b"arch=c000003e syscall=2 success=no exit=-2 a0=1 a1=0 a2=0 a3=0 "
               b"items=1 ppid=1 pid=%d auid=0 uid=0 gid=0 comm=\"cat\" exe=\"/bin/cat\" "
               b"key=\"storm\"" % (1000 + serial % 30000))
        + b.line(1302, stamp + b"item=0 name=\"/nonexistent/%d\" nametype=UNKNOWN" % serial)
        + b.line(1327, stamp + b"proctitle=636174")
        + b.line(1320, stamp)
    )


def uuid_int(serial: int) -> int:
    return uuid_module.UUID(bytes=event_uuid(HOST, 1700000000, serial % 1000, serial)).int


class Journal:
    """The test's reader: the real journal writer, fed event lines."""

    def __init__(self, directory: Path, file_bytes: int = 256 * 1024, max_bytes: int = 1 << 30,
                 full: FullAction = FullAction.BLOCK) -> None:
        self.directory = directory
        self.writer = JournalWriter(
            JournalConfig(directory, file_bytes=file_bytes, max_bytes=max_bytes,
                          full=full, flush=FlushPolicy.NONE),
            log=lambda _: None)
        self.writer.open()
        self.next_serial = 1

    def write(self, count: int) -> None:
        for _ in range(count):
            self.writer.buffer += event_lines(self.next_serial)
            self.next_serial += 1
        self.writer.flush(time.monotonic())

    def stream(self, total: int, per_second: float) -> threading.Thread:
        """Write ``total`` more events at about ``per_second`` in a thread."""
        def run() -> None:
            left = total
            while left > 0:
                n = min(left, max(1, int(per_second / 20)))
                self.write(n)
                left -= n
                time.sleep(0.05)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.writer.close()


def run_json(tmp_path: Path, targets: list[str], **extra: object) -> Path:
    config = {
        "journal_dir": str(tmp_path / "journal"),
        "state_dir": str(tmp_path),
        "targets": targets,
        "hostname": HOST,
        "health_interval": 3600,
        "drain_seconds": 5,
        "delivery_hold": 0.2,
        "log_level": "INFO",
        **extra,
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    return path


def start(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "audit_heka.shipper", "--config", str(config)],
                            env=env, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return err


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal")
    yield j
    j.close()


def wait_for(receiver: TcpReceiver, serials: range, timeout: float) -> set[int]:
    wanted = {uuid_int(s) for s in serials}
    return receiver.wait_for(wanted, timeout)


def ship_once(tmp_path: Path, serials: range, settle: float = 0.0
              ) -> tuple[list[Message], dict[str, Any] | None, str]:
    """A shipper to a fresh receiver until ``serials`` arrived; its status ``settle``
    seconds later (None without); stopped: (messages received, status, stderr)."""
    receiver = TcpReceiver()
    proc = start(run_json(tmp_path, [f"127.0.0.1:{receiver.port}"]))
    status = None
    try:
        assert wait_for(receiver, serials, 20) == set()
        if settle:
            time.sleep(settle)
            status = json.loads((tmp_path / "shipper.status").read_text())
    finally:
        err = stop(proc)
    receiver.kill()
    return [decode_message(m) for m in receiver.messages], status, err


def test_ships_every_event_moves_the_cursor_and_drains_on_sigterm(
        tmp_path: Path, journal: Journal) -> None:
    receiver = TcpReceiver()
    journal.write(500)
    proc = start(run_json(tmp_path, [f"127.0.0.1:{receiver.port}"]))
    try:
        assert wait_for(receiver, range(1, 501), 20) == set()
        journal.write(500)  # woken by inotify, no polling
        assert wait_for(receiver, range(501, 1001), 20) == set()
        time.sleep(1.5)
        status = json.loads((tmp_path / "shipper.status").read_text())
    finally:
        began = time.monotonic()
        err = stop(proc)
        stopped_in = time.monotonic() - began
    receiver.kill()
    assert status["counters"]["messages"] == 1000
    assert status["counters"]["events_completed_by_eoe"] == 1000
    assert status["counters"]["serial_gaps"] == 0
    (target,) = status["targets"].values()
    assert target["connected"] and target["acked"] == 1000
    assert status["lag"]["journal_bytes_behind"] == 0
    cursor = read_cursor(tmp_path / "journal")
    active = (tmp_path / "journal" / "audit.log").stat()
    assert cursor is not None and (cursor.ino, cursor.offset) == (active.st_ino, active.st_size)
    assert "shipper stopped" in err
    assert stopped_in < 0.8  # the signal ends the inotify sleep at once (no 1 s timer wait)


def test_receiver_down_during_a_stream_loses_nothing(tmp_path: Path, journal: Journal) -> None:
    """The receiver dies for DOWN_SECONDS mid-stream: the shipper stops reading (the
    journal keeps everything), then catches up; every event arrives."""
    receiver = TcpReceiver()
    port = receiver.port
    proc = start(run_json(tmp_path, [f"127.0.0.1:{port}"]))
    rate = 500.0
    total = int(rate * (DOWN_SECONDS + 4))
    try:
        writer = journal.stream(total, rate)
        time.sleep(1.0)
        receiver.kill()
        time.sleep(DOWN_SECONDS)
        receiver.start()
        writer.join()
        began = time.monotonic()
        missing = wait_for(receiver, range(1, total + 1), 60 + DOWN_SECONDS)
        caught_up = time.monotonic() - began
    finally:
        stop(proc)
    receiver.kill()
    assert missing == set()
    print(f"receiver down {DOWN_SECONDS:.0f} s during {total} events: 0 lost, "
          f"caught up {caught_up:.2f} s after the writer finished")


def test_sigkill_mid_stream_then_restart_delivers_everything_byte_identical(
        tmp_path: Path, journal: Journal) -> None:
    receiver = TcpReceiver()
    config = run_json(tmp_path, [f"127.0.0.1:{receiver.port}"])
    journal.write(3000)
    proc = start(config)
    writer = journal.stream(3000, 2000)
    deadline = time.monotonic() + 20
    while len(receiver.received()) < 1500 and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.stderr is not None
    proc.stderr.close()
    before = len(set(receiver.received()))
    writer.join()
    again = start(config)
    try:
        missing = wait_for(receiver, range(1, 6001), 30)
    finally:
        stop(again)
    receiver.kill()
    assert missing == set()
    by_uuid: dict[int, set[bytes]] = defaultdict(set)
    for message in receiver.messages:
        by_uuid[uuid_module.UUID(bytes=decode_message(message).uuid).int].add(message)
    assert all(len(copies) == 1 for copies in by_uuid.values())  # resends byte-identical
    duplicates = len(receiver.received()) - len(by_uuid)
    assert 0 < before < 6000
    print(f"SIGKILL after {before} events delivered; after restart all 6000, "
          f"{duplicates} duplicates, all byte-identical")


def test_tls_udp_file_and_log_targets(tmp_path: Path, journal: Journal,
                                      pki: Path) -> None:  # noqa: F811 - the fixture
    tls_receiver = TcpReceiver(tls=server_context(pki))
    udp = UdpReceiver(buffer_size=8192)
    # UDP has no flow control: room for every datagram (the default buffer holds ~90).
    udp.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    frames, log = tmp_path / "out.heka", tmp_path / "copy" / "audit.log"
    log.parent.mkdir(mode=0o700)
    config = run_json(tmp_path, [f"tls://127.0.0.1:{tls_receiver.port}",
                                 f"udp://127.0.0.1:{udp.port}", f"file:{frames}", f"log:{log}"],
                      ca=str(pki / "ca.pem"))
    journal.write(200)
    proc = start(config)
    try:
        assert wait_for(tls_receiver, range(1, 201), 20) == set()
        udp.drain(2.0)
    finally:
        stop(proc)
    tls_receiver.kill()
    udp.close()
    wanted = {uuid_int(s) for s in range(1, 201)}
    assert set(udp.indexes) >= wanted
    unframed = Unframer().feed(frames.read_bytes())
    from_file = {uuid_module.UUID(bytes=decode_message(u.message).uuid).int for u in unframed}
    assert from_file >= wanted
    copied = log.read_bytes()
    assert copied.count(b"type=SYSCALL ") == 200 and copied.count(b"type=EOE ") == 200


def test_a_target_that_stays_down_holds_the_cursor(tmp_path: Path, journal: Journal) -> None:
    up, down = TcpReceiver(), TcpReceiver()
    down_port = down.port
    down.kill()
    config = run_json(tmp_path, [f"127.0.0.1:{up.port}", f"127.0.0.1:{down_port}"],
                      drain_seconds=1)
    journal.write(300)
    proc = start(config)
    try:
        assert wait_for(up, range(1, 301), 20) == set()
        time.sleep(0.5)
    finally:
        stop(proc)
    cursor = read_cursor(tmp_path / "journal")
    assert cursor is None or cursor.offset == 0  # nothing is done by every target
    # The next start re-derives everything for the target that was down.
    down = TcpReceiver(port=down_port)
    proc = start(config)
    try:
        assert wait_for(down, range(1, 301), 20) == set()
    finally:
        stop(proc)
    up.kill()
    down.kill()


def test_a_crash_loop_at_one_cursor_ships_the_next_round_raw(tmp_path: Path,
                                                              journal: Journal) -> None:
    """A record that kills the shipper (not a Python exception: those are caught
    per line and per event) would make the supervisor restart it into the same
    death forever. After CRASH_LIMIT unclean exits at one cursor, the events
    right after it go out raw, with an error field, and the cursor moves on."""
    journal.write(5)
    active = (tmp_path / "journal" / "audit.log").stat()
    cursor = Cursor(active.st_dev, active.st_ino, 0)
    write_cursor(tmp_path / "journal", cursor)
    status = {"state": "running", "cursor": {"dev": cursor.dev, "ino": cursor.ino, "offset": 0},
              "counters": {"crashes_at_cursor": CRASH_LIMIT - 1}}
    (tmp_path / "shipper.status").write_text(json.dumps(status))
    events, after, err = ship_once(tmp_path, range(1, 6), settle=1.2)
    assert after is not None
    fields = [m.field("error") for m in events if m.type != HEALTH_TYPE]
    assert len(fields) == 5
    assert all(f is not None and "shipped raw" in str(f.values[0]) for f in fields)
    assert after["counters"]["crashes_at_cursor"] == CRASH_LIMIT
    assert after["counters"]["shipped_raw"] == 5
    assert "did not stop cleanly" in err
    assert json.loads((tmp_path / "shipper.status").read_text())["state"] == "stopped"
    # A clean stop ends the series: the next start interprets as usual.
    journal.write(1)
    events, _, _ = ship_once(tmp_path, range(6, 7))
    assert all(m.field("error") is None for m in events if m.type != HEALTH_TYPE)


def test_a_restart_at_a_cursor_whose_inode_was_reused_delivers_every_record(
        tmp_path: Path) -> None:
    """The last run's cursor names a journal file deleted since (drop-oldest), and
    the file system gave its inode number to the new audit.log. Resuming there at
    the cursor's offset would skip the new file's first events (issue 12); the
    shipper counts the cursor's file as gone and delivers every event."""
    directory = tmp_path / "journal"
    directory.mkdir(mode=0o700)
    old = directory / "audit.log"
    old.write_bytes(b"".join(event_lines(100_000 + s) for s in range(100)))
    st = old.stat()
    offset = 50 * len(event_lines(1))  # what a match by inode number would skip
    old_head = file_head(old.read_bytes()[:256])
    old.unlink()
    journal = Journal(directory)  # creates audit.log at once: ext4 reuses the inode
    journal.write(200)
    active = (directory / "audit.log").stat()
    reused = (active.st_dev, active.st_ino) == (st.st_dev, st.st_ino)
    # Where the file system does not reuse it (tmpfs), the same case, constructed:
    write_cursor(directory, Cursor(active.st_dev, active.st_ino, offset, old_head))
    try:
        _, status, err = ship_once(tmp_path, range(1, 201), settle=1.2)
    finally:
        journal.close()
    assert status is not None
    assert status["counters"]["journal_lost_files"] == 1
    assert "cursor's file" in err and "is gone" in err
    cursor = read_cursor(directory)
    assert cursor is not None and cursor.head == file_head((directory / "audit.log")
                                                           .read_bytes()[:256])
    assert (cursor.ino, cursor.offset) == (active.st_ino, active.st_size)
    print(f"inode {'reused by the file system' if reused else 'reuse constructed'}: "
          "all 200 events delivered")


def test_a_cursor_at_the_end_of_a_finished_file_moves_into_the_next_once_it_has_a_line(
        tmp_path: Path) -> None:
    """Everything in audit.log.1 is shipped and audit.log is empty: the cursor is
    the end of audit.log.1 (an empty file has no head to be named by). Once
    audit.log holds a line the cursor names it, even while its first event is
    not acknowledged, so that audit.log.1 can be deleted without the cursor
    pointing at a file that is gone."""
    directory = tmp_path / "journal"
    directory.mkdir(mode=0o700)
    finished = directory / "audit.log.1"
    finished.write_bytes(b"".join(event_lines(s) for s in range(1, 11)))
    journal = Journal(directory)
    journal.next_serial = 11
    receiver = TcpReceiver()
    port = receiver.port
    proc = start(run_json(tmp_path, [f"127.0.0.1:{port}"]))
    try:
        assert wait_for(receiver, range(1, 11), 20) == set()
        deadline = time.monotonic() + 10
        w = finished.stat()
        end = Cursor(w.st_dev, w.st_ino, w.st_size, file_head(finished.read_bytes()[:256]))
        while read_cursor(directory) != end:
            assert time.monotonic() < deadline, read_cursor(directory)
            time.sleep(0.05)
        receiver.kill()  # the next event is not acknowledged: the position stays
        journal.write(5)
        active = directory / "audit.log"
        x = active.stat()
        start_of_x = Cursor(x.st_dev, x.st_ino, 0, file_head(active.read_bytes()[:256]))
        deadline = time.monotonic() + 10
        while read_cursor(directory) != start_of_x:
            assert time.monotonic() < deadline, read_cursor(directory)
            time.sleep(0.05)
        receiver = TcpReceiver(port=port)
        assert wait_for(receiver, range(11, 16), 20) == set()
    finally:
        stop(proc)
        journal.close()
    receiver.kill()


def test_log_copies_are_not_written_twice_across_a_restart(tmp_path: Path,
                                                           journal: Journal) -> None:
    """A target that is down holds the cursor back; the log: copy, written at once,
    must not get the same events again when the shipper restarts."""
    down = TcpReceiver()
    port = down.port
    down.kill()
    log = tmp_path / "copy" / "audit.log"
    log.parent.mkdir(mode=0o700)
    config = run_json(tmp_path, [f"127.0.0.1:{port}", f"log:{log}"], drain_seconds=1)
    journal.write(100)
    proc = start(config)
    deadline = time.monotonic() + 20
    while not log.exists() or log.read_bytes().count(b"type=EOE ") < 100:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.5)  # a status with the log mark
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.stderr is not None
    proc.stderr.close()
    journal.write(50)
    receiver = TcpReceiver(port=port)
    proc = start(config)
    try:
        assert wait_for(receiver, range(1, 151), 20) == set()  # the target gets it all
        deadline = time.monotonic() + 10
        while log.read_bytes().count(b"type=EOE ") < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop(proc)
    receiver.kill()
    copied = log.read_bytes()
    serials = [int(line.split(b":")[1].split(b")")[0])
               for line in copied.splitlines() if line.startswith(b"type=EOE ")]
    assert sorted(serials) == list(range(1, 151))  # each event once


def test_the_supervisors_run_json_is_what_the_shipper_reads(tmp_path: Path) -> None:
    """The two sides of run.json, written by `run`'s option parsing, read here."""
    captured: dict[str, object] = {}

    @click.command()
    @run_options
    def fake(**options: object) -> None:
        captured["doc"] = build_config(**options).run_json()

    result = CliRunner().invoke(fake, [
        "--target", "tls://heka.example:5565", "--target", "udp://127.0.0.1:5566",
        "--target", f"log:{tmp_path / 'copy.log'}", "--hmac-key", "sig:2=secret",
        "--hmac-hash", "sha1", "--type", "audit_t", "--no-payload", "--hostname", "hh",
        "--state-dir", str(tmp_path), "--drain-seconds", "7", "--fsync", "every:10",
        "--status-file", str(tmp_path / "run" / "status.json"),
    ])
    assert result.exit_code == 0, result.output
    doc = json.loads(json.dumps(captured["doc"]))  # what the file holds
    config = config_from_json(doc)
    assert [str(t) for t in config.targets] == ["tls://heka.example:5565",
                                                "udp://127.0.0.1:5566"]
    assert [t.path for t in config.logs] == [tmp_path / "copy.log"]
    assert config.signer is not None and config.signer.name == "sig"
    assert config.signer.version == 2 and config.signer.hash == "sha1"
    assert (config.message_type, config.payload, config.hostname) == ("audit_t", False, "hh")
    assert config.drain_seconds == 7 and config.state_dir == tmp_path
    assert config.journal_dir == tmp_path / "journal"
    assert config.delivery.transport.fsync.frames == 10
    assert config.status_dir == tmp_path / "run" / "status.d"  # beside run's status file


def test_status_cursor_marks_carry_the_head_and_read_back() -> None:
    """shipper.status's cursor and log_cursor (the log: high-water mark a restart
    resumes from) carry the head; marks of earlier versions (no head) still read."""
    for cursor in (Cursor(2049, 131, 8192, "0123456789abcdef"), Cursor(2049, 131, 0, "-"),
                   Cursor(2049, 131, 8192)):
        mark = json.loads(json.dumps(_cursor_json(cursor)))
        assert _cursor_from_json(mark) == cursor
    assert "head" not in (_cursor_json(Cursor(1, 2, 3)) or {})
    for bad in ({"dev": 1, "ino": 2}, {"dev": 1, "ino": 2, "offset": -3},
                {"dev": 1, "ino": 2, "offset": 3, "head": 7},
                {"dev": 1, "ino": 2, "offset": 3, "head": "XYZ"},
                {"dev": 1, "ino": 2, "offset": 3, "head": "\u00e9" * 16},
                {"dev": "a", "ino": 2, "offset": 3}):
        assert _cursor_from_json(bad) is None, bad


# ----------------------------------------------- what drop-oldest counts as given up
#: Serials whose events all have one length (6-digit serials, 5-digit pids), so
#: that journal files hold whole events and records given up come in fours.
FIXED = 200_000
PER_FILE = 600  # events per journal file (about 220 KB)


def fixed_journal(directory: Path, full: FullAction = FullAction.DROP_OLDEST) -> Journal:
    size = len(event_lines(FIXED))
    assert all(len(event_lines(FIXED + k)) == size for k in (0, 999, 5000, 9999))
    journal = Journal(directory, file_bytes=PER_FILE * size, max_bytes=2 * PER_FILE * size,
                      full=full)
    journal.next_serial = FIXED
    return journal


def shipper_status(tmp_path: Path, until: Any, timeout: float = 20) -> dict[str, Any]:
    """shipper.status once ``until(status)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status: dict[str, Any] = json.loads((tmp_path / "shipper.status").read_text())
            if until(status):
                return status
        except (OSError, ValueError):
            pass
        assert time.monotonic() < deadline, "the shipper's status never got there"
        time.sleep(0.05)


def wait_for_count(receiver: TcpReceiver, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while len(set(receiver.received())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # and nothing more arrives
    return len(set(receiver.received()))


def stalled_shipper(tmp_path: Path) -> tuple[Journal, int, subprocess.Popen[str]]:
    """A drop-oldest journal of 100 events and a shipper that has read them
    and stopped reading: its receiver (the port) is down and its queue full."""
    journal = fixed_journal(tmp_path / "journal")
    journal.write(100)
    receiver = TcpReceiver()
    port = receiver.port
    receiver.kill()
    proc = start(run_json(tmp_path, [f"127.0.0.1:{port}"], journal_full="drop-oldest",
                          delivery_max_bytes=16384, status_interval=0.2))
    try:
        shipper_status(tmp_path, lambda s: s["counters"]["journal_lines"] == 400)
    except BaseException:
        proc.kill()
        proc.communicate()
        journal.close()
        raise
    return journal, port, proc


def test_drop_oldest_gives_up_nothing_a_live_shipper_holds(tmp_path: Path) -> None:
    """The shipper has read the first 100 events of the oldest file and cannot
    send (its receiver is down: it stops reading); drop-oldest then deletes
    that file and the next two. The shipper still reads the deleted file to its
    end: only the next files' records are given up. Every record is read by
    the shipper or counted given up, never both (the count from the cursor
    said the whole oldest file too)."""
    journal, port, proc = stalled_shipper(tmp_path)
    try:
        journal.write(4 * PER_FILE)  # 2,500 events in 5 files: the oldest 3 are deleted
        total = 4 * (journal.next_serial - FIXED)
        dropped = journal.writer.counters.records_dropped
        assert not any(p.name == "audit.log.2" for p in (tmp_path / "journal").iterdir())
        # The cursor's file is gone and nothing is acknowledged: the lag is every
        # byte present (it said 0: "the follower is past it").
        present = sum(p.stat().st_size for p in (tmp_path / "journal").glob("audit.log*"))
        shipper_status(tmp_path, lambda s: s["lag"]["journal_bytes_behind"] == present, 5)
        receiver = TcpReceiver(port=port)
        delivered = wait_for_count(receiver, (total - dropped) // 4, 30)
    finally:
        stop(proc)
        journal.close()
    receiver.kill()
    status = json.loads((tmp_path / "shipper.status").read_text())
    read = status["counters"]["journal_lines"]
    assert dropped == 2 * 4 * PER_FILE  # the 2nd and 3rd files, never opened; none of the 1st
    assert read + dropped == total
    assert delivered * 4 == read
    assert wait_for(receiver, range(FIXED, FIXED + PER_FILE), 0) == set()
    print(f"{total} records: {read} read and delivered, {dropped} given up")


def test_drop_oldest_after_a_shipper_died_counts_from_what_it_had_consumed(
        tmp_path: Path) -> None:
    """The shipper delivered the first 100 events of the oldest file but no
    frame was acknowledged yet (``hold``: the cursor stays at the file's
    start), and died. drop-oldest deletes the file: given up are the records
    after those 100 events, not the ones it had delivered. After a restart
    every event is delivered or counted given up, once."""
    journal = fixed_journal(tmp_path / "journal")
    journal.write(100)
    receiver = TcpReceiver()
    config = run_json(tmp_path, [f"127.0.0.1:{receiver.port}"], journal_full="drop-oldest",
                      delivery_hold=60)
    proc = start(config)
    try:
        assert wait_for(receiver, range(FIXED, FIXED + 100), 20) == set()
        cursor = read_cursor(tmp_path / "journal")
        assert cursor is not None and cursor.offset == 0  # nothing acknowledged
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
    journal.write(4 * PER_FILE)
    total = journal.next_serial - FIXED
    dropped = journal.writer.counters.records_dropped
    assert dropped == 4 * (3 * PER_FILE - 100)
    config = run_json(tmp_path, [f"127.0.0.1:{receiver.port}"], journal_full="drop-oldest")
    again = start(config)
    try:
        delivered = wait_for_count(receiver, total - dropped // 4, 30)
    finally:
        err = stop(again)
        journal.close()
    receiver.kill()
    assert delivered + dropped // 4 == total
    status = json.loads((tmp_path / "shipper.status").read_text())
    assert status["counters"]["journal_lost_files"] == 1  # the cursor's file: it did go
    assert "is gone" in err


def test_a_shipper_dead_while_its_finished_file_is_deleted_as_shipped_lost_nothing(
        tmp_path: Path) -> None:
    """The shipper shipped all of audit.log.1 (its cursor the end of it:
    audit.log is empty) and is killed. The reader fills audit.log and, at the
    rotation, deletes audit.log.1 as shipped. The restarted shipper finds its
    cursor's file gone: nothing was lost, and it must not count it
    (journal_lost_files), while every later event is delivered."""
    directory = tmp_path / "journal"
    directory.mkdir(mode=0o700)
    finished = directory / "audit.log.1"
    finished.write_bytes(b"".join(event_lines(s) for s in range(FIXED, FIXED + 10)))
    journal = fixed_journal(directory, FullAction.BLOCK)
    journal.next_serial = FIXED + 10
    receiver = TcpReceiver()
    config = run_json(tmp_path, [f"127.0.0.1:{receiver.port}"])
    proc = start(config)
    try:
        assert wait_for(receiver, range(FIXED, FIXED + 10), 20) == set()
        w = finished.stat()
        end = Cursor(w.st_dev, w.st_ino, w.st_size, file_head(finished.read_bytes()[:256]))
        deadline = time.monotonic() + 10
        while read_cursor(directory) != end:
            assert time.monotonic() < deadline, read_cursor(directory)
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)  # between the cursor at the end and the next one
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
    journal.write(PER_FILE + 1)  # audit.log fills and rotates: audit.log.1 goes, shipped
    assert journal.writer.counters.files_deleted == 1 and journal.writer.blocked is None
    assert not (directory / "audit.log.2").exists()  # audit.log.1 is the rotated audit.log
    again = start(config)
    try:
        missing = wait_for(receiver, range(FIXED + 10, journal.next_serial), 30)
        status = shipper_status(tmp_path, lambda s: s["pid"] == again.pid)
    finally:
        err = stop(again)
        journal.close()
    receiver.kill()
    assert missing == set()
    assert status["counters"]["journal_lost_files"] == 0
    assert "is gone" not in err and "deleted once shipped" in err


def test_a_restart_does_not_move_the_last_runs_consumed_mark_back(tmp_path: Path) -> None:
    """The last run had consumed into audit.log (its mark) though its cursor is
    at the start of audit.log.1: a restart re-reads from the cursor, and until
    it passes the old mark it leaves it as it is (the records between were
    consumed, by the last run); a mark behind the restart's start is replaced."""
    directory = tmp_path / "journal"
    journal = Journal(directory, file_bytes=10 * len(event_lines(FIXED)))
    journal.next_serial = FIXED
    journal.write(20)  # audit.log.1: 10 events, audit.log: 10 events
    journal.close()
    older, newer = directory / "audit.log.1", directory / "audit.log"

    def at(path: Path, events: int) -> Cursor:
        st = path.stat()
        return Cursor(st.st_dev, st.st_ino, events * len(event_lines(FIXED)),
                      file_head(path.read_bytes()[:256]))

    def shipper(cursor: Cursor, old_mark: Cursor) -> Shipper:
        marks = MarkWriter(directory)
        marks.publish(old_mark)
        marks.close()
        ship = Shipper(config_from_json({"journal_dir": str(directory),
                                         "state_dir": str(tmp_path), "targets": []}))
        ship.follower = JournalFollower(directory, cursor)
        ship._marks = MarkWriter(directory)
        ship._mark_floor = ship._marks.previous
        return ship

    ship = shipper(at(older, 0), at(newer, 5))
    assert ship.follower is not None
    ship.follower.read(1)  # audit.log.1 only
    ship._publish_consumed()
    assert read_mark(directory) == at(newer, 5)  # not moved back into audit.log.1
    while not ship.follower.read(1 << 20)[1]:
        pass
    ship._publish_consumed()
    assert read_mark(directory) == at(newer, 10)
    ship.follower.close()
    ship = shipper(at(newer, 0), at(older, 3))  # a stale mark, behind the cursor
    assert ship.follower is not None
    ship.follower.read(1)
    ship._publish_consumed()
    assert read_mark(directory) == at(newer, 10)
    ship.follower.close()


def test_a_line_that_raises_is_counted_and_logged_and_the_others_are_shipped(
        tmp_path: Path, journal: Journal, caplog: pytest.LogCaptureFixture) -> None:
    # A bug the first record of event 3 runs into: the round's other lines (the rest of
    # event 3 among them) are still shipped, the line counted and logged with its place.
    journal.write(5)
    ship = Shipper(config_from_json({"journal_dir": str(tmp_path / "journal"),
                                     "state_dir": str(tmp_path), "targets": [],
                                     "hostname": HOST}))
    ship.follower = JournalFollower(tmp_path / "journal")
    record_line = ship.session._record_line
    raised: list[str] = []

    def flaky(*args: Any) -> Any:
        if ":3): " in args[1] and not raised:
            raised.append(args[1])
            raise RuntimeError("a bug")
        return record_line(*args)

    ship.session._record_line = flaky  # type: ignore[method-assign,assignment]
    ship._submit_held = lambda: True  # type: ignore[method-assign]  # (no delivery here)
    with caplog.at_level("ERROR", logger="audit_heka"):
        while not ship._round():
            pass
    assert ship.books["line_errors"] == 1 and len(raised) == 1
    messages = [decode_message(Unframer().feed(frame)[0].message) for frame, _ in ship._held]
    fields = [{f.name: f.values[0] for f in m.fields} for m in messages]
    assert [f["serial"] for f in fields] == [1, 2, 3, 4, 5]
    assert "SYSCALL" not in str(fields[2]["record_types"])
    assert "PATH" in str(fields[2]["record_types"])
    (logged,) = [r for r in caplog.records if "could not be processed" in r.getMessage()]
    assert logged.exc_info is not None and str(logged.exc_info[1]) == "a bug"
    assert f"position {len(event_lines(1)) + len(event_lines(2))} " in logged.getMessage()
    ship.follower.close()


def test_a_planted_link_at_the_consumed_mark_is_refused_and_shipping_goes_on(
        tmp_path: Path, journal: Journal) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "journal" / "consumed").symlink_to(victim)
    journal.write(5)
    events, _, err = ship_once(tmp_path, range(1, 6))
    assert len([m for m in events if m.type != HEALTH_TYPE]) == 5
    assert victim.read_bytes() == b"precious"
    assert "cannot open the consumed mark" in err


# ------------------------------------------ gaps: where records were given up, and only there


def all_delivered(tmp_path: Path, receiver: TcpReceiver, sent: list[int]) -> dict[str, Any]:
    """The shipper's status once the events of ``sent`` (serials) arrived."""
    assert receiver.wait_for({uuid_int(s) for s in sent}, 30) == set()
    return shipper_status(tmp_path, lambda s: s["counters"]["messages"] == len(sent))


def test_a_file_deleted_while_the_shipper_reads_it_is_no_gap(tmp_path: Path) -> None:
    """drop-oldest deletes the file the shipper is reading (its lock: it reads
    it to its end) and nothing else: no record is given up, so no gap, and 3
    serials lost upstream right after that file show as serial_gaps (a gap
    there would reset the serials and hide them)."""
    journal, port, proc = stalled_shipper(tmp_path)
    try:
        journal.write(PER_FILE - 100)  # audit.log full
        journal.next_serial += 3  # lost upstream
        journal.write(PER_FILE + 1)  # the file being read is deleted (held), no other
        assert not (tmp_path / "journal" / "audit.log.2").exists()
        assert journal.writer.counters.records_dropped == 0
        receiver = TcpReceiver(port=port)
        sent = [*range(FIXED, FIXED + PER_FILE), *range(FIXED + PER_FILE + 3, journal.next_serial)]
        status = all_delivered(tmp_path, receiver, sent)
    finally:
        stop(proc)
        journal.close()
    receiver.kill()
    assert status["counters"]["journal_gaps"] == 0
    assert status["counters"]["serial_gaps"] == 3


def test_a_full_disk_under_drop_oldest_counts_each_given_up_record_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills with only the active file left: the 50 events waiting
    are given up (journal_dropped_records: 200 records). The shipper must not
    count them again as serial_gaps, while it still counts a real upstream
    loss later on."""
    journal = fixed_journal(tmp_path / "journal")
    receiver = TcpReceiver()
    proc = start(run_json(tmp_path, [f"127.0.0.1:{receiver.port}"],
                          journal_full="drop-oldest", status_interval=0.2))
    try:
        journal.write(100)
        assert wait_for(receiver, range(FIXED, FIXED + 100), 20) == set()
        monkeypatch.setattr(os, "write", FakeDisk(0))
        journal.write(50)  # never written
        monkeypatch.undo()
        journal.write(100)
        journal.next_serial += 2  # lost upstream: these do count
        journal.write(10)
        sent = [*range(FIXED, FIXED + 100), *range(FIXED + 150, FIXED + 250),
                *range(FIXED + 252, FIXED + 262)]
        status = all_delivered(tmp_path, receiver, sent)
    finally:
        stop(proc)
        journal.close()
    receiver.kill()
    assert journal.writer.counters.records_dropped == 4 * 50
    assert status["counters"]["serial_gaps"] == 2
    assert status["counters"]["journal_gaps"] == 1


def test_a_shipper_killed_in_a_file_deleted_under_it_has_the_rest_counted(
        tmp_path: Path) -> None:
    """The shipper had consumed (and delivered, unacknowledged) 100 events of
    audit.log when drop-oldest deleted that file under it (held: nothing
    counted then), and it was killed there. Its other 500 events are given
    up: the reader counts them once the lock is gone, from the dead run's
    consumed mark, which the next run leaves in place until then. Every
    event is delivered or counted, once."""
    directory = tmp_path / "journal"
    journal = fixed_journal(directory)
    journal.write(100)
    receiver = TcpReceiver()
    proc = start(run_json(tmp_path, [f"127.0.0.1:{receiver.port}"], journal_full="drop-oldest",
                          delivery_hold=60))
    size = len(event_lines(FIXED))
    try:
        assert wait_for(receiver, range(FIXED, FIXED + 100), 20) == set()
        deadline = time.monotonic() + 10
        while (mark := read_mark(directory)) is None or mark.offset != 100 * size:
            assert time.monotonic() < deadline, mark
            time.sleep(0.05)
        proc.send_signal(signal.SIGSTOP)
        journal.write(2 * PER_FILE - 100 + 1)  # audit.log goes, held by the stopped shipper
        assert not (directory / "audit.log.2").exists()
        assert journal.writer.counters.records_dropped == 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
    total = journal.next_serial - FIXED
    again = start(run_json(tmp_path, [f"127.0.0.1:{receiver.port}"], journal_full="drop-oldest"))
    try:
        time.sleep(1.0)  # the next run is at work before the reader looks again
        journal.writer.flush(time.monotonic())
        dropped = journal.writer.counters.records_dropped
        delivered = wait_for_count(receiver, total - dropped // 4, 30)
        status = shipper_status(tmp_path, lambda s: s["pid"] == again.pid)
    finally:
        stop(again)
        journal.close()
    receiver.kill()
    assert dropped == 4 * (PER_FILE - 100)
    assert delivered + dropped // 4 == total
    assert status["counters"]["journal_lost_files"] == 1


def test_the_shipper_hands_its_interpreter_this_hosts_machine(tmp_path: Path) -> None:
    # auparse names a syscall without a known arch by the host's table; the core reads
    # no host (test_sans_io), so the shipper hands it os.uname()'s machine.
    ship = Shipper(config_from_json({"journal_dir": str(tmp_path / "journal"),
                                     "state_dir": str(tmp_path), "targets": [],
                                     "hostname": HOST}))
    assert ship.interpreter.machine == os.uname().machine

"""session.py and ``audit-heka replay`` on synthetic logs (no kernel needed)."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid as uuid_module
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from heka_receivers import TcpReceiver
from hypothesis import given, settings
from hypothesis import strategies as st
from test_outputs import pki, server_context

from audit_heka.cli import main
from audit_heka.cli.replay import FILE_WRITE_BYTES
from audit_heka.core.events import Assembler
from audit_heka.core.interpret import Interpreter
from audit_heka.core.schema import MessageBuilder
from audit_heka.core.session import Framer, Session, Shipment
from audit_heka.heka.framing import Signer, Unframer
from audit_heka.heka.message import Message, decode_message
from audit_heka.tables.syscalls import SYSCALLS

__all__ = ["pki"]  # a fixture of test_outputs, used here too

# The module, not the click command that audit_heka.cli exports under the same name.
replay_module = importlib.import_module("audit_heka.cli.replay")


def ev(serial: int, sec: int = 1700000000, extra: str = "") -> list[str]:
    h = f"msg=audit({sec}.{serial % 1000:03d}:{serial})"
    return [
        f"type=SYSCALL {h}: arch=c000003e syscall=2 success=yes exit=3 a0=1 a1=0 a2=0 a3=0 "
        f'items=1 ppid=1 pid={100 + serial} auid=0 uid=0 comm="cat" exe="/bin/cat" key=(null)'
        + extra,
        f'type=CWD {h}: cwd="/"',
        f'type=PATH {h}: item=0 name="/etc/f{serial}" inode=1 mode=0100644 ouid=0 ogid=0',
        f"type=PROCTITLE {h}: proctitle=636174",
    ]


def pipeline() -> Session:
    builder = MessageBuilder(Interpreter({0: "root"}, {0: "root"}), hostname="h")
    return Session(builder, Assembler(live=False))


def messages(shipments: list[Shipment]) -> list[Message]:
    return [s.message for s in shipments]


def test_pipeline_counts_and_builds() -> None:
    p = pipeline()
    out: list[Message] = []
    lines = [*ev(1), "", "garbage line", "type=CWD msg=audit(1.000:9): cwd=\"/x", *ev(2)]
    for line in lines:
        out += messages(p.feed(line + "\n"))
    out += messages(p.finish())
    serials = [m.field("serial") for m in out]
    # Nothing is lost: the garbage line is shipped as it is (parse_error, raw), the
    # record with an unterminated quote is kept in its event (serial 9).
    assert sorted(s.values[0] for s in serials if s is not None) == [1, 2, 9]
    (unparsed,) = [m for m in out if m.field("serial") is None]
    assert unparsed.field("parse_error").values == ("bad_header",)  # type: ignore[union-attr]
    assert unparsed.field("raw").values == ("garbage line",)  # type: ignore[union-attr]
    assert unparsed.timestamp == 1700000000_001_000_000  # the last record before it
    (nine,) = [m for m in out if m.field("serial") and m.field("serial").values == (9,)]  # type: ignore[union-attr]
    assert nine.field("parse_error").values == ("CWD: unterminated_quote",)  # type: ignore[union-attr]
    c = p.counters()
    assert c["lines"] == len(lines) and c["blank_lines"] == 1
    assert c["records"] == 9 and c["messages"] == 4 and c["unparsed_shipped"] == 1
    assert c["malformed_records"] == 2
    assert c["malformed_records.bad_header"] == 1
    assert c["malformed_records.unterminated_quote"] == 1
    assert [e.reason for e in p.error_samples] == ["bad_header", "unterminated_quote"]


def test_pipeline_kernel_records_and_tick() -> None:
    p = Session(MessageBuilder(Interpreter({}, {}), hostname="h"), Assembler(live=True))
    assert p.feed_kernel(1300, "audit(5.000:1): arch=c000003e syscall=1 pid=2", now=0.0) == []
    assert p.feed_kernel(1327, "audit(5.000:1): proctitle=6361", now=0.1) == []
    (msg,) = messages(p.feed_kernel(1320, "audit(5.000:1): ", now=0.2))
    assert msg.field("record_types") is not None
    assert p.feed_kernel(1400, "audit(6.000:2): avc:  denied  { read } for pid=1", now=1.0) == []
    assert p.next_deadline() == 1.0 + p.assembler.timeout
    (late,) = messages(p.expire(10.0))
    assert p.next_deadline() is None
    assert late.severity == 4


def test_framer_drops_payload_then_degrades() -> None:
    p = pipeline()
    # Two records of ~40 KB each: ~80 KB of fields, over 64 KiB even without Payload.
    big = " " + " ".join(f"x{i}=" + "A" * 100 for i in range(400))
    lines = ev(1, extra=big)
    lines[2] += big.replace(" x", " y")
    msgs: list[Message] = []
    for line in lines:
        msgs += messages(p.feed(line))
    assert p.counters()["malformed_records"] == 0
    framer = Framer()
    data = framer.frame(msgs[0])  # too big even without Payload: degraded, not refused
    assert data is not None and len(data) <= 65536 + 10
    assert (framer.oversize, framer.payload_dropped, framer.degraded) == (0, 1, 1)
    (unframed,) = Unframer().feed(data)
    degraded = decode_message(unframed.message)
    truncated = degraded.field("truncated")
    assert truncated is not None and truncated.values[0] == "Payload"
    assert degraded.field("serial") is not None and degraded.field("pid") is not None
    huge = msgs[0].replace(hostname="h" * 70_000)  # even the header cannot fit
    assert framer.frame(huge) is None and framer.oversize == 1
    small = Framer(max_message_size=2000)
    frame = small.frame(pipeline_msg())
    assert frame is not None and small.payload_dropped == 1
    (unframed,) = Unframer(max_message_size=2000).feed(frame)
    assert decode_message(unframed.message).payload is None


def pipeline_msg() -> Message:
    p = pipeline()
    out: list[Message] = []
    for line in ev(3, extra=" note=" + "B" * 600):
        out += messages(p.feed(line))
    return out[0]


def run_replay(args: list[str], stdin: str | None = None) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(main, ["replay", *args], input=stdin)
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    return result.exit_code, lines, result.stderr


def test_replay_files_in_order_and_stdin(tmp_path: Path) -> None:
    old, new = tmp_path / "audit.log.1", tmp_path / "audit.log"
    old.write_text("\n".join(ev(1) + ev(2)) + "\n")
    new.write_text("\n".join(ev(3)) + "\n")
    code, out, err = run_replay([str(old), str(new), "--hostname", "box"])
    assert code == 0, err
    assert [m["Fields"]["serial"] for m in out] == [1, 2, 3]
    assert all(m["Hostname"] == "box" for m in out)
    assert "3 events" in err
    code, out, _ = run_replay(["-", "--no-payload", "--type", "t"], stdin="\n".join(ev(4)))
    assert code == 0 and [m["Fields"]["serial"] for m in out] == [4]
    assert out[0]["Type"] == "t" and "Payload" not in out[0]


def test_replay_malformed_exits_1_with_counts(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(("\n".join(ev(1)) + "\n").encode() + b"\xff\xfe binary \x00 junk\n"
                    + b"type=SYSCALL msg=audit(17000\n")
    code, out, err = run_replay([str(log)])
    assert code == 1
    assert len(out) == 3  # the event and the two lines that are no records, shipped raw
    assert sorted(m["Fields"]["parse_error"] for m in out[1:]) == ["bad_header", "binary"]
    assert "malformed_records: 2" in err
    assert "malformed_records.bad_header: 1" in err and "malformed_records.binary: 1" in err


def test_replay_to_file_target(tmp_path: Path) -> None:
    log, frames = tmp_path / "audit.log", tmp_path / "out.heka"
    log.write_text("\n".join(ev(1) + ev(2)) + "\n")
    for _ in range(2):  # appended
        code, _, err = run_replay([str(log), "--target", f"file:{frames}"])
        assert code == 0, err
    unframed = Unframer().feed(frames.read_bytes())
    serials = [decode_message(u.message).field("serial") for u in unframed]
    assert [s.values for s in serials if s] == [(1,), (2,), (1,), (2,)]


def test_followed_log_reaches_a_file_event_by_event(tmp_path: Path) -> None:
    """--follow to a file: each event is written as it completes, though a trickle of
    lines never leaves the follower idle (no batching to FILE_WRITE_BYTES there)."""
    log, frames = tmp_path / "audit.log", tmp_path / "out.heka"
    log.write_text("")
    proc = replay_process(str(log), "--follow", "--target", f"file:{frames}")
    try:
        for serial in range(1, 6):  # one event every 0.2 s: never idle for IDLE_FLUSH
            with log.open("a") as f:
                f.write("\n".join(ev(serial)) + "\n")
            time.sleep(0.2)
        wait_until(lambda: frames.exists() and len(Unframer().feed(frames.read_bytes())) >= 4,
                   timeout=replay_module.IDLE_FLUSH)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_replay_bad_target_is_a_clear_error(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("\n".join(ev(1)) + "\n")
    code, _, err = run_replay([str(log), "--target", "nonsense:::"])
    assert code == 2 and "invalid target" in err


def test_follow_across_rotation_and_truncation(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_module, "POLL_INTERVAL", 0.02)
    monkeypatch.setattr(replay_module, "IDLE_FLUSH", 0.3)
    path = tmp_path / "audit.log"
    path.write_text(ev(1)[0] + "\n" + ev(1)[1][:10])  # ends in a partial line

    def writer() -> None:
        time.sleep(0.1)
        with path.open("a") as f:
            f.write(ev(1)[1][10:] + "\n")
        time.sleep(0.1)
        path.rename(tmp_path / "audit.log.1")  # rotation: a new inode
        with (tmp_path / "audit.log.1").open("a") as f:
            f.write("written after rotation to the old file\n")
        path.write_text("rotated-1\n")
        time.sleep(0.6)  # idle: the follower reports None
        with path.open("r+") as f:  # truncation
            f.truncate(0)
        time.sleep(0.1)
        path.write_text("after-truncate\n")

    thread = threading.Thread(target=writer)
    thread.start()
    got = list(replay_module.follow_lines(str(path), stop_after_idle=1.2))
    thread.join()
    assert got[:4] == [ev(1)[0], ev(1)[1], "written after rotation to the old file", "rotated-1"]
    assert None in got  # the idle report, so pending events get shipped
    assert [x for x in got if x is not None][4:] == ["after-truncate"]


def test_bad_hex_and_odd_values_go_through() -> None:
    h = "msg=audit(1700000000.001:9)"
    lines = [
        f"type=SYSCALL {h}: arch=zz syscall=x success=maybe exit=- a0=GG items=? pid=1 "
        "auid=unset uid=-5 comm=4G exe=ABC key=0",
        f"type=EXECVE {h}: argc=x a0=ZZ a1_len=q a1[0]=123 a1[x]=1 a2=\"ok\"",
        f"type=PATH {h}: item=0 name=0 mode=99999999999999999999 ouid=abc",
        f"type=SOCKADDR {h}: saddr=0",
        f"type=PROCTITLE {h}: proctitle=F",
    ]
    p = pipeline()
    out: list[Message] = []
    for line in lines:
        out += messages(p.feed(line))
    (msg,) = out + messages(p.finish())
    assert msg.field("record_types") is not None
    assert Framer().frame(msg) is not None
    assert p.builder.counters.malformed_integer >= 4


@given(st.lists(st.text(max_size=120), max_size=8))
@settings(max_examples=200, deadline=None)
def test_pipeline_never_raises(bodies: list[str]) -> None:
    p = pipeline()
    framer = Framer()
    names = ["SYSCALL", "EXECVE", "PATH", "USER_CMD", "AVC", "SOCKADDR", "PROCTITLE", "CWD"]
    for i, body in enumerate(bodies):
        for line in (body, f"type={names[i % len(names)]} msg=audit(1.000:{i % 3}): {body}"):
            for m in messages(p.feed(line)):
                framer.frame(m)
    for m in messages(p.finish()):
        framer.frame(m)


# --- interrupted replays: exit non-zero, say where, resume losing nothing ------------------

RESUME = re.compile(r"--resume (\S+):(\d+) ")


def write_logs(tmp_path: Path, events: int) -> list[str]:
    """audit.log.1 and audit.log holding ``events`` events (serials 1..events), oldest first."""
    half = events // 2
    old, new = tmp_path / "audit.log.1", tmp_path / "audit.log"
    old.write_text("".join("\n".join(ev(i)) + "\n" for i in range(1, half + 1)))
    new.write_text("".join("\n".join(ev(i)) + "\n" for i in range(half + 1, events + 1)))
    return [str(old), str(new)]


def all_uuids(files: list[str]) -> set[int]:
    code, out, err = run_replay([*files, "--hostname", "box"])
    assert code == 0, err
    return {uuid_module.UUID(m["Uuid"]).int for m in out}


def replay_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "audit_heka", "replay", "--hostname", "box",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def replay_again(err: str, files: list[str], target: str) -> None:
    """Run the replay again from the resume point a stopped one named in ``err``."""
    resume = RESUME.search(err)
    assert resume, err
    rerun = subprocess.run([sys.executable, "-m", "audit_heka", "replay", "--hostname", "box",
                            *files, "--target", target, "--resume",
                            f"{resume.group(1)}:{resume.group(2)}"],
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_replay_says_where_and_resumes_without_loss(
    tmp_path: Path, sig: signal.Signals, status: int,
) -> None:
    files = write_logs(tmp_path, 10000)
    wanted = all_uuids(files)
    receiver = TcpReceiver()
    target = f"127.0.0.1:{receiver.port}"
    proc = replay_process(*files, "--target", target)
    wait_until(lambda: len(receiver.received()) >= 500)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == status, err
    first = receiver.received()
    assert 500 <= len(first) < len(wanted), "not interrupted mid-way"
    stop = re.search(r"stopped at (\S+) line (\d+): interrupted \((SIGINT|SIGTERM)\); "
                     r"(\d+) events sent, (\d+) known delivered", err)
    assert stop, err
    # A signal between a frame's write and its count makes the count one short.
    assert stop.group(3) == sig.name and int(stop.group(4)) >= len(first) - 1
    replay_again(err, files, target)
    assert receiver.wait_for(wanted, 10) == set()
    got = receiver.received()
    receiver.kill()
    duplicates = len(got) - len(set(got))
    assert len(set(got)) == len(wanted) and duplicates <= int(stop.group(4)) - int(
        stop.group(5)) + 2, duplicates


def test_interrupted_replay_to_a_file_resumes_without_loss(tmp_path: Path) -> None:
    """A file target takes many events' frames in one write (FILE_WRITE_BYTES): the
    resume point an interrupted replay names covers only what was written, so the
    rerun completes the file, every event in it, none twice but around the stop."""
    files = write_logs(tmp_path, 20000)
    wanted = all_uuids(files)
    out = tmp_path / "out.heka"
    proc = replay_process(*files, "--target", f"file:{out}")
    wait_until(lambda: out.exists() and out.stat().st_size >= 3 * FILE_WRITE_BYTES)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    first = [decode_message(u.message).uuid for u in Unframer().feed(out.read_bytes())]
    assert 0 < len(first) < len(wanted), "not interrupted mid-way"
    stop = re.search(r"(\d+) events sent, (\d+) known delivered", err)
    assert stop and int(stop.group(1)) == int(stop.group(2)) == len(first), err
    replay_again(err, files, f"file:{out}")
    got = [uuid_module.UUID(bytes=decode_message(u.message).uuid).int
           for u in Unframer().feed(out.read_bytes())]
    assert set(got) == wanted
    assert len(got) - len(wanted) <= 2, "resent more than the events around the stop"


def test_receiver_reset_mid_replay_exits_1_and_resumes(tmp_path: Path) -> None:
    files = write_logs(tmp_path, 8000)
    wanted = all_uuids(files)
    receiver = TcpReceiver(close_after=300_000)  # resets the first connection mid-frame
    target = f"127.0.0.1:{receiver.port}"
    proc = replay_process(*files, "--target", target)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert re.search(r"stopped at \S+ line \d+: target .*: (Connection reset by peer|Broken "
                     r"pipe); \d+ events sent, \d+ known delivered", err), err
    replay_again(err, files, target)
    missing = receiver.wait_for(wanted, 10)
    receiver.kill()
    assert missing == set(), f"{len(missing)} events lost"


def test_resume_point_counts_events_still_being_assembled(tmp_path: Path) -> None:
    # Event 2's records straddle event 3's: stopping after 3 was sent must resume
    # at event 2's first line, or its first records are lost.
    log = tmp_path / "audit.log"
    e1, e2, e3 = ev(1), ev(2), ev(3)
    log.write_text("\n".join([*e1, e2[0], e2[1], *e3, e2[2], e2[3]]) + "\n")
    reader = replay_module.LineReader((str(log),), follow=False)
    p = pipeline()
    tracker = replay_module.ResumeTracker(0)
    done = False
    for lines in reader:  # (one batch: the whole file; taken here line by line)
        assert lines is not None
        first = reader.mark - len(lines)
        for offset, line in enumerate(lines):
            for _ in p.feed(line, position=first + offset):
                tracker.sent(100)
            pending = p.lowest_pending()
            mark = first + offset + 1
            tracker.checkpoint(mark if pending is None else min(pending, mark), 0.0)
            tracker.acknowledged(tracker.written, 0.0)
            done = tracker.frames == 2  # events 1 and 3 are out, 2 is pending
            if done:
                break
        if done:
            break
    assert reader.position(tracker.safe_mark) == (str(log), 5)  # e2[0]


def test_resume_option_checks_its_file(tmp_path: Path) -> None:
    files = write_logs(tmp_path, 4)
    code, out, err = run_replay([*files, "--resume", f"{files[1]}:5"])
    assert code == 0 and [m["Fields"]["serial"] for m in out] == [4]  # e3 is lines 1-4
    code, _, err = run_replay([*files, "--resume", "/elsewhere:3"])
    assert code == 2 and "is not one of the files given" in err
    code, _, err = run_replay([*files, "--resume", f"{files[0]}:0"])
    assert code == 2 and "FILE:LINE" in err


def test_stdout_closed_stops_with_one_error(tmp_path: Path) -> None:
    files = write_logs(tmp_path, 4000)
    proc = replay_process(*files)
    assert proc.stdout is not None and proc.stdout.readline().startswith("{")
    proc.stdout.close()
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    proc.wait(30)
    assert proc.returncode == 1, err
    assert err.count("stdout is closed (broken pipe)") == 1
    assert "stdout was closed by its reader" in err and "--resume" in err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_progress_only_when_asked_or_on_a_terminal(tmp_path: Path) -> None:
    files = write_logs(tmp_path, 2000)
    code, _, err = run_replay([*files, "--target", f"file:{tmp_path / 'o'}"])
    assert code == 0 and "\r" not in err and "events/s" not in err
    monkey = pytest.MonkeyPatch()
    monkey.setattr(replay_module, "PROGRESS_INTERVAL", 0.0)
    try:
        code, _, err = run_replay([*files, "--target", f"file:{tmp_path / 'o'}", "--progress"])
    finally:
        monkey.undo()
    assert code == 0 and "\r" in err and "events/s" in err and "ETA" in err
    line = replay_module.progress_line(("audit.log", 120), 5000, 1000, 2.0, 250, 1000)
    assert line == "audit.log:120  5000 lines, 1000 events, 500 events/s, 25%, ETA 0:06"


def test_replay_signs_and_speaks_tls_like_run(tmp_path: Path, pki: Path) -> None:
    files = write_logs(tmp_path, 6)
    key_file = tmp_path / "hmac.key"
    key_file.write_text("audit:3=s3cret\n")
    key_file.chmod(0o600)
    out = tmp_path / "signed.heka"
    code, _, err = run_replay([*files, "--target", f"file:{out}", "--hmac-key-file",
                               str(key_file), "--hmac-hash", "sha1"])
    assert code == 0, err
    signer = Signer("audit", 3, b"s3cret", "sha1")
    unframer = Unframer(signers={signer.lookup_key: signer}, require_signature=True)
    assert [u.signer for u in unframer.feed(out.read_bytes())] == ["audit"] * 6
    assert not unframer.errors
    receiver = TcpReceiver(tls=server_context(pki, client_ca=True))
    code, _, err = run_replay([*files, "--target", f"tls://127.0.0.1:{receiver.port}",
                               "--ca", str(pki / "ca.pem"), "--cert", str(pki / "client.pem"),
                               "--key", str(pki / "client.key")])
    assert code == 0, err
    wait_until(lambda: len(receiver.received()) >= 6, 10)
    assert len(set(receiver.received())) == 6
    code, _, err = run_replay([*files, "--target", f"tls://127.0.0.1:{receiver.port}"])
    receiver.kill()
    assert code == 1 and "cannot open target" in err and "certificate verify failed" in err


def test_followed_file_rotated_under_us_is_named_as_auditd_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay_module, "POLL_INTERVAL", 0.01)
    path = tmp_path / "audit.log"
    path.write_text("a1\na2\na3\n")
    reader = replay_module.LineReader((str(path),), follow=True)
    lines = iter(reader)
    assert [next(lines) for _ in range(3)] == [["a1"], ["a2"], ["a3"]]
    path.rename(tmp_path / "audit.log.1")  # auditd rotates
    path.write_text("b1\nb2\n")
    assert [next(lines) for _ in range(2)] == [["b1"], ["b2"]]
    assert reader.position(1) == (f"{path}.1", 2)  # a2
    assert reader.position(4) == (str(path), 2)  # b2
    tracker = replay_module.ResumeTracker(1)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        replay_module._report_stop(replay_module.Outcome("interrupted (SIGINT)", 130), reader,
                                   tracker)
    assert f"--resume {path}.1:2 and {path}.1 (rotated while followed) added before {path}" \
        in err.getvalue()
    lines.close()


@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.booleans(), st.integers(1, 40), st.integers(0, 35))
@settings(max_examples=200, deadline=None)
def test_a_file_read_in_chunks_gives_its_lines_as_read_one_by_one(
    lines: list[bytes], newline_at_end: bool, chunk: int, skip: int,
) -> None:
    # Chunks cut lines and UTF-8 sequences anywhere; each line decodes as alone.
    data = b"\n".join(lines) + (b"\n" if newline_at_end and lines else b"")
    want = [raw.decode("utf-8", "replace") for raw in data.split(b"\n")]
    if (want and want[-1] == "" and data.endswith(b"\n")) or data == b"":
        want.pop()
    stream = io.BytesIO(data)
    reader = replay_module.LineReader(("x",), follow=False, start=(0, skip + 1))
    reader.starts.append(("x", 0, 0))
    got = [line for batch in reader._batches(stream, skip, chunk) for line in batch]
    assert got == want[skip:]
    assert reader.mark == len(want[skip:])


def test_a_pipe_gives_each_line_as_it_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A read of CHUNK bytes from a pipe would wait for them all (or the writer's end).
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as stream, os.fdopen(write_end, "wb", buffering=0) as writer:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stream))
        batches = iter(replay_module.LineReader(("-",), follow=False))
        got: list[list[str] | None] = []
        writer.write(b"type=A one\r\n")
        taker = threading.Thread(target=lambda: got.append(next(batches)))
        taker.start()
        taker.join(5.0)
        assert got == [["type=A one\r"]]  # (the session strips the "\r")
        writer.write(b"type=B two\n")
        assert next(batches) == ["type=B two"]


def test_replay_falls_back_to_this_hosts_machine(tmp_path: Path) -> None:
    """A syscall without a known arch is named by this host's table, as ausearch -i
    names it (the Interpreter is handed os.uname()'s machine; the core reads no host)."""
    log = tmp_path / "audit.log"
    log.write_text("type=SYSCALL msg=audit(1700000000.000:5): syscall=59 pid=1 comm=\"x\"\n")
    code, out, err = run_replay([str(log)])
    assert code == 0, err
    expected = SYSCALLS.get(os.uname().machine, {}).get(59, "unknown-syscall(59)")
    assert out[0]["Fields"]["syscall_i"] == expected

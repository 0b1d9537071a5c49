"""``audit-heka run`` end to end against the live kernel (issue 6).

Each test owns the kernel through ``audit_kernel`` (serialised, restored).
A *marker* process does N failing opens of numbered paths under one rule
that matches only its pid, so every event is identifiable by its ``name``
and the count is exact. Receivers are real: ``audit-heka listen`` over TCP
and UDP, and a TLS server made here with a test CA.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from capture import LANDLOCK_AUDITED_ABI, LANDLOCKED, landlock_abi, landlock_denial

from audit_heka.heka.framing import Unframer
from audit_heka.heka.message import decode_message, message_to_json

pytestmark = pytest.mark.kernel

MARKER_DIR = "/nonexistent/audit-heka-marker"

MARKER = f"""
import os, sys
sys.stdin.readline()
tag, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    try:
        os.open(f"{MARKER_DIR}/{{tag}}-{{i}}", os.O_RDONLY)
    except FileNotFoundError:
        pass
print("done", flush=True)
"""


def is_marker_event(fields: dict[str, Any]) -> bool:
    """A marker's openat event (not the CONFIG_CHANGE of loading its rule)."""
    return fields.get("type") == "SYSCALL" and fields.get("key") == "marker"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "audit_heka", *args]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Marker:
    """A process that opens N missing, numbered paths when told to go."""

    def __init__(self, tag: str, count: int) -> None:
        self.tag = tag
        self.count = count
        self.proc = subprocess.Popen(
            [sys.executable, "-c", MARKER, tag, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def rule(self) -> str:
        return (
            f"-a always,exit -F arch=b64 -S open,openat -F exit=-ENOENT "
            f"-F pid={self.proc.pid} -k marker\n"
        )

    def go(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = 120) -> None:
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "done"
        self.proc.wait(timeout)
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.stdout.close()

    def names(self) -> set[str]:
        return {f"{MARKER_DIR}/{self.tag}-{i}" for i in range(self.count)}


class Daemon:
    """``audit-heka run`` as a child process."""

    def __init__(self, tmp: Path, *args: str) -> None:
        stamp = time.monotonic_ns()
        self.status_file = tmp / f"status-{stamp}" / "status.json"
        # Each daemon has its own journal unless the test names one (a restart).
        state = () if "--state-dir" in args else ("--state-dir", str(tmp / f"state-{stamp}"))
        self.proc = subprocess.Popen(
            cli("run", "--status-file", str(self.status_file), "--health-interval", "1",
                *state, *args),
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # kill() takes the reader and the shipper with it
        )
        assert self.proc.stderr is not None
        self.errors: list[str] = []
        # Connection errors to a target that is down may be logged first.
        while "running" not in (line := self.proc.stderr.readline()):
            self.errors.append(line)
            assert line, "the daemon exited: " + "".join(self.errors)
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            self.errors.extend(self.proc.stderr)

    def counters(self) -> dict[str, int]:
        for _ in range(50):
            with suppress(OSError, ValueError):
                counters: dict[str, int] = json.loads(self.status_file.read_text())["counters"]
                return counters
            time.sleep(0.1)
        raise AssertionError("no status file")

    def wait_for(self, name: str, at_least: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.counters().get(name, 0) < at_least:
            assert time.monotonic() < deadline, f"{name} < {at_least}: {self.counters()}"
            assert self.proc.poll() is None, "".join(self.errors)
            time.sleep(0.2)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._drainer.join(10)
        return code

    def status(self) -> dict[str, Any]:
        for _ in range(50):
            with suppress(OSError, ValueError):
                doc: dict[str, Any] = json.loads(self.status_file.read_text())
                return doc
            time.sleep(0.1)
        raise AssertionError("no status file")

    def kill(self) -> None:
        """SIGKILL the supervisor, the reader and the shipper at once (a crash)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._drainer.join(10)


class Receiver:
    """``audit-heka listen`` as a child; restartable on the same port."""

    def __init__(self, port: int, *args: str) -> None:
        self.port = port
        self.args = args
        self.messages: list[dict[str, Any]] = []
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            cli("listen", "--address", f"127.0.0.1:{self.port}", *self.args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        assert "listen:" in self.proc.stderr.readline()
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                self.messages.append(json.loads(line))

    def kill(self) -> None:
        assert self.proc is not None and self._reader is not None
        self.proc.kill()
        self.proc.wait(10)
        self._reader.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()

    def marker_names(self) -> Counter[str]:
        return Counter(
            m["Fields"]["name"]
            for m in list(self.messages)
            if m.get("Type") == "audit_log" and is_marker_event(m["Fields"])
        )

    def wait_for(self, names: set[str], timeout: float = 120) -> Counter[str]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.marker_names()
            if names <= set(got) or time.monotonic() > deadline:
                return got
            time.sleep(0.2)


@contextmanager
def running(tmp: Path, *args: str) -> Iterator[Daemon]:
    daemon = Daemon(tmp, *args)
    try:
        yield daemon
    finally:
        if daemon.proc.poll() is None:
            daemon.stop()


def test_ten_thousand_events_exactly_once(audit_kernel: object, tmp_path: Path) -> None:
    marker = Marker("once", 10_000)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    receiver = Receiver(free_port())
    with running(tmp_path, "--target", f"127.0.0.1:{receiver.port}", "--rules", str(rules)) as d:
        marker.go()
        marker.wait()
        got = receiver.wait_for(marker.names())
        counters = d.counters()
    assert d.proc.returncode == 0
    receiver.kill()
    assert set(got) == marker.names(), f"missing {len(marker.names() - set(got))}"
    assert max(got.values()) == 1, "an event arrived twice on a healthy connection"
    uuids = Counter(m["Uuid"] for m in receiver.messages if is_marker_event(m["Fields"]))
    assert len(uuids) == 10_000 and max(uuids.values()) == 1
    sample = next(m for m in receiver.messages if m["Fields"].get("name") == f"{MARKER_DIR}/once-7")
    fields = sample["Fields"]
    assert fields["syscall_i"] == "openat"
    assert fields["exit_i"] == "ENOENT(No such file or directory)"
    assert fields["exit"] == -2
    assert fields["pid"] == marker.proc.pid
    assert fields["record_types"][0] == "SYSCALL" and "PATH" in fields["record_types"]
    assert sample["Hostname"] == socket.gethostname()
    assert counters["kernel_lost"] == 0 and counters["serial_gaps"] == 0
    health = [m for m in receiver.messages if m["Type"] == "audit_heka_health"]
    assert health and health[-1]["Fields"]["report"] == "final"


def test_receiver_killed_and_restarted_five_times(audit_kernel: object, tmp_path: Path) -> None:
    marker = Marker("restart", 6_000)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    receiver = Receiver(free_port())
    with running(
        tmp_path,
        "--target", f"127.0.0.1:{receiver.port}",
        "--rules", str(rules),
    ) as daemon:
        marker.go()
        for _ in range(5):
            time.sleep(0.6)
            receiver.kill()
            time.sleep(0.4)
            receiver.start()
        marker.wait()
        got = receiver.wait_for(marker.names(), timeout=180)
        counters = daemon.counters()
    receiver.kill()
    missing = marker.names() - set(got)
    assert not missing, f"{len(missing)} events never arrived; counters {counters}"
    duplicates = sum(got.values()) - len(got)
    print(f"6000 events, 5 receiver restarts: {sum(got.values())} received, "
          f"{duplicates} duplicates, reconnects={counters['delivery_reconnects']}")
    assert counters["delivery_reconnects"] >= 1


def journal_marker_names(journal: Path) -> set[str]:
    """The marker paths of every SYSCALL record the journal holds."""
    names: set[str] = set()
    for path in journal.glob("audit.log*"):
        names.update(re.findall(rf'name="({re.escape(MARKER_DIR)}/[^"]+)"',
                                path.read_text(errors="replace")))
    return names


def test_sigkill_whole_daemon_mid_storm_then_restart(
    audit_kernel: object, tmp_path: Path
) -> None:
    """SIGKILL the supervisor, reader and shipper mid-storm, start again: every
    event that reached the journal is delivered (at least once)."""
    marker = Marker("kill", 20_000)
    rules = tmp_path / "marker.rules"
    # -D first, as augenrules writes: the killed daemon could not take its rule back.
    rules.write_text("-D\n" + marker.rule())
    receiver = Receiver(free_port())
    state = tmp_path / "state"
    args = ("--target", f"127.0.0.1:{receiver.port}", "--rules", str(rules),
            "--state-dir", str(state))
    first = Daemon(tmp_path, *args)
    marker.go()
    first.wait_for("netlink_records", 5_000)
    first.kill()  # SIGKILL: no flush, no clean-up, the pid left to a dead socket
    with running(tmp_path, *args) as second:
        marker.wait()
        journal = journal_marker_names(state / "journal")
        got = receiver.wait_for(journal, timeout=180)
        counters = second.counters()
    receiver.kill()
    missing = journal - set(got)
    assert not missing, f"{len(missing)} journaled events lost across SIGKILL; {counters}"
    print(f"SIGKILL mid-storm: {len(journal)} of 20000 events journaled, "
          f"{sum(got.values())} delivered ({sum(got.values()) - len(got)} twice)")


def test_udp_end_to_end(audit_kernel: object, tmp_path: Path) -> None:
    marker = Marker("udp", 300)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    receiver = Receiver(free_port(socket.SOCK_DGRAM), "--udp")
    with running(
        tmp_path,
        "--target", f"udp://127.0.0.1:{receiver.port}",
        "--rules", str(rules),
        "--no-payload",
    ) as daemon:
        marker.go()
        marker.wait()
        got = receiver.wait_for(marker.names(), timeout=30)
        daemon.wait_for("messages", 300)  # the status file is refreshed once a second
        counters = daemon.counters()
        shown = subprocess.run(
            cli("status", "--json", "--status-file", str(daemon.status_file)),
            capture_output=True, text=True, check=True,
        )
        text = subprocess.run(
            cli("status", "--status-file", str(daemon.status_file)),
            capture_output=True, text=True, check=True,
        ).stdout
    receiver.kill()
    assert set(got) == marker.names()
    assert counters["delivery_oversize"] == 0
    status = json.loads(shown.stdout)
    assert status["pid"] == daemon.status()["children"]["reader"]["pid"]  # the audit pid
    assert status["daemon"]["running"] is True
    assert status["daemon"]["counters"]["messages"] >= 300
    assert f"daemon.pid {daemon.proc.pid} running" in text
    assert "daemon.kernel_lost 0" in text


def test_frames_too_big_for_a_udp_datagram_are_degraded_not_lost(
    audit_kernel: object, tmp_path: Path
) -> None:
    marker = Marker("udpbig", 20)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    receiver = Receiver(free_port(socket.SOCK_DGRAM), "--udp")
    with running(
        tmp_path,
        "--target", f"udp://127.0.0.1:{receiver.port}",
        "--rules", str(rules),
        "--udp-max-datagram", "1200",
    ) as daemon:
        marker.go()
        marker.wait()
        got = receiver.wait_for(marker.names(), timeout=30)
        daemon.wait_for("delivery_refitted", 20, timeout=30)
        counters = daemon.counters()
    receiver.kill()
    assert set(got) == marker.names()  # every event arrived, cut to 1200 bytes
    sample = next(m for m in receiver.messages if is_marker_event(m["Fields"]))
    assert "Payload" in sample["Fields"]["truncated"]
    assert sample["Fields"]["pid"] == marker.proc.pid
    assert counters["delivery_oversize"] == 0 and counters["delivery_refitted"] >= 20


# --- TLS ---------------------------------------------------------------------


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other-ca"):
        _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                 "-subj", f"/CN={ca}")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=server")
    _openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return d


class TlsReceiver:
    """A TLS server that unframes and decodes what it gets."""

    def __init__(self, pki: Path) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki / "server.pem", pki / "server.key")
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.context = context
        self.names: Counter[str] = Counter()
        self.handshake_failures = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1
            return
        unframer = Unframer()
        with tls:
            while data := tls.recv(65536):
                for u in unframer.feed(data):
                    fields = message_to_json(decode_message(u.message))["Fields"]
                    if is_marker_event(fields):
                        self.names[fields["name"]] += 1

    def close(self) -> None:
        self.sock.close()


def test_tls_end_to_end_and_wrong_certificate(
    audit_kernel: object, tmp_path: Path, pki: Path
) -> None:
    marker = Marker("tls", 200)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    good = TlsReceiver(pki)
    wrong = TlsReceiver(pki)
    with running(
        tmp_path,
        "--target", f"tls://127.0.0.1:{good.port}",
        "--target", f"tls://127.0.0.1:{wrong.port}",
        "--ca", str(pki / "ca.pem"),
        "--rules", str(rules),
    ):
        marker.go()
        marker.wait()
        deadline = time.monotonic() + 30
        while set(good.names) != marker.names() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert set(good.names) == marker.names()
    # The second target's certificate is right too; now check a CA that did not sign it.
    bad_marker = Marker("tlsbad", 10)
    rules.write_text(bad_marker.rule())
    with running(
        tmp_path,
        "--target", f"tls://127.0.0.1:{wrong.port}",
        "--ca", str(pki / "other-ca.pem"),
        "--rules", str(rules),
    ) as daemon:
        bad_marker.go()
        bad_marker.wait()
        daemon.wait_for("delivery_connect_errors", 1, timeout=30)
        time.sleep(0.5)
        counters = daemon.counters()
    good.close()
    wrong.close()
    assert not any(n.startswith(f"{MARKER_DIR}/tlsbad") for n in wrong.names)
    assert counters["delivery_sent"] == 0
    assert counters["delivery_connect_errors"] >= 1


# --- multicast ---------------------------------------------------------------


def test_multicast_beside_another_pid_holder(audit_kernel: object, tmp_path: Path) -> None:
    marker = Marker("mcast", 300)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    receiver = Receiver(free_port())
    holder_file = tmp_path / "holder.heka"
    with running(tmp_path, "--target", f"file:{holder_file}", "--rules", str(rules)) as holder:
        # exit 3: the holder's status file is elsewhere (tmp), not the default one
        status = subprocess.run(cli("status", "--json"), capture_output=True, text=True)
        reader_pid = holder.status()["children"]["reader"]["pid"]
        assert json.loads(status.stdout)["pid"] == reader_pid
        with running(tmp_path, "--multicast", "--target", f"127.0.0.1:{receiver.port}"):
            # a second unicast daemon is refused, naming the holder
            refused = subprocess.run(
                cli("run", "--target", "-", "--status-file", str(tmp_path / "x.json")),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert refused.returncode != 0
            assert re.search(rf"pid {reader_pid}\b", refused.stderr), refused.stderr
            assert "Traceback" not in refused.stderr
            marker.go()
            marker.wait()
            got = receiver.wait_for(marker.names(), timeout=30)
        holder.wait_for("messages", 300)
    receiver.kill()
    assert set(got) == marker.names()
    decoded = subprocess.run(cli("decode", str(holder_file)), capture_output=True, text=True)
    holder_names = {
        json.loads(line)["Fields"].get("name") for line in decoded.stdout.splitlines()
    }
    assert marker.names() <= holder_names


def test_bad_target_and_rules_are_clear_errors(tmp_path: Path) -> None:
    r = subprocess.run(cli("run", "--target", "ftp://x"), capture_output=True, text=True)
    assert r.returncode == 2 and "accepted:" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.rules"
    bad.write_text("-a always,exit -F nosuchfield=1\n")
    r = subprocess.run(cli("rules", "check", str(bad)), capture_output=True, text=True)
    assert r.returncode == 1 and f"{bad}:1:" in r.stderr


def test_unusable_journal_directory_is_a_clear_error(
    audit_kernel: object, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = subprocess.run(
        cli("run", "--target", "-", "--state-dir", str(tmp_path / "state"),
            "--journal-dir", str(blocker / "journal"),
            "--status-file", str(tmp_path / "s" / "status.json")),
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and str(blocker) in r.stderr


# --- log: target -> Heka LogstreamerInput -> lua/audit_decoder.lua ----------


def test_log_target_through_lua_equals_protobuf(audit_kernel: object, tmp_path: Path) -> None:
    """The seed's set-up with audit-heka in auditd's place: the same events
    written as framed protobuf (file:) and as an audit log (log:) decode to the
    same messages, the latter through the bundled Lua decoder."""
    from audit_state import require_tool  # noqa: PLC0415
    from lua_harness import run_decoder, strict_diff  # noqa: PLC0415

    require_tool("lua5.1")
    marker = Marker("lua", 40)
    rules = tmp_path / "marker.rules"
    rules.write_text(marker.rule())
    framed = tmp_path / "out.heka"
    log = tmp_path / "audit.log"
    with running(tmp_path, "--target", f"file:{framed}", "--target", f"log:{log}",
                 "--log-max-bytes", "4096", "--log-num-logs", "50",
                 "--rules", str(rules)) as daemon:
        marker.go()
        marker.wait()
        daemon.wait_for("log_events", 40, timeout=30)
    rotated = sorted(tmp_path.glob("audit.log.*"), key=lambda p: -int(p.suffix[1:]))
    assert rotated, "4 KiB files must have rotated"
    joined = tmp_path / "joined.log"
    joined.write_bytes(b"".join(p.read_bytes() for p in [*rotated, log]))
    config = {
        "hostname": socket.gethostname(),
        "passwd": Path("/etc/passwd").read_text(),
        "group": Path("/etc/group").read_text(),
    }
    run = run_decoder(joined, config)
    assert [c for c in run.calls if c.rc != 0 or c.fatal] == []
    assert run.limit_failures() == []  # within the sandbox limits heka.toml sets
    lua = {m["Uuid"]: m for m in run.json_messages()}
    decoded = subprocess.run(cli("decode", str(framed)), capture_output=True, text=True)
    python = {
        m["Uuid"]: m
        for m in map(json.loads, decoded.stdout.splitlines())
        if m["Type"] == "audit_log"
    }
    assert set(lua) == set(python)
    marker_events = [u for u, m in python.items() if is_marker_event(m["Fields"])]
    assert len(marker_events) == 40
    problems = []
    for uuid, theirs in python.items():
        # Heka's SandboxDecoder fills a missing Pid from the input pack (docs/lua-decoder.md)
        problems += strict_diff(lua[uuid], {"Pid": 0, **theirs})
    assert problems == []


def test_a_landlock_denial_ships_as_one_event_named_as_auditd_names_it(
        audit_kernel: object, tmp_path: Path) -> None:
    """Records of a kernel newer than libaudit (Landlock's, Linux 6.15: 1423 and 1424,
    which auditd 3.0.9 writes as UNKNOWN[1423]) go live as the log path reads them:
    named so, in one event with the call that was denied, and the domain's release
    later as an event of its own. No rule is needed: the LSM logs its denials."""
    if landlock_abi() < LANDLOCK_AUDITED_ABI:
        pytest.skip(f"this kernel's Landlock (ABI {landlock_abi()}) audits no denial")
    receiver = Receiver(free_port())
    with running(tmp_path, "--target", f"127.0.0.1:{receiver.port}") as daemon:
        pid = landlock_denial(tmp_path)
        deadline = time.monotonic() + 60
        while True:
            landlock = [m for m in list(receiver.messages) if m.get("Type") == "audit_log"
                        and str(m["Fields"]["type"]).startswith("UNKNOWN[142")]
            if len(landlock) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        counters = daemon.counters()
    receiver.kill()
    (denied,) = [m for m in landlock if m["Fields"].get("pid") == pid]
    f = denied["Fields"]
    assert f["record_types"] == ["UNKNOWN[1423]", "UNKNOWN[1424]", "SYSCALL", "PROCTITLE"]
    assert f["type"] == "UNKNOWN[1423]" and denied["Severity"] == 4
    assert f["blockers"] == "fs.make_reg" and f["path_i"] == str(tmp_path)
    assert f["status"] == "allocated" and f["mode"] == "enforcing"
    assert f["syscall_i"] == "openat" and f["exit_i"].startswith("EACCES")
    (freed,) = [m for m in landlock if m["Fields"]["domain"] == f["domain"] and m is not denied]
    assert freed["Fields"]["record_types"] == "UNKNOWN[1424]"
    assert freed["Fields"]["status"] == "deallocated" and freed["Fields"]["denials"] == "1"
    assert not (tmp_path / LANDLOCKED).exists()
    assert counters["kernel_lost"] == 0 and counters["serial_gaps"] == 0

from __future__ import annotations

import contextlib
import io
import json
import os
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from audit_state import require_tool
from heka_receivers import TcpReceiver, UdpReceiver, make_frame

from audit_heka.heka.framing import Unframer
from audit_heka.outputs.file import FileTransport, FsyncPolicy, unwritable_reason
from audit_heka.outputs.stdout import JsonLinesTransport
from audit_heka.outputs.tcp import TcpTransport
from audit_heka.outputs.tls import TlsOptions, TlsTransport, client_context
from audit_heka.outputs.udp import UdpTransport


def test_tcp_sends_whole_frames_and_reports_acks() -> None:
    receiver = TcpReceiver()
    transport = TcpTransport("127.0.0.1", receiver.port)
    transport.connect()
    for i in range(100):
        transport.send(make_frame(i))
    assert receiver.wait_for(set(range(100)), 5) == set()
    assert transport.unacked_bytes() == 0 and transport.alive()
    receiver.kill()
    assert not transport.alive() or transport.unacked_bytes() == 0
    transport.close()


def test_tcp_refused_is_an_oserror() -> None:
    receiver = TcpReceiver()
    port = receiver.port
    receiver.kill()
    with pytest.raises(OSError):
        TcpTransport("127.0.0.1", port, connect_timeout=1).connect()


def test_udp_one_frame_per_datagram() -> None:
    receiver = UdpReceiver()
    transport = UdpTransport("127.0.0.1", receiver.port, max_datagram=8192)
    transport.connect()
    for i in range(20):
        transport.send(make_frame(i))
    with pytest.raises(ValueError, match="exceeds the datagram size"):
        transport.send(make_frame(99, payload_size=9000))
    receiver.drain(0.3)
    assert receiver.indexes == list(range(20))
    transport.close()
    receiver.close()


def test_file_fsync_policies(tmp_path: Path) -> None:
    assert FsyncPolicy.parse("never").never
    assert FsyncPolicy.parse("every:3") == FsyncPolicy(frames=3)
    assert FsyncPolicy.parse("interval:0.5") == FsyncPolicy(interval=0.5)
    with pytest.raises(ValueError, match="accepted: never, every:N, interval:S"):
        FsyncPolicy.parse("sometimes")
    path = tmp_path / "out.heka"
    transport = FileTransport(path, FsyncPolicy(frames=3))
    transport.connect()
    transport.send(make_frame(1))
    transport.send(make_frame(2))
    assert transport.unacked_bytes() == 2 * len(make_frame(1))
    transport.send(make_frame(3))
    assert transport.unacked_bytes() == 0  # synced after 3 frames
    now = [0.0]
    timed = FileTransport(path, FsyncPolicy(interval=1.0), clock=lambda: now[0])
    timed.connect()
    timed.send(make_frame(4))
    assert timed.unacked_bytes() > 0
    now[0] = 1.5
    timed.tick()
    assert timed.unacked_bytes() == 0
    transport.close()
    timed.close()
    assert stat_mode(path) == 0o600
    got = [m.message for m in Unframer().feed(path.read_bytes())]
    assert len(got) == 4


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_stdout_json_lines() -> None:
    out = io.StringIO()
    transport = JsonLinesTransport(out)
    transport.connect()
    transport.send(make_frame(5))
    transport.send(b"\x1e\x02\x08\x05\x1fjunk!")
    line = json.loads(out.getvalue().splitlines()[0])
    assert line["Uuid"] == "00000000-0000-0000-0000-000000000005"
    assert line["Type"] == "audit-heka.test"
    assert len(out.getvalue().splitlines()) == 1
    assert transport.errors["malformed"] == 1


# --- TLS with a CA made here -------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("openssl")
    d = tmp_path_factory.mktemp("pki")
    # A CA, a server certificate for 127.0.0.1/localhost, a client certificate,
    # and an unrelated self-signed server certificate.
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ext in (("server", "server.ext"), ("client", "client.ext")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext, cwd=d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "self.key", "-out", "self.pem", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
    return d


def server_context(pki: Path, cert: str = "server", client_ca: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / f"{cert}.pem", pki / f"{cert}.key")
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki / "ca.pem")
    return context


def test_tls_with_private_ca(pki: Path) -> None:
    receiver = TcpReceiver(tls=server_context(pki))
    transport = TlsTransport("127.0.0.1", receiver.port, TlsOptions(ca=str(pki / "ca.pem")))
    transport.connect()
    for i in range(10):
        transport.send(make_frame(i))
    assert receiver.wait_for(set(range(10)), 5) == set()
    transport.close()
    receiver.kill()


def test_tls_refuses_unknown_ca_and_wrong_name(pki: Path) -> None:
    receiver = TcpReceiver(tls=server_context(pki))
    with pytest.raises(ssl.SSLCertVerificationError):
        TlsTransport("127.0.0.1", receiver.port, TlsOptions()).connect()  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError, match=r"mismatch|match"):
        TlsTransport(
            "127.0.0.1",
            receiver.port,
            TlsOptions(ca=str(pki / "ca.pem"), server_name="heka.example.org"),
        ).connect()
    receiver.kill()


def test_tls_self_signed_refused_unless_ca_says_so(pki: Path) -> None:
    receiver = TcpReceiver(tls=server_context(pki, "self"))
    with pytest.raises(ssl.SSLCertVerificationError):
        TlsTransport("127.0.0.1", receiver.port, TlsOptions(ca=str(pki / "ca.pem"))).connect()
    transport = TlsTransport("127.0.0.1", receiver.port, TlsOptions(ca=str(pki / "self.pem")))
    transport.connect()
    transport.send(make_frame(1))
    assert receiver.wait_for({1}, 5) == set()
    transport.close()
    receiver.kill()


def test_tls_mutual(pki: Path) -> None:
    receiver = TcpReceiver(tls=server_context(pki, client_ca=True))
    options = TlsOptions(ca=str(pki / "ca.pem"), cert=str(pki / "client.pem"),
                         key=str(pki / "client.key"))
    transport = TlsTransport("127.0.0.1", receiver.port, options)
    transport.connect()
    transport.send(make_frame(3))
    assert receiver.wait_for({3}, 5) == set()
    transport.close()
    # Without a client certificate the server refuses the handshake (with TLS 1.3
    # the client may only learn it on its next read or write).
    bare = TlsTransport("127.0.0.1", receiver.port, TlsOptions(ca=str(pki / "ca.pem")))
    with contextlib.suppress(ssl.SSLError, OSError):
        bare.connect()
        bare.send(make_frame(4))
    bare.close()
    deadline = time.monotonic() + 5
    while receiver.tls_errors == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert receiver.tls_errors == 1
    assert 4 not in receiver.received()
    receiver.kill()


def test_tls_bad_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TLS setup failed"):
        client_context(TlsOptions(ca=str(tmp_path / "missing.pem")))
    with pytest.raises(ValueError, match="--key needs --cert"):
        client_context(TlsOptions(key="k.pem"))


def test_stdout_closed_by_its_reader_stops_the_target_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Issue 14: `send failed: [Errno 32] Broken pipe` repeated forever.
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as stream:
        transport = JsonLinesTransport(stream)
        transport.connect()
        with caplog.at_level("ERROR"):
            for i in range(5):
                transport.send(make_frame(i))  # never raises: the target has stopped
        assert transport.reader_gone
        assert transport.errors["discarded"] == 5
        assert [r.getMessage() for r in caplog.records].count(
            "stdout is closed (broken pipe): the '-' target stops; further events for it "
            "are discarded and counted (delivery_discarded)") == 1
        stream.write("x" * 100_000)  # now /dev/null: the exit flush cannot fail again
        stream.flush()


def test_file_target_directory_must_exist(tmp_path: Path) -> None:
    assert unwritable_reason(tmp_path / "x") is None
    missing = unwritable_reason(Path("/nonexistent/dir/x"))
    assert missing == "directory /nonexistent/dir does not exist"
    assert unwritable_reason(tmp_path) == f"{tmp_path} is a directory"
    (tmp_path / "f").write_text("")
    assert unwritable_reason(tmp_path / "f" / "x") == f"{tmp_path / 'f'} is not a directory"

"""``audit-heka listen`` and ``decode`` end to end, over real loopback sockets."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from audit_heka.heka.framing import Signer, frame
from audit_heka.heka.message import Field, Message, encode_message

KEY = Signer("ops", 1, b"s3cret")
SHA_KEY = Signer("ops", 2, b"other", "sha1")


def _frame(i: int, signer: Signer | None = None) -> bytes:
    msg = Message(
        i.to_bytes(16, "big"),
        1_700_000_000_000_000_000 + i,
        type="audit_log",
        hostname="h",
        fields=(Field.integer("serial", i), Field.string("comm", "true")),
    )
    return frame(encode_message(msg), signer)


@contextmanager
def listening(*args: str) -> Iterator[tuple[subprocess.Popen[str], tuple[str, int]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "audit_heka", "listen", "--address", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    m = re.search(r"(tcp|udp) (\S+):(\d+)$", first.strip())
    assert m, first
    try:
        yield proc, (m.group(2), int(m.group(3)))
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(10)


def _finish(proc: subprocess.Popen[str]) -> tuple[list[dict[str, Any]], str]:
    out, err = proc.communicate(timeout=20)
    return [json.loads(line) for line in out.splitlines()], err


def test_tcp_many_connections() -> None:
    with listening("--count", "30") as (proc, addr):
        conns = [socket.create_connection(addr) for _ in range(3)]
        for i in range(30):
            conns[i % 3].sendall(_frame(i))
        for c in conns:
            c.close()
        messages, err = _finish(proc)
    assert proc.returncode == 0
    assert sorted(m["Fields"]["serial"] for m in messages) == list(range(30))
    first = next(m for m in messages if m["Fields"]["serial"] == 0)
    assert first == {
        "Uuid": "00000000-0000-0000-0000-000000000000",
        "Timestamp": 1_700_000_000_000_000_000,
        "Type": "audit_log",
        "Hostname": "h",
        "Fields": {"serial": 0, "comm": "true"},
    }
    assert "30 messages, 3 connections, errors: none" in err


def test_tcp_signatures_and_garbage_are_counted() -> None:
    with listening(
        "--hmac-key", "ops:1=s3cret", "--hmac-key", "ops:2=other", "--count", "3"
    ) as (proc, addr):
        with socket.create_connection(addr) as c:
            c.sendall(b"garbage" + _frame(1, KEY))
            c.sendall(_frame(2, Signer("ops", 1, b"wrong")))  # bad hmac
            c.sendall(_frame(3, Signer("nobody", 1, b"x")))  # unknown signer
            c.sendall(_frame(4, SHA_KEY) + _frame(5))  # sha1, then unsigned (accepted)
        messages, err = _finish(proc)
    assert [m["Fields"]["serial"] for m in messages] == [1, 4, 5]
    assert [m.get("Signer") for m in messages] == ["ops", "ops", None]
    assert "bad_hmac +1 (total 1)" in err
    assert "unknown_signer +1 (total 1)" in err
    assert "garbage_bytes +7" in err


def test_require_signature() -> None:
    with listening("--hmac-key", "ops:1=s3cret", "--require-signature", "--count", "1") as (
        proc,
        addr,
    ):
        with socket.create_connection(addr) as c:
            c.sendall(_frame(1) + _frame(2, KEY))
        messages, err = _finish(proc)
    assert [m["Fields"]["serial"] for m in messages] == [2]
    assert "unsigned +1" in err


def test_oversize_is_refused_and_counted() -> None:
    big = Message(bytes(16), 1, payload="x" * 5000)
    with listening("--max-message-size", "2048", "--count", "1") as (proc, addr):
        with socket.create_connection(addr) as c:
            c.sendall(frame(encode_message(big), max_message_size=10**6) + _frame(7))
        messages, err = _finish(proc)
    assert [m["Fields"]["serial"] for m in messages] == [7]
    assert "oversize +1" in err


def test_udp_one_frame_per_datagram() -> None:
    with listening("--udp", "--hmac-key", "ops:1=s3cret", "--count", "20") as (proc, addr):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x1e\x05junk", addr)
            for i in range(20):
                s.sendto(_frame(i, KEY if i % 2 else None), addr)
        messages, err = _finish(proc)
    assert sorted(m["Fields"]["serial"] for m in messages) == list(range(20))
    assert "garbage_bytes" in err or "truncated" in err


def test_bad_options_are_clear_errors() -> None:
    for args, text in [
        (["--hmac-key", "nokey"], "SIGNER:VERSION=KEY"),
        (["--max-message-size", "100"], "at least 1025"),
        (["--address", "127.0.0.1:99999"], "bad port"),
    ]:
        r = subprocess.run(
            [sys.executable, "-m", "audit_heka", "listen", *args], capture_output=True, text=True
        )
        assert r.returncode == 2
        assert text in r.stderr
        assert "Traceback" not in r.stderr


def test_decode_a_file(tmp_path: Path) -> None:
    path = tmp_path / "stream.heka"
    path.write_bytes(b"".join(_frame(i) for i in range(4)) + b"\x1e\x02\x08")
    r = subprocess.run(
        [sys.executable, "-m", "audit_heka", "decode", str(path)], capture_output=True, text=True
    )
    assert [json.loads(x)["Fields"]["serial"] for x in r.stdout.splitlines()] == [0, 1, 2, 3]
    assert "truncated +1" in r.stderr
    assert r.returncode == 1


def _decode(data: bytes, *args: str) -> tuple[list[dict[str, Any]], str, int]:
    r = subprocess.run([sys.executable, "-m", "audit_heka", "decode", "-", *args], input=data,
                       capture_output=True)
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    return out, r.stderr.decode(), r.returncode


def test_decode_without_keys_prints_every_message_like_heka_cat() -> None:
    """An unsigned, an HMAC-MD5 and an HMAC-SHA1 frame: three messages, the
    signed ones marked unverified (nothing could check them)."""
    data = _frame(0) + _frame(1, KEY) + _frame(2, SHA_KEY)
    out, err, rc = _decode(data)
    assert rc == 0, err
    assert [m["Fields"]["serial"] for m in out] == [0, 1, 2]
    assert [(m.get("Signer"), m.get("Verified")) for m in out] == [
        (None, None), ("ops", False), ("ops", False)]


def test_decode_with_keys_verifies_and_drops_what_fails() -> None:
    data = _frame(0) + _frame(1, KEY) + _frame(2, SHA_KEY) + _frame(3, Signer("ops", 1, b"bad"))
    out, err, rc = _decode(data, "--hmac-key", "ops:1=s3cret")
    assert [(m["Fields"]["serial"], m.get("Verified")) for m in out] == [(0, None), (1, True)]
    assert "unknown_signer +1" in err and "bad_hmac +1" in err
    assert rc == 1
    out, err, rc = _decode(data[: len(_frame(0) + _frame(1, KEY) + _frame(2, SHA_KEY))],
                           "--hmac-key", "ops:1=s3cret", "--hmac-key", "ops:2=other")
    assert [(m["Fields"]["serial"], m.get("Verified")) for m in out] == [
        (0, None), (1, True), (2, True)]
    assert rc == 0, err


@pytest.mark.parametrize("signed", [False, True])
def test_decode_stdin(signed: bool) -> None:
    data = b"".join(_frame(i, KEY if signed else None) for i in range(3))
    args = ["--hmac-key", "ops:1=s3cret"] if signed else []
    r = subprocess.run(
        [sys.executable, "-m", "audit_heka", "decode", "-", *args], input=data, capture_output=True
    )
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 3


def test_count_prints_exactly_count_when_one_read_holds_more() -> None:
    # Issue 14: `listen --count 10` printed 17 (every frame of the last read).
    with listening("--count", "10") as (proc, addr):
        with socket.create_connection(addr) as c:
            c.sendall(b"".join(_frame(i) for i in range(17)))
        messages, err = _finish(proc)
    assert proc.returncode == 0
    assert [m["Fields"]["serial"] for m in messages] == list(range(10))
    assert "7 more messages received were not printed" in err


def test_key_file_for_listen_and_decode_warns_when_readable(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# accepted keys\nops:1=s3cret\n\nops:2=other\n")
    keys.chmod(0o600)
    with listening("--hmac-key-file", str(keys), "--require-signature", "--count", "2") as (
        proc, addr,
    ):
        with socket.create_connection(addr) as c:
            c.sendall(_frame(1, KEY) + _frame(2) + _frame(3, SHA_KEY))
        messages, err = _finish(proc)
    assert [m["Fields"]["serial"] for m in messages] == [1, 3]
    assert "warning" not in err
    keys.chmod(0o644)
    stream = tmp_path / "s.heka"
    stream.write_bytes(_frame(4, KEY))
    r = subprocess.run([sys.executable, "-m", "audit_heka", "decode", str(stream),
                        "--hmac-key-file", str(keys), "--require-signature"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Signer"] == "ops"
    assert f"warning: {keys} holds HMAC keys and is readable by group or others" in r.stderr
    keys.write_text("ops:1 s3cret-typo\n")
    r = subprocess.run([sys.executable, "-m", "audit_heka", "decode", str(stream),
                        "--hmac-key-file", str(keys)], capture_output=True, text=True)
    assert r.returncode == 2 and f"{keys}:1: expected SIGNER:VERSION=KEY" in r.stderr
    assert "s3cret" not in r.stderr

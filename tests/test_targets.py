from __future__ import annotations

import pytest

from audit_heka.outputs.target import Target, TargetError, TargetKind, parse_target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5565", Target(TargetKind.TCP, "127.0.0.1", 5565)),
        ("heka.example.org:5565", Target(TargetKind.TCP, "heka.example.org", 5565)),
        ("tcp://localhost:1", Target(TargetKind.TCP, "localhost", 1)),
        ("udp://10.0.0.1:5565", Target(TargetKind.UDP, "10.0.0.1", 5565)),
        ("tls://heka:6514", Target(TargetKind.TLS, "heka", 6514)),
        ("[::1]:5565", Target(TargetKind.TCP, "::1", 5565)),
        ("udp://[fe80::1%eth0]:65535", Target(TargetKind.UDP, "fe80::1%eth0", 65535)),
        ("file:/var/spool/out.heka", Target(TargetKind.FILE, path="/var/spool/out.heka")),
        ("file:relative.heka", Target(TargetKind.FILE, path="relative.heka")),
        ("-", Target(TargetKind.STDOUT)),
    ],
)
def test_parse(text: str, expected: Target) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "localhost",
        "localhost:",
        ":5565",
        "localhost:0",
        "localhost:65536",
        "localhost:http",
        "::1:5565",
        "[::1]5565",
        "[nothex]:5565",
        "http://host:80",
        "tcp://host:1/path",
        "file:",
        "bad host:1",
    ],
)
def test_bad_targets_name_the_accepted_forms(text: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(text)
    message = str(info.value)
    assert repr(text) in message
    assert "tcp://host:port" in message and "file:PATH" in message


def test_str_round_trips() -> None:
    for text in ("tcp://h:1", "udp://[::1]:2", "tls://h:3", "file:/x", "-"):
        assert str(parse_target(text)) == text
    assert parse_target("h:1").is_stream and not parse_target("udp://h:1").is_stream

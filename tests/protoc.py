"""Run Debian's protoc on bytes: the independent decoder for our wire tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from audit_state import require_tool

PROTO_DIR = Path(__file__).resolve().parent.parent / "proto"


def protoc_decode(data: bytes, type_name: str = "message.Message") -> str:
    """``protoc --decode=TYPE`` on ``data``: the text form of the message."""
    protoc = require_tool("protoc")
    result = subprocess.run(
        [protoc, f"-I{PROTO_DIR}", f"--decode={type_name}", "message.proto"],
        input=data,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


def protoc_decode_raw(data: bytes) -> str:
    """``protoc --decode_raw`` on ``data``: field numbers in wire order."""
    protoc = require_tool("protoc")
    result = subprocess.run(
        [protoc, "--decode_raw"], input=data, capture_output=True, check=True
    )
    return result.stdout.decode()

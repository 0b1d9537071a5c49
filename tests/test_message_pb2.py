"""The generated bindings match proto/message.proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from audit_state import require_tool

ROOT = Path(__file__).resolve().parent.parent


def test_generated_bindings_are_current() -> None:
    require_tool("protoc")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_message_pb2.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr

"""Run the Lua decoder under lua5.1 with tests/lua/harness.lua (the sandbox APIs).

Two hosts: Heka's SandboxDecoder (``lua/audit_decoder.lua``, a wrapper around
the module) and Hindsight's decoder API (the module ``decoders.audit_heka``
itself, as its tail input calls it). The harness prints one JSON line per call
with the injected messages in hex and what the call cost against the sandbox
limits; here the messages are decoded with our protobuf decoder, Heka's
SandboxDecoder rule for missing headers is applied (a header the injected
message lacks is copied from the input pack; an absent Pid becomes 0 because Go's
``GetPid()`` of an unset Pid is 0), and each message is turned into the JSON
form ``audit-heka replay --target -`` prints (``message_to_json``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit_heka.heka.message import Message, decode_message, message_to_json

ROOT = Path(__file__).resolve().parent.parent
DECODER = ROOT / "lua" / "audit_decoder.lua"  # the SandboxDecoder
MODULE = ROOT / "lua" / "decoders" / "audit_heka.lua"  # the decoding logic, for both hosts
MODULE_NAME = "decoders.audit_heka"
MODULE_DIR = ROOT / "lua"
HARNESS = ROOT / "tests" / "lua" / "harness.lua"
LUA = shutil.which("lua5.1")
HEKA_HOSTNAME = "heka-host"  # the Hostname LogstreamerInput puts on its packs
INPUT_PACK = {"Type": "logfile", "Logger": "AuditLogInput", "Hostname": HEKA_HOSTNAME}


@dataclass
class Call:
    """One process_message call (or the end-of-input flush)."""

    n: int | str
    rc: int | None
    err: str | None
    messages: list[Message]
    instructions: int
    memory_kb: int
    peak_kb: int = 0
    exceeded: str | None = None  # a sandbox limit hit during the call
    dropped: int = 0  # messages injected by a call that then failed (Heka drops them)
    fatal: str | None = None


@dataclass
class Run:
    calls: list[Call] = field(default_factory=list)
    stderr: str = ""

    @property
    def messages(self) -> list[Message]:
        return [m for c in self.calls for m in c.messages]

    def json_messages(self) -> list[dict[str, Any]]:
        return [heka_json(m) for m in self.messages]

    @property
    def max_instructions(self) -> int:
        return max((c.instructions for c in self.calls), default=0)

    @property
    def peak_kb(self) -> int:
        return max((c.peak_kb for c in self.calls), default=0)

    def limit_failures(self) -> list[str]:
        """Calls that would fail in the sandbox: a limit hit, a fatal error, dropped messages."""
        return [f"call {c.n}: exceeded={c.exceeded} fatal={c.fatal} dropped={c.dropped}"
                for c in self.calls if c.exceeded or c.fatal or c.dropped]


def heka_json(message: Message) -> dict[str, Any]:
    """message_to_json after Heka's fill-in of headers the decoder did not set."""
    out = message_to_json(message)
    for key, value in INPUT_PACK.items():
        out.setdefault(key, value)
    out.setdefault("Pid", 0)
    return out


def run_decoder(input_path: Path, config: dict[str, Any] | None = None,
                hostname: str = HEKA_HOSTNAME, decoder: Path = DECODER,
                module_dir: Path = MODULE_DIR) -> Run:
    """Heka: ``process_message`` per line of input_path, then the flush hook."""
    return _run("heka", str(decoder), module_dir, input_path, config, hostname)


def run_hindsight(input_path: Path, config: dict[str, Any] | None = None,
                  hostname: str = HEKA_HOSTNAME, module_dir: Path = MODULE_DIR) -> Run:
    """Hindsight: ``decode(line, default_headers)`` per line (config = the plugin cfg)."""
    return _run("hindsight", MODULE_NAME, module_dir, input_path, config, hostname)


def _run(mode: str, decoder: str, module_dir: Path, input_path: Path,
         config: dict[str, Any] | None, hostname: str) -> Run:
    if LUA is None:
        raise RuntimeError("lua5.1 is not installed")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config or {}, f)
        config_path = f.name
    try:
        done = subprocess.run([LUA, str(HARNESS), mode, str(module_dir), decoder, config_path,
                               str(input_path), hostname], capture_output=True, timeout=600)
    finally:
        Path(config_path).unlink()
    # Error texts quote the input line, which need not be UTF-8.
    stdout = done.stdout.decode("utf-8", "replace")
    run = Run(stderr=done.stderr.decode("utf-8", "replace"))
    for line in stdout.splitlines():
        obj = json.loads(line)
        inject = obj.get("inject") or []
        run.calls.append(Call(
            n=obj["n"], rc=obj.get("rc"), err=obj.get("err"),
            messages=[decode_message(bytes.fromhex(h)) for h in inject],
            instructions=obj.get("instructions", 0), memory_kb=obj.get("memory_kb", 0),
            peak_kb=obj.get("peak_kb", 0), exceeded=obj.get("exceeded"),
            dropped=obj.get("dropped", 0), fatal=obj.get("fatal"),
        ))
    if done.returncode not in (0, 2):
        raise RuntimeError(f"harness failed ({done.returncode}): {run.stderr}{stdout}")
    return run


def strict_diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Differences between two JSON values, where 1 != 1.0 != True (types matter)."""
    if type(a) is not type(b):
        return [f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"]
    if isinstance(a, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a:
                out.append(f"{path}/{key}: missing on the left, right has {b[key]!r}")
            elif key not in b:
                out.append(f"{path}/{key}: left has {a[key]!r}, missing on the right")
            else:
                out += strict_diff(a[key], b[key], f"{path}/{key}")
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} values != {len(b)} values: {a!r} != {b!r}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in strict_diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]

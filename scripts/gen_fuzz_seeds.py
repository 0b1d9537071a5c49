"""Write the fuzz seed corpus (tests/data/fuzz/<target>/seed-*) from captured audit logs.

Why from captures: seeds are where coverage-guided fuzzing starts, and the
closer they are to what the kernel and auditd really write, the sooner the
fuzzer reaches the deep paths (ENRICHED sections, EXECVE chunks, user
messages, socket addresses). The logs come from tests/capture.py (RAW and
ENRICHED+node, see tests/kernel/conftest.py); run once, with the two log
paths, and check in the result. Findings (``crash-*``) are added by hand,
minimised, next to the seeds; this script never touches them.

    .venv/bin/python scripts/gen_fuzz_seeds.py RAW_LOG ENRICHED_LOG
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from heka_vectors import (  # noqa: E402
    EXAMPLE_FRAME,
    EXAMPLE_MD5_FRAME,
    EXAMPLE_MESSAGE,
    EXAMPLE_SHA1_HEADER,
    HEKA_SPLITTER_FRAME,
)

from audit_heka.core.events import Assembler  # noqa: E402
from audit_heka.core.interpret import Interpreter  # noqa: E402
from audit_heka.core.records import Record, parse_line  # noqa: E402
from audit_heka.core.schema import MessageBuilder  # noqa: E402
from audit_heka.heka.framing import Signer, frame  # noqa: E402
from audit_heka.heka.message import encode_message  # noqa: E402
from audit_heka.netlink.rulefile import parse_rules  # noqa: E402
from audit_heka.netlink.rules import AddRule, DeleteRule, encode_rule  # noqa: E402
from audit_heka.netlink.status import encode_status_set  # noqa: E402
from fuzz.fuzz_rules import ENV  # noqa: E402
from fuzz.harness import CORPUS_ROOT  # noqa: E402

SIGNERS = (Signer("test", 1, b"secret", "md5"), Signer("test", 2, b"other", "sha1"))
WINDOW = 14  # log lines per assembler scenario


def write(target: str, name: str, data: bytes) -> None:
    directory = CORPUS_ROOT / target
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:10]
    (directory / f"seed-{name}-{digest}").write_bytes(data)


def records_seeds(logs: dict[str, list[str]]) -> None:
    for fmt, lines in logs.items():
        seen: dict[str, int] = {}
        for line in lines:
            kind = line.split(" type=", 1)[-1].split(" ", 1)[0].removeprefix("type=")
            if seen.get(kind, 0) >= 2:
                continue
            seen[kind] = seen.get(kind, 0) + 1
            write("records", f"{fmt}-{kind}", line.encode())
            if fmt == "raw" and seen[kind] == 1:  # the netlink form of the same record
                write("records", f"kernel-{kind}", line.split(" msg=", 1)[1].encode())


def with_eoe(lines: list[str]) -> list[str]:
    """The live stream's shape: an EOE after each event of a syscall."""
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if "msg=" not in line:
            continue
        stamp = line.split("msg=", 1)[1].split(" ", 1)[0]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if "type=PROCTITLE" in line and stamp not in nxt:
            out.append(f"type=EOE msg={stamp} ")
    return out


def scenario_seeds(logs: dict[str, list[str]]) -> None:
    for fmt, lines in logs.items():
        for n, start in enumerate(range(0, len(lines), WINDOW)):
            window = lines[start : start + WINDOW]
            replay = bytes([0x0E]) + "\n".join(window).encode()
            live = bytes([0x4F]) + "\n".join([*with_eoe(window), "+3", "!reset"]).encode()
            mixed = bytes([0x03]) + "\n".join([*window[1::2], "+1", *window[::2], "!flush",
                                               *window[:3]]).encode()
            for target in ("assembler", "interpret", "message"):
                write(target, f"{fmt}-{n}-replay", replay)
            write("assembler", f"{fmt}-{n}-live", live)
            write("assembler", f"{fmt}-{n}-mixed", mixed)


def wire_seeds(logs: dict[str, list[str]]) -> None:
    builder = MessageBuilder(Interpreter({0: "root"}, {0: "root"}, "x86_64"), hostname="seed")
    assembler = Assembler()
    events = []
    for line in logs["enriched"][:40]:
        record = parse_line(line)
        if isinstance(record, Record):
            events += assembler.add(record, record.seconds)
    events += assembler.flush()
    messages = [encode_message(builder.build(e)) for e in events]
    small = [m for m in messages if len(m) < 4000][:6]
    for i, m in enumerate(small):
        write("decode", f"event-{i}", m)
    write("decode", "example", EXAMPLE_MESSAGE)
    for flags in (0x00, 0x02, 0x06, 0x3A):
        write("unframer", f"example-{flags:02x}", bytes([flags]) + EXAMPLE_FRAME)
        write("unframer", f"md5-{flags:02x}", bytes([flags]) + EXAMPLE_MD5_FRAME)
        write("unframer", f"sha1-{flags:02x}",
              bytes([flags]) + EXAMPLE_SHA1_HEADER + EXAMPLE_MESSAGE)
        write("unframer", f"heka-{flags:02x}", bytes([flags]) + HEKA_SPLITTER_FRAME)
    stream = b"".join(frame(m, SIGNERS[i % 2]) for i, m in enumerate(small))
    write("unframer", "signed-stream", bytes([0x12]) + b"junk\x1e\x1f" + stream + b"\x1e\x02")
    write("unframer", "unsigned-stream", bytes([0x09]) + b"".join(frame(m) for m in small))


def rules_seeds() -> None:
    for path in sorted((ROOT / "tests" / "data" / "rules").glob("*.rules")):
        text = path.read_text()
        write("rules", path.stem, text.encode())
        for cmd in parse_rules(text, path.name, ENV).commands[::6]:
            if isinstance(cmd.command, AddRule | DeleteRule):
                write("rule_data", f"{path.stem}-{cmd.lineno}", encode_rule(cmd.command.rule))


def status_seeds() -> None:
    full = encode_status_set(enabled=1, failure=1, pid=1234, rate_limit=0,
                             backlog_limit=8192, backlog_wait_time=60000)
    for size in (32, 36, 40, 44):
        write("status", f"status-{size}", full[:size])
    write("status", "status-newer", full + b"\x07\x00\x00\x00")
    write("status", "features", bytes.fromhex("01000000020000000200000000000000"))
    write("status", "signal-info", bytes.fromhex("00000000d2040000") + b"unconfined\0")


def main() -> None:
    # Not splitlines(): ENRICHED records contain 0x1D, which it treats as a line break.
    raw, enriched = (Path(p).read_text(errors="replace").rstrip("\n").split("\n")
                     for p in sys.argv[1:3])
    logs = {"raw": raw, "enriched": enriched}
    records_seeds(logs)
    scenario_seeds(logs)
    wire_seeds(logs)
    rules_seeds()
    status_seeds()


if __name__ == "__main__":
    main()

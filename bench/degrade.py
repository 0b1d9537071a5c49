"""What degrading too-large events costs, against baselines measured in the same run.

    .venv/bin/python bench/degrade.py            # prints a Markdown table

Why: an event too large for Heka is degraded instead of dropped
(audit_heka/core/degrade.py). The normal path must not get slower, and the rare
path must stay cheap next to what building such an event costs anyway.

* normal path: ``Framer.frame`` over ordinary events (they all fit) against
  the bare ``frame(encode_message(m))`` -- the least any framer must do;
* each attack: ``Framer.frame`` (encode, find it too large, degrade, encode
  again) against building the event's message from its log lines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_degrade import exec_lines, path_lines  # noqa: E402

from audit_heka.core.events import Assembler  # noqa: E402
from audit_heka.core.interpret import Interpreter  # noqa: E402
from audit_heka.core.schema import MessageBuilder  # noqa: E402
from audit_heka.core.session import Framer, Session  # noqa: E402
from audit_heka.heka.framing import frame  # noqa: E402
from audit_heka.heka.message import Message, encode_message  # noqa: E402


def build(lines: list[str]) -> list[Message]:
    session = Session(MessageBuilder(Interpreter({}, {}), hostname="bench"),
                        Assembler(live=False))
    built = [s.message for line in lines for s in session.feed(line)]
    return built + [s.message for s in session.finish()]


def best(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    normal_lines: list[str] = []
    for i in range(2000):
        normal_lines += exec_lines(["ls", "-l", f"/tmp/{i}"], f"1700000000.{i % 1000:03d}:{i}")
    normal = build(normal_lines)
    framer = Framer()
    baseline = best(lambda: [frame(encode_message(m)) for m in normal])
    ours = best(lambda: [framer.frame(m) for m in normal])
    rows = [("2,000 ordinary exec events (all fit)", "frame(encode_message(m))", baseline, ours)]
    attacks = {
        "one 131,071-byte argument": exec_lines(["true", "B" * 131071], "1700000001.000:1"),
        "100,001 arguments": exec_lines(["true", *(["x"] * 100_000)], "1700000001.000:2"),
        "60,000 PATH records": path_lines(60_000, "1700000001.000:3"),
    }
    for name, lines in attacks.items():
        started = time.perf_counter()
        (message,) = build(lines)
        build_time = time.perf_counter() - started
        frame_time = best(lambda message=message: Framer().frame(message), runs=3)
        rows.append((name, "building its message from the lines", build_time, frame_time))
    print("| case | baseline | baseline s | Framer.frame s | ratio |")
    print("|---|---|---|---|---|")
    for name, what, base, measured in rows:
        print(f"| {name} | {what} | {base:.4f} | {measured:.4f} | {measured / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

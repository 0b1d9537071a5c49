"""The replay hot path in one process, timed or profiled (no startup, no output I/O).

    .venv/bin/python bench/hotpath.py bench/work/log-250k/audit.log          # events/s
    .venv/bin/python bench/hotpath.py LOG --profile                          # cProfile, top 30
    .venv-compiled/bin/python -P bench/hotpath.py LOG --installed            # the compiled build
    .venv/bin/python bench/hotpath.py LOG1 LOG2 --write-results    # + the hotpath section
    .venv/bin/python bench/hotpath.py LOG --by-path     # where the lane's records go, timed

``--write-results`` keeps the figures in bench/work/hotpath.json, one entry
per build (pure, compiled) and log, and sets the ``hotpath`` section of
bench/RESULTS.md from all of them: run it once per build to see the
compiled build's speed-up over the pure one.

``--by-path`` times each record the session's lane reads through
audit_heka.core.line_entries' ``LineEntries.line_rec`` (the first of each event, and
every one its memo by body does not hold; the others are a look-up), in place, by its
type and the way its entry was found: known (by body, or a base's words again), patched
from a base, put together from words, an EXECVE patched from the last command line, a
user-space record, or parsed. A record read in place costs about twice what the same
call costs in a loop of its own (the rest of the event's work between two records takes
the caches), so this says where a log's time goes, as a micro-benchmark would not. The
pure build only (it wraps methods).

Why: the whole-process benchmarks mix interpreter start-up, imports and I/O
with the per-event cost; this isolates lines -> records -> events -> messages
-> frames, the part the optimisations work on.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if "--installed" not in sys.argv:  # else: the interpreter's own (e.g. compiled) audit_heka
    sys.path.insert(0, str(ROOT))

from audit_heka.core.events import Assembler  # noqa: E402
from audit_heka.core.interpret import Interpreter  # noqa: E402
from audit_heka.core.schema import MessageBuilder  # noqa: E402
from audit_heka.core.session import Session  # noqa: E402
from audit_heka.host.accounts import read_groups, read_users  # noqa: E402

#: Lines handed over at once: about what replay's 64 KiB reads give.
BATCH_LINES = 256


def run(lines: list[str]) -> tuple[int, int]:
    builder = MessageBuilder(Interpreter(read_users(), read_groups(), os.uname().machine),
                             hostname="bench")
    session = Session(builder, Assembler(live=False))
    events = size = 0
    for first in range(0, len(lines), BATCH_LINES):  # as replay feeds what a read gave
        batch = lines[first:first + BATCH_LINES]
        for item in session.feed_lines(batch, positions=range(first, first + len(batch))):
            events += 1
            size += len(item.frame or b"")
    for item in session.finish():
        events += 1
        size += len(item.frame or b"")
    return events, size


def read_log(path: Path) -> list[str]:
    """The lines of an audit.log, split as ``replay`` splits them: on "\\n" only, which
    they do not keep.

    str.splitlines() would also split at \\x1d (and \\x1c, \\x1e, \\x85, ...):
    every ENRICHED record, whose interpreted fields follow a \\x1d, would be
    cut in two and the benchmark would time a malformed-record path instead. And
    a line with its "\\n" is copied to be cut from it, which replay's are not.
    """
    lines = path.read_bytes().decode("utf-8", "replace").split("\n")
    if lines and not lines[-1]:
        lines.pop()  # (the log's last "\\n" ends its last line)
    return lines


def measure(log: Path, repeat: int) -> dict[str, Any]:
    """The best CPU time of ``repeat`` runs over one log, and what it produced, with the
    garbage collector set as replay and the shipper set it (audit_heka.heap): at
    CPython's default threshold a 10k-event log pays generation-0 collections that
    neither pays (mixed RAW 33.9 against 29.9 us per event)."""
    from audit_heka.heap import settle_for_streaming  # noqa: PLC0415

    settle_for_streaming()
    lines = read_log(log)
    # CPU time, not wall time, and the best of several runs: other work on the
    # machine would blur a single wall-clock figure.
    best = float("inf")
    events = size = 0
    for _ in range(repeat):
        start = time.process_time()
        events, size = run(lines)
        best = min(best, time.process_time() - start)
    return {"log": log.stem if log.name != "audit.log" else log.parent.name,
            "records": len(lines), "events": events, "bytes": size, "cpu_s": best,
            "us_per_event": best / max(events, 1) * 1e6}


def by_path(log: Path) -> list[str]:
    """The report of ``--by-path`` for one log (see the module's docstring)."""
    from audit_heka.core import line_entries, record_entries  # noqa: PLC0415
    from audit_heka.heap import settle_for_streaming  # noqa: PLC0415

    settle_for_streaming()
    ways: list[str] = []  # the ways taken by the record being read
    wrapped = [(line_entries.LineEntries, "_patched_from", "patched"),
               (line_entries.LineEntries, "_put_together", "put together"),
               (line_entries.LineEntries, "_from_execve_base", "execve"),
               (line_entries.LineEntries, "_from_user_words", "user"),
               (record_entries.RecordEntries, "entry", "parsed")]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in wrapped]
    for (owner, name, way), (_, _, call) in zip(wrapped, originals, strict=True):
        setattr(owner, name, _noting(call, way, ways))
    line_rec = line_entries.LineEntries.line_rec
    calls: dict[tuple[str, str], list[float]] = {}  # (type, ways) -> [calls, seconds]

    def timed(self: Any, rtype: int, type_name: str, *args: Any, **kwargs: Any) -> Any:
        ways.clear()
        start = time.perf_counter()
        rec = line_rec(self, rtype, type_name, *args, **kwargs)
        spent = time.perf_counter() - start
        way = " / ".join(dict.fromkeys(ways)) or "known (a memo, a base again)"
        entry = calls.setdefault((type_name, way if rec is not None else f"{way}: declined"),
                                 [0, 0.0])
        entry[0] += 1
        entry[1] += spent
        return rec

    line_entries.LineEntries.line_rec = timed  # type: ignore[method-assign]
    try:
        lines = read_log(log)
        start = time.process_time()
        events, _ = run(lines)
        total = time.process_time() - start
    finally:
        line_entries.LineEntries.line_rec = line_rec  # type: ignore[method-assign]
        for owner, name, call in originals:
            setattr(owner, name, call)
    out = [f"{log}: {events} events, {total / max(events, 1) * 1e6:.1f} us/event "
           "(the timing's own cost included)",
           f"{'record type':16} {'way':34} {'records':>8} {'us/record':>10} {'us/event':>9}"]
    for (type_name, way), (count, spent) in sorted(calls.items(), key=lambda kv: -kv[1][1]):
        out.append(f"{type_name:16} {way:34} {int(count):8d} {spent / count * 1e6:10.2f} "
                   f"{spent / max(events, 1) * 1e6:9.2f}")
    return out


def _noting(call: Any, way: str, ways: list[str]) -> Any:
    """``call``, noting ``way`` in ``ways`` (--by-path): first, or for a patch when it made
    an entry (not when it declined, nor when it gave its base's: the same words again)."""
    def noted(*args: Any, **kwargs: Any) -> Any:
        if way != "patched":
            ways.append(way)
            return call(*args, **kwargs)
        rec = call(*args, **kwargs)
        if rec is not None and rec is not args[1][2]:  # (self, base, ...)
            ways.append(way)
        return rec
    return noted


def build_name() -> str:
    import audit_heka.core.records  # noqa: PLC0415 - already loaded; which build is it?

    return "compiled" if audit_heka.core.records.__file__.endswith(".so") else "pure"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, nargs="+")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--by-path", action="store_true",
                        help="the records the lane reads, timed by type and way (pure build)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--installed", action="store_true",
                        help="time the installed package, not this checkout's source")
    parser.add_argument("--write-results", action="store_true",
                        help="keep the figures (bench/work/hotpath.json) and set the hotpath "
                        "section of bench/RESULTS.md")
    args = parser.parse_args()
    if args.profile:
        for log in args.logs:
            profiler = cProfile.Profile()
            profiler.enable()
            run(read_log(log))
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0
    if args.by_path:
        if args.installed:
            parser.error("--by-path wraps methods: the pure build only")
        for log in args.logs:
            print("\n".join(by_path(log)), flush=True)
        return 0
    build = build_name()
    figures = []
    for log in args.logs:
        f = measure(log, args.repeat)
        figures.append(f)
        print(f"{build}: {f['log']}: {f['records']} records, {f['events']} events, "
              f"{f['bytes']} bytes in {f['cpu_s']:.3f} CPU s: "
              f"{int(f['events']) / float(f['cpu_s']):.0f} events/s, "
              f"{f['us_per_event']:.1f} us/event", flush=True)
    if args.write_results:
        write_results(build, args.repeat, figures)
    return 0


def write_results(build: str, repeat: int, figures: list[dict[str, Any]]
                  ) -> None:
    """Keep this build's figures beside the other build's; rewrite the hotpath section."""
    sys.path.append(str(ROOT / "bench"))
    from results import commit, machine, now, write_section  # noqa: PLC0415

    saved = ROOT / "bench" / "work" / "hotpath.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, dict[str, dict[str, Any]]] = (
        json.loads(saved.read_text()) if saved.exists() else {})
    for f in figures:
        doc.setdefault(build, {})[str(f["log"])] = {
            **f, "when": now(), "commit": commit(), "repeat": repeat,
            "python": sys.executable}
    saved.write_text(json.dumps(doc, indent=1))
    lines = [
        "## Hot path: lines -> records -> events -> frames, in one process", "",
        f"On {machine()}.",
        "Command: `python bench/hotpath.py LOG... --write-results` (CPU time, best of the "
        "repeats; no start-up, no output I/O; `--installed` under the compiled build's "
        "interpreter for `compiled`). Each row says its run: the builds are measured one "
        "after the other.", "",
        "| log | records | events | build | CPU s (best) | µs / event | compiled speed-up "
        "| run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for build_of_row in ("pure", "compiled"):
        for log, f in sorted(doc.get(build_of_row, {}).items()):
            pure = doc.get("pure", {}).get(log)
            speedup = "-"
            if build_of_row == "compiled" and pure is not None:
                speedup = f"{float(pure['us_per_event']) / float(f['us_per_event']):.2f}x"
            lines.append(
                f"| {log} | {f['records']} | {f['events']} | {build_of_row} | "
                f"{float(f['cpu_s']):.3f} | {float(f['us_per_event']):.1f} | "
                f"{speedup} | {f['when']}, {f['commit']}, best of {f['repeat']} |")
    write_section("hotpath", lines)


if __name__ == "__main__":
    sys.exit(main())

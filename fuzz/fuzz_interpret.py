"""Fuzz the interpreter (``ausearch -i`` semantics) over parsed, assembled records.

The input is an assembler scenario (see fuzz_assembler): lines become
records, records become events, and every event is interpreted as the
message builder does (``interpret`` and ``argv``). Checked: nothing raises;
interpretations are text, keyed by the record's own keys; ``argv`` has at
least ``argc`` entries when argc is a plain small number. Interpretation
walks hex strings byte by byte, so a slow path on long values shows up here
as a libFuzzer timeout.
"""

from __future__ import annotations

from fuzz.harness import instrumented, run

with instrumented(__name__ == "__main__"):
    from audit_heka.core.events import Event
    from audit_heka.core.interpret import Interpreter

from fuzz.fuzz_assembler import play, scenario

USERS = {0: "root", 1000: "alice", 4242: "fuzz"}
GROUPS = {0: "root", 100: "users"}
EXECVE = 1309
MAX_CHECKED_ARGC = 10_000


def check_event(interpreter: Interpreter, event: Event) -> None:
    results = interpreter.interpret(event.records)
    assert len(results) == len(event.records)
    for record, result in zip(event.records, results, strict=True):
        keys = {k for k, _ in record.fields}
        for key, value in result.items():
            assert key in keys, key
            if isinstance(value, list):
                assert all(isinstance(v, str) for v in value)
            else:
                assert isinstance(value, str)
    argv = interpreter.argv(event.records)
    assert all(isinstance(a, str) for a in argv)
    for record in event.records:
        if record.type == EXECVE:
            argc = record.get("argc")
            if argc is not None and argc.isascii() and argc.isdigit() and len(argc) < 6:
                assert len(argv) >= min(int(argc), MAX_CHECKED_ARGC)


def one_input(data: bytes) -> None:
    assembler, lines = scenario(data)
    interpreter = Interpreter(USERS, GROUPS, machine="x86_64")
    for event in play(assembler, lines).events:
        check_event(interpreter, event)


if __name__ == "__main__":
    run(one_input)

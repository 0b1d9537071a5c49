"""An exception while interpreting or building one event never ends `replay`/`run` nor loses it.

Issue 16 item 1: an ioctl request missing from the table raised KeyError in the
interpreter, ended `run` with a traceback and made `replay` lose every later event. The
table is fixed (test_interpret_exhaustive covers every kind); these tests inject failures
to check the containment itself: the event is shipped with its raw values, an
`interpret_error` field says what failed, `interpret_errors` counts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit_heka.cli import main
from audit_heka.core.events import Assembler, Event
from audit_heka.core.interpret import Interpreter
from audit_heka.core.protocols import RecordLike
from audit_heka.core.records import Record, parse_line
from audit_heka.core.schema import INTERPRET_ERROR, MessageBuilder
from audit_heka.core.session import Session
from audit_heka.heka.framing import Unframer
from audit_heka.heka.message import Message, decode_message

IOCTL = ("type=SYSCALL msg=audit(1700000000.100:{serial}): arch=c000003e syscall=16 "
         "success=yes exit=0 a0=3 a1={a1} a2=7ffd1234 a3=0 items=0 ppid=1 pid=42 auid=0 "
         'uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="ioctl" '
         'exe="/usr/bin/python3" key="x"')


def fields(message: Message) -> dict[str, tuple[object, ...]]:
    return {f.name: f.values for f in message.fields}


def records(*lines: str) -> tuple[Record, ...]:
    out = []
    for line in lines:
        r = parse_line(line)
        assert isinstance(r, Record), r
        out.append(r)
    return tuple(out)


def event_of(*lines: str) -> Event:
    recs = records(*lines)
    return Event(None, recs[0].serial, recs[0].seconds, recs[0].milliseconds, recs)


def test_unknown_ioctl_request_is_printed_as_ausearch_does() -> None:
    builder = MessageBuilder(Interpreter({0: "root"}, {0: "root"}, "x86_64"), hostname="h")
    message = fields(builder.build(event_of(IOCTL.format(serial=1, a1="8914"))))
    assert message["a1_i"] == ("0x8914",)
    assert message["syscall_i"] == ("ioctl",)
    assert INTERPRET_ERROR not in message
    assert builder.counters.interpret_errors == 0


class Failing(Interpreter):
    """An interpreter with a bug on one kind of value (a1 of any syscall)."""

    def arg(self, index: int, raw: str, ctx: object) -> str:
        if index == 1:
            raise KeyError("planted")
        return super().arg(index, raw, ctx)  # type: ignore[arg-type]


def test_a_failing_value_keeps_its_raw_value_and_the_others() -> None:
    builder = MessageBuilder(Failing({0: "root"}, {0: "root"}, "x86_64"), hostname="h")
    message = fields(builder.build(event_of(IOCTL.format(serial=1, a1="5401"))))
    assert message["a1"] == ("5401",) and "a1_i" not in message
    assert message["a0_i"] == ("0x3",) and message["uid_i"] == ("root",)
    assert message[INTERPRET_ERROR] == ("SYSCALL a1: KeyError: 'planted'",)
    assert builder.counters.interpret_errors == 1


def test_strict_interpret_still_raises_for_tests_and_fuzzing() -> None:
    with pytest.raises(KeyError):
        Failing({}, {}, "x86_64").interpret(records(IOCTL.format(serial=1, a1="5401")))


class BrokenArgv(Interpreter):
    def argv(self, records: Sequence[RecordLike]) -> list[str]:
        raise RuntimeError("argv bug")


def test_a_failure_outside_the_interpreter_ships_the_event_raw() -> None:
    builder = MessageBuilder(BrokenArgv({0: "root"}, {0: "root"}, "x86_64"), hostname="h")
    h = "msg=audit(1700000000.100:7)"
    ev = event_of(f"type=SYSCALL {h}: arch=c000003e syscall=59 success=yes exit=0 uid=0",
                  f'type=EXECVE {h}: argc=1 a0="ls"', f'type=CWD {h}: cwd="/"')
    message = builder.build(ev)
    got = fields(message)
    assert got[INTERPRET_ERROR] == ("build: RuntimeError: argv bug",)
    assert got["uid"] == (0,) and got["cwd"] == ("/",) and got["argc"] == (1,)
    assert not any(name.endswith("_i") for name in got)
    assert message.payload is not None and 'a0="ls"' in message.payload
    assert builder.counters.interpret_errors == 1


def test_even_a_failing_raw_rebuild_keeps_the_payload() -> None:
    def enricher(event: Event) -> Sequence[object]:
        raise OSError("enricher bug")

    builder = MessageBuilder(Interpreter({}, {}, "x86_64"), hostname="h",
                             enricher=enricher)  # type: ignore[arg-type]
    message = builder.build(event_of(IOCTL.format(serial=3, a1="5401")))
    got = fields(message)
    assert got["serial"] == (3,)
    assert got[INTERPRET_ERROR] == ("build: OSError: enricher bug",
                                    "build raw: OSError: enricher bug")
    assert message.payload is not None and "a1=5401" in message.payload
    assert builder.counters.interpret_errors == 1


def test_pipeline_survives_and_counts() -> None:
    builder = MessageBuilder(Failing({0: "root"}, {0: "root"}, "x86_64"), hostname="h")
    pipeline = Session(builder, Assembler(live=False))
    out: list[Message] = []
    for serial in range(1, 6):
        out += [s.message for s in pipeline.feed(IOCTL.format(serial=serial, a1="8914"))]
    out += [s.message for s in pipeline.finish()]
    assert [fields(m)["serial"] for m in out] == [(n,) for n in range(1, 6)]
    assert pipeline.counters()["interpret_errors"] == 5


def test_replay_reports_interpret_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "audit.log"
    log.write_text("".join(IOCTL.format(serial=n, a1="8914") + "\n" for n in range(1, 4)))
    out = tmp_path / "out.heka"
    monkeypatch.setattr("audit_heka.cli.replay.Interpreter", Failing)
    result = CliRunner().invoke(main, ["replay", str(log), "--target", f"file:{out}"])
    assert result.exit_code == 0, result.output
    assert "interpret_errors: 3" in result.output
    unframer = Unframer()
    messages = [decode_message(m.message) for m in unframer.feed(out.read_bytes())]
    assert len(messages) == 3
    assert all(fields(m)[INTERPRET_ERROR] == ("SYSCALL a1: KeyError: 'planted'",)
               for m in messages)

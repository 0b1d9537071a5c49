"""Fuzz the assembler: any interleaving of records, EOEs, time and flushes.

An input is a *scenario*: its first byte chooses the assembler's options and
the rest is text, one step per line:

* ``+N``      let N seconds pass (then ``expire``);
* ``!flush``  end of input; ``!reset`` a new kernel connection (serials);
* any other line is an auditd log line, parsed and added (malformed lines
  are counted, as the pipeline counts them).

Checked: nothing raises; every record comes out in exactly one event, in
order, with the event's key; an EOE never ends up inside an event; the
completion counters add up to the events emitted; memory stays bounded
(in-flight events, remembered keys, missing serials); serial_gaps >= 0.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from fuzz.harness import instrumented, run, text

with instrumented(__name__ == "__main__"):
    from audit_heka.core.events import CLOSED_MEMORY, EOE, GAP_WINDOW, Assembler, Event
    from audit_heka.core.records import ParseError, Record, parse_line

MAX_STEP_SECONDS = 10_000


@dataclass
class Outcome:
    """What a scenario produced."""

    assembler: Assembler
    records: list[Record] = field(default_factory=list)  # non-EOE records, in order fed
    eoes: int = 0
    events: list[Event] = field(default_factory=list)
    malformed: Counter[str] = field(default_factory=Counter)


def options(flags: int) -> Assembler:
    """The assembler a scenario's first byte asks for (small limits to hit them)."""
    return Assembler(
        live=bool(flags & 1),
        max_in_flight=1 + (flags >> 1 & 7),
        timeout=float(flags >> 4 & 3),
        track_gaps=bool(flags & 0x40) or None,
    )


def play(assembler: Assembler, lines: list[str]) -> Outcome:
    """Run the steps against ``assembler``, checking bounds after each, then flush."""
    out = Outcome(assembler)
    now = 0.0
    for line in lines:
        if line.startswith("+") and line[1:].isascii() and line[1:].isdigit():
            now += min(int(line[1:]), MAX_STEP_SECONDS)
            out.events += assembler.expire(now)
        elif line == "!flush":
            out.events += assembler.flush()
        elif line == "!reset":
            assembler.reset_serials()
        else:
            parsed = parse_line(line)
            if isinstance(parsed, ParseError):
                out.malformed[parsed.reason] += 1
                continue
            if parsed.type == EOE:
                out.eoes += 1
            else:
                out.records.append(parsed)
            out.events += assembler.add(parsed, now)
        check_bounds(assembler)
    out.events += assembler.flush()
    check_outcome(out)
    return out


def check_bounds(a: Assembler) -> None:
    """Memory is bounded whatever the input (the private tables are the memory)."""
    assert a.in_flight <= a.max_in_flight, (a.in_flight, a.max_in_flight)
    assert len(a._closed) <= CLOSED_MEMORY
    assert len(a._missing) <= GAP_WINDOW
    assert a.serial_gaps >= 0, a.serial_gaps


def check_outcome(out: Outcome) -> None:
    """No record lost or duplicated; counters consistent."""
    a = out.assembler
    assert a.in_flight == 0
    emitted = [r for e in out.events for r in e.records]
    assert len(emitted) == len(out.records) == a.records_in
    assert Counter(map(id, emitted)) == Counter(map(id, out.records))
    for e in out.events:
        assert e.records, e
        assert e.part >= 0
        for r in e.records:
            assert r.type != EOE
            key = (r.node, r.serial, r.seconds, r.milliseconds)
            assert key == (e.node, e.serial, e.seconds, e.milliseconds)
    # Records of one key keep their arrival order across events and parts.
    position = {id(r): i for i, r in enumerate(out.records)}
    for e in out.events:
        order = [position[id(r)] for r in e.records]
        assert order == sorted(order)
    assert a.events_out == len(out.events)
    assert (a.completed_by_eoe + a.completed_alone + a.timed_out + a.overflowed + a.flushed
            == a.events_out)
    assert a.orphan_eoe + a.completed_by_eoe <= out.eoes


def scenario(data: bytes) -> tuple[Assembler, list[str]]:
    """Split an input into the assembler it configures and its steps."""
    flags = data[0] if data else 0
    return options(flags), text(data[1:]).split("\n")


def one_input(data: bytes) -> None:
    assembler, lines = scenario(data)
    play(assembler, lines)


if __name__ == "__main__":
    run(one_input)

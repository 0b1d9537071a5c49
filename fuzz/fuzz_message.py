"""Fuzz the message builder and the Heka encoder over assembled events.

The input is an assembler scenario (see fuzz_assembler). Every event becomes
a Heka message (MessageBuilder), is encoded, framed as the session frames it
(Payload dropped, then fields degraded, past max_message_size -- counted) and
read back through the Unframer and decode_message. Checked: nothing raises
(an EncodeError would be an event the daemon cannot ship); the decoded
message equals the built one; no frame exceeds Heka's limit; every event is
either framed or counted as oversize.
"""

from __future__ import annotations

from fuzz.harness import instrumented, run

with instrumented(__name__ == "__main__"):
    from audit_heka.core.interpret import Interpreter
    from audit_heka.core.schema import MessageBuilder
    from audit_heka.core.session import Framer
    from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, Unframer
    from audit_heka.heka.message import decode_message

from fuzz.fuzz_assembler import play, scenario
from fuzz.fuzz_interpret import GROUPS, USERS


def one_input(data: bytes) -> None:
    assembler, lines = scenario(data)
    builder = MessageBuilder(Interpreter(USERS, GROUPS, machine="x86_64"), hostname="fuzz-host")
    framer = Framer()
    unframer = Unframer()
    events = play(assembler, lines).events
    for event in events:
        message = builder.build(event)
        frame = framer.frame(message)
        if frame is None:
            continue
        assert len(frame) <= DEFAULT_MAX_MESSAGE_SIZE + 258
        (unframed,) = unframer.feed(frame)
        decoded = decode_message(unframed.message)
        truncated = decoded.field("truncated")
        if truncated is not None:
            assert message.field("truncated") is None  # the scheme never writes it
            if truncated.values != ("Payload",):
                continue  # fields cut: tests/test_degrade.py checks what was kept
            message = message.replace(payload=None)
            decoded = decoded.replace(fields=decoded.fields[:-4])
        assert decoded == message, (decoded, message)
    assert framer.frames + framer.oversize == len(events)
    assert not unframer.errors and unframer.buffered == 0
    assert builder.counters.malformed_integer >= 0


if __name__ == "__main__":
    run(one_input)

"""Issue 16's closing condition: ``replay`` and ``run`` survive any single record.

Templates: every record of the seed corpus (tests/data/fuzz/records, captured from the
kernel and auditd in RAW, ENRICHED and netlink form), the foreign-log and forgery lines
of tests/test_foreign_logs.py, and one line per record type of the message-type table.
Hypothesis mutates them -- a value replaced by hostile text, a key repeated, a \\x1d and
pairs appended, a second record glued on the line, punctuation of the old format -- and
drives the whole pipeline (records -> events -> messages -> frames) in log mode (replay)
and with the kernel's text in live mode (run). Nothing may raise, and nothing may be
lost: every line is a record in some message or a message of its own (parse_error).
"""

from __future__ import annotations

from pathlib import Path

import test_foreign_logs as foreign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_heka.core.events import Assembler
from audit_heka.core.interpret import Interpreter
from audit_heka.core.records import Record, parse_line
from audit_heka.core.schema import MessageBuilder
from audit_heka.core.session import Framer, Session
from audit_heka.heka.framing import Unframer
from audit_heka.heka.message import Message, decode_message
from audit_heka.tables.msgtypes import MSG_TYPES

SEEDS = Path(__file__).parent / "data" / "fuzz" / "records"
GENERIC_BODY = ("pid=1 uid=0 auid=4294967295 ses=1 subj=unconfined arch=c000003e syscall=16 "
                "a0=3 a1=5401 a2=7ffd a3=0 exit=-22 success=no items=1 res=1 key=(null) "
                "comm=\"x\" exe=\"/bin/x\" mode=0100644 cap_fp=0 saddr=02000050 data=6C73 "
                "proto=6 name=2F746D70 op=load acct=\"root\" id=0 sig=9 list=4 fam=inet")


def _templates() -> list[str]:
    lines: list[str] = []
    for path in sorted(SEEDS.glob("seed-*")):
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[0]
        if text.startswith("audit("):  # seed-kernel-TYPE-hash: the netlink text
            text = f"type={path.name.split('-')[2]} msg={text}"
        lines.append(text)
    lines += [v for k, v in vars(foreign).items() if k.isupper() and isinstance(v, str)
              and "msg=audit(" in v and v.startswith("type=")]
    lines += [f"type={name} msg=audit(1700000000.000:{number}): {GENERIC_BODY}"
              for number, name in sorted(MSG_TYPES.items())]
    return lines


TEMPLATES = _templates()
HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "(", ")", "(none)", ",", ":", "'", '"', "=", "{", "}", "\x1d",
                     "\x1dAUID=\"root\"", "4294967295", "-1", "18446744073709551616",
                     "9" * 400, "ffffffffffffffff", "2F" * 300, "\x00", "op=x res=success",
                     " type=SYSCALL msg=audit(1.000:1): a=1", "'x' msg='y", "\u2028",
                     "fe80::", "500:", "?,", "success)", "old", "new auid=0"]),
)


def _mutate(template: str, data: st.DataObject) -> str:
    record = parse_line(template)
    assert isinstance(record, Record)
    line = template
    if record.fields:
        index = data.draw(st.integers(0, len(record.fields) - 1))
        key, raw = record.fields[index]
        new = data.draw(HOSTILE)
        action = data.draw(st.sampled_from(["replace", "repeat", "key", "append"]))
        if action == "replace":
            line = line.replace(f"{key}={raw}", f"{key}={new}", 1)
        elif action == "repeat":
            line = f"{line} {key}={new}"
        elif action == "key":
            line = line.replace(f"{key}=", f"{new}=", 1)
        else:
            line = line + new
    return line


def _run(lines: list[str], live: bool) -> tuple[list[Message], Session, Framer]:
    builder = MessageBuilder(Interpreter({0: "root"}, {0: "root"}), hostname="h")
    pipeline = Session(builder, Assembler(live=live))
    framer = Framer()
    out: list[Message] = []
    for n, line in enumerate(lines):
        if live:
            _, sep, rest = line.partition(" msg=")
            number = parse_line(line)
            msg_type = number.type if isinstance(number, Record) else 1300
            out += [s.message for s in pipeline.feed_kernel(msg_type, rest if sep else line,
                                                          now=float(n))]
        else:
            out += [s.message for s in pipeline.feed(line + "\n")]
    out += [s.message for s in pipeline.finish()]
    for message in out:
        data = framer.frame(message)
        if data is not None:
            (frame,) = Unframer().feed(data)
            assert decode_message(frame.message) is not None
    return out, pipeline, framer


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_mutated_record_goes_through_the_whole_pipeline(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 4))
    lines = [_mutate(data.draw(st.sampled_from(TEMPLATES)), data) for _ in range(count)]
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    for live in (False, True):
        out, pipeline, framer = _run(lines, live)
        c = pipeline.counters()
        # No loss: every record is in a message, every unparsable line is a message.
        shipped = sum(len(m.payload.split("\n")) for m in out
                      if m.payload is not None and m.field("serial") is not None)
        assert shipped == pipeline.assembler.records_in  # (EOE records end events only)
        assert c["unparsed_shipped"] == c["malformed_records"] - sum(
            v for k, v in c.items() if k.startswith("malformed_records.")
            and k.split(".", 1)[1] in ("unterminated_quote", "unterminated_brace"))
        assert c["records"] + c["unparsed_shipped"] + c["comment_lines"] + c["blank_lines"] >= (
            len(lines) - c["orphan_eoe"])
        assert framer.frames + framer.oversize == len(out)


def test_every_record_type_is_a_template() -> None:
    names = {line.split("type=", 1)[1].split(" ", 1)[0] for line in TEMPLATES}
    assert set(MSG_TYPES.values()) <= names
    assert len(TEMPLATES) > len(MSG_TYPES) + 40

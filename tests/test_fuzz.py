"""Property-based fuzzing of every parser with realistic-but-hostile inputs (hypothesis).

Why beside the atheris targets: coverage-guided runs take hours and start
from bytes; these strategies start from *real* records (the captured corpus
in tests/data/fuzz/records) and break them the ways hostile or damaged input
does -- truncation, bad and odd-length hex, unterminated quotes, binary
garbage, huge numbers, megabyte lines, interleaved and duplicated events,
mutated frames -- so the deep paths are hit in CI, in seconds. The checks are
the fuzz targets' own (fuzz/), so both kinds of fuzzing enforce one contract:
nothing but the documented error values escapes, memory stays bounded, and
every rejected input is counted.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # fuzz/ is a top-level package beside audit_heka/
    sys.path.insert(0, str(ROOT))

from audit_heka.core.events import Event  # noqa: E402
from audit_heka.core.interpret import MAX_ARGV, Interpreter  # noqa: E402
from audit_heka.core.records import MAX_RECORD_LENGTH, ParseError, Record, parse_line  # noqa: E402
from audit_heka.core.schema import MessageBuilder  # noqa: E402
from audit_heka.core.session import Framer, Session  # noqa: E402
from audit_heka.heka.framing import Signer, Unframer, frame  # noqa: E402
from audit_heka.heka.message import (  # noqa: E402
    Field,
    Message,
    decode_message,
    encode_message,
    message_to_json,
)
from audit_heka.netlink.rulefile import version_key  # noqa: E402
from audit_heka.netlink.rules import RULE_DATA_SIZE  # noqa: E402
from audit_heka.tables.syscalls import ARCH_VALUES, SYSCALL_NUMBERS  # noqa: E402
from audit_heka.tables.valuenames import ARG_KINDS  # noqa: E402
from fuzz import (  # noqa: E402
    fuzz_assembler,
    fuzz_decode,
    fuzz_interpret,
    fuzz_message,
    fuzz_records,
    fuzz_rule_data,
    fuzz_rules,
    fuzz_status,
    fuzz_syscall_args,
    fuzz_unframer,
)

CORPUS = ROOT / "tests" / "data" / "fuzz"
REAL_LINES = sorted(
    p.read_text() for p in (CORPUS / "records").glob("seed-*") if not p.name.startswith(
        "seed-kernel")
)
RULE_DATA = [p.read_bytes() for p in sorted((CORPUS / "rule_data").glob("seed-*"))]
RULE_TEXTS = [p.read_text() for p in sorted((CORPUS / "rules").glob("seed-*"))]
SMALL_LINES = [line for line in REAL_LINES if len(line) < 2000]

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

GARBAGE = st.sampled_from(
    ["\x00", "\x1d", '"', "'", "{", "}", "=", " ", "(", ")", ":", ".", "\n", "\r", "\udcff"[:0],
     "İ", "²", "٣", "\ufffd", "\x85", "\u2028", "-", "0x", "a0[", "]"]
)
HUGE = st.sampled_from(["9" * 25, "9" * 5000, "-" + "9" * 30, "4294967295", "18446744073709551616",
                        "f" * 41, "0" * 3000 + "1", "1e400"])


@st.composite
def hostile_line(draw: st.DrawFn) -> str:
    """A real log line with a few of the damages hostile or broken input has."""
    line = draw(st.sampled_from(REAL_LINES))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(
            ["truncate", "garbage", "hex", "odd_hex", "quote", "huge", "text", "dup", "value"]))
        at = draw(st.integers(0, len(line)))
        if kind == "truncate":
            line = line[:at]
        elif kind == "garbage":
            line = line[:at] + draw(GARBAGE) + line[at:]
        elif kind in ("hex", "odd_hex"):
            digits = draw(st.text("0123456789ABCDEFabcdefXZ", min_size=1, max_size=40))
            if kind == "odd_hex" and len(digits) % 2 == 0:
                digits += "A"
            key = draw(st.sampled_from(["proctitle", "a0", "name", "saddr", "comm", "cwd", "acct",
                                        "key", "exe", "a1[0]"]))
            line = f"{line} {key}={digits}"
        elif kind == "quote":
            line = line[:at] + draw(st.sampled_from(['"', "'", "msg='", '="', "={"])) + line[at:]
        elif kind == "huge":
            key = draw(st.sampled_from(["pid", "uid", "argc", "syscall", "exit", "arch", "mode",
                                        "cap_fp", "a2", "ses", "items", "sig", "perm"]))
            line = f"{line} {key}={draw(HUGE)}"
        elif kind == "text":
            line = line[:at] + draw(st.text(max_size=30)) + line[at:]
        elif kind == "dup":
            line = f"{line} {line[line.find('): ') + 3:]}" if "): " in line else line
        else:
            line = line[:at] + draw(st.sampled_from(["=", "= ", " =", "==", "=\x1d"])) + line[at:]
    return line


# ------------------------------------------------------------------ records


@FUZZ
@given(hostile_line())
def test_records_hostile_lines(line: str) -> None:
    fuzz_records.check_line(line)
    stamped = line.find("audit(")
    fuzz_records.check_kernel(1309, line[max(stamped, 0):])


@given(st.binary(max_size=400))
def test_records_binary_garbage(data: bytes) -> None:
    fuzz_records.one_input(data)


@pytest.mark.parametrize("size", [MAX_RECORD_LENGTH + 1, 1 << 20])
def test_records_megabyte_lines_are_counted_not_parsed(size: int) -> None:
    line = "type=SYSCALL msg=audit(1.000:1): a0=" + "A" * size
    result = fuzz_records.check_line(line)
    assert isinstance(result, ParseError) and result.reason == "too_long"


# ---------------------------------------------------------------- assembler


@st.composite
def scenario(draw: st.DrawFn, lines: list[str] = REAL_LINES) -> tuple[int, list[str]]:
    """Real records in a random interleaving, with EOEs, duplicates, time and flushes."""
    chosen = draw(st.lists(st.sampled_from(lines), max_size=30))
    steps: list[str] = []
    for line in chosen:
        steps.append(line)
        roll = draw(st.integers(0, 9))
        if roll == 0 and "msg=audit(" in line:
            stamp = line.split("msg=", 1)[1].split(" ", 1)[0]
            steps.append(f"type=EOE msg={stamp} ")
        elif roll == 1:
            steps.append(line)  # the same record again (duplicate serial)
        elif roll == 2:
            steps.append(draw(st.sampled_from(["+1", "+3", "+10000", "!flush", "!reset"])))
    return draw(st.integers(0, 255)), draw(st.permutations(steps))


@FUZZ
@given(scenario())
def test_assembler_interleavings(case: tuple[int, list[str]]) -> None:
    flags, steps = case
    fuzz_assembler.play(fuzz_assembler.options(flags), steps)


@FUZZ
@given(st.integers(0, 255), st.lists(hostile_line(), max_size=12))
def test_assembler_hostile_records(flags: int, lines: list[str]) -> None:
    fuzz_assembler.play(fuzz_assembler.options(flags), lines)


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 1 << 32), st.integers(1, 50))
def test_assembler_memory_bounded_under_serial_floods(base: int, step: int) -> None:
    """Thousands of events that never end, with serials jumping: bounded tables."""
    lines = [f"type=SYSCALL msg=audit(1.000:{base + i * step}): a=1" for i in range(2_000)]
    out = fuzz_assembler.play(fuzz_assembler.options(0x40 | 0x0E), lines)
    assert len(out.events) == 2_000


# -------------------------------------------------------------- interpreter


@FUZZ
@given(scenario([*SMALL_LINES, 'type=EXECVE msg=audit(1.000:9): argc=2 a0="x" a1=41']))
def test_interpret_interleavings(case: tuple[int, list[str]]) -> None:
    flags, steps = case
    interpreter = Interpreter(fuzz_interpret.USERS, fuzz_interpret.GROUPS, machine="x86_64")
    for event in fuzz_assembler.play(fuzz_assembler.options(flags), steps).events:
        fuzz_interpret.check_event(interpreter, event)


@FUZZ
@given(st.lists(hostile_line(), min_size=1, max_size=6))
def test_interpret_hostile_records(lines: list[str]) -> None:
    interpreter = Interpreter(fuzz_interpret.USERS, fuzz_interpret.GROUPS, machine="x86_64")
    for event in fuzz_assembler.play(fuzz_assembler.options(0x0E), lines).events:
        fuzz_interpret.check_event(interpreter, event)


def _syscall_context() -> st.SearchStrategy[str]:
    """A SYSCALL record of a real context: an arch of the tables, a syscall it has (mostly
    one whose arguments have decoders), a0-a3 values the decoders know or hostile text."""
    machines = sorted(SYSCALL_NUMBERS)
    hostile_value = st.one_of(
        st.sampled_from(fuzz_syscall_args.KNOWN_VALUES),
        st.sampled_from(["", "zz", "-1", "0x", "-7fffffff", "ffffffffffffffffffff",
                         "\u0661\u0662", "9" * 5000, "(null)", "?"]),
        st.integers(0, (1 << 64) - 1).map(lambda n: f"{n:x}"),
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc")),
                max_size=12),
    )

    @st.composite
    def line(draw: st.DrawFn) -> str:
        if draw(st.integers(0, 9)) == 0:
            arch = draw(st.sampled_from(fuzz_syscall_args.ARCH_VALUES))
            syscall = str(draw(st.integers(-5, 1200)))
        else:
            machine = draw(st.sampled_from(machines))
            arch = f"{ARCH_VALUES[machine]:x}"
            names = SYSCALL_NUMBERS[machine]
            decoded = sorted(n for n in ARG_KINDS if n in names)
            pool = decoded if draw(st.integers(0, 3)) and decoded else sorted(names)
            syscall = str(names[draw(st.sampled_from(pool))])
        args = [draw(hostile_value) for _ in range(4)]
        return fuzz_syscall_args.syscall_line(arch, syscall, args)

    return line()


@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_syscall_context())
def test_interpret_real_syscall_contexts(line: str) -> None:
    """Issue 16: a value missing from a table must not raise (strict interpreter)."""
    fuzz_syscall_args.check_line(line)


# ---------------------------------------------------------- message builder


@FUZZ
@given(st.lists(hostile_line(), min_size=1, max_size=6), st.integers(0, 255))
def test_message_builder_hostile_events(lines: list[str], flags: int) -> None:
    fuzz_message.one_input(bytes([flags]) + "\n".join(lines).encode("utf-8", "surrogateescape"))


# -------------------------------------------------------------------- rules

RULE_TOKENS = st.sampled_from(
    ["-a", "always,exit", "-F", "arch=b64", "-S", "openat,execve", "-k", "key", "-w", "/etc/",
     "-p", "wa", "auid>=1000", "auid!=unset", "exit=-EACCES", "-C", "auid!=uid", "-e", "2",
     "-b", "8192", "-D", "msgtype=", "exe=/bin/x", "-A", "exclude,never", "path=/x", "uid=alice",
     "0x" + "f" * 12, "9" * 5000, "²", "İ", "=", "!=", "-Fa0&", "--backlog_wait_time=", "#"]
)


@FUZZ
@given(st.lists(st.lists(RULE_TOKENS | st.text(max_size=8), max_size=10), max_size=8))
def test_rules_token_soup(lines: list[list[str]]) -> None:
    fuzz_rules.check_rules_text("\n".join(" ".join(words) for words in lines))


@FUZZ
@given(st.sampled_from(RULE_TEXTS), st.integers(0, 20_000), st.text(max_size=20))
def test_rules_mutated_files(text: str, at: int, insert: str) -> None:
    at %= len(text) + 1
    fuzz_rules.check_rules_text(text[:at] + insert + text[at:])


@FUZZ
@given(st.sampled_from(RULE_DATA), st.lists(st.tuples(st.integers(0, 1200),
                                                      st.integers(0, 0xFFFFFFFF)), max_size=6),
       st.integers(-40, 40))
def test_rule_data_mutated(data: bytes, words: list[tuple[int, int]], cut: int) -> None:
    raw = bytearray(data)
    for at, value in words:
        struct.pack_into("=I", raw, min(at, len(raw) - 4) & ~3, value)
    size = len(raw) + cut if cut < 0 else len(raw)
    fuzz_rule_data.check_rule_data(bytes(raw[:size]) + b"x" * max(cut, 0))


@given(st.binary(min_size=RULE_DATA_SIZE - 4, max_size=RULE_DATA_SIZE + 64))
def test_rule_data_random(data: bytes) -> None:
    fuzz_rule_data.check_rule_data(data)


# ------------------------------------------------------------------- status


@given(st.binary(max_size=64))
def test_status_any_length(data: bytes) -> None:
    fuzz_status.check_status(data)


# ---------------------------------------------------------------- unframer

SIGNERS = [Signer("test", 1, b"secret", "md5"), Signer("test", 2, b"other", "sha1"),
           Signer("nobody", 9, b"x", "md5")]
MESSAGES = [p.read_bytes() for p in sorted((CORPUS / "decode").glob("seed-*"))]


@st.composite
def stream(draw: st.DrawFn) -> bytes:
    """Good frames (some signed), garbage, and frames with damaged bytes or lengths."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["frame", "garbage", "mutated", "huge_length", "cut"]))
        message = draw(st.sampled_from(MESSAGES))
        signer = draw(st.none() | st.sampled_from(SIGNERS))
        framed = frame(message, signer)
        if kind == "frame":
            parts.append(framed)
        elif kind == "garbage":
            parts.append(draw(st.binary(max_size=40)))
        elif kind == "mutated":
            raw = bytearray(framed)
            for _ in range(draw(st.integers(1, 4))):
                raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
            parts.append(bytes(raw))
        elif kind == "huge_length":  # message_length of 4 GB (a varint past 32 bits)
            parts.append(b"\x1e\x06\x08\x80\x80\x80\x80\x10\x1f" + message)
        else:
            parts.append(framed[: draw(st.integers(0, len(framed)))])
    return b"".join(parts)


@FUZZ
@given(st.integers(0, 255), stream())
def test_unframer_mutated_streams(flags: int, data: bytes) -> None:
    fuzz_unframer.check_stream(flags, data)


@given(st.integers(0, 255), st.binary(max_size=600))
def test_unframer_random_bytes(flags: int, data: bytes) -> None:
    fuzz_unframer.check_stream(flags, data)


@FUZZ
@given(st.sampled_from(MESSAGES), st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)),
                                            max_size=5), st.integers(0, 5000))
def test_decode_mutated_messages(message: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    raw = bytearray(message)
    for at, value in flips:
        raw[at % len(raw)] = value
    fuzz_decode.check_message_bytes(bytes(raw[: max(cut, 1)]))


# ---------------------------------------------- findings (regressions, named)


class _Messages:
    """The session's shipments as messages (these findings are about building)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.parse_errors = session.parse_errors

    def feed_line(self, line: str) -> list[Message]:
        return [s.message for s in self.session.feed(line)]

    def finish(self) -> list[Message]:
        return [s.message for s in self.session.finish()]

    def counters(self) -> dict[str, int]:
        return self.session.counters()


def _pipeline() -> tuple[_Messages, Framer]:
    builder = MessageBuilder(Interpreter({0: "root"}, {0: "root"}, "x86_64"), hostname="h")
    return _Messages(Session(builder, fuzz_assembler.options(0x0E))), Framer()


@pytest.mark.parametrize("stamp", ["17956027683.28:98556", "1.280:99999999999999999999",
                                   "1" * 5000 + ".280:1", "9223372036.000:1"])
def test_finding_header_numbers_past_int64_are_counted(stamp: str) -> None:
    """fuzz_records: such a header used to raise EncodeError (or ValueError) in run/replay."""
    pipeline, framer = _pipeline()
    line = f"type=USER msg=audit({stamp}): pid=1 uid=0 msg='op=x res=success'"
    for message in [*pipeline.feed_line(line), *pipeline.finish()]:
        framer.frame(message)
    assert pipeline.parse_errors["bad_header"] == 1
    assert pipeline.counters()["malformed_records"] == 1


def test_finding_last_representable_second_still_ships() -> None:
    pipeline, framer = _pipeline()
    messages = pipeline.feed_line("type=USER msg=audit(9223372035.999:9223372036854775807): a=1")
    messages += pipeline.finish()
    assert len(messages) == 1 and framer.frame(messages[0]) is not None


def test_finding_invalid_utf8_strings_decode_as_text() -> None:
    """fuzz_unframer: upb hands back bytes for invalid UTF-8; listen's JSON then raised."""
    good = encode_message(decode_message(MESSAGES[-1]))
    damaged = (CORPUS / "decode" / "crash-invalid-utf8-field-name").read_bytes()
    for data in (damaged, good):
        message = decode_message(data)
        for f in message.fields:
            assert isinstance(f.name, str)
        message_to_json(message)
    unframer = Unframer()
    (out,) = unframer.feed(frame(damaged))
    assert decode_message(out.message).fields[0].name == "\ufffdm"


@pytest.mark.parametrize("line", [
    "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=İ uid=İ a0=İ exit=İ",
    "type=PATH msg=audit(1.000:1): mode=İ ouid=İ cap_fp=İ",
    'type=EXECVE msg=audit(1.000:1): argc=² a0="x" a²="y" a1[²]="z"',
    'type=EXECVE msg=audit(1.000:1): argc=' + "9" * 5000 + ' a0="x"',
    "type=SYSCALL msg=audit(1.000:1): pid=" + "9" * 5000 + " uid=" + "9" * 5000,
])
def test_finding_hostile_values_interpret_and_build(line: str) -> None:
    """test_fuzz: TypeError (ord of "İ".lower()), ValueError (int("²"), 5000 digits)."""
    pipeline, framer = _pipeline()
    messages = [*pipeline.feed_line(line), *pipeline.finish()]
    assert len(messages) == 1
    assert framer.frame(messages[0]) is not None


def test_finding_rules_d_names_with_any_digits_sort() -> None:
    """test_fuzz: version_key raised on "²" (isdigit but not int) and 5000-digit names."""
    names = ["10-b.rules", "9-a.rules", "²-c.rules", "9" * 5000]
    assert sorted(names, key=version_key)[:2] == ["9-a.rules", "10-b.rules"]


def test_finding_argc_cannot_allocate_billions() -> None:
    """test_fuzz: argc=4294967295 built a 4-billion-entry argv (memory exhaustion)."""
    record = parse_line('type=EXECVE msg=audit(1.000:2): argc=4294967295 a0="x" a99999999="y"')
    assert isinstance(record, Record)
    argv = Interpreter({}, {}, "x86_64").argv([record])
    assert len(argv) == MAX_ARGV and argv[0] == "x"
    builder = MessageBuilder(Interpreter({}, {}, "x86_64"), hostname="h")
    framer = Framer()
    data = framer.frame(builder.build(Event(None, 2, 1, 0, (record,))))
    assert data is not None and framer.degraded == 1 and framer.oversize == 0
    msg = decode_message(Unframer().feed(data)[0].message)
    assert msg.field("argc") == Field.integer("argc", 4294967295)  # exact, argv cut

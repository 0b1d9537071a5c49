"""Fuzz the interpreter with real syscall contexts: arch, syscall and a0-a3 from the tables.

The input chooses an architecture (every one of audit_heka/tables/syscalls.py, and
unknown ones), a syscall that architecture has -- most often one whose arguments have a
decoder -- and the four arguments, each either a value the decoders know (an enumeration
key, a flag bit, AT_FDCWD, a socketcall/ipc call...) or bytes from the input (hostile
text). Checked: the strict interpreter raises nothing, every value is text, and the message
builder ships the event without `interpret_error`. This is the bug class of issue 16: an
argument value missing from a table ended the daemon.
"""

from __future__ import annotations

from fuzz.harness import instrumented, run, text

with instrumented(__name__ == "__main__"):
    from audit_heka.core.events import Event
    from audit_heka.core.interpret import Interpreter
    from audit_heka.core.records import Record, parse_line
    from audit_heka.core.schema import INTERPRET_ERROR, MessageBuilder
    from audit_heka.tables.syscalls import ARCHES, SYSCALL_NUMBERS
    from audit_heka.tables.valuenames import ARG_KINDS, ENUMS, FLAGS, IPC_CALLS

USERS = {0: "root", 1000: "alice"}
GROUPS = {0: "root", 100: "users"}
ARCH_VALUES = [f"{value:x}" for value in ARCHES] + ["15", "c00000f3", "0", "zz", ""]
MACHINES = list(SYSCALL_NUMBERS)
# Values the decoders have names for, as the kernel writes them (hex).
KNOWN_VALUES = sorted({
    *(f"{key & 0xFFFFFFFFFFFFFFFF:x}" for table in ENUMS.values() for key in table),
    *(f"{bit:x}" for table in FLAGS.values() for bit, _ in table),
    *(f"{call:x}" for call in IPC_CALLS),
    "ffffffffffffff9c", "ffffff9c", "0", "1", "41", "241", "1b6", "ffffffffffffffff",
    "80000000", "7fffffff", "100000001",
})
INTERPRETER = Interpreter(USERS, GROUPS, machine="x86_64")
BUILDER = MessageBuilder(Interpreter(USERS, GROUPS, machine="x86_64"), hostname="fuzz")


def syscall_line(arch: str, syscall: str, args: list[str], serial: int = 1) -> str:
    return (f"type=SYSCALL msg=audit(1700000000.000:{serial}): arch={arch} syscall={syscall} "
            f"success=no exit=-22 a0={args[0]} a1={args[1]} a2={args[2]} a3={args[3]} "
            f'items=0 ppid=1 pid=2 auid=1000 uid=0 gid=0 comm="x" exe="/x" key="k"')


def check_line(line: str) -> None:
    """The checks: nothing raises, every interpretation is text, the message is clean."""
    record = parse_line(line)
    if not isinstance(record, Record):
        return  # a rejected line is the records target's business
    (result,) = INTERPRETER.interpret([record])  # strict: raises on any failure
    keys = {k for k, _ in record.fields}
    for key, value in result.items():
        assert key in keys, key
        assert isinstance(value, str) or all(isinstance(v, str) for v in value), value
    event = Event(None, record.serial, record.seconds, record.milliseconds, (record,))
    message = BUILDER.build(event)
    errors = [f.values for f in message.fields if f.name == INTERPRET_ERROR]
    assert not errors, errors


def decode(data: bytes) -> str:
    """Input bytes -> one SYSCALL line with a real (arch, syscall) and chosen a0-a3."""
    head = data[:7].ljust(7, b"\0")
    rest = text(data[7:]).replace("\n", " ")
    pieces = rest.split(" ")
    if head[0] < 224:
        machine = MACHINES[head[0] % len(MACHINES)]
        arch = f"{next(v for v, m in ARCHES.items() if m == machine):x}"
        names = SYSCALL_NUMBERS[machine]
        decoded = [n for n in ARG_KINDS if n in names]
        pool = decoded if head[1] < 192 and decoded else sorted(names)
        syscall = str(names[pool[(head[1] << 8 | head[2]) % len(pool)]])
    else:  # an unknown or hostile arch, any syscall number
        arch = ARCH_VALUES[head[0] % len(ARCH_VALUES)]
        syscall = str(head[1] << 8 | head[2]) if head[1] < 240 else pieces.pop() if pieces \
            else ""
    args = []
    for i in range(4):
        choice = head[3 + i]
        if choice < 128:
            args.append(KNOWN_VALUES[(choice * 7 + i) % len(KNOWN_VALUES)])
        elif choice < 224 and pieces:
            args.append(pieces.pop(0))  # hostile text from the input
        else:
            args.append(f"{choice:x}" * (1 + choice % 12))
    return syscall_line(arch, syscall, args)


def one_input(data: bytes) -> None:
    check_line(decode(data))


if __name__ == "__main__":
    run(one_input)

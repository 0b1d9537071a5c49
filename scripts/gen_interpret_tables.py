#!/usr/bin/python3
"""Generate the value tables behind audit_heka/core/interpret.py by asking libauparse itself.

Why probe instead of transcribing headers: `ausearch -i` is the oracle our interpretation must
agree with, and the only authoritative copy of its tables on this machine is the compiled
libauparse (python3-audit's `auparse` module, importable by Debian's /usr/bin/python3 only).
Feeding it synthetic records and reading `interpret_field()` back gives the exact names, the
exact order of flag names, the exact "unknown-..." texts and the exact choice of decoder for
every syscall argument of the installed version. Syscall names come from `ausyscall --dump`.

Usage:  /usr/bin/python3 scripts/gen_interpret_tables.py [--check] [OUTDIR]
With --check nothing is written; the exit status is 1 when a table file differs.
"""

from __future__ import annotations

import pprint
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import auparse  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parent.parent
OUTDIR = ROOT / "audit_heka" / "tables"
sys.path.insert(0, str(ROOT))

# The syscall tables (from ausyscall, scripts/gen_syscalls.py) say which architectures exist.
from audit_heka.tables.syscalls import ARCHES, SYSCALL_NUMBERS  # noqa: E402

ARCH_HEX = {machine: f"{value:x}" for value, machine in ARCHES.items()}

# Field names auparse might classify (typetab.h of audit-userspace, all versions, plus the
# names records commonly carry so that "no interpretation" is recorded as a fact too).
FIELD_CANDIDATES = """
auid uid euid suid fsuid ouid oauid old-auid iuid id inode_uid sauid obj_uid obj_gid gid egid
sgid fsgid ogid igid inode_gid new_gid syscall uring_op arch exit path comm exe file name
watch cwd cmd acct dir key vm old-chardev new-chardev old-disk new-disk old-fs new-fs old-net
new-net device cgroup perm perm_mask mode saddr flags prom old_prom capability res result
success a0 a1 a2 a3 sig list data ses cap_pi cap_pe cap_pp cap_pa cap_fi cap_fp cap_fe
cap_fver fp fi fe old_pp old_pi old_pe old_pa new_pp new_pi new_pe new_pa pp pi pe pa family
icmptype proto addr apparmor operation denied_mask info profile requested_mask per code
old-rng new-rng oflag ocomm sigev_signo subj obj scontext tcontext vm-ctx img-ctx proctitle
grp new_group hook action macproto invalid_context ioctlcmd resp sw root_dir nl-mcgrp resolve
subj_trust obj_trust fan_type fan_info errno tty pid ppid items item inode dev rdev ogid
nametype cap_frootid argc op hostname terminal msg exit_code old new audit_enabled audit_pid
old_enabled
""".split()  # noqa: SIM905 - a word list reads best as text

PROBE_VALUES = (  # noqa: SIM905
    "0 1 2 3 4 8 9 b f 11 20 29 41 64 80 100 107 241 800 1ed 81a4 1000 4000 80001 10000 "
    "ffffff9c fffffff7 7fffffff ffffffffffffffff"
).split()

# Decoder kinds of syscall arguments, each identified by one place where auparse uses it:
# (arch, syscall, argument index, context a0, context a1).
CANONICAL: dict[str, tuple[str, str, int, str, str]] = {
    "dirfd": ("x86_64", "openat", 0, "0", "0"),
    "clone": ("x86_64", "clone", 2, "0", "0"),
    "exit_status": ("x86_64", "exit", 0, "0", "0"),
    "clock": ("x86_64", "clock_settime", 0, "0", "0"),
    "personality": ("x86_64", "personality", 0, "0", "0"),
    "ptrace": ("x86_64", "ptrace", 0, "0", "0"),
    "prctl_opt": ("x86_64", "prctl", 0, "0", "0"),
    "rlimit": ("x86_64", "getrlimit", 0, "0", "0"),
    "uid": ("x86_64", "setuid", 0, "0", "0"),
    "gid": ("x86_64", "setgid", 0, "0", "0"),
    "socket_domain": ("x86_64", "socket", 0, "0", "0"),
    "socketcall": ("i386", "socketcall", 0, "0", "0"),
    "ipccall": ("i386", "ipc", 0, "0", "0"),
    "signal": ("x86_64", "kill", 1, "0", "0"),
    "mode_short": ("x86_64", "chmod", 1, "0", "0"),
    "mode": ("x86_64", "mknod", 1, "0", "0"),
    "fcntl_cmd": ("x86_64", "fcntl", 1, "0", "0"),
    "sock_level": ("x86_64", "setsockopt", 1, "0", "0"),
    "socket_type": ("x86_64", "socket", 1, "0", "0"),
    "sched": ("x86_64", "sched_setscheduler", 1, "0", "0"),
    "open_flags": ("x86_64", "open", 1, "0", "0"),
    "access": ("x86_64", "access", 1, "0", "0"),
    "epoll_ctl": ("x86_64", "epoll_ctl", 1, "0", "0"),
    "umount": ("x86_64", "umount2", 1, "0", "0"),
    "ioctl_req": ("x86_64", "ioctl", 1, "0", "0"),
    "socket_proto": ("x86_64", "socket", 2, "0", "0"),
    "recv": ("x86_64", "recvmsg", 2, "0", "0"),
    "shmflags": ("x86_64", "shmget", 2, "0", "0"),
    "prot_mmap": ("x86_64", "mmap", 2, "0", "0"),
    "prot": ("x86_64", "mprotect", 2, "0", "0"),
    "seek": ("x86_64", "lseek", 2, "0", "0"),
    "mmap": ("x86_64", "mmap", 3, "0", "0"),
    "mount": ("x86_64", "mount", 3, "0", "0"),
    "bpf": ("x86_64", "bpf", 0, "0", "0"),
    "ipoptname": ("x86_64", "setsockopt", 2, "0", "0"),
    "sockoptname": ("x86_64", "setsockopt", 2, "0", "1"),
    "tcpoptname": ("x86_64", "setsockopt", 2, "0", "6"),
    "udpoptname": ("x86_64", "setsockopt", 2, "0", "11"),
    "ip6optname": ("x86_64", "setsockopt", 2, "0", "29"),
    "pktoptname": ("x86_64", "setsockopt", 2, "0", "107"),
    "capability_hex": ("x86_64", "prctl", 1, "17", "0"),
}

# Arguments whose decoder depends on another argument's value; interpret.py decides these
# itself (the unit tests check each against auparse) so the blind probe skips them.
CONTEXTUAL = {
    ("fcntl", 2), ("fcntl64", 2), ("prctl", 1), ("open", 2), ("mq_open", 2),
    ("setsockopt", 2), ("getsockopt", 2),
}

# Value domains probed for enumerations (argument values are hex in records).
ENUM_RANGE = {
    "clock": 32, "personality": 0x100, "ptrace": 0x4300, "prctl_opt": 0x60, "rlimit": 32,
    "socket_domain": 64, "socketcall": 32, "ipccall": 32, "fcntl_cmd": 0x410,
    "socket_type": 16, "epoll_ctl": 8, "seek": 8, "bpf": 64, "ipoptname": 80,
    "sockoptname": 80, "tcpoptname": 48, "udpoptname": 0x70, "ip6optname": 90,
    "pktoptname": 32, "sched": 16, "socket_proto": 0x100, "exit_status": 8,
    "sock_level": 0x200,
}
# ioctl requests probed: the whole ranges of the request types auparse names (kd 'K',
# cdrom 'S', tty 'T', socket 0x89) and the few full 32-bit requests it knows (ioctlreqtab.h).
IOCTL_CANDIDATES = (
    *range(0x4B00, 0x4C00), *range(0x5300, 0x5500), *range(0x8900, 0x8A00),
    0x40045431, 0x80045430, 0x80045431, 0xC01C64A3, 0xC01864B0, 0xC01864B1,
)
# Numeric fields named from a table, and the base auparse reads them in (its print_* code).
FIELD_BASES = {"family": 10, "icmptype": 10, "proto": 10, "hook": 16, "action": 16,
               "nl-mcgrp": 16, "resp": 10, "macproto": 16}
FIELD_EXTRA = {"macproto": (0x0800, 0x0806, 0x86DD, 0x8100, 0x88A8)}  # EtherTypes
# Escape sequences of keys (tty_named_keys.h); single control bytes are probed apart.
TTY_SEQUENCES: tuple[bytes, ...] = (
    b"\x1b[A", b"\x1b[B", b"\x1b[C", b"\x1b[D", b"\x1bOP", b"\x1bOQ", b"\x1bOR", b"\x1bOS",
    b"\x1b[15~", b"\x1b[17~", b"\x1b[18~", b"\x1b[19~", b"\x1b[20~", b"\x1b[21~",
    b"\x1b[23~", b"\x1b[24~",
)
IPC_RANGE = 64  # ipc(2) calls are small numbers (SEMOP 1 .. SHMCTL 24)
FLAG_KINDS = ("clone", "open_flags", "access", "umount", "recv", "prot_mmap", "mmap", "mount")


def records(text: str) -> list[list[tuple[str, str]]]:
    """All records of the first event as [(field name, interpretation)]."""
    p = auparse.AuParser(auparse.AUSOURCE_BUFFER, text + "\n")
    out: list[list[tuple[str, str]]] = []
    if not p.parse_next_event():
        return out
    while True:
        rec: list[tuple[str, str]] = []
        while True:
            rec.append((p.get_field_name(), p.interpret_field()))
            if not p.next_field():
                break
        out.append(rec)
        if not p.next_record():
            break
    return out


def field(text: str, name: str) -> str:
    p = auparse.AuParser(auparse.AUSOURCE_BUFFER, text + "\n")
    p.parse_next_event()
    if not p.find_field(name):
        raise LookupError(f"{name} not in {text}")
    return str(p.interpret_field())


TABLES = SYSCALL_NUMBERS


def arg(arch: str, sysname: str, index: int, value: str, a0: str = "0", a1: str = "0") -> str:
    args = [a0, a1, "0", "0"]
    args[index] = value
    rec = (f"type=SYSCALL msg=audit(1.000:1): arch={ARCH_HEX[arch]} "
           f"syscall={TABLES[arch][sysname]} success=yes exit=0 a0={args[0]} a1={args[1]} "
           f"a2={args[2]} a3={args[3]} items=0 pid=1")
    return field(rec, f"a{index}")


def canonical(kind: str, value: str) -> str:
    arch, sysname, index, a0, a1 = CANONICAL[kind]
    return arg(arch, sysname, index, value, a0, a1)


def type_names() -> dict[int, str]:
    names: dict[int, str] = {}
    for attr in dir(auparse):
        if attr.startswith("AUPARSE_TYPE_"):
            names[getattr(auparse, attr)] = attr.removeprefix("AUPARSE_TYPE_").rstrip(",")
    # python3-audit 3.0.9 does not export AUPARSE_TYPE_A3; the C enum has it right after A2.
    names.setdefault(auparse.AUPARSE_TYPE_A2 + 1, "A3")
    return names


def field_types() -> dict[str, str]:
    names = type_names()
    out: dict[str, str] = {}
    for name in sorted(set(FIELD_CANDIDATES)):
        p = auparse.AuParser(auparse.AUSOURCE_BUFFER,
                             f"type=CWD msg=audit(1.000:1): {name}=1\n")
        p.parse_next_event()
        p.find_field(name)
        kind = names[p.get_field_type()]
        if kind != "UNCLASSIFIED":
            out[name] = kind
    return out


def errnos() -> dict[int, str]:
    """exit=-N texts that are not glibc's generic "(null)(Unknown error N)"."""
    out: dict[int, str] = {}
    for n in range(1, 4096):
        text = field(f"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=2 exit=-{n}",
                     "exit")
        if text != f"(null)(Unknown error {n})":
            out[n] = text
    return out


def enum(kind: str, limit: int) -> dict[int, str]:
    """Every value in range(limit) that auparse names (anything but its unknown-value text)."""
    unknown = template(kind)
    out: dict[int, str] = {}
    for n in range(limit):
        text = canonical(kind, f"{n:x}")
        if text != unknown.format(x=f"{n:x}", d=n):
            out[n] = text
    return out


def template(kind: str) -> str:
    """auparse's text for a value it cannot name: {x} where the hex value goes, {d} decimal."""
    for probe in ("fffff0", "fffff7", "fffe"):
        text = canonical(kind, probe)
        if probe in text:
            return text.replace(probe, "{x}")
        if str(int(probe, 16)) in text:
            return text.replace(str(int(probe, 16)), "{d}")
    if canonical(kind, "fffff1") == text:
        return text  # the same text for every unknown value
    raise ValueError(f"{kind}: no value in unknown text {text!r}")


def flags(kind: str, bits: Iterable[int], zero_name: str | None,
          base: int = 0) -> tuple[tuple[int, str], ...]:
    """Reconstruct an ordered (value, name) table: a name's value is every bit that prints it.

    `base`: bits probed again together with these, for names auparse prints only beside
    another one (PROT_SEM alone is PROT_NONE: auparse tests `prot & 7` first).
    """
    values: dict[str, int] = {}
    base_names = set(canonical(kind, f"{base:x}").split("|")) if base else set()
    for b in bits:
        found = set(canonical(kind, f"{1 << b:x}").split("|"))
        if base:
            found |= set(canonical(kind, f"{base | 1 << b:x}").split("|")) - base_names
        for name in sorted(found):
            if name == zero_name or name.startswith("0x"):
                continue
            values[name] = values.get(name, 0) | (1 << b)
    mask = 0
    for v in values.values():
        mask |= v
    order = [n for n in canonical(kind, f"{mask:x}").split("|") if n in values]
    missing = set(values) - set(order)
    if missing:
        raise ValueError(f"{kind}: {missing} missing from the all-bits text")
    return tuple((values[n], n) for n in order)


def simple(fieldname: str, values: Iterable[int], unknown: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for n in values:
        text = field(f"type=CWD msg=audit(1.000:1): {fieldname}={n}", fieldname)
        if text != unknown.format(n):
            out[n] = text
    return out


def field_numbers(name: str, base: int) -> tuple[dict[int, str], str]:
    """Texts of the values 0..255 of a numeric field (written in `base`), and the text of
    a value auparse cannot name, `{raw}` where the value's text goes."""
    rec = "type=CWD msg=audit(1.000:1): {}={}"
    probe = "65521" if base == 10 else "fff1"
    unknown = field(rec.format(name, probe), name).replace(probe, "{raw}")
    out: dict[int, str] = {}
    for n in (*range(256), *FIELD_EXTRA.get(name, ())):
        raw = str(n) if base == 10 else f"{n:x}"
        text = field(rec.format(name, raw), name)
        if text != unknown.format(raw=raw):
            out[n] = text
    return out, unknown


def field_flags(rtype: str, name: str, separator: str) -> tuple[tuple[int, str], ...]:
    """A flag field's (bit, name) table in auparse's order (PATH flags, openat2 resolve)."""
    values: list[tuple[int, str]] = []
    for b in range(32):
        text = field(f"type={rtype} msg=audit(1.000:1): {name}={1 << b:x}", name)
        if text and not text.startswith("0x") and text != "none":
            values.append((1 << b, text))
    mask = sum(bit for bit, _ in values)
    order = field(f"type={rtype} msg=audit(1.000:1): {name}={mask:x}", name).split(separator)
    by_name = {n: bit for bit, n in values}
    if set(order) != set(by_name):
        raise ValueError(f"{name}: all-bits text {order} differs from the single bits")
    return tuple((by_name[n], n) for n in order)


def tty_named_keys() -> tuple[tuple[bytes, str], ...]:
    """The key sequences TTY `data` names (`<ret>`, `<up>`), as auparse names them.

    Escape sequences first (tty_named_keys.h's candidates, kept when auparse names the
    whole sequence), then every single control byte auparse names: a lone ESC must not
    shadow the sequences it starts.
    """
    out: list[tuple[bytes, str]] = []
    singles = [bytes([c]) for c in (*range(0x20), *range(0x7F, 0xA0))]
    for seq in (*TTY_SEQUENCES, *singles):
        text = field(f"type=TTY msg=audit(1.000:1): data={seq.hex().upper()}", "data")
        if text.startswith("<") and text.endswith(">") and "," not in text:
            out.append((seq, text[1:-1]))
    return tuple(out)


def seccomp_actions() -> dict[int, str]:
    """SECCOMP code= actions, keyed by (code & SECCOMP_RET_ACTION) >> 16."""
    out: dict[int, str] = {}
    for action in range(0x8000):
        text = field(f"type=SECCOMP msg=audit(1.000:1): code={action << 16:x}", "code")
        if not text.startswith("unknown-"):
            out[action] = text
    return out


# (index in PROBE_VALUES, value): the cross-check of a name on the other architectures.
CHECK_VALUES = tuple((i, v) for i, v in enumerate(PROBE_VALUES) if v in ("1", "241", "ffffff9c"))


def ipc_calls() -> dict[int, str]:
    """ipc(2)'s call names, which ausearch prints as `syscall=ipc(semget)` from a0.

    auparse's Python binding does not see a0 when it interprets `syscall`, and ipc's a0
    has no decoder of its own, so this one table is read from ausearch's output.
    """
    lines = [f"type=SYSCALL msg=audit(1.000:{n + 1}): arch={ARCH_HEX['i386']} "
             f"syscall={TABLES['i386']['ipc']} success=yes exit=0 a0={n:x} a1=0 items=0 pid=1"
             for n in range(IPC_RANGE)]
    with tempfile.NamedTemporaryFile("w", suffix=".log") as log:
        log.write("\n".join(lines) + "\n")
        log.flush()
        out = subprocess.run(["ausearch", "-i", "-if", log.name], check=True,
                             capture_output=True, text=True,
                             env={"TZ": "UTC", "LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin"}
                             ).stdout
    names: dict[int, str] = {}
    for serial, name in re.findall(r":(\d+)\) : .*? syscall=ipc\((\w+)\)", out):
        names[int(serial) - 1] = name
    return dict(sorted(names.items()))


def fingerprint(arch: str, sysname: str, index: int) -> tuple[str, ...]:
    return tuple(arg(arch, sysname, index, v) for v in PROBE_VALUES)


def arg_kinds() -> tuple[dict[str, tuple[str | None, ...]], list[str]]:
    """Per syscall name, the decoder kind of a0..a3 (None: printed as 0x<hex>).

    auparse chooses an argument's decoder by the syscall's *name* (whatever the
    architecture numbers it), so each name is probed on the first architecture that has
    it and checked on every other one with a few values: a difference is reported.
    """
    known: dict[tuple[str, ...], str] = {}
    for kind, (_, _, _, a0, a1) in CANONICAL.items():
        if a0 == "0" and a1 == "0":
            known.setdefault(tuple(canonical(kind, v) for v in PROBE_VALUES), kind)
    hex_print = tuple(f"0x{v}" for v in PROBE_VALUES)
    kinds: dict[str, tuple[str | None, ...]] = {}
    unmatched: list[str] = []
    names = sorted({name for table in TABLES.values() for name in table})
    for name in names:
        arches = [arch for arch in TABLES if name in TABLES[arch]]
        row: list[str | None] = []
        for index in range(4):
            if (name, index) in CONTEXTUAL:
                row.append("contextual")
                continue
            fp = fingerprint(arches[0], name, index)
            for other in arches[1:]:
                if any(arg(other, name, index, v) != fp[i] for i, v in CHECK_VALUES):
                    unmatched.append(f"{other} {name} a{index}: differs from {arches[0]}")
            if fp == hex_print:
                row.append(None)
            elif fp in known:
                row.append(known[fp])
            else:
                row.append("unmatched")
                unmatched.append(f"{arches[0]} {name} a{index}: {fp}")
        if any(row):
            kinds[name] = tuple(row)
    return kinds, unmatched


def render(name: str, doc: str, assignments: dict[str, tuple[str, object]]) -> str:
    lines = [f'"""{doc}', "", "GENERATED by scripts/gen_interpret_tables.py from the installed",
             'libauparse; do not edit by hand (tests/test_interpret_tables.py checks it)."""', "",
             "from __future__ import annotations", ""]
    for var, (annotation, value) in assignments.items():
        body = pprint.pformat(value, width=96, sort_dicts=False)
        lines.append(f"{var}: {annotation} = (\n{body}\n)")
        lines.append("")
    return "\n".join(lines)


def build() -> dict[str, str]:
    caps = simple("capability", range(64), "unknown-capability({})")
    signals = simple("sig", range(65), "unknown-signal({})")
    enums = {kind: enum(kind, limit) for kind, limit in ENUM_RANGE.items()}
    templates = {kind: template(kind)
                 for kind in (*ENUM_RANGE, "signal", "capability_hex", "ioctl_req")}
    flag_tables = {
        "clone": flags("clone", range(8, 64), None),
        "open_flags": flags("open_flags", range(32), "O_RDONLY"),
        "access": flags("access", range(32), "F_OK"),
        "umount": flags("umount", range(32), None),
        "recv": flags("recv", range(32), None),
        "prot_mmap": flags("prot_mmap", range(32), "PROT_NONE", base=1),
        "mmap": flags("mmap", range(32), "MAP_FILE"),
        "mount": flags("mount", range(32), None),
    }
    kinds, unmatched = arg_kinds()
    ftypes = {}
    for t in range(16):
        text = field(f"type=CWD msg=audit(1.000:1): mode=0{t:o}0000", "mode")
        ftypes[t << 12] = text.split(",")[0]
    lists = simple("list", range(16), "unknown-list({})")
    values = {}
    unknowns = {}
    for name, base in FIELD_BASES.items():
        values[name], unknowns[name] = field_numbers(name, base)
    flag_tables["path_flags"] = field_flags("PATH", "flags", ",")
    flag_tables["resolve"] = field_flags("CWD", "resolve", "|")
    ioctl = {n: text for n in IOCTL_CANDIDATES
             if (text := canonical("ioctl_req", f"{n:x}")) != f"0x{n:x}"}
    enums["ioctl_req"] = ioctl
    if unmatched:
        print("unmatched argument decoders:\n  " + "\n  ".join(unmatched), file=sys.stderr)
    arches = {}
    for value in ARCH_HEX.values():  # every architecture of the syscall tables that has a name
        text = field(f"type=SYSCALL msg=audit(1.000:1): arch={value} syscall=0", "arch")
        if not text.startswith("unknown-elf-type("):
            arches[int(value, 16)] = text
    return {
        "fieldtypes.py": render(
            "fieldtypes", "auparse's field name -> value type (AUPARSE_TYPE_* without prefix).",
            {"FIELD_TYPES": ("dict[str, str]", field_types())}),
        "errnos.py": render(
            "errnos", "exit=-N as ausearch -i prints it, for every N not printed generically.",
            {"EXIT_TEXTS": ("dict[int, str]", errnos())}),
        "valuenames.py": render(
            "valuenames",
            "Names auparse gives to values: capabilities, signals, enumerations, flag sets,\n"
            "the text for unknown values, the decoder of every syscall argument, arch names.",
            {
                "CAPABILITIES": ("dict[int, str]", caps),
                "SIGNALS": ("dict[int, str]", signals),
                "ENUMS": ("dict[str, dict[int, str]]", enums),
                "UNKNOWN": ("dict[str, str]", templates),
                "FLAGS": ("dict[str, tuple[tuple[int, str], ...]]", flag_tables),
                "ARG_KINDS": ("dict[str, tuple[str | None, ...]]", kinds),
                "ARCH_NAMES": ("dict[int, str]", arches),
                "FILE_TYPES": ("dict[int, str]", ftypes),
                "IPC_CALLS": ("dict[int, str]", ipc_calls()),
                "TTY_NAMED_KEYS": ("tuple[tuple[bytes, str], ...]", tty_named_keys()),
                "LISTS": ("dict[int, str]", lists),
                "SECCOMP_ACTIONS": ("dict[int, str]", seccomp_actions()),
                "FIELD_NUMBERS": ("dict[str, dict[int, str]]", values),
                "FIELD_UNKNOWN": ("dict[str, str]", unknowns),
            }),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    rest = [a for a in argv if a != "--check"]
    outdir = Path(rest[0]) if rest else OUTDIR
    stale = 0
    for name, text in build().items():
        path = outdir / name
        if check:
            if not path.exists() or path.read_text() != text:
                print(f"stale: {path}", file=sys.stderr)
                stale = 1
        else:
            path.write_text(text)
            print(f"wrote {path}")
    return stale


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

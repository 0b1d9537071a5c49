"""One auditctl line -> a ``Command`` (sans-IO).

Why this exists: users already write rules for auditctl. This reads one
line with auditctl's getopt habits (``-Fx=y``, ``--opt=value``) into a
Command, refusing what auditctl refuses with a message naming the option.
What each ``-F`` field accepts is the table in fields.py; this module only
keeps the order-dependent state of one line (list before -F, arch before
-S, keys last).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from audit_heka.netlink.rules.commands import (
    AddRule,
    Command,
    ContinueOnError,
    DeleteAll,
    DeleteRule,
    ResetLost,
    Rule,
    RuleEnv,
    RuleError,
    RuleField,
    SetLoginuidImmutable,
    SetStatus,
)
from audit_heka.netlink.rules.fields import (
    EXCLUDE_EXTENDED,
    FIELD_RULES,
    FieldInput,
    c_int,
    perm_bits,
)
from audit_heka.netlink.rules.names import (
    ACTION_NAMES,
    ALL_MASK,
    COMPARE_PAIRS,
    FIELD_NAMES,
    LIST_NAMES,
    LIST_PRINT_NAMES,
    NO_SYSCALL_LISTS,
    OPERATORS,
)
from audit_heka.netlink.uapi import (
    AUDIT_BITMASK_SIZE,
    AUDIT_FILTER_PREPEND,
    AUDIT_KEY_SEPARATOR,
    AUDIT_MAX_FIELDS,
    AUDIT_MAX_KEY_LEN,
    PATH_MAX,
    Action,
    Feature,
    Field,
    Filter,
    Op,
)
from audit_heka.tables.syscalls import SYSCALL_NUMBERS


def split_pair(pair: str) -> tuple[str, Op, str]:
    """``name OP value`` -> its parts, looking for operators in auditctl's order."""
    for sym, op in OPERATORS:
        at = pair.find(sym)
        if at >= 0:
            name, value = pair[:at], pair[at + len(sym):]
            if not name:
                raise RuleError(f"-F {pair}: field name is missing")
            if not value:
                raise RuleError(f"-F {pair}: value is missing")
            return name, op, value
    raise RuleError(f"-F {pair}: no operator (one of = != < > <= >= & &=)")


@dataclass
class _Builder:
    """Accumulates one line's options in auditctl's order."""

    env: RuleEnv
    kind: str | None = None  # "add" or "delete"
    flags: int | None = None
    action: int | None = None
    mask: list[int] = field(default_factory=lambda: [0] * AUDIT_BITMASK_SIZE)
    fields: list[RuleField] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    machine: str | None = None
    syscall_added: bool = False
    keyable: bool = False  # a syscall, watch, perm, exe or fstype was given
    watch: bool = False

    def set_list(self, option: str, value: str) -> None:
        if self.kind is not None:
            raise RuleError(f"{option}: only one -a/-A/-d/-w/-W is allowed per rule")
        self.kind = "delete" if option in ("-d", "-W") else "add"
        parts = value.split(",")
        if len(parts) != 2:
            raise RuleError(f"{option} {value}: expected LIST,ACTION (e.g. always,exit)")
        lst = next((LIST_NAMES[p] for p in parts if p in LIST_NAMES), None)
        act = next((ACTION_NAMES[p] for p in parts if p in ACTION_NAMES), None)
        if "entry" in parts:
            raise RuleError("the entry list is deprecated; use exit")
        if "possible" in parts:
            raise RuleError("the possible action is deprecated; use always")
        if lst is None:
            raise RuleError(f"{option} {value}: unknown filter list (task exit user exclude"
                            " filesystem io_uring)")
        if act is None:
            raise RuleError(f"{option} {value}: unknown action (always or never)")
        self.flags = int(lst) | (AUDIT_FILTER_PREPEND if option == "-A" else 0)
        self.action = int(act)

    def add_watch(self, option: str, path: str) -> None:
        if self.kind is not None:
            raise RuleError(f"{option}: a watch cannot be combined with -a/-d")
        if not path.startswith("/"):
            raise RuleError(f"{option} {path}: the watch path must be absolute")
        trimmed = path.rstrip("/") or "/"
        if len(trimmed) > PATH_MAX:
            raise RuleError(f"{option}: path is longer than {PATH_MAX}")
        self.kind = "delete" if option == "-W" else "add"
        self.flags, self.action, self.watch = int(Filter.EXIT), int(Action.ALWAYS), True
        self.mask = list(ALL_MASK)
        kind = Field.DIR if self.env.is_dir(trimmed) else Field.WATCH
        self.fields.append(RuleField(int(kind), int(Op.EQUAL), len(trimmed.encode()), trimmed))
        self.fields.append(RuleField(int(Field.PERM), int(Op.EQUAL), 0xF))
        self.keyable = True

    def set_perm(self, perms: str) -> None:
        if not self.watch:
            raise RuleError("-p is only valid with a watch (-w/-W)")
        value = perm_bits(perms)
        self.fields = [
            replace(f, value=value) if f.field == Field.PERM else f for f in self.fields
        ]

    def add_syscalls(self, names: str) -> None:
        if self.watch:
            raise RuleError("-S cannot be used with a watch")
        machine = self.machine or self.env.machine
        for name in names.split(","):
            if not name:
                raise RuleError(f"-S {names}: empty syscall name")
            if name == "all":
                self.mask = list(ALL_MASK)
                continue
            nr = SYSCALL_NUMBERS.get(machine, {}).get(name)
            if nr is None:
                if not name[:1].isdigit():
                    raise RuleError(f"-S {name}: unknown syscall for {machine}")
                nr = c_int(name, f"-S {name}")
            if nr >= AUDIT_BITMASK_SIZE * 32:
                raise RuleError(f"-S {name}: syscall number {nr} is out of range")
            self.mask[nr // 32] |= 1 << (nr % 32)
        self.syscall_added = True
        self.keyable = True

    def add_compare(self, pair: str) -> None:
        if "!=" in pair:
            a, b, op = *pair.split("!=", 1), Op.NOT_EQUAL
        elif "=" in pair:
            a, b, op = *pair.split("=", 1), Op.EQUAL
        else:
            raise RuleError(f"-C {pair}: expected FIELD=FIELD or FIELD!=FIELD")
        fa, fb = FIELD_NAMES.get(a), FIELD_NAMES.get(b)
        if fa is None or fb is None:
            raise RuleError(f"-C {pair}: unknown field {a if fa is None else b!r}")
        if self.flags is None or self.flags & ~AUDIT_FILTER_PREPEND != Filter.EXIT:
            raise RuleError(f"-C {pair}: field comparisons are only valid on the exit list")
        cmp = COMPARE_PAIRS.get(frozenset((int(fa), int(fb))))
        if cmp is None:
            raise RuleError(f"-C {pair}: {a} and {b} cannot be compared")
        self._append(RuleField(int(Field.FIELD_COMPARE), int(op), int(cmp)))

    def _append(self, f: RuleField) -> None:
        if len(self.fields) >= AUDIT_MAX_FIELDS - 1:
            raise RuleError(f"too many fields (the kernel allows {AUDIT_MAX_FIELDS - 1})")
        self.fields.append(f)

    def add_field(self, pair: str) -> None:
        if self.flags is None:
            raise RuleError(f"-F {pair}: give -a/-A/-d (the list) before -F")
        name, op, text = split_pair(pair)
        if name == "key":
            self.keys.append(text)
            return
        fid = FIELD_NAMES.get(name)
        if fid is None:
            raise RuleError(f"-F {pair}: unknown field {name!r}")
        lst = self.flags & ~AUDIT_FILTER_PREPEND
        where = f"-F {pair}"
        if lst == Filter.EXCLUDE:
            if not self.env.features & Feature.EXCLUDE_EXTEND:
                if fid != Field.MSGTYPE:
                    raise RuleError(f"{where}: only msgtype is allowed on the exclude list")
            elif fid not in EXCLUDE_EXTENDED:
                raise RuleError(
                    f"{where}: only msgtype, pid, uid, gid, auid, exe and subj_* fields can be"
                    " used with the exclude list"
                )
        row = FIELD_RULES[fid]
        row.check(name, where, lst, op, self.env, self.syscall_added)
        parsed = row.parse(FieldInput(text, name, where, self.env))
        if parsed.machine is not None:
            self.machine = parsed.machine
        self.keyable = self.keyable or row.keyable
        self._append(RuleField(int(fid), int(op), parsed.value, parsed.text))

    def finish(self) -> AddRule | DeleteRule:
        assert self.flags is not None and self.action is not None
        lst = self.flags & ~AUDIT_FILTER_PREPEND
        if self.syscall_added and lst in NO_SYSCALL_LISTS:
            raise RuleError(f"-S is not allowed on the {LIST_PRINT_NAMES[lst]} list")
        if not self.syscall_added and lst != Filter.TASK and not self.watch:
            self.mask = list(ALL_MASK)
        for k in self.keys:
            # auditctl adds keys as "key=VALUE" through its -F parser, which
            # looks for "!=" ">=" "<=" "&=" before "=": such keys mis-split.
            if split_pair(f"key={k}")[:2] != ("key", Op.EQUAL):
                raise RuleError(f"key {k!r} contains an operator (!= >= <= &=), which auditctl"
                                " cannot load")
        if self.keys:
            if not self.keyable:
                raise RuleError("a key needs a syscall, watch, perm, exe or fstype before it")
            key = AUDIT_KEY_SEPARATOR.join(self.keys)
            if len(key.encode()) > AUDIT_MAX_KEY_LEN:
                raise RuleError(f"key is longer than {AUDIT_MAX_KEY_LEN} bytes")
            self._append(RuleField(int(Field.FILTERKEY), int(Op.EQUAL), len(key.encode()), key))
        rule = Rule(self.flags, self.action, tuple(self.mask), tuple(self.fields))
        return AddRule(rule) if self.kind == "add" else DeleteRule(rule)


#: Options that set the kernel's status: (field of audit_status, largest value).
STATUS_OPTIONS: dict[str, tuple[str, int | None]] = {
    "-e": ("enabled", 2), "-f": ("failure", 2), "-r": ("rate_limit", None),
    "-b": ("backlog_limit", None), "--backlog_wait_time": ("backlog_wait_time", None),
}
_TAKES_VALUE = {"-a", "-A", "-d", "-w", "-W", "-p", "-k", "-S", "-F", "-C", *STATUS_OPTIONS}
_NOT_IN_FILES = {"-l", "-s", "-R", "-m", "-t", "-q", "-h", "-v", "--signal", "--help"}


def _words(line: str) -> list[str]:
    # getopt also takes "-Fx=y"; split attached short-option values.
    args: list[str] = []
    for w in line.split():
        if len(w) > 2 and w[0] == "-" and w[1] != "-" and w[:2] in _TAKES_VALUE:
            args += [w[:2], w[2:]]
        elif w.startswith("--") and "=" in w:
            args += w.split("=", 1)
        else:
            args.append(w)
    return args


def parse_line(line: str, env: RuleEnv | None = None) -> Command | None:
    """One auditctl line -> a Command, or None for a blank/comment line.

    Raises RuleError with a message naming the offending option.
    """
    env = env or RuleEnv()
    words = line.split()
    if not words or words[0].startswith("#"):
        return None
    args = _words(line)
    b = _Builder(env)
    status: list[tuple[str, int]] = []
    other: list[Command] = []
    delete_all = False
    i = 0
    while i < len(args):
        opt = args[i]
        if opt in _TAKES_VALUE:
            if i + 1 >= len(args):
                raise RuleError(f"option {opt} needs a value")
            val = args[i + 1]
            i += 2
        else:
            val = ""
            i += 1
        if opt in ("-a", "-A", "-d"):
            b.set_list(opt, val)
        elif opt in ("-w", "-W"):
            b.add_watch(opt, val)
        elif opt == "-p":
            b.set_perm(val)
        elif opt == "-k":
            b.keys.append(val)
        elif opt == "-S":
            b.add_syscalls(val)
        elif opt == "-F":
            b.add_field(val)
        elif opt == "-C":
            b.add_compare(val)
        elif opt in STATUS_OPTIONS:
            name, top = STATUS_OPTIONS[opt]
            number = c_int(val, opt, signed=False)
            if top is not None and number > top:
                raise RuleError(f"{opt} {val}: must be 0..{top}")
            status.append((name, number))
        elif opt == "-D":
            delete_all = True
        elif opt in ("--reset-lost", "--reset_lost"):
            other.append(ResetLost())
        elif opt == "--loginuid-immutable":
            other.append(SetLoginuidImmutable())
        elif opt in ("-c", "-i"):
            other.append(ContinueOnError())
        elif opt in _NOT_IN_FILES:
            raise RuleError(f"option {opt} is not a rule (it is not accepted here)")
        else:
            raise RuleError(f"unknown option {opt!r}")
    kinds = sum(bool(x) for x in (b.kind, status, delete_all, other))
    if kinds > 1:
        raise RuleError("put each rule or control option on a line of its own")
    if delete_all:
        if b.fields or b.syscall_added:
            raise RuleError("-D takes only -k")
        return DeleteAll(AUDIT_KEY_SEPARATOR.join(b.keys) or None)
    if status:
        return SetStatus(tuple(status))
    if other:
        if len(other) > 1:
            raise RuleError("put each control option on a line of its own")
        return other[0]
    if b.kind is None:
        if b.keys or b.fields or b.syscall_added:
            raise RuleError("a rule needs -a/-A/-d LIST,ACTION or -w/-W PATH")
        raise RuleError(f"nothing to do in {line.strip()!r}")
    return b.finish()

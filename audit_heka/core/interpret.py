"""What `ausearch -i` prints for each field of an audit event, computed without I/O.

Why a reimplementation: operators already read `ausearch -i` and index its words; the Heka
message carries the same text in `<key>_i` fields so that searches keep working without
libauparse on the receiving side. Every decision below mirrors libauparse 3.0.9 (Debian 12),
the version the agreement tests compare against, including its quirks (C `strtoul` parsing,
hex strings cut at the first NUL, `unknown-...(...)` texts). The value tables are generated
from that library by scripts/gen_interpret_tables.py; the user and group names are handed in
(see accounts.py) so the interpreter itself never touches the file system.
"""

from __future__ import annotations

import re
from operator import itemgetter

from audit_heka.tables.errnos import EXIT_TEXTS
from audit_heka.tables.fieldtypes import FIELD_TYPES
from audit_heka.tables.syscalls import ARCHES, SYSCALLS
from audit_heka.tables.valuenames import (
    ARCH_NAMES,
    ARG_KINDS,
    CAPABILITIES,
    ENUMS,
    FIELD_NUMBERS,
    FIELD_UNKNOWN,
    FILE_TYPES,
    FLAGS,
    IPC_CALLS,
    LISTS,
    SECCOMP_ACTIONS,
    SIGNALS,
    TTY_NAMED_KEYS,
    UNKNOWN,
)

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from audit_heka.core.protocols import RecordLike

Interpreted = dict[str, str | list[str]]

# Record types whose fields auparse types differently from the name-based table.
SYSCALL = 1300
PATH = 1302
MQ_OPEN = 1312
EXECVE = 1309
KERN_MODULE = 1330
NETFILTER_PKT = 1324
USER_TTY = 1124
ADD_GROUP = 1116
DEL_GROUP = 1117
GRP_MGMT = 1132
AVC = 1400
CRYPTO_KEY_USER = 2404

UNSET32 = 0xFFFFFFFF
ULONG_MAX = (1 << 64) - 1
O_CREAT = 0o100
F_SETFD = 2
F_SETOWN = 8
FD_CLOEXEC = 1
PR_SET_PDEATHSIG = 1
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
SOCKOPT_LEVELS = {0: "ipoptname", 1: "sockoptname", 6: "tcpoptname", 17: "udpoptname",
                  41: "ip6optname", 263: "pktoptname"}
SCHED_RESET_ON_FORK = 0x40000000
ADDR_NO_RANDOMIZE = 0x0040000
PER_MASK = 0xFF
SECCOMP_RET_ACTION = 0x7FFF0000
CAP_LAST_CAP = max(CAPABILITIES)
SOCK_FAMILY_NAMES = ENUMS["socket_domain"]
MAX_ERRNO_TEXT = 4095
SOCKADDR_UN_MIN = 4  # a shorter AF_LOCAL saddr is "sockaddr len too short" in auparse
# argv never has more entries than this, whatever argc or aN say (a hostile argc=4294967295
# made a 4-billion-entry list; found by tests/test_fuzz.py). A real execve cannot pass more:
# ARG_MAX is 2 MiB under the default 8 MiB stack limit, and each argument costs a pointer.
MAX_ARGV = 1 << 18
_ARGV_DIGITS = len(str(MAX_ARGV)) - 1  # an aN of at most this many digits is below MAX_ARGV
_NAME_OF = itemgetter(0)  # of a (key, value) pair: for map(), in C
# Fields of an exec from which argv is read in lists (argv_in_order); below, the
# general loop is as fast. (The kernel splits an EXECVE of more than ~7.5 KB in records.)
MANY_ARGUMENTS = 32
#: The names a0, a1, ... kept made for is_argument_run, up to this many (4 MiB at most;
#: an argument past them has its name made at each check).
ARGUMENT_NAMES_KEPT = 1 << 16
_ARGUMENT_NAMES: list[str] = []
_VALUE_OF = itemgetter(1)


def is_argument_run(fields: Sequence[tuple[str, str]], first: int) -> bool:
    """Whether ``fields`` are the arguments a<first>, a<first + 1>, ... in order, as the
    kernel writes an EXECVE record. Checked as two lists compared in C: one user can put
    100,000 arguments in one exec, and a check per key costs more than the rest."""
    end = first + len(fields)
    if end > len(_ARGUMENT_NAMES) and end <= ARGUMENT_NAMES_KEPT:
        _ARGUMENT_NAMES.extend(map("a%d".__mod__, range(len(_ARGUMENT_NAMES), end)))
    names = (_ARGUMENT_NAMES[first:end] if end <= len(_ARGUMENT_NAMES)
             else list(map("a%d".__mod__, range(first, end))))
    return list(map(_NAME_OF, fields)) == names


def reassembled(executions: Sequence[tuple[tuple[str, str], ...]]) -> list[str]:
    """argv from the fields of EXECVE records in whatever form (aN, aN_len, aN[i] chunks,
    in any order), as auparse reassembles it: the general way of Interpreter.argv_of."""
    whole: dict[int, str] = {}
    chunks: dict[int, dict[int, str]] = {}
    argc = 0
    for fields in executions:
        for name, raw in fields:
            digits = name[1:]  # (aN first, inline: an event may hold 100,000 of them)
            if (len(digits) <= _ARGV_DIGITS and name[:1] == "a" and digits.isdigit()
                    and digits.isascii()):
                whole[int(digits)] = raw
                continue
            if name == "argc":
                argc = max(argc, _int_or(raw, 0))
                continue
            if not name.startswith("a") or name.endswith("_len"):
                continue
            text, _, chunk = digits.partition("[")
            index = argv_index(text)
            if index is None:
                continue
            if chunk:
                number = argv_index(chunk.rstrip("]"))
                if number is not None:
                    chunks.setdefault(index, {})[number] = raw
            else:
                whole[index] = raw
    count = min(MAX_ARGV, max(argc, max(whole, default=-1) + 1, max(chunks, default=-1) + 1))
    out: list[str] = []
    for i in range(count):
        got = chunks.get(i)
        if got is not None:
            data = b"".join([_argbytes(got[n]) for n in sorted(got)])
        else:
            value = whole.get(i)
            out.append("" if value is None else argument_text(value))
            continue
        out.append(data.decode("utf-8", "backslashreplace"))
    return out


def argument_text(value: str) -> str:
    """A whole argument's text: quoted ASCII as written, anything else its bytes decoded."""
    if len(value) > 1 and value[0] == '"' == value[-1] and value.isascii():
        return value[1:-1]  # (what the bytes' round trip gives ASCII)
    return _argbytes(value).decode("utf-8", "backslashreplace")


def argv_is_values(fields: Sequence[tuple[str, str]]) -> bool:
    """Whether the argv of an exec whose one EXECVE record has these fields is their
    values in order, each read by :func:`argument_text` (then as many empty arguments
    as an argc above their number says): argc first, then a0, a1, ... -- the kernel's
    record of a command line that fits one.

    Why: a build's next command line is the last one but for its file names; the hot
    path then makes its argv from the last one's by the arguments that changed
    (audit_heka.core.hotpath), rather than reading all of them again."""
    return (bool(fields) and fields[0][0] == "argc" and len(fields) <= MAX_ARGV
            and is_argument_run(fields[1:], 0))


def argv_in_order(executions: Sequence[tuple[tuple[str, str], ...]]) -> list[str] | None:
    """argv, for EXECVE records as the kernel writes them (each an optional argc, then the
    next arguments in order, a0 first; no aN_len, no chunks); None for any other.

    Why: the general reassembly reads each key as a number and looks each index up,
    ~0.4 us an argument. This takes the values as they come, and the quoted ASCII
    ones (the kernel's for any argument without a space, quote or control character)
    in one split rather than one slice each.
    """
    values: list[str] = []
    argc = 0
    for written in executions:
        fields = written
        if fields and fields[0][0] == "argc":
            argc = max(argc, _int_or(fields[0][1], 0))
            fields = fields[1:]
        if not is_argument_run(fields, len(values)):
            return None
        values += map(_VALUE_OF, fields)
    count = min(MAX_ARGV, max(argc, len(values)))
    del values[count:]
    out = _unquoted(values)
    if out is None:
        out = list(map(argument_text, values))
    if count > len(out):
        out += [""] * (count - len(out))
    return out


def _unquoted(values: list[str]) -> list[str] | None:
    """Each value without its quotes, when each is ``"..."`` of ASCII with no quote inside;
    None otherwise.

    The values joined read ``"v1""v2""v3"``: with 2n quotes in all, the inside split
    at ``""`` gives n parts with no quote left, and each value is two longer than its
    part exactly when the values' borders are where the parts' are.
    """
    joined = "".join(values)
    n = len(values)
    if not n or not joined.isascii() or joined.count('"') != 2 * n or (
            joined[0] != '"' or joined[-1] != '"'):
        return None
    parts = joined[1:-1].split('""')
    if len(parts) != n or list(map(len, values)) != list(map((2).__add__, map(len, parts))):
        return None
    return parts


class ConversionError(ValueError):
    """A number libc's strtoul/strtol would refuse (ERANGE); auparse prints it as such."""


def strtoul(text: str, base: int) -> int:
    """C strtoul: leading space, sign, longest digit prefix; 0 when there is none.

    Negative numbers wrap modulo 2**64 as in C; values past ULONG_MAX raise ConversionError.
    """
    # len: int() refuses > 4300 decimal digits (ValueError); longer texts take the loop.
    if text.isascii() and len(text) <= 64 and (
            text.isdigit() if base == 10 else _all_hex(text, base)):
        value = int(text, base)  # the common case: nothing but digits
        if value > ULONG_MAX:
            raise ConversionError(text)
        return value
    s = text.lstrip(" \t\n\v\f\r")
    negative = False
    if s[:1] in ("+", "-"):
        negative = s[0] == "-"
        s = s[1:]
    if base == 16 and s[:2].lower() == "0x" and len(s) > 2 and _digit(s[2], 16):
        s = s[2:]
    value = 0
    for ch in s:
        d = _digit(ch, base)
        if d is None:
            break
        value = value * base + d
        if value > ULONG_MAX:  # ERANGE already: stop before a huge number costs time
            raise ConversionError(text)
    return (-value) & ULONG_MAX if negative else value


def strtol(text: str, base: int) -> int:
    """C strtol (64-bit long), ERANGE as ConversionError."""
    s = text.lstrip(" \t\n\v\f\r")
    sign = -1 if s[:1] == "-" else 1
    magnitude = strtoul(s.lstrip("+-") if s[:1] in "+-" else s, base) if s else 0
    value = sign * magnitude
    if not -(1 << 63) <= value < (1 << 63):
        raise ConversionError(text)
    return value


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _all_hex(text: str, base: int) -> bool:
    """Only hex digits (base 16) -- what int(text, 16) reads exactly as strtoul does."""
    return base == 16 and bool(text) and _HEX_DIGITS.issuperset(text)


def _digit(ch: str, base: int) -> int | None:
    if "0" <= ch <= "9":
        d = ord(ch) - 48
    elif ch.isascii() and "a" <= ch.lower() <= "z":  # "İ".lower() is 2 characters
        d = ord(ch.lower()) - 87
    else:
        return None
    return d if d < base else None


def _id_text(raw: str, base: int, names: Mapping[int, str]) -> str:
    """A uid's or gid's text as auparse prints it: the name, ``unset`` or ``unknown(N)``."""
    value = strtoul(raw, base) & UNSET32
    if value == UNSET32:
        return "unset"
    name = names.get(value)
    return name if name is not None else f"unknown({_int32(value)})"


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


#: The leading hex digits of a value (a regex: proctitle and execve values run to
#: kilobytes, a loop over their characters cost ~0.4 ms each).
_LEADING_HEX = re.compile(r"[0-9a-fA-F]*")
#: The bytes AUPARSE_ESC_TTY escapes.
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f]")
_CONTROL_BYTE_SET = bytes(range(0x20))


def unhex(text: str) -> bytes | None:
    """Auparse's au_unescape: the leading hex digits as bytes, a missing nibble as 0.

    None when there are fewer than two digits (auparse then prints the value as it is).
    """
    if len(text) >= 2 and not len(text) % 2:
        try:  # the common case, all of it hex: bytes.fromhex alone, no scan
            data = bytes.fromhex(text)
        except ValueError:
            pass
        else:
            if len(data) * 2 == len(text):  # (fromhex skips whitespace; hex has none)
                return data
    match = _LEADING_HEX.match(text)
    digits = match.group() if match else ""
    if len(digits) < 2:
        return None
    if len(digits) % 2:
        digits += "0"
    return bytes.fromhex(digits)


def _cstr(data: bytes) -> bytes:
    """A C string ends at its first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def tty_escape(data: bytes) -> str:
    """AUPARSE_ESC_TTY, the default of ausearch: control bytes (< 32) become \\ooo."""
    if len(data.translate(None, _CONTROL_BYTE_SET)) == len(data):  # a C loop, no scan
        return data.decode("utf-8", "backslashreplace")
    out = _CONTROL_BYTES.sub(lambda m: b"\\%03o" % m[0][0], data)
    return out.decode("utf-8", "backslashreplace")


def escaped(raw: str) -> bytes:
    """The bytes of a string field: quoted text, hex, `00`+hex (abstract socket), or raw."""
    if raw.startswith('"'):
        end = raw.find('"', 1)
        return b" " if end < 0 else raw[1:end].encode("utf-8", "surrogateescape")
    if raw.startswith("("):
        return raw.encode()  # "(null)" from the kernel
    data = unhex(raw.removeprefix("00"))
    if data is None:
        return raw.encode("utf-8", "surrogateescape")
    return _cstr(data)


def proctitle(raw: str) -> bytes:
    """proctitle: like other strings, but the NUL separators of argv become spaces.

    auparse replaces the NULs among the first strlen(raw) / 2 bytes, then prints a C string:
    the decoded bytes end with a NUL of their own (an odd last nibble is a byte too).
    """
    if raw.startswith('"'):
        return escaped(raw)
    data = unhex(raw)
    if data is None:
        return raw.encode("utf-8", "surrogateescape")
    size = len(raw.encode("utf-8", "surrogateescape")) // 2
    data += bytes(max(0, size + 1 - len(data)))
    return _cstr(data[:size].replace(b"\0", b" ") + data[size:])


def _conv(raw: str) -> str:
    return f"conversion error({raw})"


class Interpreter:
    """Field interpretations for the records of one event, as `ausearch -i` shows them.

    `users`/`groups` map ids to names (the originating host's, for a local daemon the
    local /etc/passwd and /etc/group); `machine` is the host architecture auparse falls
    back to for a syscall number without a known arch (``os.uname().machine``, which
    the daemon and replay pass in: the core reads nothing of its host). None: no
    fallback, such a syscall is named by its number (``unknown-syscall(N)``).
    """

    def __init__(self, users: Mapping[int, str], groups: Mapping[int, str],
                 machine: str | None = None) -> None:
        self.users = users
        self.groups = groups
        self.machine = machine
        # Memos (bounded: cleared when full, so memory stays flat). Audit values
        # repeat a lot -- the same uids, exe, comm, cwd, key, proctitle -- and
        # their texts depend only on (kind, raw) for every kind but the
        # context ones; a field's kind depends only on (record type, name).
        self._kinds: dict[tuple[int, str], str | None] = {}
        self._texts: dict[tuple[str, str], str | None] = {}
        self._ids: dict[str, int] = {}  # decimal id texts read (known_name)
        #: Grows at every forget_names(): memos of interpreted texts kept elsewhere
        #: (the hot path's: core.hotpath, line_entries, record_entries) are dropped when it moves.
        self.names_generation = 0
        self._last_context: tuple[RecordLike, CallContext] | None = None  # see _context_of

    # ----- public -------------------------------------------------------------------

    def interpret(self, records: Sequence[RecordLike]) -> list[Interpreted]:
        return [self.record(r) for r in records]

    def interpret_checked(self, records: Sequence[RecordLike]
                          ) -> tuple[list[Interpreted], list[str]]:
        """interpret(), plus what failed: one `<record type> <key>: <exception>` per value.

        A value whose interpretation raises (a bug: a table without an entry, a decoder
        meeting an input it did not expect) is left without interpretation, never allowed
        to take the other values, the event or the daemon with it.
        """
        errors: list[str] = []
        return [self.record(r, errors) for r in records], errors

    def record(self, record: RecordLike, errors: list[str] | None = None) -> Interpreted:
        """One record's interpretations: only keys whose type has an interpretation.

        A value whose interpretation raises is skipped (raw only) and described in
        `errors` when given; without `errors` the exception propagates.
        """
        rtype = record.type
        ctx: CallContext | None = None  # built on first need: only SYSCALL records need it
        enriched = dict(reversed(record.enriched)) if record.enriched else None
        out: Interpreted = {}
        raw_only = _user_tty_message_keys(record) if rtype == USER_TTY else None
        for name, raw in record.fields:
            if raw_only and name in raw_only and name not in out:
                continue
            try:
                kind = self.kind(rtype, name, raw)
                if kind is None:
                    continue
                if enriched is not None:
                    resolved = enriched.get(name.upper())
                    if resolved is not None and name not in out:
                        # ENRICHED logs carry the originating host's names; auparse prefers them.
                        out[name] = enriched_text(resolved)
                        continue
                if kind == "ESCAPED_KEY":
                    parts = self.key_parts(raw)
                    previous = out.get(name)
                    if isinstance(previous, list):
                        previous.extend(parts)
                    else:
                        out[name] = parts
                    continue
                if name in out:
                    continue  # auparse's find_field and the message scheme see the first one
                if kind in CONTEXT_KINDS:
                    if ctx is None:
                        ctx = CallContext.of(record.fields, self.machine)
                    text = self.value(kind, raw, ctx)
                else:
                    text = self.plain(kind, raw)
                if text is not None:
                    out[name] = text
            except Exception as exc:  # any bug, contained to this value
                if errors is None:
                    raise  # interpret(): strict, for tests and fuzzing
                errors.append(error_text(f"{record.type_name} {name}", exc))
        return out

    def kind(self, rtype: int, name: str, raw: str) -> str | None:
        """:func:`field_type`, memoised: a kind depends on (record type, name) only, but
        for ``acct``, whose kind depends on its value (KIND_BY_VALUE)."""
        if name in KIND_BY_VALUE:
            return field_type(rtype, name, raw)
        if rtype == EXECVE:  # (field_type's first rule: not memoised, 100,000 arguments
            return field_type(rtype, name, raw)  # would flush the memo of every other kind)
        kinds = self._kinds
        kind = kinds.get((rtype, name), _UNKNOWN_KIND)
        if kind is _UNKNOWN_KIND:
            if len(kinds) >= MEMO_SIZE:
                kinds.clear()
            kind = kinds[(rtype, name)] = field_type(rtype, name, raw)
        return kind

    def plain(self, kind: str, raw: str) -> str | None:
        """The text of a field whose kind needs no other field of its record, memoised."""
        texts = self._texts
        text = texts.get((kind, raw), _UNKNOWN_KIND)
        if text is _UNKNOWN_KIND:
            if len(texts) >= MEMO_SIZE:
                texts.clear()
            text = self.value(kind, raw, _NO_CONTEXT)
            # An unknown id may be an account created since: ask again next time.
            if len(raw) <= MEMO_TEXT_MAX and (
                    kind not in _NAME_KINDS or not text or not text.startswith("unknown(")):
                texts[(kind, raw)] = text
        return text

    def field_text(self, record: RecordLike, name: str, raw: str,
                   enriched: Mapping[str, str] | None) -> str | list[str] | None:
        """What :meth:`record` gives the field ``name`` of a record that has every key
        once and is no USER_TTY (``enriched``: its ENRICHED pairs, first occurrence per
        key, or None); exceptions propagate.

        For the bytes-first hot path (audit_heka.core.hotpath), which interprets one field
        at a time and memoises the result; :meth:`record` makes the same decisions.
        """
        kind = self.kind(record.type, name, raw)
        if kind is None:
            return None
        if enriched is not None:
            resolved = enriched.get(name.upper())
            if resolved is not None:
                return enriched_text(resolved)
        return self.kind_text(record, kind, raw)

    def kind_text(self, record: RecordLike, kind: str, raw: str) -> str | list[str] | None:
        """:meth:`field_text` of a field whose kind (not None) the caller knows, without
        ENRICHED pairs."""
        if kind in CONTEXT_KINDS:
            return self.text_in(self._context_of(record), kind, raw)
        return self.own_text(kind, raw)

    def text_in(self, context: CallContext, kind: str, raw: str) -> str | list[str] | None:
        """:meth:`kind_text` of a field of a record whose :meth:`call_context` the caller
        kept: a record patched from another of the same call and arguments
        (audit_heka.core.line_entries) is not read again for it."""
        if kind in CONTEXT_KINDS:
            if kind in context.hex_args:  # (a new pointer at every call: asked each time)
                return "0x" + raw
            return self.value(kind, raw, context)
        return self.own_text(kind, raw)

    def own_text(self, kind: str, raw: str) -> str | list[str] | None:
        """The text of a field whose kind reads no other field of its record."""
        if kind == "ESCAPED_KEY":
            return self.key_parts(raw)
        return self.plain(kind, raw)

    def context_key(self, record: RecordLike) -> tuple[str | int | None, ...]:
        """What the texts of a record's SYSCALL and a0-a3 fields (CONTEXT_KINDS) depend
        on besides their own values: the machine and the syscall's name, and a0 and a1
        for the calls whose texts read them (socketcall and ipc name the call by a0;
        fcntl, prctl, open, mq_open, setsockopt and getsockopt decode an argument by a0
        or a1: _contextual). A caller memoising those texts keys them with it."""
        ctx = self._context_of(record)
        if ctx.reads_arguments:
            return (ctx.machine, ctx.sysname, ctx.a0, ctx.a1)
        return (ctx.machine, ctx.sysname)

    def call_context(self, fields: tuple[tuple[str, str], ...]) -> CallContext:
        """What the texts of a record's CONTEXT_KINDS read of its other ``fields`` (see
        :meth:`context_key`): the same for every record of its call (arch, syscall)
        and, for the calls that read them (CallContext.reads_arguments), of its a0 and a1."""
        return CallContext.of(fields, self.machine)

    def _context_of(self, record: RecordLike) -> CallContext:
        """The record's context, kept for the next call about the same record (the hot
        path asks for several fields of one record, one at a time)."""
        last = self._last_context
        if last is not None and last[0] is record:
            return last[1]
        ctx = CallContext.of(record.fields, self.machine)
        self._last_context = (record, ctx)
        return ctx

    def known_name(self, kind: str, raw: str) -> str | None:
        """The name a UID or GID field's id (decimal ``raw``) has now, if any: the
        question uid() and gid() ask their map, for a caller that keeps their text
        and asks again (audit_heka.core.hotpath: an unknown id may be created since).

        Asked at every use of an unknown id (an account may be created since, and
        the map -- a plain dict, or accounts.AccountNames, which re-reads its file
        -- is the only one to know): so only the map's own look-up is paid each
        time, the id read from its text once (an unknown id's text repeats)."""
        ids = self._ids
        number = ids.get(raw)
        if number is None:
            if len(ids) >= MEMO_SIZE:
                ids.clear()
            number = ids[raw] = strtoul(raw, 10) & UNSET32
        return (self.users if kind == "UID" else self.groups).get(number)

    def forget_names(self) -> None:
        """The user or group names changed: drop the memoised uid/gid texts."""
        self._texts.clear()
        self.names_generation += 1

    def argv(self, records: Sequence[RecordLike]) -> list[str]:
        """EXECVE arguments reassembled from aN, aN_len and aN[i] across EXECVE records."""
        return self.argv_of([r.fields for r in records if r.type == EXECVE])

    def argv_of(self, executions: Sequence[tuple[tuple[str, str], ...]]) -> list[str]:
        """:meth:`argv` from the fields of the event's EXECVE records, in order (the hot
        path has those of its entries, not the records)."""
        if len(executions) > 1 or (executions and len(executions[0]) > MANY_ARGUMENTS):
            values = argv_in_order(executions)
            if values is not None:
                return values
        return reassembled(executions)

    def key_parts(self, raw: str) -> list[str]:
        """`key`: several rule keys joined by 0x01, one interpretation per key."""
        data = escaped(raw)
        return [tty_escape(part) for part in data.split(b"\x01")]

    # ----- per type -------------------------------------------------------------------

    def value(self, kind: str, raw: str, ctx: CallContext) -> str | None:
        """The text for one field of type `kind` (an AUPARSE_TYPE_* name)."""
        handler = _HANDLERS.get(kind)
        if handler is None:
            return None
        try:
            return handler(self, raw, ctx)
        except ConversionError:
            return _conv(raw) + (" " if kind == "ARCH" else "")

    def uid(self, raw: str, base: int = 10) -> str:
        return _id_text(raw, base, self.users)

    def gid(self, raw: str, base: int = 10) -> str:
        return _id_text(raw, base, self.groups)

    def syscall(self, raw: str, ctx: CallContext) -> str:
        number = _int32(strtoul(raw, 10))
        machine = ctx.machine or self.machine
        name = SYSCALLS.get(machine, {}).get(number) if machine is not None else None
        if name is None:
            return f"unknown-syscall({number})"
        calls = _MULTIPLEXED.get(name)
        if calls is not None and (ctx.a0 <= 0x7FFFFFFF or ctx.a0 >= INT_MIN_AS_ULONG):
            # auparse: `if ((int)a0 == a0)` -- a0 must survive the cast to int.
            call = calls.get(_int32(ctx.a0))
            if call is not None:
                return f"{name}({call})"
        return name

    def arg(self, index: int, raw: str, ctx: CallContext) -> str:
        if ctx.machine is None or ctx.sysname is None:
            return f"0x{raw}"
        kinds = ARG_KINDS.get(ctx.sysname)  # by name, whatever the architecture
        kind = kinds[index] if kinds else None
        if kind == "contextual":
            kind = _contextual(ctx, index, raw)
        if kind is None:
            return f"0x{raw}"
        return self.arg_kind(kind, raw)

    def arg_kind(self, kind: str, raw: str) -> str:
        """One decoder of syscall arguments (values are hex)."""
        if kind == "uid":
            return self.uid(raw, 16)
        if kind == "gid":
            return self.gid(raw, 16)
        if kind == "fd_cloexec":
            return "FD_CLOEXEC"
        special = _ARG_SPECIAL.get(kind)
        if special is not None:
            return special(raw)
        if kind in FLAGS:
            return _flags(kind, raw)
        if kind in ENUMS:
            return _enum(kind, raw)
        return f"0x{raw}"


_ALL_HEX = frozenset({"A0", "A1", "A2", "A3"})
_HEX_ARGS: dict[str, frozenset[str]] = {}  # by syscall name (ARG_KINDS': a few hundred)


def _hex_args(sysname: str) -> frozenset[str]:
    """The arguments of a call that have no decoder (see CallContext.hex_args)."""
    hex_args = _HEX_ARGS.get(sysname)
    if hex_args is None:
        kinds = ARG_KINDS.get(sysname)
        hex_args = (_ALL_HEX if not kinds else
                    frozenset(f"A{i}" for i, kind in enumerate(kinds) if kind is None))
        if len(_HEX_ARGS) >= MEMO_SIZE:
            _HEX_ARGS.clear()
        _HEX_ARGS[sysname] = hex_args
    return hex_args


class CallContext:
    """The event facts some fields need: the record's arch, syscall name, a0 and a1."""

    __slots__ = ("a0", "a1", "hex_args", "machine", "reads_arguments", "sysname")

    def __init__(self, machine: str | None, sysname: str | None, a0: int, a1: int) -> None:
        self.machine = machine
        self.sysname = sysname
        self.a0 = a0
        self.a1 = a1
        #: Whether a text of this call reads a0 or a1 (see Interpreter.context_key).
        self.reads_arguments = (sysname is None or sysname in _READS_A0_A1
                                or sysname.startswith("fcntl"))
        #: The kinds of its arguments (A0-A3) that Interpreter.arg writes as hex
        #: whatever their value: no decoder for them in this call.
        self.hex_args = (_ALL_HEX if machine is None or sysname is None
                         else _hex_args(sysname))

    @classmethod
    def of(cls, fields: tuple[tuple[str, str], ...], host: str | None) -> CallContext:
        """The context of a record with these fields."""
        values: dict[str, str] | None = None
        if len(fields) >= 2 and fields[0][0] == "arch" and fields[1][0] == "syscall":
            # A kernel SYSCALL record: arch and syscall come first (their first
            # occurrence), no dict of its thirty-odd fields to find them.
            arch: str | None = fields[0][1]
            raw: str | None = fields[1][1]
        else:
            values = dict(reversed(fields))  # the first occurrence of each key
            arch, raw = values.get("arch"), values.get("syscall")
        key = (arch, raw, host)
        context = _CALLS.get(key)
        if context is None:
            context = cls(*_call(arch, raw, host), 0, 0)
            if len(arch or "") + len(raw or "") <= _CALL_TEXT_MAX:  # memory bounded by size
                if len(_CALLS) >= MEMO_SIZE:
                    _CALLS.clear()
                _CALLS[key] = context
        if context.reads_arguments:
            if values is None:
                values = dict(reversed(fields))
            return cls(context.machine, context.sysname, _hex_or(values.get("a0")),
                       _hex_or(values.get("a1")))
        return context  # no text of this call reads a0 or a1: one context per call


def _call(arch: str | None, raw: str | None, host: str | None
          ) -> tuple[str | None, str | None]:
    """The machine and syscall name of a record's arch and syscall values."""
    machine: str | None = None
    if arch is not None:
        try:
            # An arch auparse does not know: it falls back to the host's, like `syscall`.
            machine = ARCHES.get(strtoul(arch, 16) & UNSET32, host)
        except ConversionError:
            machine = host
    sysname = None
    if raw is not None and machine is not None:
        try:
            sysname = SYSCALLS.get(machine, {}).get(_int32(strtoul(raw, 10)))
        except ConversionError:
            sysname = None
    return machine, sysname


# (arch, syscall, host) -> the context of that call (machine, syscall name; a0 and a1
# read apart for the calls whose texts read them): a few calls make most records.
_CALL_TEXT_MAX = 64  # characters of arch and syscall values whose call is remembered
_CALLS: dict[tuple[str | None, str | None, str | None], CallContext] = {}


# socketcall(2) and ipc(2) multiplex calls chosen by a0: ausearch prints `socketcall(bind)`.
_MULTIPLEXED = {"socketcall": ENUMS["socketcall"], "ipc": IPC_CALLS}
# The calls whose texts read a0 or a1 (besides fcntl*): _MULTIPLEXED and _contextual's.
_READS_A0_A1 = frozenset({*_MULTIPLEXED, "prctl", "open", "mq_open", "setsockopt",
                          "getsockopt"})
INT_MIN_AS_ULONG = ULONG_MAX + 1 - (1 << 31)  # (unsigned long long)(int)INT_MIN
# Enumerations auparse reads with strtol (ERANGE past LONG_MAX), not strtoul.
_SIGNED_ENUMS = frozenset({"socketcall", "ipccall"})
MEMO_SIZE = 16384  # entries per Interpreter memo
# Characters of a raw value whose text is remembered: with MEMO_SIZE entries the
# memo stays within ~50 MiB even when every value is a new long one (hex argv
# chunks, long paths: rarely the same twice); longer ones are computed at each use.
MEMO_TEXT_MAX = 1024
ERROR_TEXT = 200  # an error description is cut here (the raw value can be megabytes)
_UNKNOWN_KIND = "\0not memoised"  # a sentinel no kind or text can equal
# Field kinds whose text depends on other fields of the record (arch, syscall, a0, a1).
CONTEXT_KINDS = frozenset({"SYSCALL", "A0", "A1", "A2", "A3"})
#: Kinds whose text comes from the users/groups maps (which can change).
_NAME_KINDS = frozenset({"UID", "GID"})
_NO_CONTEXT = CallContext(None, None, 0, 0)


def _user_tty_message_keys(record: RecordLike) -> frozenset[str]:
    """USER_TTY's `msg='...'` is one value for auparse (ESCAPED), printed as written: the
    pairs inside it, which records.py flattens into fields, keep their raw text."""
    text = getattr(record, "text", "")
    start = text.find("msg='")
    if start < 0:
        return frozenset()
    return frozenset(_INNER_KEY.findall(text, start + 5))


_INNER_KEY = re.compile(r"(?:^|(?<=[\s']))([^\s=']+)=")


def error_text(where: str, exc: BaseException) -> str:
    """`where: ExceptionType: message`, bounded (a raw value can be megabytes long)."""
    return f"{where}: {type(exc).__name__}: {exc}"[:ERROR_TEXT]


def enriched_text(value: str) -> str:
    """The text of a field from its ENRICHED pair's value (auditd quotes names)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _hex_or(raw: str | None) -> int:
    if raw is None:
        return 0
    try:
        return strtoul(raw, 16)
    except ConversionError:
        return 0


def _int_or(raw: str, default: int) -> int:
    # isascii: "²".isdigit() is True but int() refuses it; len: int()'s digit limit.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 20 else default


def argv_index(text: str) -> int | None:
    """An argument (or chunk) number of EXECVE, if it is one argv can hold."""
    if text.isascii() and text.isdigit() and len(text) <= 7:
        value = int(text)
        if value < MAX_ARGV:
            return value
    return None


def _argbytes(raw: str) -> bytes:
    if raw.startswith('"'):
        return raw[1:-1].encode("utf-8", "surrogateescape") if raw.endswith('"') and len(
            raw) > 1 else raw[1:].encode("utf-8", "surrogateescape")
    if raw == "(null)":
        return b""
    data = unhex(raw)
    return data if data is not None else raw.encode("utf-8", "surrogateescape")


#: The keys whose kind depends on their value, not on their record type and name alone
#: (field_type; an EXECVE's arguments aside).
KIND_BY_VALUE = frozenset({"acct"})


def field_type(rtype: int, name: str, raw: str) -> str | None:
    """Auparse's type for a field, with its per-record-type corrections; None: raw only."""
    if rtype == EXECVE and name.startswith("a") and name != "argc" and "_len" not in name:
        return "ESCAPED"
    if rtype == AVC and name == "saddr":
        return None
    if rtype == USER_TTY and name == "msg":
        return "ESCAPED"
    if rtype == NETFILTER_PKT and name == "saddr":
        return "ADDR"
    if name == "acct":
        if raw.startswith('"') or all(c in "0123456789abcdefABCDEF" for c in raw):
            return "ESCAPED"
        return None
    if rtype == PATH and name == "flags":
        return "FLAGS"
    if rtype == MQ_OPEN and name == "mode":
        return "MODE_SHORT"
    if rtype == CRYPTO_KEY_USER and name == "fp":
        return None
    if name == "id" and rtype in (ADD_GROUP, GRP_MGMT, DEL_GROUP):
        return "GID"
    if rtype == KERN_MODULE and name == "name":
        return "ESCAPED"
    kind = FIELD_TYPES.get(name)
    if kind is None or kind not in _HANDLERS:
        return None
    return kind


def _contextual(ctx: CallContext, index: int, raw: str) -> str | None:
    """Decoders that depend on another argument (auparse's print_a1/print_a2 logic)."""
    name = ctx.sysname or ""
    if name.startswith("fcntl") and index == 2:
        strtoul(raw, 16)  # auparse converts first: ERANGE is a conversion error whatever a1
        if ctx.a1 == F_SETOWN:
            return "uid"
        if ctx.a1 == F_SETFD and _hex_or(raw) == FD_CLOEXEC:
            return "fd_cloexec"
        return None
    if name == "prctl" and index == 1:
        if ctx.a0 in (PR_CAPBSET_READ, PR_CAPBSET_DROP):
            return "capability_hex"
        if ctx.a0 == PR_SET_PDEATHSIG:
            return "signal"
        return None
    if name in ("open", "mq_open") and index == 2:
        return "mode_short" if ctx.a1 & O_CREAT else None
    if name in ("setsockopt", "getsockopt") and index == 2:
        return SOCKOPT_LEVELS.get(ctx.a1)
    return None


# ----- value decoders (pure functions of the raw text) ----------------------------------


def _enum(kind: str, raw: str) -> str:
    """auparse's `int x = strtoul(val, NULL, 16)`: the low 32 bits, signed, name the value."""
    value = strtol(raw, 16) & ULONG_MAX if kind in _SIGNED_ENUMS else strtoul(raw, 16)
    if kind in ("socket_type", "seek"):
        value &= 0xFF
    number = _int32(value)
    name = ENUMS[kind].get(number)
    if name is not None:
        return name
    return UNKNOWN[kind].format(x=raw, d=number)


def _exit_status(raw: str) -> str:
    """exit(2)'s status: auparse compares the text with "0" and "1", nothing else is named."""
    if raw in ("0", "1"):
        return ENUMS["exit_status"][int(raw)]
    return UNKNOWN["exit_status"].format(x=raw, d=0)


def _ioctl_req(raw: str) -> str:
    """auparse reads the request as an unsigned int: only the low 32 bits name it."""
    value = strtoul(raw, 16) & UNSET32
    name = ENUMS["ioctl_req"].get(value)
    return name if name is not None else UNKNOWN["ioctl_req"].format(x=f"{value:x}", d=value)


def _flags(kind: str, raw: str) -> str:
    value = strtoul(raw, 16)
    names = [name for bit, name in FLAGS[kind] if bit & value]
    return "|".join(names) if names else f"0x{raw}"


def _open_flags(raw: str) -> str:
    value = strtoul(raw, 16)
    names = ["O_RDONLY"] if value & 3 == 0 else []
    names += [name for bit, name in FLAGS["open_flags"] if bit & value]
    return "|".join(names)


def _access(raw: str) -> str:
    value = strtoul(raw, 16)
    if value & 0xF == 0:
        return "F_OK"
    return _flags("access", raw)


def _prot(raw: str, mmap: bool) -> str:
    value = strtoul(raw, 16)
    if value & 7 == 0:
        return "PROT_NONE"
    table = FLAGS["prot_mmap"][: 4 if mmap else 3]
    names = [name for bit, name in table if bit & value]
    return "|".join(names) if names else f"0x{raw}"


def _mmap(raw: str) -> str:
    value = strtoul(raw, 16)
    names = ["MAP_FILE"] if value & 0xF == 0 else []
    names += [name for bit, name in FLAGS["mmap"] if bit & value]
    return "|".join(names) if names else f"0x{raw}"


def _clone(raw: str) -> str:
    value = strtoul(raw, 16) & UNSET32
    names = [name for bit, name in FLAGS["clone"] if bit & value]
    sig = value & 0xFF
    if 0 < sig < 32 and sig in SIGNALS:
        names.append(SIGNALS[sig])
    return "|".join(names) if names else f"0x{value:x}"


def _dirfd(raw: str) -> str:
    return "AT_FDCWD" if strtoul(raw, 16) & UNSET32 == 0xFFFFFF9C else f"0x{raw}"


def _signal_hex(raw: str) -> str:
    value = _int32(strtoul(raw, 16))
    name = SIGNALS.get(value)
    return name if name is not None else UNKNOWN["signal"].format(x=raw, d=value)


def _capability_hex(raw: str) -> str:
    value = _int32(strtoul(raw, 16))
    name = CAPABILITIES.get(value)
    return name if name is not None else UNKNOWN["capability_hex"].format(x=raw, d=value)


def mode_short_text(value: int) -> str:
    specials = [n for bit, n in ((0o4000, "suid"), (0o2000, "sgid"), (0o1000, "sticky"))
                if value & bit]
    perms = f"0{value & 0o777:03o}"
    return ",".join([*specials, perms])


def mode_text(value: int) -> str:
    parts = [FILE_TYPES[value & 0o170000]]
    parts += [n for bit, n in ((0o4000, "suid"), (0o2000, "sgid"), (0o1000, "sticky"))
              if value & bit]
    parts.append(f"{value & 0o777:03o}")
    return ",".join(parts)


def _personality(raw: str) -> str:
    """auparse names the personality from its low byte (PER_MASK), ADDR_NO_RANDOMIZE apart."""
    value = _int32(strtoul(raw, 16))
    name = ENUMS["personality"].get(value & ~ADDR_NO_RANDOMIZE & PER_MASK)
    if name is None:
        return UNKNOWN["personality"].format(x=raw, d=value)
    return f"{name}|~ADDR_NO_RANDOMIZE" if value & ADDR_NO_RANDOMIZE else name


def _sched(raw: str) -> str:
    value = strtoul(raw, 16)
    name = ENUMS["sched"].get(value & 0xF)
    if name is None:
        return UNKNOWN["sched"].format(x=raw, d=value)
    return f"{name}|SCHED_RESET_ON_FORK" if value & SCHED_RESET_ON_FORK else name


def _shmflags(raw: str) -> str:
    value = strtoul(raw, 16) & UNSET32
    names = [n for bit, n in ((0o1000, "IPC_CREAT"), (0o2000, "IPC_EXCL")) if value & bit]
    names += [n for bit, n in ((0o4000, "SHM_HUGETLB"), (0o10000, "SHM_NORESERVE"))
              if value & bit]
    names.append(mode_short_text(value & 0o777))
    return "|".join(names)


_ARG_SPECIAL: dict[str, Callable[[str], str]] = {
    "open_flags": _open_flags,
    "access": _access,
    "prot_mmap": lambda raw: _prot(raw, True),
    "prot": lambda raw: _prot(raw, False),
    "mmap": _mmap,
    "clone": _clone,
    "dirfd": _dirfd,
    "signal": _signal_hex,
    "capability_hex": _capability_hex,
    "mode_short": lambda raw: mode_short_text(strtoul(raw, 16) & UNSET32),
    "mode": lambda raw: mode_text(strtoul(raw, 16) & UNSET32),
    "personality": _personality,
    "sched": _sched,
    "exit_status": _exit_status,
    "shmflags": _shmflags,
    "ioctl_req": _ioctl_req,
}


# ----- field-type handlers --------------------------------------------------------------


def _exit(_: Interpreter, raw: str, ctx: CallContext) -> str:
    value = strtol(raw, 10)
    if value >= 0:
        return raw
    text = EXIT_TEXTS.get(-value)
    return text if text is not None else f"(null)(Unknown error {-value})"


def _arch(_: Interpreter, raw: str, ctx: CallContext) -> str:
    value = strtoul(raw, 16) & UNSET32
    name = ARCH_NAMES.get(value)
    return name if name is not None else f"unknown-elf-type({raw})"  # the text, as written


def _perm(_: Interpreter, raw: str, ctx: CallContext) -> str:
    value = strtol(raw, 10) or 0xF
    names = [n for bit, n in ((4, "read"), (2, "write"), (1, "exec"), (8, "attr"))
             if value & bit]
    return ",".join(names)


def _success(_: Interpreter, raw: str, ctx: CallContext) -> str:
    if not raw[:1].isascii() or not raw[:1].isdigit():  # C isdigit: ASCII only
        return raw
    return {0: "no", 1: "yes"}.get(_int32(strtoul(raw, 10)), "unset")


def _cap_bitmap(_: Interpreter, raw: str, ctx: CallContext) -> str:
    value = strtoul(raw, 16)
    names = [CAPABILITIES[i] for i in range(CAP_LAST_CAP + 1)
             if value >> i & 1 and i in CAPABILITIES]
    return ",".join(names) if names else "none"


def _capability(_: Interpreter, raw: str, ctx: CallContext) -> str:
    value = _int32(strtoul(raw, 10))
    name = CAPABILITIES.get(value)
    return name if name is not None else f"unknown-capability({raw})"


def _signal(_: Interpreter, raw: str, ctx: CallContext) -> str:
    value = _int32(strtoul(raw, 10))
    name = SIGNALS.get(value)
    return name if name is not None else f"unknown-signal({raw})"


def _list(_: Interpreter, raw: str, ctx: CallContext) -> str:
    value = _int32(strtoul(raw, 10))
    name = LISTS.get(value)
    return name if name is not None else f"unknown-list({raw})"


def _session(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return "unset" if raw == "4294967295" else raw


def _seccomp(_: Interpreter, raw: str, ctx: CallContext) -> str:
    value = strtoul(raw, 16)
    name = SECCOMP_ACTIONS.get((value & SECCOMP_RET_ACTION) >> 16)
    return name if name is not None else f"unknown-seccomp-code({raw})"


def _field_number(field: str, base: int, truncate: bool = True
                  ) -> Callable[[Interpreter, str, CallContext], str]:
    """A numeric field named from a table: auparse's `int x = strtoul(val, NULL, base)`."""
    names = FIELD_NUMBERS[field]
    unknown = FIELD_UNKNOWN[field]

    def handler(_: Interpreter, raw: str, ctx: CallContext) -> str:
        value = strtoul(raw, base)
        text = names.get(_int32(value) if truncate else value)
        return text if text is not None else unknown.format(raw=raw)

    return handler


def _fanotify(self: Interpreter, raw: str, ctx: CallContext) -> str:
    """fanotify `resp`: a value that does not start with a digit is printed as it is."""
    if not raw[:1].isascii() or not raw[:1].isdigit():
        return raw
    return _FANOTIFY_NUMBER(self, raw, ctx)


_FANOTIFY_NUMBER = _field_number("resp", 10)


def _personality_field(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return _personality(raw)


def _tty_data(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return tty_data(raw)


def _ioctl_field(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return _ioctl_req(raw)


def _path_flags(_: Interpreter, raw: str, ctx: CallContext) -> str:
    """PATH `flags` (lookup flags): `none`, names joined by commas, else 0x<raw>."""
    value = strtoul(raw, 16) & UNSET32
    if value == 0:
        return "none"
    names = [name for bit, name in FLAGS["path_flags"] if bit & value]
    return ",".join(names) if names else f"0x{raw}"


def _resolve(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return _flags("resolve", raw)


# TTY_NAMED_KEYS by first byte, in table order (the first match wins).
_TTY_KEYS_BY_FIRST: dict[int, list[tuple[bytes, str]]] = {}
for _seq, _key in TTY_NAMED_KEYS:
    _TTY_KEYS_BY_FIRST.setdefault(_seq[0], []).append((_seq, _key))


def tty_data(raw: str) -> str:
    """TTY/USER_TTY `data`: keystrokes, printable runs quoted, control keys by name.

    auparse's print_tty_data: `su - alice<CR>` prints `"su - alice",<ret>`. A value that is
    not all hex is printed as it is.
    """
    if not _HEX_DIGITS.issuperset(raw):
        return raw
    if len(raw) < 2:
        return "(null)"  # au_unescape refuses it; ausearch prints the NULL pointer
    data = bytes.fromhex(raw[: len(raw) // 2 * 2])
    out: list[str] = []
    run: list[str] | None = None  # the quoted run being written
    pos = 0
    while pos < len(data):
        name = None
        if data[pos] < 0x20 or 0x7F <= data[pos] < 0xA0:
            for seq, key in _TTY_KEYS_BY_FIRST.get(data[pos], ()):
                if data.startswith(seq, pos):
                    name, pos = key, pos + len(seq)
                    break
        if name is not None:
            if run is not None:
                out.append('"' + "".join(run) + '"')
                run = None
            out.append(f"<{name}>")
            continue
        if run is None:
            run = []
        byte = data[pos]
        if byte < 0x20 or byte > 0x7E:
            run.append(f"\\{byte:03o}")
        else:
            run.append(("\\" if byte in (0x5C, 0x22) else "") + chr(byte))
        pos += 1
    if run is not None:
        out.append('"' + "".join(run) + '"')
    return ",".join(out)


def sockaddr(raw: str) -> str:
    """A SOCKADDR record's saddr, in auparse's `{ saddr_fam=... }` form."""
    data = unhex(raw)
    if data is None:
        return f"malformed-host({raw})"
    # auparse sizes the address by its text (strlen / 2) and reads the decoded bytes, a NUL
    # after them; bytes past both read as NUL here.
    size = len(raw.encode("utf-8", "surrogateescape")) // 2
    data = data + bytes(max(0, 112 - len(data)))
    family = int.from_bytes(data[:2], "little")
    name = SOCK_FAMILY_NAMES.get(family)
    if name is None:
        return f"unknown-family({family})"
    head = f"{{ saddr_fam={name}"
    if family == 1:  # AF_LOCAL
        if size < SOCKADDR_UN_MIN:
            return f"{head} sockaddr len too short }}"
        path = data[2:]
        text = tty_escape(_cstr(path[1:109] if path[:1] == b"\0" else path))
        return f"{head} path={text} }}"
    if family == 2:  # AF_INET
        if size < 16:
            return f"{head} sockaddr len too short }}"
        port = int.from_bytes(data[2:4], "big")
        host = ".".join(str(b) for b in data[4:8])
        return f"{head} laddr={host} lport={port} }}"
    if family == 10:  # AF_INET6
        if size < 24:
            return f"{head} sockaddr6 len too short }}"
        port = int.from_bytes(data[2:4], "big")
        scope = int.from_bytes(data[24:28], "little")
        host = _inet6(data[8:24]) + (f"%{scope}" if scope else "")
        return f"{head} laddr={host} lport={port} }}"
    if family == 16:  # AF_NETLINK
        if size < 12:
            return f"{head} len too short }}"
        pid = int.from_bytes(data[4:8], "little")
        return f"{head} nlnk-fam={family} nlnk-pid={pid} }}"
    if family == 3:  # AF_AX25: the callsign's 7 bytes, as C prints them (a NUL ends it)
        return tty_escape(_cstr(f"{head} call=".encode() + data[2:9] + b" }"))
    if family == 8:  # AF_ATMPVC
        return f"{head} int={int.from_bytes(data[4:6], 'little', signed=True)} }}"
    if family == 9:  # AF_X25
        return f"{head} laddr={tty_escape(_cstr(data[2:17]))} }}"
    return f"{head} (unsupported) }}"


def _inet6(addr: bytes) -> str:
    """RFC 5952 text as glibc's inet_ntop writes it (IPv4-mapped/compatible included)."""
    import ipaddress  # noqa: PLC0415 - start-up cost that only SOCKADDR of AF_INET6 needs

    ip = ipaddress.IPv6Address(addr)
    if ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return ip.compressed


def _sockaddr(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return sockaddr(raw)


def _escaped(_: Interpreter, raw: str, ctx: CallContext) -> str:
    if raw.startswith('"'):
        end = raw.find('"', 1)
        if end > 0 and raw.isprintable():
            # No control character to escape, no byte that is not UTF-8 (a surrogate
            # escape is not printable): what tty_escape(escaped(raw)) gives, without
            # the round trip through bytes.
            return raw[1:end]
    return tty_escape(escaped(raw))


def _proctitle(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return tty_escape(proctitle(raw))


def _mode(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return mode_text(strtoul(raw, 8) & UNSET32)


def _mode_short(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return mode_short_text(strtoul(raw, 8) & UNSET32)


def _promisc(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return "no" if strtol(raw, 10) == 0 else "yes"


def _mmap_field(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return _mmap(raw)


def _oflag(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return _open_flags(raw)


def _raw(_: Interpreter, raw: str, ctx: CallContext) -> str:
    return raw


_HANDLERS: dict[str, Callable[[Interpreter, str, CallContext], str | None]] = {
    "UID": lambda self, raw, ctx: self.uid(raw),
    "GID": lambda self, raw, ctx: self.gid(raw),
    "SYSCALL": lambda self, raw, ctx: self.syscall(raw, ctx),
    "ARCH": _arch,
    "EXIT": _exit,
    "ESCAPED": _escaped,
    "ESCAPED_FILE": _escaped,
    "ESCAPED_KEY": _escaped,
    "PROCTITLE": _proctitle,
    "PERM": _perm,
    "MODE": _mode,
    "MODE_SHORT": _mode_short,
    "SOCKADDR": _sockaddr,
    "PROMISC": _promisc,
    "CAPABILITY": _capability,
    "CAP_BITMAP": _cap_bitmap,
    "SUCCESS": _success,
    "SESSION": _session,
    "SIGNAL": _signal,
    "LIST": _list,
    "SECCOMP": _seccomp,
    "OFLAG": _oflag,
    "MMAP": _mmap_field,
    "ADDR": _raw,
    "MAC_LABEL": _raw,
    "A0": lambda self, raw, ctx: self.arg(0, raw, ctx),
    "A1": lambda self, raw, ctx: self.arg(1, raw, ctx),
    "A2": lambda self, raw, ctx: self.arg(2, raw, ctx),
    "A3": lambda self, raw, ctx: self.arg(3, raw, ctx),
    "NFPROTO": _field_number("family", 10),
    "ICMPTYPE": _field_number("icmptype", 10),
    "PROTOCOL": _field_number("proto", 10),
    "HOOK": _field_number("hook", 16),
    "NETACTION": _field_number("action", 16),
    "NLMCGRP": _field_number("nl-mcgrp", 16, truncate=False),
    "FANOTIFY": _fanotify,
    "PERSONALITY": _personality_field,
    "MACPROTO": _field_number("macproto", 16),
    "TTY_DATA": _tty_data,
    "IOCTL_REQ": _ioctl_field,
    "FLAGS": _path_flags,
    "RESOLVE": _resolve,
}

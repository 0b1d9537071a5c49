"""Event -> Heka Message: the one place that decides the message scheme.

Why one module: the scheme is a contract with users (their Elasticsearch
mappings, Kibana searches and Heka filters) and with the Lua decoder, which
must produce the same fields from audit.log lines. docs/fields.md documents
every rule below; keep the two in step.

The rules, briefly (docs/fields.md has the full text and examples):
one message per event; deterministic uuid5 over host|time|serial; Timestamp
from the event; Severity from a declared table; Payload = the records in
auditd log form; Fields: ``serial``, ``type``, ``record_types``, ``node``,
then every record key raw (quotes removed, typed by INTEGER_KEYS) followed by
its interpretation ``<key>_i``; repeated record types give aligned arrays;
key collisions between record types are prefixed with the later type's name;
EXECVE arguments become one ``argv`` array; a key repeated inside one record
keeps every value (:func:`field_names`); a user-space ``msg='...'`` whose
library-written fields were also written by its caller is flagged
(``suspicious_duplicates``, Severity 4); a record parsed only in part says why
(``parse_error``); a line that is no record at all is still shipped
(:meth:`MessageBuilder.build_unparsed`).
"""

from __future__ import annotations

from operator import itemgetter

try:  # hashlib's own SHA-1: hashlib itself starts OpenSSL (~4 ms of replay's start-up)
    from _sha1 import sha1  # type: ignore[import-not-found]
except ImportError:  # a Python built without its bundled hashes
    from hashlib import sha1

from audit_heka.core.events import Event
from audit_heka.core.interpret import (
    MANY_ARGUMENTS,
    argv_index,
    error_text,
    is_argument_run,
)
from audit_heka.core.records import ParseError, Record
from audit_heka.heka.message import Field, Message, ValueType

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from audit_heka.core.protocols import InterpreterLike

# Fixed forever: changing it changes every uuid and breaks receivers' de-duplication.
AUDIT_HEKA_NAMESPACE = bytes.fromhex("b7aa49738fc5572ba7d0e17b4e1b104a")
DEFAULT_MESSAGE_TYPE = "audit_log"  # the seed's Type: existing index patterns keep working
LOGGER = "audit-heka"

EXECVE = 1309
AVC = 1400
USER_AVC = 1107
SECCOMP = 1326
APPARMOR_DENIED = 1503

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1

# Keys whose values the kernel and audit-userspace always write in decimal.
# A value of one of these keys that is decimal and fits int64 is an INTEGER
# field; anything else (hex, octal modes, "?", "(none)") stays STRING.
INTEGER_KEYS: frozenset[str] = frozenset(
    {
        # process identity (SYSCALL, USER_*, LOGIN, OBJ_PID, CONFIG_CHANGE, ...)
        "pid", "ppid", "opid", "uid", "auid", "euid", "suid", "fsuid",
        "gid", "egid", "sgid", "fsgid", "ses", "oauid", "ouid", "ogid", "oses",
        "old-auid", "old-ses", "sauid", "obj_uid", "obj_gid", "iuid", "igid",
        "inode_uid", "inode_gid", "new_gid",
        # syscall event
        "syscall", "exit", "items", "item", "argc", "inode", "fd0", "fd1",
        # others
        "list", "sig", "ino", "audit_enabled", "audit_pid", "audit_failure",
        "audit_backlog_limit", "audit_rate_limit", "audit_backlog_wait_time",
        "nargs", "nl-mcgrp",
    }
)

# Severity (syslog levels, as Heka uses them).
SEVERITY_INFO = 6
SEVERITY_WARNING = 4
ANOMALY_RANGES: tuple[tuple[int, int], ...] = ((1700, 1799), (2100, 2199))
DENIAL_TYPES_BY_TEXT: frozenset[int] = frozenset({AVC, USER_AVC})  # "denied" in the text
DENIAL_TYPES: frozenset[int] = frozenset({APPARMOR_DENIED})
FAILURE_VALUES: Mapping[str, frozenset[str]] = {
    "success": frozenset({"no"}),
    "res": frozenset({"failed", "0", "no"}),
}
_FAILURE_KEYS = frozenset(FAILURE_VALUES)  # (looked for in C: a record may hold 100,000 keys)
_KEY_OF = itemgetter(0)
SECCOMP_RET_ACTION_FULL = 0xFFFF0000
SECCOMP_KILL_ACTIONS: frozenset[int] = frozenset({0x00000000, 0x80000000})  # thread, process

# Field names the event itself uses; a record key with one of these names is
# prefixed like a collision. The truncated* names are written only by
# audit_heka.core.degrade (a record key must not pose as its report).
EVENT_FIELDS: frozenset[str] = frozenset({
    "serial", "type", "record_types", "node", "argv",
    "suspicious_duplicates", "parse_error", "raw", "interpret_error",
    "truncated", "truncated_bytes", "truncated_values", "truncated_kept",
})
# What failed while interpreting or building the event (docs/fields.md); its presence means
# some `_i` fields, or all of them, are missing and the raw values are what is left.
INTERPRET_ERROR = "interpret_error"

RAW_KEEP = 4096  # bytes of an unparsable line kept in its ``raw`` field

# libaudit's audit_log_user_message / _acct_message / _comm_message all end the
# text they send with these fields, written by the library after the caller's
# text (audit-userspace lib/audit_logging.c): the only trustworthy ones of a
# user-space msg='...'. audit_log_acct_message writes "op=%s" first, then
# either acct= or id=, then this tail: so in a msg that starts with op= and has
# acct/id just before the tail, that acct/id is the library's and everything
# between op= and it is the caller's op text (shadow's newgrp puts the group
# name there unencoded: "op=changing new-group=NAME id=1001 exe=...").
LIBRARY_TAIL: tuple[str, ...] = ("exe", "hostname", "addr", "terminal", "res")
LIBRARY_IDENTITY: frozenset[str] = frozenset({"acct", "id"})


_SERIAL = "serial"
MEMO_SIZE = 16384  # entries of the single-value field memo (cleared when full)
_SingleKey = tuple[str, str, str, str | None]  # name, key, raw value, interpretation
PLAN_MEMO_SIZE = 1024  # event shapes remembered (cleared when full)
_Shape = tuple[tuple[str, ...], ...]  # per record: type name, then its keys
_Plan = tuple[tuple[str, str, tuple[int, ...]], ...]  # field name, key, record indexes
# One record of a type group: its keys (raw values) and its interpretations.
_Member = tuple[dict[str, str], dict[str, str | list[str]]]


class SchemaCounters:
    """Things the scheme had to bend; reported with the health counters.

    A plain class, not a dataclass: start-up cost (bench/RESULTS.md, "Start-up").
    """

    __slots__ = ("aligned_fill", "by_key", "duplicate_key", "interpret_errors",
                 "malformed_integer", "suspicious_duplicates", "unparsed")

    def __init__(self) -> None:
        self.malformed_integer = 0  # an INTEGER_KEYS value that is not decimal int64
        self.aligned_fill = 0  # "" written for a key missing in one record of a repeated type
        self.duplicate_key = 0  # a key repeated inside one record (every value kept: key_N)
        self.suspicious_duplicates = 0  # events whose msg='' repeats library-written fields
        self.unparsed = 0  # lines/records shipped without a parse (parse_error + raw)
        self.interpret_errors = 0  # events shipped with INTERPRET_ERROR (a bug met a value)
        self.by_key: dict[str, int] = {}  # malformed integer, by key


def event_uuid(hostname: str, seconds: int, milliseconds: int, serial: int, part: int = 0) -> bytes:
    """uuid5 over host|time|serial: a resent event keeps its uuid."""
    name = f"{hostname}|{seconds}.{milliseconds:03d}|{serial}"
    if part:
        name += f"#{part}"
    return uuid5(AUDIT_HEKA_NAMESPACE, name)


def uuid5(namespace: bytes, name: str) -> bytes:
    """RFC 4122 version 5 (SHA-1) uuid bytes, as ``uuid.uuid5(...).bytes`` computes them.

    Direct: the ``uuid`` module costs ~6 ms of start-up and a UUID object per
    event on the hot path (a test compares with ``uuid.uuid5``).
    """
    digest = sha1(namespace + name.encode("utf-8"), usedforsecurity=False).digest()
    return b"".join((
        digest[:6],
        bytes(((digest[6] & 0x0F) | 0x50,)),
        digest[7:8],
        bytes(((digest[8] & 0x3F) | 0x80,)),
        digest[9:16],
    ))


def unquote(raw: str) -> str:
    """A raw value without its surrounding quotes (hex and others unchanged)."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


Named = tuple[tuple[str, str, str, bool], ...]  # (name, key, raw, first occurrence) per field


def _untrusted(record: Record) -> set[int]:
    """Indexes of msg='' fields that claim a library-written key but are the caller's text."""
    fields = record.fields
    count = record.msg_fields
    if count == 0:
        return set()
    m0 = len(fields) - count
    keys = [k for k, _ in fields[m0:]]
    width = len(LIBRARY_TAIL)
    out: set[int] = set()
    if count >= width and tuple(keys[-width:]) == LIBRARY_TAIL:
        tail = count - width
        suspect_keys: frozenset[str] = frozenset(LIBRARY_TAIL)
        end = tail
        if keys[0] == "op" and tail >= 2 and keys[tail - 1] in LIBRARY_IDENTITY:
            suspect_keys = suspect_keys | LIBRARY_IDENTITY
            end = tail - 1
        out.update(m0 + i for i in range(1 if keys[0] == "op" else 0, end)
                   if keys[i] in suspect_keys)
        out.update(m0 + i for i in range(tail) if keys[i] in LIBRARY_TAIL)
        return out
    # Not libaudit's shape: the last occurrence of a tail key is the writer's.
    last: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in LIBRARY_TAIL:
            if k in last:
                out.add(m0 + last[k])
            last[k] = i
    return out


def field_names(record: Record) -> tuple[Named, tuple[str, ...]]:
    """Every field of a record under a unique name (see :func:`renaming`)."""
    named, suspicious = renaming(record)
    if named is None:
        return tuple((k, k, v, True) for k, v in record.fields), ()
    return named, suspicious


def renaming(record: Record) -> tuple[Named | None, tuple[str, ...]]:
    """Every field of a record under a unique name, and the keys flagged as forged.

    The naming (docs/fields.md, "Repeated keys"): a key's first trustworthy
    occurrence keeps the plain name; every other occurrence N (1-based, in
    record order) is ``<key>_<N>``. Trustworthy means: not a library-written
    key (:data:`LIBRARY_TAIL`, and acct/id of acct messages) found in the
    caller's part of a user-space msg='...'. Such a key is never given the
    plain name, and is returned in the second result.
    """
    fields = record.fields
    repeated = len(dict(fields)) != len(fields)
    untrusted = _untrusted(record) if record.msg_fields else set()
    if not repeated and not untrusted:
        return None, ()  # the common case: every key once, names are keys
    plain: dict[str, int] = {}  # key -> index of the occurrence with the plain name
    for i, (k, _) in enumerate(fields):
        if k not in plain and i not in untrusted:
            plain[k] = i
    used = {k for k, _ in fields}
    number: dict[str, int] = {}
    out: list[tuple[str, str, str, bool]] = []
    first: set[str] = set()
    for i, (k, v) in enumerate(fields):
        n = number[k] = number.get(k, 0) + 1
        is_first = k not in first
        first.add(k)
        if plain.get(k) == i:
            out.append((k, k, v, is_first))
            continue
        name = f"{k}_{n}"
        while name in used:
            name += "_"
        used.add(name)
        out.append((name, k, v, is_first))
    suspicious = tuple(sorted({fields[i][0] for i in untrusted}))
    return tuple(out), suspicious


def integer_key(name: str) -> bool:
    """Whether a field is typed INTEGER: its key, or the key a ``<key>_<N>`` repeats."""
    if name in INTEGER_KEYS:
        return True
    base, sep, n = name.rstrip("_").rpartition("_")
    return bool(sep) and n.isascii() and n.isdigit() and base in INTEGER_KEYS


def to_decimal(text: str) -> int | None:
    digits = text[1:] if text.startswith("-") else text
    # len: no int64 has more than 19 digits, and int() refuses > 4300 (ValueError).
    if not digits or len(digits) > 19 or not digits.isascii() or not digits.isdigit():
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def is_execve_arg(key: str) -> bool:
    """aN, aN_len, aN[i] of EXECVE records (they go into ``argv``)."""
    rest = key[1:]
    if rest.isdigit() and key[0] == "a":  # aN, the common case first
        return rest.isascii()
    if len(key) < 2 or key[0] != "a" or not key[1].isdigit():
        return False
    if rest.endswith("_len"):
        rest = rest[:-4]
    elif rest.endswith("]"):
        rest = rest.partition("[")[0]
    return rest.isascii() and rest.isdigit()


def _without_arguments(record: Record) -> Record:
    """What of a record the message's texts are made from: an EXECVE record without
    its arguments (aN, aN_len, aN[i]), which go into ``argv`` from their raw values.

    Why: their own texts would be made only to be thrown away, and an unprivileged
    user can put 100,000 arguments in one exec (a quarter of a second of texts).
    """
    if record.type != EXECVE:
        return record
    fields = record.fields
    start = 1 if fields and fields[0][0] == "argc" else 0
    rest = fields[start:]
    first = argv_index(rest[0][0][1:]) if len(rest) > MANY_ARGUMENTS else None
    if first is not None and is_argument_run(rest, first):
        fields = fields[:start]  # (all arguments, in order: as the kernel writes them)
    else:
        fields = tuple([pair for pair in fields if not is_execve_arg(pair[0])])
    if len(fields) == len(record.fields):
        return record
    return Record(record.type, record.type_name, record.seconds, record.milliseconds,
                  record.serial, record.node, fields, record.enriched, record.free_text,
                  record.text, record.msg_fields, record.problem)


def severity(records: Sequence[Record], suspicious: bool = False) -> int:
    """SEVERITY_WARNING for anomalies, denials, failures and forgeries, else SEVERITY_INFO."""
    if suspicious:
        return SEVERITY_WARNING
    for r in records:
        if type_warns(r) or (not _FAILURE_KEYS.isdisjoint(map(_KEY_OF, r.fields))
                             and any(failure(key, raw) for key, raw in r.fields)):
            return SEVERITY_WARNING
    return SEVERITY_INFO


def type_warns(r: Record) -> bool:
    """Whether the record's type (with its text or seccomp code) makes its event a warning."""
    t = r.type
    for low, high in ANOMALY_RANGES:
        if low <= t <= high:
            return True
    if t in DENIAL_TYPES:
        return True
    if t in DENIAL_TYPES_BY_TEXT and "denied" in r.free_text:
        return True
    if t == SECCOMP:
        code = r.get("code")
        if code is not None:
            try:
                action = int(code, 16) & SECCOMP_RET_ACTION_FULL
            except ValueError:
                action = -1
            if action in SECCOMP_KILL_ACTIONS:
                return True
    return False


def failure(key: str, raw: str) -> bool:
    """Whether one field says the action failed (FAILURE_VALUES): its event is a warning."""
    bad = FAILURE_VALUES.get(key)
    return bad is not None and unquote(raw) in bad


class MessageBuilder:
    """Builds the Heka message of an event (pure; counters as attributes)."""

    def __init__(
        self,
        interpreter: InterpreterLike,
        *,
        hostname: str,
        message_type: str = DEFAULT_MESSAGE_TYPE,
        payload: bool = True,
        enricher: Callable[[Event], Sequence[Field]] | None = None,
    ) -> None:
        self.interpreter = interpreter
        self.hostname = hostname
        self.message_type = message_type
        self.payload = payload
        #: Optional extra fields appended after the record fields (``run
        #: --enrich``: audit_heka.host.enrich, which reads /proc; None keeps this pure).
        self.enricher = enricher
        self.counters = SchemaCounters()
        # (name, key, raw, text) -> (fields, was a malformed integer); see _single.
        self._single_memo: dict[_SingleKey, tuple[tuple[Field, ...], bool]] = {}
        self._plans: dict[_Shape, _Plan] = {}  # see _planned

    def build(self, event: Event) -> Message:
        """The event's message; never raises, never drops the event.

        An exception while interpreting one value leaves that value raw (see
        Interpreter.interpret_checked); one anywhere else while building the message (a
        bug) ships the event again with raw values only. Both add INTERPRET_ERROR, saying
        what failed, and count ``interpret_errors``: a poison record must not stop ``run``
        or ``replay`` (or become a crash loop under a supervisor), nor lose its event.
        """
        errors: list[str] = []
        suspicious: list[str] = []
        try:
            renamings = [renaming(r) for r in event.records]
            suspicious = sorted({k for _, keys in renamings for k in keys})
            if suspicious:
                self.counters.suspicious_duplicates += 1
            fields = self._fields(event, errors, renamings, suspicious)
            message = self._message(event, fields, errors, suspicious)
            if errors:
                self.counters.interpret_errors += 1
            return message
        except Exception as exc:  # a bug: contained to this event
            errors.append(error_text("build", exc))
        self.counters.interpret_errors += 1
        try:
            return self._message(event, self._fields(event, errors, None, suspicious,
                                                     raw_only=True), errors, suspicious)
        except Exception as exc:  # even raw-only failed: the Payload still has every record
            errors.append(error_text("build raw", exc))
            return self._message(event, [Field(_SERIAL, ValueType.INTEGER, (event.serial,))],
                                 errors, suspicious, safe=True)

    def _message(self, event: Event, fields: list[Field], errors: list[str],
                 suspicious: Sequence[str], safe: bool = False) -> Message:
        records = event.records
        host = event.node if event.node is not None else self.hostname
        if errors:
            fields.append(Field(INTERPRET_ERROR, ValueType.STRING, tuple(errors)))
        if self.enricher is not None and not safe:
            fields += self.enricher(event)
        return Message(
            uuid=event_uuid(host, event.seconds, event.milliseconds, event.serial, event.part),
            timestamp=event.timestamp_ns,
            type=self.message_type,
            logger=LOGGER,
            severity=SEVERITY_WARNING if suspicious else SEVERITY_INFO if safe
            else severity(records),
            payload="\n".join(r.log_line() for r in records) if self.payload else None,
            pid=None if safe else first_pid(records),
            hostname=host,
            fields=tuple(fields),
        )

    def build_unparsed(self, error: ParseError, timestamp_ns: int) -> Message:
        """A line or kernel record that is no audit record we can read: shipped anyway.

        Nothing is discarded: the text goes out in Payload (whole, while the
        message fits) and its first RAW_KEEP bytes in ``raw`` (with
        ``raw_length``: a line of any size stays a message a receiver takes),
        with the reason in ``parse_error`` (Severity 4), time-stamped with the
        last record read before it (``timestamp_ns``), under a uuid derived from
        both so that a resend de-duplicates.
        """
        self.counters.unparsed += 1
        data = error.text.encode("utf-8", "surrogateescape")
        raw = _utf8_prefix(data, RAW_KEEP)
        # The uuid hashes a bounded prefix (the Lua decoder computes it in Lua).
        name = f"{self.hostname}|unparsed|{timestamp_ns}|{len(data)}|{_utf8_prefix(data, 256)}"
        return Message(
            uuid=uuid5(AUDIT_HEKA_NAMESPACE, name),
            timestamp=timestamp_ns,
            type=self.message_type,
            logger=LOGGER,
            severity=SEVERITY_WARNING,
            payload=error.text if self.payload else None,
            hostname=self.hostname,
            fields=(Field.string("parse_error", error.reason), Field.string("raw", raw),
                    Field.integer("raw_length", len(data))),
        )

    def record_values(self, record: Record) -> list[tuple[str, str, str | list[str]]]:
        """(field name, key, shipped text) per field of one record, in record order.

        The text is the interpretation when there is one, else the raw value:
        what ``ausearch -i`` prints for that occurrence (the oracle tests use it).
        """
        named, _ = renaming(record)
        interp = self._renamed(record, self.interpreter.interpret_checked([record])[0][0], named)
        if named is None:
            named = tuple((k, k, v, True) for k, v in record.fields)
        out: list[tuple[str, str, str | list[str]]] = []
        for name, key, raw, first in named:
            text = interp.get(name)
            # The interpreter gives a repeated key's first occurrence its text only.
            if text is None or (name == key and not first and key not in interp):
                text = raw
            out.append((name, key, text))
        return out

    # ----------------------------------------------------------------- fields

    def _fields(self, event: Event, errors: list[str],
                renamings: Sequence[tuple[Named | None, tuple[str, ...]]] | None,
                suspicious: Sequence[str], raw_only: bool = False) -> list[Field]:
        """The event's fields; the values whose interpretation failed are added to `errors`.

        `raw_only`: no interpretation at all, and no renaming when it is what
        failed (``renamings`` None: every key's first value), the fallback after
        a failure elsewhere.
        """
        records = event.records
        if renamings is None:
            renamings = [(None, ()) for _ in records]
        out: list[Field] = [Field(_SERIAL, ValueType.INTEGER, (event.serial,))]
        if records:
            out.append(Field("type", ValueType.STRING, (records[0].type_name,)))
            out.append(Field("record_types", ValueType.STRING,
                             tuple(r.type_name for r in records)))
        if event.node is not None:
            out.append(Field("node", ValueType.STRING, (event.node,)))
        if suspicious:
            out.append(Field.string("suspicious_duplicates", *suspicious))
        problems = [f"{r.type_name}: {r.problem}" for r in records if r.problem]
        if problems:
            out.append(Field.string("parse_error", *problems))
        parts = [_without_arguments(r) for r in records]
        if raw_only:
            interpreted: list[dict[str, str | list[str]]] = [{} for _ in records]
        else:
            checked, failed = self.interpreter.interpret_checked(parts)
            errors += failed
            interpreted = [self._renamed(r, i, named) for r, i, (named, _) in
                           zip(records, checked, renamings, strict=True)]
        if all(r.type != EXECVE for r in records):
            self._planned(out, records, interpreted, renamings)
            return out
        # Records grouped by type, in order of first appearance. All EXECVE
        # records of an event form one logical record (arguments span them).
        groups: dict[str, list[_Member]] = {}
        for record, part, interp, (named, _) in zip(records, parts, interpreted, renamings,
                                                     strict=True):
            pairs = self._pairs(part if named is None else record, named)
            group = groups.get(record.type_name)
            if group is None:
                # (the EXECVE group's texts are merged into a copy: `interpreted` stays)
                groups[record.type_name] = [
                    (pairs, dict(interp) if record.type == EXECVE else interp)]
            elif record.type == EXECVE:
                first_pairs, first_interp = group[0]
                for k, v in pairs.items():
                    first_pairs.setdefault(k, v)
                for k, text in interp.items():  # in place: thousands of records, no copies
                    first_interp.setdefault(k, text)
            else:
                group.append((pairs, interp))
        used = set(EVENT_FIELDS)
        execve_names = {r.type_name for r in records if r.type == EXECVE}
        for type_name, members in groups.items():
            if len(members) == 1:
                keys: list[str] = list(members[0][0])
            else:
                keys = list(dict.fromkeys(k for pairs, _ in members for k in pairs))
            prefix = type_name.lower() + "_"
            names = {k: prefix + k if k in used else k for k in keys}
            used.update(names.values())
            execve = type_name in execve_names
            for k in keys:
                if len(members) == 1:
                    self._single(out, names[k], k, members[0])
                else:
                    self._aligned(out, names[k], k, members)
                if execve and k == "argc" and not raw_only:
                    out.append(Field.string("argv", *self.interpreter.argv(records)))
            if execve and "argc" not in keys and not raw_only:
                out.append(Field.string("argv", *self.interpreter.argv(records)))
        return out

    def _planned(self, out: list[Field], records: Sequence[Record],
                 interpreted: Sequence[dict[str, str | list[str]]],
                 renamings: Sequence[tuple[Named | None, tuple[str, ...]]]) -> None:
        """The fields of an event without EXECVE records, by a memoised plan.

        Which key of which record becomes which field (grouping, aligned arrays,
        collision prefixes) depends only on the event's shape -- its records'
        types and keys -- and events of one kind share a shape. So the plan is
        computed once per shape (the same rules as the general path above,
        which EXECVE events keep: their records merge) and replayed.
        """
        members = [(self._pairs(r, named), i) for r, i, (named, _) in
                   zip(records, interpreted, renamings, strict=True)]
        shape = tuple((r.type_name, *pairs) for r, (pairs, _) in zip(records, members,
                                                                     strict=True))
        plan = self._plans.get(shape)
        if plan is None:
            plan = _plan(shape)
            if len(self._plans) >= PLAN_MEMO_SIZE:
                self._plans.clear()
            self._plans[shape] = plan
        for name, key, indexes in plan:
            if len(indexes) == 1:
                self._single(out, name, key, members[indexes[0]])
            else:
                self._aligned(out, name, key, [members[i] for i in indexes])

    def _pairs(self, record: Record, named: Named | None) -> dict[str, str]:
        """The record's fields by name (field_names), msgdata first, EXECVE aN* left out."""
        pairs: dict[str, str] = {}
        if record.free_text:
            pairs["msgdata"] = record.free_text
        execve = record.type == EXECVE
        if named is None:
            for k, v in record.fields:
                if not (execve and is_execve_arg(k)):
                    pairs.setdefault(k, v)
            return pairs
        for name, k, v, _ in named:
            if execve and is_execve_arg(k):
                continue
            if name != k:
                self.counters.duplicate_key += 1
            pairs.setdefault(name, v)
        return pairs

    def _renamed(self, record: Record, interp: dict[str, str | list[str]],
                 named: Named | None) -> dict[str, str | list[str]]:
        """Interpretations by field name: every occurrence of a repeated key has its own.

        The interpreter reads a key's first occurrence; the others (and a plain
        name given to a later occurrence) are interpreted one by one, each in
        the record with that occurrence put first (rare: records with repeats).
        """
        if named is None:
            return interp
        affected = {k for name, k, _, first in named if name != k or not first}
        if not affected:
            return interp
        out = {k: v for k, v in interp.items() if k not in affected}
        for name, k, raw, _ in named:
            if k in affected:
                alone = record.replace(fields=((k, raw), *(p for p in record.fields
                                                           if p[0] != k)),
                                       enriched=(), msg_fields=0)
                text = self.interpreter.interpret_checked([alone])[0][0].get(k)
                if text is not None:
                    out[name] = text
        return out

    def _count_malformed(self, key: str) -> None:
        self.counters.malformed_integer += 1
        self.counters.by_key[key] = self.counters.by_key.get(key, 0) + 1

    def _single(self, out: list[Field], name: str, key: str, member: _Member) -> None:
        """A key of a record type that occurs once: single values.

        Memoised (bounded): most keys of audit events carry the same values
        event after event, and their fields depend only on these inputs.
        """
        pairs, interp = member
        raw = pairs[key]
        text = interp.get(key)
        if isinstance(text, list):
            self._single_fields(out, name, key, raw, text)
            return
        memo_key = (name, key, raw, text)
        hit = self._single_memo.get(memo_key)
        if hit is None:
            fields: list[Field] = []
            malformed = self.counters.malformed_integer
            self._single_fields(fields, name, key, raw, text)
            hit = (tuple(fields), self.counters.malformed_integer != malformed)
            if len(self._single_memo) >= MEMO_SIZE:
                self._single_memo.clear()
            self._single_memo[memo_key] = hit
        elif hit[1]:
            self._count_malformed(key)
        out += hit[0]

    def _single_fields(self, out: list[Field], name: str, key: str, raw: str,
                       text: str | list[str] | None) -> None:
        value = unquote(raw)
        if integer_key(key):
            number = to_decimal(value)
            if number is not None:
                out.append(Field(name, ValueType.INTEGER, (number,)))
            else:
                self._count_malformed(key)
                out.append(Field(name, ValueType.STRING, (value,)))
        else:
            out.append(Field(name, ValueType.STRING, (value,)))
        if text is not None:
            parts = tuple(text) if isinstance(text, list) else (text,)
            out.append(Field(name + "_i", ValueType.STRING, parts))

    def _aligned(self, out: list[Field], name: str, key: str, members: list[_Member]) -> None:
        """A key of a repeated record type: arrays aligned on its records."""
        values = [unquote(v) if (v := pairs.get(key)) is not None else None
                  for pairs, _ in members]
        done = False
        if integer_key(key):
            numbers = [to_decimal(v) if v is not None else None for v in values]
            for v, n in zip(values, numbers, strict=True):
                if v is not None and n is None:
                    self._count_malformed(key)
            if all(n is not None for n in numbers):
                out.append(Field(name, ValueType.INTEGER,
                                 tuple(n for n in numbers if n is not None)))
                done = True
        if not done:
            out.append(Field(name, ValueType.STRING, self._filled(values)))
        interps = [interp.get(key) for _, interp in members]
        if any(i is not None for i in interps):
            flat = [" ".join(i) if isinstance(i, list) else i for i in interps]
            out.append(Field(name + "_i", ValueType.STRING, self._filled(flat)))

    def _filled(self, values: Sequence[str | None]) -> tuple[str, ...]:
        out: list[str] = []
        for v in values:
            if v is None:
                self.counters.aligned_fill += 1
                out.append("")
            else:
                out.append(v)
        return tuple(out)


def _plan(shape: _Shape) -> _Plan:
    """(field name, key, indexes of the records holding it) for an event's shape."""
    groups: dict[str, list[int]] = {}
    for index, (type_name, *_keys) in enumerate(shape):
        groups.setdefault(type_name, []).append(index)
    used = set(EVENT_FIELDS)
    plan: list[tuple[str, str, tuple[int, ...]]] = []
    for type_name, indexes in groups.items():
        keys = list(dict.fromkeys(k for i in indexes for k in shape[i][1:]))
        prefix = type_name.lower() + "_"
        names = {k: prefix + k if k in used else k for k in keys}
        used.update(names.values())
        for k in keys:
            plan.append((names[k], k, tuple(indexes)))
    return tuple(plan)


def _utf8_prefix(data: bytes, limit: int) -> str:
    """At most ``limit`` bytes of UTF-8 ``data``, never cut inside a character."""
    cut = min(len(data), limit)
    while cut < len(data) and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return data[:cut].decode("utf-8", "replace")


def first_pid(records: Sequence[Record]) -> int | None:
    for r in records:
        raw = r.get("pid")
        if raw is not None:
            value = to_decimal(unquote(raw))
            if value is not None and _INT32_MIN <= value <= _INT32_MAX:
                return value
            return None
    return None

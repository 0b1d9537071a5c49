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
EXECVE arguments become one ``argv`` array.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from audit_heka.events import Event
from audit_heka.heka.message import Field, Message
from audit_heka.records import Record

# Fixed forever: changing it changes every uuid and breaks receivers' de-duplication.
AUDIT_HEKA_NAMESPACE = uuid.UUID("b7aa4973-8fc5-572b-a7d0-e17b4e1b104a")
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
SECCOMP_RET_ACTION_FULL = 0xFFFF0000
SECCOMP_KILL_ACTIONS: frozenset[int] = frozenset({0x00000000, 0x80000000})  # thread, process

# Field names the event itself uses; a record key with one of these names is
# prefixed like a collision.
EVENT_FIELDS: frozenset[str] = frozenset({"serial", "type", "record_types", "node", "argv"})


class InterpreterLike(Protocol):
    """What schema needs of audit_heka.interpret.Interpreter."""

    def interpret(self, records: Sequence[Record]) -> list[dict[str, str | list[str]]]: ...

    def argv(self, records: Sequence[Record]) -> list[str]: ...


@dataclass
class SchemaCounters:
    """Things the scheme had to bend; reported with the health counters."""

    malformed_integer: int = 0  # an INTEGER_KEYS value that is not decimal int64
    aligned_fill: int = 0  # "" written for a key missing in one record of a repeated type
    duplicate_key: int = 0  # a key repeated inside one record (first kept; all in Payload)
    by_key: dict[str, int] = field(default_factory=dict)  # malformed integer, by key


def event_uuid(hostname: str, seconds: int, milliseconds: int, serial: int, part: int = 0) -> bytes:
    """uuid5 over host|time|serial: a resent event keeps its uuid."""
    name = f"{hostname}|{seconds}.{milliseconds:03d}|{serial}"
    if part:
        name += f"#{part}"
    return uuid.uuid5(AUDIT_HEKA_NAMESPACE, name).bytes


def unquote(raw: str) -> str:
    """A raw value without its surrounding quotes (hex and others unchanged)."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _decimal(text: str) -> int | None:
    digits = text[1:] if text.startswith("-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _is_execve_arg(key: str) -> bool:
    """aN, aN_len, aN[i] of EXECVE records (they go into ``argv``)."""
    if len(key) < 2 or key[0] != "a" or not key[1].isdigit():
        return False
    rest = key[1:]
    if rest.endswith("_len"):
        rest = rest[:-4]
    elif rest.endswith("]"):
        rest = rest.partition("[")[0]
    return rest.isascii() and rest.isdigit()


def severity(records: Sequence[Record]) -> int:
    """SEVERITY_WARNING for anomalies, denials and failures, else SEVERITY_INFO."""
    for r in records:
        t = r.type
        if any(low <= t <= high for low, high in ANOMALY_RANGES) or t in DENIAL_TYPES:
            return SEVERITY_WARNING
        if t in DENIAL_TYPES_BY_TEXT and "denied" in r.free_text:
            return SEVERITY_WARNING
        if t == SECCOMP:
            code = r.get("code")
            if code is not None:
                try:
                    action = int(code, 16) & SECCOMP_RET_ACTION_FULL
                except ValueError:
                    action = -1
                if action in SECCOMP_KILL_ACTIONS:
                    return SEVERITY_WARNING
        for key, raw in r.fields:
            bad = FAILURE_VALUES.get(key)
            if bad is not None and unquote(raw) in bad:
                return SEVERITY_WARNING
    return SEVERITY_INFO


class MessageBuilder:
    """Builds the Heka message of an event (pure; counters as attributes)."""

    def __init__(
        self,
        interpreter: InterpreterLike,
        *,
        hostname: str,
        message_type: str = DEFAULT_MESSAGE_TYPE,
        payload: bool = True,
    ) -> None:
        self.interpreter = interpreter
        self.hostname = hostname
        self.message_type = message_type
        self.payload = payload
        self.counters = SchemaCounters()

    def build(self, event: Event) -> Message:
        records = event.records
        host = event.node if event.node is not None else self.hostname
        return Message(
            uuid=event_uuid(host, event.seconds, event.milliseconds, event.serial, event.part),
            timestamp=event.timestamp_ns,
            type=self.message_type,
            logger=LOGGER,
            severity=severity(records),
            payload="\n".join(r.log_line() for r in records) if self.payload else None,
            pid=_first_pid(records),
            hostname=host,
            fields=tuple(self._fields(event)),
        )

    # ----------------------------------------------------------------- fields

    def _fields(self, event: Event) -> list[Field]:
        records = event.records
        out: list[Field] = [Field.integer("serial", event.serial)]
        if records:
            out.append(Field.string("type", records[0].type_name))
            out.append(Field.string("record_types", *(r.type_name for r in records)))
        if event.node is not None:
            out.append(Field.string("node", event.node))
        interpreted = self.interpreter.interpret(records)
        # Records grouped by type, in order of first appearance. All EXECVE
        # records of an event form one logical record (arguments span them).
        groups: dict[str, list[tuple[list[tuple[str, str]], dict[str, str | list[str]]]]] = {}
        for record, interp in zip(records, interpreted, strict=True):
            pairs = self._pairs(record)
            group = groups.setdefault(record.type_name, [])
            if record.type == EXECVE and group:
                first_pairs, first_interp = group[0]
                seen = {k for k, _ in first_pairs}
                first_pairs.extend((k, v) for k, v in pairs if k not in seen)
                for k, v in interp.items():
                    first_interp.setdefault(k, v)
                continue
            group.append((pairs, dict(interp)))
        used = set(EVENT_FIELDS)
        execve_names = {r.type_name for r in records if r.type == EXECVE}
        for type_name, members in groups.items():
            keys: list[str] = []
            for pairs, _ in members:
                for k, _v in pairs:
                    if k not in keys:
                        keys.append(k)
            prefix = type_name.lower() + "_"
            names: dict[str, str] = {}
            for k in keys:
                names[k] = prefix + k if k in used else k
            used.update(names.values())
            execve = type_name in execve_names
            for k in keys:
                out.extend(self._key_fields(names[k], k, members))
                if execve and k == "argc":
                    out.append(Field.string("argv", *self.interpreter.argv(records)))
            if execve and "argc" not in keys:
                out.append(Field.string("argv", *self.interpreter.argv(records)))
        return out

    def _pairs(self, record: Record) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        seen: set[str] = set()
        if record.free_text:
            pairs.append(("msgdata", record.free_text))
            seen.add("msgdata")
        execve = record.type == EXECVE
        for k, v in record.fields:
            if execve and _is_execve_arg(k):
                continue
            if k in seen:
                self.counters.duplicate_key += 1
                continue
            seen.add(k)
            pairs.append((k, v))
        return pairs

    def _key_fields(
        self,
        name: str,
        key: str,
        members: list[tuple[list[tuple[str, str]], dict[str, str | list[str]]]],
    ) -> list[Field]:
        raw: list[str | None] = []
        for pairs, _ in members:
            raw.append(next((v for k, v in pairs if k == key), None))
        out: list[Field] = []
        values = [unquote(v) if v is not None else None for v in raw]
        if key in INTEGER_KEYS:
            numbers = [_decimal(v) if v is not None else None for v in values]
            if all(n is not None for n in numbers):
                out.append(Field.integer(name, *(n for n in numbers if n is not None)))
            else:
                for v, n in zip(values, numbers, strict=True):
                    if v is not None and n is None:
                        self.counters.malformed_integer += 1
                        self.counters.by_key[key] = self.counters.by_key.get(key, 0) + 1
        if not out:
            out.append(Field.string(name, *self._filled(values)))
        interps = [interp.get(key) for _, interp in members]
        if any(i is not None for i in interps):
            if len(members) == 1:
                only = interps[0]
                assert only is not None
                parts = only if isinstance(only, list) else [only]
                out.append(Field.string(name + "_i", *parts))
            else:
                flat = [" ".join(i) if isinstance(i, list) else i for i in interps]
                out.append(Field.string(name + "_i", *self._filled(flat)))
        return out

    def _filled(self, values: Sequence[str | None]) -> list[str]:
        out: list[str] = []
        for v in values:
            if v is None:
                self.counters.aligned_fill += 1
                out.append("")
            else:
                out.append(v)
        return out


def _first_pid(records: Sequence[Record]) -> int | None:
    for r in records:
        raw = r.get("pid")
        if raw is not None:
            value = _decimal(unquote(raw))
            if value is not None and _INT32_MIN <= value <= _INT32_MAX:
                return value
            return None
    return None

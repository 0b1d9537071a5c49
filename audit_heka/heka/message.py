"""The Heka Message: a typed model, a direct protobuf encoder, and a decoder.

Why a hand-written encoder: this is the per-event hot path, and building a
protobuf object per event costs several times more than appending bytes.
The encoder writes exactly what the protobuf library writes for the same
message (a test proves it byte for byte), which is also what the strictest
reader accepts (Hindsight's lua_sandbox): fields in tag order, each Field's
name / value_type / representation before its values, and integer, double
and bool arrays packed. Decoding is rare (``listen``, ``decode``, tests), so
it goes through the generated bindings, which check wire types for us.
"""

from __future__ import annotations

import enum
import functools
import struct

from audit_heka.heka.errors import DecodeError, EncodeError
from audit_heka.value import Value

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

UUID_SIZE = 16
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1


class ValueType(enum.IntEnum):
    """Heka ``Field.ValueType`` (message.proto)."""

    STRING = 0
    BYTES = 1
    INTEGER = 2
    DOUBLE = 3
    BOOL = 4


FieldValues = (
    tuple[str, ...] | tuple[bytes, ...] | tuple[int, ...] | tuple[float, ...] | tuple[bool, ...]
)


class Field(Value):
    """One Heka Field: a name, a value type and one or more values.

    Heka has no scalar fields: every value is repeated, so a single value and
    a one-element array are the same thing on the wire. A
    A :class:`~audit_heka.value.Value`, not a dataclass: start-up cost (measured there).
    """

    __slots__ = ("name", "representation", "value_type", "values")

    def __init__(self, name: str, value_type: ValueType, values: FieldValues,
                 representation: str = "") -> None:
        self.name: Final = name
        self.value_type: Final = value_type
        self.values: Final = values
        self.representation: Final = representation

    def _as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value_type": self.value_type, "values": self.values,
                "representation": self.representation}

    @classmethod
    def string(cls, name: str, *values: str, representation: str = "") -> Field:
        return cls(name, ValueType.STRING, values, representation)

    @classmethod
    def bytes_(cls, name: str, *values: bytes, representation: str = "") -> Field:
        return cls(name, ValueType.BYTES, values, representation)

    @classmethod
    def integer(cls, name: str, *values: int, representation: str = "") -> Field:
        return cls(name, ValueType.INTEGER, values, representation)

    @classmethod
    def double(cls, name: str, *values: float, representation: str = "") -> Field:
        return cls(name, ValueType.DOUBLE, values, representation)

    @classmethod
    def boolean(cls, name: str, *values: bool, representation: str = "") -> Field:
        return cls(name, ValueType.BOOL, values, representation)


class Message(Value):
    """A Heka message. ``uuid`` and ``timestamp`` are always present on the wire.

    A :class:`~audit_heka.value.Value`, not a dataclass: start-up cost (measured there).
    """

    __slots__ = ("env_version", "fields", "hostname", "logger", "payload", "pid", "severity",
                 "timestamp", "type", "uuid")

    def __init__(self, uuid: bytes, timestamp: int, type: str | None = None,
                 logger: str | None = None, severity: int | None = None,
                 payload: str | None = None, env_version: str | None = None,
                 pid: int | None = None, hostname: str | None = None,
                 fields: tuple[Field, ...] = ()) -> None:
        self.uuid: Final = uuid
        self.timestamp: Final = timestamp
        self.type: Final = type
        self.logger: Final = logger
        self.severity: Final = severity
        self.payload: Final = payload
        self.env_version: Final = env_version
        self.pid: Final = pid
        self.hostname: Final = hostname
        self.fields: Final = fields

    def _as_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "timestamp": self.timestamp, "type": self.type,
                "logger": self.logger, "severity": self.severity, "payload": self.payload,
                "env_version": self.env_version, "pid": self.pid, "hostname": self.hostname,
                "fields": self.fields}

    def field(self, name: str) -> Field | None:
        """The first field called ``name`` (Heka's ``Fields[name]``), if any."""
        for f in self.fields:
            if f.name == name:
                return f
        return None


# --- encoding -------------------------------------------------------------


def varint(value: int) -> bytes:
    """Protobuf base-128 varint, negatives as 64-bit two's complement (framing uses it too)."""
    if 0 <= value < 0x80:
        return _SMALL_VARINTS[value]
    if 0 < value < 0x4000:  # lengths of most fields and payloads: two bytes
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    if 0 < value < 0x10000000:  # pids, serials: three or four
        if value < 0x200000:
            return bytes(((value & 0x7F) | 0x80, ((value >> 7) & 0x7F) | 0x80, value >> 14))
        return bytes(((value & 0x7F) | 0x80, ((value >> 7) & 0x7F) | 0x80,
                      ((value >> 14) & 0x7F) | 0x80, value >> 21))
    if 1 << 56 <= value < 1 << 63:  # timestamps in ns (1972 to 2262): nine bytes
        # Its nine groups of 7 bits spread to a byte each in three steps (28-bit halves
        # 32 bits apart, then 14-bit quarters, then 7-bit groups), as integers: a third
        # of the work of shifting out each group on its own (one per event).
        spread = (value & _SPREAD28) | ((value << 4) & _SPREAD28_HIGH) | (
            (value << 8) & _SPREAD28_TOP)
        spread = (spread & _SPREAD14) | ((spread << 2) & _SPREAD14_HIGH)
        return ((spread & _SPREAD7) | ((spread << 1) & _SPREAD7_HIGH) | _MORE8).to_bytes(
            9, "little")
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL_VARINTS = tuple(bytes((i,)) for i in range(0x80))
# varint's masks for a nine-byte value: bits 0-27, 28-55 (moved 4 up) and 56-62 (8 up);
# then each 32-bit slot's 14-bit halves, 16 apart; then each 16-bit slot's 7-bit halves,
# 8 apart; and the "more" bit of the first eight bytes.
_SPREAD28, _SPREAD28_HIGH, _SPREAD28_TOP = 0xFFFFFFF, 0xFFFFFFF << 32, 0x7F << 64
_SPREAD14 = 0x3FFF | 0x3FFF << 32 | 0x3FFF << 64
_SPREAD14_HIGH = 0x3FFF << 16 | 0x3FFF << 48
_SPREAD7 = sum(0x7F << 16 * k for k in range(5))
_SPREAD7_HIGH = sum(0x7F << (16 * k + 8) for k in range(4))
_MORE8 = sum(0x80 << 8 * k for k in range(8))


def _length_delimited(key: bytes, data: bytes) -> bytes:
    return key + varint(len(data)) + data


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise EncodeError(f"{name}={value} is out of range [{low}, {high}]")


def _encode_field(field: Field) -> bytes:
    name = field.name.encode()
    out = [b"\x0a", varint(len(name)), name, b"\x10", _SMALL_VARINTS[field.value_type]]
    if field.representation:
        rep = field.representation.encode()
        out += (b"\x1a", varint(len(rep)), rep)
    vt = field.value_type
    values = field.values
    if vt is ValueType.STRING:
        for s in values:
            assert isinstance(s, str)
            data = s.encode("utf-8", "surrogateescape")
            out += (b"\x22", varint(len(data)), data)
    elif vt is ValueType.BYTES:
        for b in values:
            assert isinstance(b, bytes)
            out += (b"\x2a", varint(len(b)), b)
    elif values:
        if vt is ValueType.INTEGER:
            for i in values:
                _check_int(f"Fields[{field.name}]", int(i), _INT64_MIN, _INT64_MAX)
            packed = b"".join(varint(int(i)) for i in values)
            key = b"\x32"
        elif vt is ValueType.DOUBLE:
            packed = struct.pack(f"<{len(values)}d", *values)
            key = b"\x3a"
        else:
            packed = bytes(1 if v else 0 for v in values)
            key = b"\x42"
        out += (key, varint(len(packed)), packed)
    return b"".join(out)


# Most fields of audit events repeat from event to event (uid=0, syscall=257,
# comm, exe, cwd, key, their interpretations...), so the encoded form of a
# field is memoised. Only STRING and INTEGER fields: their equal values always
# encode alike (True == 1 encodes as 1), unlike doubles (0.0 == -0.0). The
# bound keeps memory flat whatever the values.
FIELD_CACHE_SIZE = 8192
_MEMOISED_TYPES = (ValueType.STRING, ValueType.INTEGER)


@functools.lru_cache(maxsize=FIELD_CACHE_SIZE)
def _memoised_entry(name: str, value_type: ValueType, values: FieldValues,
                    representation: str) -> bytes:
    # Keyed by the plain tuple (compared in C), not by the dataclass.
    field = Field(name, value_type, values, representation)
    return _length_delimited(b"\x52", _encode_field(field))


def _field_entry(field: Field) -> bytes:
    """One ``Message.fields`` entry: tag, length and the encoded Field."""
    if field.value_type in _MEMOISED_TYPES:
        return _memoised_entry(field.name, field.value_type, field.values,
                               field.representation)
    return _length_delimited(b"\x52", _encode_field(field))


def _encode_str(key: bytes, value: str) -> bytes:
    return _length_delimited(key, value.encode("utf-8", "surrogateescape"))


def encode_message(msg: Message) -> bytes:
    """Serialise ``msg`` as a Heka Message protobuf (strict-reader layout)."""
    if len(msg.uuid) != UUID_SIZE:
        raise EncodeError(f"uuid must be {UUID_SIZE} bytes, got {len(msg.uuid)}")
    _check_int("timestamp", msg.timestamp, _INT64_MIN, _INT64_MAX)
    out = [b"\x0a\x10", msg.uuid, b"\x10", varint(msg.timestamp)]
    if msg.type is not None:
        out.append(_encode_str(b"\x1a", msg.type))
    if msg.logger is not None:
        out.append(_encode_str(b"\x22", msg.logger))
    if msg.severity is not None:
        _check_int("severity", msg.severity, _INT32_MIN, _INT32_MAX)
        out += (b"\x28", varint(msg.severity))
    if msg.payload is not None:
        out.append(_encode_str(b"\x32", msg.payload))
    if msg.env_version is not None:
        out.append(_encode_str(b"\x3a", msg.env_version))
    if msg.pid is not None:
        _check_int("pid", msg.pid, _INT32_MIN, _INT32_MAX)
        out += (b"\x40", varint(msg.pid))
    if msg.hostname is not None:
        out.append(_encode_str(b"\x4a", msg.hostname))
    out += map(_field_entry, msg.fields)
    return b"".join(out)


# --- decoding -------------------------------------------------------------

_VALUE_ATTR = {
    ValueType.STRING: "value_string",
    ValueType.BYTES: "value_bytes",
    ValueType.INTEGER: "value_integer",
    ValueType.DOUBLE: "value_double",
    ValueType.BOOL: "value_bool",
}


def decode_message(data: bytes) -> Message:
    """Parse a Heka Message protobuf; :class:`DecodeError` if it is not one.

    Like Heka's gogo-generated decoder, a Field's values are read from the
    array its ``value_type`` names.
    """
    # Imported here, not at the top: the protobuf runtime costs ~20 ms of
    # start-up that encoding (replay, run) never needs.
    from google.protobuf.message import DecodeError as PbDecodeError  # noqa: PLC0415 - see above

    from audit_heka.heka import message_pb2  # noqa: PLC0415 - see above

    # Any, not message_pb2.Message: upb returns bytes for a string field that is
    # not UTF-8 (see _text), and the compiled build checks declared types at run
    # time -- reading such a field through the stubs' ``str`` would raise there.
    pb: Any = message_pb2.Message()
    try:
        pb.ParseFromString(data)
    except (PbDecodeError, ValueError) as exc:
        raise DecodeError(f"not a Heka message: {exc}") from None
    if not pb.HasField("uuid") or not pb.HasField("timestamp"):
        raise DecodeError("not a Heka message: uuid or timestamp missing")
    fields = []
    for f in pb.fields:
        try:
            vt = ValueType(f.value_type)
        except ValueError:
            raise DecodeError(f"Fields[{f.name}] has unknown value_type {f.value_type}") from None
        values = tuple(getattr(f, _VALUE_ATTR[vt]))
        if vt is ValueType.STRING:
            values = tuple(_text(v) for v in values)
        fields.append(Field(_text(f.name), vt, values, _text(f.representation)))
    return Message(
        uuid=pb.uuid,
        timestamp=pb.timestamp,
        type=_text(pb.type) if pb.HasField("type") else None,
        logger=_text(pb.logger) if pb.HasField("logger") else None,
        severity=pb.severity if pb.HasField("severity") else None,
        payload=_text(pb.payload) if pb.HasField("payload") else None,
        env_version=_text(pb.env_version) if pb.HasField("env_version") else None,
        pid=pb.pid if pb.HasField("pid") else None,
        hostname=_text(pb.hostname) if pb.HasField("hostname") else None,
        fields=tuple(fields),
    )


def _text(value: object) -> str:
    """A proto2 string as text, whatever its bytes.

    proto2 does not promise UTF-8, and Heka's Go decoder takes any bytes; the
    upb backend then hands back ``bytes`` instead of ``str``, which broke
    ``listen``'s JSON output on a hostile peer (found by fuzz/fuzz_unframer.py).
    Invalid sequences become U+FFFD, as in the replay reader.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    assert isinstance(value, str)
    return value


# --- the JSON form (listen, decode, the "-" target) -----------------------


def _json_value(field: Field) -> list[Any]:
    if field.value_type is ValueType.BYTES:
        import base64  # noqa: PLC0415 - start-up cost that only the JSON view of bytes needs

        return [base64.b64encode(v).decode() for v in field.values if isinstance(v, bytes)]
    return list(field.values)


def message_to_json(msg: Message) -> dict[str, Any]:
    """The JSON object ``listen`` prints: Heka header names, Fields as an object.

    A field with one value maps to a scalar and several to a list; a name that
    repeats (legal in Heka) gathers the values of all its occurrences.
    """
    import uuid  # noqa: PLC0415 - ~6 ms of start-up that only the JSON view needs

    out: dict[str, Any] = {}
    try:
        out["Uuid"] = str(uuid.UUID(bytes=msg.uuid))
    except ValueError:
        out["Uuid"] = msg.uuid.hex()
    out["Timestamp"] = msg.timestamp
    for key, value in (
        ("Type", msg.type),
        ("Logger", msg.logger),
        ("Severity", msg.severity),
        ("Payload", msg.payload),
        ("EnvVersion", msg.env_version),
        ("Pid", msg.pid),
        ("Hostname", msg.hostname),
    ):
        if value is not None:
            out[key] = value
    gathered: dict[str, list[Any]] = {}
    for field in msg.fields:
        gathered.setdefault(field.name, []).extend(_json_value(field))
    out["Fields"] = {k: v[0] if len(v) == 1 else v for k, v in gathered.items()}
    return out


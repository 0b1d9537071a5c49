"""The Heka Message encoder: byte-exact vectors and equality with the protobuf library."""

from __future__ import annotations

import math

import pytest
from heka_vectors import EXAMPLE, EXAMPLE_MESSAGE, HEKA_SPLITTER_FRAME
from hypothesis import given
from hypothesis import strategies as st

from audit_heka.heka import message_pb2
from audit_heka.heka.errors import DecodeError, EncodeError
from audit_heka.heka.message import (
    Field,
    Message,
    ValueType,
    decode_message,
    encode_message,
    message_to_json,
    varint,
)

UUID = bytes(range(16))


def test_worked_example_is_byte_exact() -> None:
    assert encode_message(EXAMPLE) == EXAMPLE_MESSAGE


def test_worked_example_decodes_back() -> None:
    assert decode_message(EXAMPLE_MESSAGE) == EXAMPLE


def test_heka_splitter_vector_decodes() -> None:
    msg = decode_message(HEKA_SPLITTER_FRAME[5:])
    assert (msg.type, msg.severity, msg.env_version, msg.pid, msg.hostname) == (
        "hekabench",
        6,
        "0.8",
        29375,
        "trink-x230",
    )
    # and re-encoding gives the same bytes Heka's Go code wrote
    assert encode_message(msg) == HEKA_SPLITTER_FRAME[5:]


def _pb_reference(msg: Message) -> bytes:
    """What the protobuf library writes for the same message."""
    pb = message_pb2.Message(uuid=msg.uuid, timestamp=msg.timestamp)
    for name in ("type", "logger", "severity", "payload", "env_version", "pid", "hostname"):
        value = getattr(msg, name)
        if value is not None:
            setattr(pb, name, value)
    attr = {
        ValueType.STRING: "value_string",
        ValueType.BYTES: "value_bytes",
        ValueType.INTEGER: "value_integer",
        ValueType.DOUBLE: "value_double",
        ValueType.BOOL: "value_bool",
    }
    for f in msg.fields:
        pf = pb.fields.add(name=f.name, value_type=int(f.value_type))
        if f.representation:
            pf.representation = f.representation
        getattr(pf, attr[f.value_type]).extend(f.values)
    return pb.SerializeToString()


_text = st.text(max_size=20)
_fields = st.one_of(
    st.builds(lambda n, v: Field.string(n, *v), _text, st.lists(_text, max_size=4)),
    st.builds(lambda n, v: Field.bytes_(n, *v), _text, st.lists(st.binary(max_size=8), max_size=4)),
    st.builds(
        lambda n, v, r: Field.integer(n, *v, representation=r),
        _text,
        st.lists(st.integers(-(2**63), 2**63 - 1), max_size=4),
        _text,
    ),
    st.builds(
        lambda n, v: Field.double(n, *v),
        _text,
        st.lists(st.floats(allow_nan=False), max_size=4),
    ),
    st.builds(lambda n, v: Field.boolean(n, *v), _text, st.lists(st.booleans(), max_size=4)),
)
_messages = st.builds(
    Message,
    uuid=st.binary(min_size=16, max_size=16),
    timestamp=st.integers(-(2**63), 2**63 - 1),
    type=st.none() | _text,
    logger=st.none() | _text,
    severity=st.none() | st.integers(-(2**31), 2**31 - 1),
    payload=st.none() | st.text(max_size=200),
    env_version=st.none() | _text,
    pid=st.none() | st.integers(-(2**31), 2**31 - 1),
    hostname=st.none() | _text,
    fields=st.lists(_fields, max_size=6).map(tuple),
)


@given(_messages)
def test_encoder_is_byte_identical_to_protobuf_library(msg: Message) -> None:
    assert encode_message(msg) == _pb_reference(msg)


@given(_messages)
def test_round_trip(msg: Message) -> None:
    assert decode_message(encode_message(msg)) == msg


def test_numeric_arrays_are_packed() -> None:
    data = encode_message(Message(UUID, 1, fields=(Field.integer("n", 1, 2, 300),)))
    # 32 = field 6, wire type 2 (packed), 4 bytes: 01 02 ac 02
    assert bytes.fromhex("320401 02ac02".replace(" ", "")) in data
    data = encode_message(Message(UUID, 1, fields=(Field.boolean("b", True, False),)))
    assert bytes.fromhex("42020100") in data
    data = encode_message(Message(UUID, 1, fields=(Field.double("d", 1.5, math.inf),)))
    assert b"\x3a\x10" in data


def test_negative_integers_use_ten_byte_varints() -> None:
    data = encode_message(Message(UUID, -1, severity=-1, fields=(Field.integer("e", -2),)))
    assert decode_message(data).timestamp == -1
    assert decode_message(data).fields[0].values == (-2,)


@pytest.mark.parametrize(
    "msg",
    [
        Message(b"short", 1),
        Message(UUID, 2**63),
        Message(UUID, 1, pid=2**31),
        Message(UUID, 1, fields=(Field.integer("x", 2**64),)),
    ],
)
def test_out_of_range_values_are_refused(msg: Message) -> None:
    with pytest.raises(EncodeError):
        encode_message(msg)


@pytest.mark.parametrize("data", [b"\xff\xff", b"\x0a\x10" + b"x" * 3, b"\x10\x01", b""])
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_message(data)


def test_json_form() -> None:
    msg = Message(
        UUID,
        5,
        type="t",
        fields=(
            Field.integer("n", 7),
            Field.string("argv", "a", "b"),
            Field.bytes_("raw", b"\x00\xff"),
            Field.boolean("ok", True),
        ),
    )
    assert message_to_json(msg) == {
        "Uuid": "00010203-0405-0607-0809-0a0b0c0d0e0f",
        "Timestamp": 5,
        "Type": "t",
        "Fields": {"n": 7, "argv": ["a", "b"], "raw": "AP8=", "ok": True},
    }


def _varint_by_loop(value: int) -> bytes:
    rest = value + (1 << 64) if value < 0 else value
    out = bytearray()
    while rest >= 0x80:
        out.append((rest & 0x7F) | 0x80)
        rest >>= 7
    out.append(rest)
    return bytes(out)


@given(st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1))
def test_varint_is_protobufs_base_128(value: int) -> None:
    """The short forms (one to four bytes, and nine: timestamps, written without a loop)
    and the loop agree."""
    assert varint(value) == _varint_by_loop(value)


def test_varint_at_the_edges_of_its_short_forms() -> None:
    for edge in (0x80, 0x4000, 0x200000, 0x10000000, 1 << 56, 1 << 63):
        for value in (edge - 1, edge, edge + 1, -edge):
            assert varint(value) == _varint_by_loop(value), value


def test_nine_byte_varints_bit_by_bit() -> None:
    """The nine-byte form (timestamps) moves each of its 63 bits to its place: one bit
    at a time, and every group of seven full, over the least nine-byte value."""
    for bit in range(63):
        for value in ((1 << 56) | (1 << bit), (1 << 56) | ((1 << bit) - 1)):
            assert varint(value) == _varint_by_loop(value), value

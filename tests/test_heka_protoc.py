"""Our frames, decoded by an independent decoder: Debian's protoc."""

from __future__ import annotations

import re

from heka_vectors import EXAMPLE, EXAMPLE_MESSAGE
from protoc import protoc_decode, protoc_decode_raw

from audit_heka.heka.framing import Signer, Unframer, frame
from audit_heka.heka.message import Field, Message, encode_message


def _unframe_one(data: bytes) -> tuple[bytes, bytes]:
    """Split one frame into (header, message) by its own length bytes."""
    hlen = data[1]
    return data[2 : 2 + hlen], data[3 + hlen :]


def test_protoc_decodes_the_worked_example() -> None:
    header, message = _unframe_one(frame(encode_message(EXAMPLE)))
    assert protoc_decode(header, "message.Header").strip() == "message_length: 109"
    text = protoc_decode(message)
    assert 'type: "audit"' in text
    assert 'logger: "py-audit"' in text
    assert "severity: 6" in text
    assert "pid: 4242" in text
    assert 'hostname: "host1.example.com"' in text
    assert "timestamp: 1700000000123456789" in text
    assert re.search(r'name: "bytes_sent"\s+value_type: INTEGER\s+representation: "B"\s+'
                     r"value_integer: 1234", text)
    assert re.search(r'name: "user"\s+value_type: STRING\s+value_string: "alice"', text)


def test_protoc_decodes_signed_headers() -> None:
    md5_header, _ = _unframe_one(frame(EXAMPLE_MESSAGE, Signer("test", 1, b"secret")))
    text = protoc_decode(md5_header, "message.Header")
    assert "hmac_hash_function" not in text  # MD5 is the default and left unset, as Heka does
    assert 'hmac_signer: "test"' in text
    assert "hmac_key_version: 1" in text
    sha_header, _ = _unframe_one(frame(EXAMPLE_MESSAGE, Signer("test", 1, b"secret", "sha1")))
    assert "hmac_hash_function: SHA1" in protoc_decode(sha_header, "message.Header")
    # message_length comes first, as Hindsight requires
    assert protoc_decode_raw(sha_header).splitlines()[0] == "1: 109"


def test_decode_raw_shows_name_first_and_packed_arrays() -> None:
    msg = Message(
        bytes(16),
        1,
        fields=(
            Field.integer("ints", 1, 2, 300, representation="count"),
            Field.double("dbl", 0.5, 2.0),
            Field.boolean("flags", True, False, True),
            Field.string("argv", "a b", "c"),
        ),
    )
    raw = protoc_decode_raw(encode_message(msg))
    blocks = re.findall(r"10 \{\n(.*?)\n\}", raw, re.S)
    assert len(blocks) == 4
    for block in blocks:
        tags = [int(line.split(":")[0]) for line in block.split("\n")]
        assert tags[0] == 1, "the name must come first"
        assert tags == sorted(tags), "name, value_type, representation, then values"
    # packed arrays are ONE length-delimited value (protoc shows bytes), not one entry per value
    ints, dbl, flags, argv = blocks
    assert re.findall(r"^\s*6: .*$", ints, re.M) == ['  6: "\\001\\002\\254\\002"']
    assert len(re.findall(r"^\s*7:", dbl, re.M)) == 1
    assert re.search(r'^\s*8: "\\001\\000\\001"$', flags, re.M)
    assert len(re.findall(r"^\s*4:", argv, re.M)) == 2


def test_every_frame_of_a_stream_decodes_with_protoc() -> None:
    messages = [
        Message(
            i.to_bytes(16, "big"),
            1_700_000_000_000_000_000 + i,
            type="audit_log",
            payload=f"type=SYSCALL msg=audit(1.000:{i}): x=é",
            fields=(Field.integer("serial", i), Field.string("comm", "true")),
        )
        for i in range(5)
    ]
    stream = b"".join(frame(encode_message(m)) for m in messages)
    unframed = Unframer().feed(stream)
    assert len(unframed) == 5
    for i, u in enumerate(unframed):
        text = protoc_decode(u.message)
        assert f"value_integer: {i}\n" in text
        assert f"timestamp: {1_700_000_000_000_000_000 + i}" in text
        assert 'type: "audit_log"' in text

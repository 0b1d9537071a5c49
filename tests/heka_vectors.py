"""Byte-exact Heka test vectors.

The worked example is from ../shared/reference/heka-wire.md §8 (computed by
hand and checked with protoc and lua_sandbox); the 67-byte frame is Heka's
own "splits records" vector (heka pipeline/splitters_test.go).
"""

from __future__ import annotations

import uuid

from audit_heka.heka.message import Field, Message

EXAMPLE = Message(
    uuid=uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479").bytes,
    timestamp=1700000000123456789,
    type="audit",
    logger="py-audit",
    severity=6,
    pid=4242,
    hostname="host1.example.com",
    fields=(Field.string("user", "alice"), Field.integer("bytes_sent", 1234, representation="B")),
)

EXAMPLE_MESSAGE = bytes.fromhex(
    "0a10f47ac10b58cc4372a5670e02b2c3d479"
    "10959a97ece39fe7cb17"
    "1a05617564697422087079 2d6175646974".replace(" ", "")
    + "2806"
    "409221"
    "4a11686f7374312e6578616d706c652e636f6d"
    "520f0a047573657210002205616c696365"
    "52150a0a62797465735f73656e7410021a0142" "3202d209"
)
assert len(EXAMPLE_MESSAGE) == 109

EXAMPLE_FRAME = bytes.fromhex("1e02086d1f") + EXAMPLE_MESSAGE

EXAMPLE_MD5_FRAME = (
    bytes.fromhex("1e1c086d220474657374280132" "10cfb55564b11c3e172104895322bfcfbf1f")
    + EXAMPLE_MESSAGE
)

EXAMPLE_SHA1_HEADER = bytes.fromhex(
    "1e22086d18012204746573742801"
    "3214b6537c0696caa1df55b87908a9a8aa13bf1887601f"
)

HEKA_SPLITTER_FRAME = bytes.fromhex(
    "1e0208 3e1f0a10901d5627ec494c8fba8e849baaf7a6f610a6978a8fb6c1ae8e13"
    "1a0968656b6162656e636828063a03302e3840bfe5014a0a7472696e6b2d78323330".replace(" ", "")
)
assert len(HEKA_SPLITTER_FRAME) == 67

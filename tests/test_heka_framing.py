"""Framing, signing and the streaming unframer."""

from __future__ import annotations

import random

import pytest
from heka_vectors import (
    EXAMPLE_FRAME,
    EXAMPLE_MD5_FRAME,
    EXAMPLE_MESSAGE,
    EXAMPLE_SHA1_HEADER,
    HEKA_SPLITTER_FRAME,
)

from audit_heka.heka.errors import MessageTooLarge
from audit_heka.heka.framing import Signer, Unframed, Unframer, frame
from audit_heka.heka.message import Field, Message, encode_message

MD5 = Signer("test", 1, b"secret")
SHA1 = Signer("test", 1, b"secret", "sha1")


def test_unsigned_frame_is_byte_exact() -> None:
    assert frame(EXAMPLE_MESSAGE) == EXAMPLE_FRAME


def test_md5_frame_is_byte_exact() -> None:
    assert frame(EXAMPLE_MESSAGE, MD5) == EXAMPLE_MD5_FRAME


def test_sha1_frame_is_byte_exact() -> None:
    signed = frame(EXAMPLE_MESSAGE, SHA1)
    assert signed == EXAMPLE_SHA1_HEADER + EXAMPLE_MESSAGE


def test_heka_splitter_vector_with_bogus_data() -> None:
    # Heka's own test stream: two frames, BOGUS, a frame, BOGUS, a partial header.
    stream = (
        HEKA_SPLITTER_FRAME * 2 + b"BOGUS" + HEKA_SPLITTER_FRAME + b"BOGUS" + b"\x1e\x02\x08"
    )
    u = Unframer()
    out = u.feed(stream)
    assert [m.message for m in out] == [HEKA_SPLITTER_FRAME[5:]] * 3
    assert u.errors["garbage_bytes"] == 10
    assert u.buffered == 3
    assert u.close() == 3
    assert u.errors["truncated"] == 1


def test_header_without_unit_separator_is_skipped() -> None:
    # Heka's "invalid header (no unit separator)" vector
    stream = b"\x1e\x02\x08\x3e\xff" + HEKA_SPLITTER_FRAME
    u = Unframer()
    assert [m.message for m in u.feed(stream)] == [HEKA_SPLITTER_FRAME[5:]]
    assert u.errors["garbage_bytes"] == 5


@pytest.mark.parametrize("size", [0, 1, 0x7F, 0x80, 0x81, 0x3FFF, 0x4000, 0x4001, 70000])
def test_unsigned_header_at_every_length_of_its_varint(size: int) -> None:
    # frame() writes the common header (a two-byte length) itself: the same bytes as
    # the header spelled out here, on both sides of each varint length.
    message = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    length = bytearray()
    value = size
    while True:
        low, value = value & 0x7F, value >> 7
        length.append(low | (0x80 if value else 0))
        if not value:
            break
    header = b"\x08" + bytes(length)
    data = frame(message, max_message_size=1 << 20)
    assert data == b"\x1e" + bytes((len(header),)) + header + b"\x1f" + message
    unframer = Unframer(max_message_size=1 << 20)
    assert [u.message for u in unframer.feed(data)] == [message]


def test_max_message_size_boundary() -> None:
    assert frame(b"x" * 2000, max_message_size=2000)
    with pytest.raises(MessageTooLarge) as exc:
        frame(b"x" * 2001, max_message_size=2000)
    assert exc.value.size == 2001
    assert "2001" in str(exc.value)


def test_oversize_header_is_counted_and_skipped() -> None:
    big = frame(b"x" * 3000, max_message_size=10**6)
    u = Unframer(max_message_size=2048)
    out = u.feed(big + EXAMPLE_FRAME)
    assert [m.message for m in out] == [EXAMPLE_MESSAGE]
    assert u.errors["oversize"] == 1


def test_header_length_pointing_past_the_data_waits_then_resyncs() -> None:
    u = Unframer()
    # 0x1e, hlen 200: the "header" would run past everything we have
    assert u.feed(b"\x1e\xc8abc") == []
    assert u.buffered == 5
    # once 200+ bytes arrive the fake header is found invalid and skipped
    out = u.feed(b"\x00" * 200 + EXAMPLE_FRAME)
    assert [m.message for m in out] == [EXAMPLE_MESSAGE]
    assert u.errors["garbage_bytes"] == 205


def test_undecodable_header_is_bad_header() -> None:
    u = Unframer()
    out = u.feed(b"\x1e\x02\xff\xff\x1f" + EXAMPLE_FRAME)
    assert [m.message for m in out] == [EXAMPLE_MESSAGE]
    assert u.errors["bad_header"] == 1


def test_header_without_message_length_is_bad_header() -> None:
    u = Unframer()
    out = u.feed(b"\x1e\x02\x28\x01\x1f" + EXAMPLE_FRAME)
    assert len(out) == 1
    assert u.errors["bad_header"] == 1


def test_signed_frames_verify() -> None:
    u = Unframer(signers={MD5.lookup_key: MD5})
    assert u.feed(EXAMPLE_MD5_FRAME) == [Unframed(EXAMPLE_MESSAGE, "test", verified=True)]
    u = Unframer(signers={SHA1.lookup_key: SHA1})
    signed = frame(EXAMPLE_MESSAGE, SHA1)
    assert u.feed(signed) == [Unframed(EXAMPLE_MESSAGE, "test", verified=True)]


def test_without_verify_signed_frames_pass_unchecked() -> None:
    """heka-cat's behaviour (decode without keys); Heka's splitter verifies."""
    u = Unframer(verify=False)
    frames = EXAMPLE_FRAME + EXAMPLE_MD5_FRAME + frame(EXAMPLE_MESSAGE, SHA1)
    assert u.feed(frames) == [Unframed(EXAMPLE_MESSAGE),
                              Unframed(EXAMPLE_MESSAGE, "test", verified=False),
                              Unframed(EXAMPLE_MESSAGE, "test", verified=False)]
    assert not u.errors
    assert len(Unframer().feed(frames)) == 1  # verifying, with no keys: unknown signers


def test_bad_hmac_is_dropped_and_counted() -> None:
    wrong = Signer("test", 1, b"not-the-key")
    u = Unframer(signers={wrong.lookup_key: wrong})
    assert u.feed(EXAMPLE_MD5_FRAME + EXAMPLE_FRAME) == [Unframed(EXAMPLE_MESSAGE)]
    assert u.errors["bad_hmac"] == 1


def test_tampered_message_fails_hmac() -> None:
    tampered = bytearray(EXAMPLE_MD5_FRAME)
    tampered[-1] ^= 1
    u = Unframer(signers={MD5.lookup_key: MD5})
    assert u.feed(bytes(tampered)) == []
    assert u.errors["bad_hmac"] == 1


def test_unknown_signer_or_version() -> None:
    other = Signer("test", 2, b"secret")
    u = Unframer(signers={other.lookup_key: other})
    assert u.feed(EXAMPLE_MD5_FRAME) == []
    assert u.errors["unknown_signer"] == 1


def test_require_signature_drops_unsigned() -> None:
    u = Unframer(signers={MD5.lookup_key: MD5}, require_signature=True)
    out = u.feed(EXAMPLE_FRAME + EXAMPLE_MD5_FRAME)
    assert out == [Unframed(EXAMPLE_MESSAGE, "test", verified=True)]
    assert u.errors["unsigned"] == 1


def test_signer_spec_parsing() -> None:
    assert Signer.parse("ops:3=s3cr=t") == Signer("ops", 3, b"s3cr=t")
    assert Signer.parse("a:b:1=k", "sha1") == Signer("a:b", 1, b"k", "sha1")
    for bad in ("ops=key", "ops:x=key", ":1=key", "ops:1"):
        with pytest.raises(ValueError, match="SIGNER:VERSION=KEY"):
            Signer.parse(bad)


def _messages(n: int) -> list[bytes]:
    return [
        encode_message(
            Message(
                i.to_bytes(16, "big"),
                i,
                type="t",
                payload="\x1e\x1f" * (i % 7),  # separators inside messages must not confuse us
                fields=(Field.integer("i", i),),
            )
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", range(60))
def test_random_chunkings_and_garbage(seed: int) -> None:
    rnd = random.Random(seed)
    signed = seed % 2 == 0
    messages = _messages(40)
    signer = MD5 if signed else None
    parts = []
    garbage = 0
    for m in messages:
        if rnd.random() < 0.3:
            junk = bytes(rnd.choice(b"abc\x00\x1f") for _ in range(rnd.randint(1, 9)))
            parts.append(junk)
            garbage += len(junk)
        parts.append(frame(m, signer))
    tail = b"zz"
    stream = b"".join(parts) + tail
    u = Unframer(signers={MD5.lookup_key: MD5})
    out: list[bytes] = []
    pos = 0
    while pos < len(stream):
        step = rnd.randint(1, 300)
        out += [x.message for x in u.feed(stream[pos : pos + step])]
        pos += step
    assert out == messages
    assert u.errors["garbage_bytes"] == garbage + len(tail)
    assert set(u.errors) <= {"garbage_bytes"}


def test_truncated_frame_then_new_frame() -> None:
    # a sender that died mid-frame and reconnected: the torn frame is skipped
    torn = EXAMPLE_FRAME[:40]
    u = Unframer()
    out = u.feed(torn + EXAMPLE_FRAME)
    # the torn header announced 109 bytes, so the next frame is swallowed as its body,
    # exactly like Heka; the frame after that comes through
    out += u.feed(EXAMPLE_FRAME)
    assert out[-1].message == EXAMPLE_MESSAGE


def test_unframer_says_when_a_header_is_pending_and_what_it_consumed() -> None:
    """The listener's timeouts read these (issue 17, item 4)."""
    whole = frame(b"\x0a\x10" + bytes(16) + b"\x10\x01")
    u = Unframer()

    def state() -> tuple[bool, int, int]:
        return u.in_header, u.consumed, u.buffered

    assert state() == (False, 0, 0)
    u.feed(b"junk" + whole[:1])
    assert state() == (True, 4, 1)
    u.feed(whole[1:3])
    assert state() == (True, 4, 3)  # the header is longer than one byte
    u.feed(whole[3:-1])
    assert state() == (False, 4, len(whole) - 1)
    assert len(u.feed(whole[-1:])) == 1
    assert state() == (False, 4 + len(whole), 0)

"""Fuzz the Heka stream unframer (what ``listen`` reads from any peer).

The first input byte chooses the unframer (a small max_message_size, a
required signature, known signers) and how the rest of the stream is cut
into reads; the rest is the stream. Checked: nothing raises; cutting the
stream differently changes nothing (same messages, same counters); the
buffer never holds more than one maximal frame; every byte is accounted for
(in a frame, counted as garbage, or still buffered -- and counted as
truncated by close()); decoding what comes out raises only DecodeError and
a decoded message prints as JSON (what ``listen`` does with it).
"""

from __future__ import annotations

import json

from fuzz.harness import instrumented, run

with instrumented(__name__ == "__main__"):
    from audit_heka.heka.errors import DecodeError
    from audit_heka.heka.framing import MAX_HEADER_SIZE, Signer, Unframed, Unframer
    from audit_heka.heka.message import decode_message, message_to_json

SIGNERS = {
    s.lookup_key: s
    for s in (Signer("test", 1, b"secret", "md5"), Signer("test", 2, b"other", "sha1"))
}
DROPPED = ("bad_hmac", "unknown_signer", "unsigned")


def make(flags: int) -> Unframer:
    return Unframer(
        max_message_size=(1025 if flags & 1 else 64 * 1024),
        signers=SIGNERS if flags & 2 else None,
        require_signature=bool(flags & 4),
    )


def feed_all(unframer: Unframer, stream: bytes, chunk: int) -> list[Unframed]:
    out: list[Unframed] = []
    limit = 2 + MAX_HEADER_SIZE + 1 + unframer.max_message_size
    for i in range(0, len(stream), chunk):
        out += unframer.feed(stream[i : i + chunk])
        assert unframer.buffered <= limit, (unframer.buffered, limit)
    return out


def check_stream(flags: int, stream: bytes) -> list[Unframed]:
    whole = make(flags)
    got = feed_all(whole, stream, max(len(stream), 1))
    chunk = 1 + (flags >> 3)
    cut = make(flags)
    assert feed_all(cut, stream, chunk) == got
    assert cut.errors == whole.errors and cut.buffered == whole.buffered
    # Accounting: bytes not skipped and not buffered were consumed by frames.
    consumed = len(stream) - whole.errors["garbage_bytes"] - whole.buffered
    frames = len(got) + sum(whole.errors[r] for r in DROPPED)
    assert consumed >= sum(len(u.message) for u in got) + 4 * frames
    if frames == 0:
        assert consumed == 0
    left = whole.buffered
    assert whole.close() == left
    assert whole.errors["truncated"] == (1 if left else 0)
    for unframed in got:
        assert len(unframed.message) <= whole.max_message_size
        try:
            message = decode_message(unframed.message)
        except DecodeError:
            continue
        json.dumps(message_to_json(message), ensure_ascii=False)
    return got


def one_input(data: bytes) -> None:
    check_stream(data[0] if data else 0, data[1:])


if __name__ == "__main__":
    run(one_input)

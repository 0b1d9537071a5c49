"""Fuzz decode_message: arbitrary bytes where a Heka Message protobuf should be.

Checked: only DecodeError escapes; a decoded message prints as JSON (as
``listen`` and ``decode`` print it); one with a 16-byte uuid re-encodes with
our encoder to bytes that decode to the same message.
"""

from __future__ import annotations

import json
import math

from fuzz.harness import instrumented, run

with instrumented(__name__ == "__main__"):
    from audit_heka.heka.errors import DecodeError
    from audit_heka.heka.message import (
        UUID_SIZE,
        Message,
        ValueType,
        decode_message,
        encode_message,
        message_to_json,
    )


def _has_nan(message: Message) -> bool:
    return any(isinstance(v, float) and math.isnan(v)
               for f in message.fields if f.value_type is ValueType.DOUBLE for v in f.values)


def check_message_bytes(data: bytes) -> None:
    try:
        message = decode_message(data)
    except DecodeError as exc:
        assert str(exc)
        return
    json.dumps(message_to_json(message), ensure_ascii=False)
    if len(message.uuid) == UUID_SIZE and not _has_nan(message):
        assert decode_message(encode_message(message)) == message


def one_input(data: bytes) -> None:
    check_message_bytes(data)


if __name__ == "__main__":
    run(one_input)

"""Fuzz the netlink status decoders (AUDIT_GET, AUDIT_GET_FEATURE, AUDIT_SIGNAL_INFO).

Checked: each decoder raises only StatusError, on any length; a decoded
status re-encodes (for its settable fields) to a payload that decodes to the
same values; the ``auditctl -s`` lines format without error.
"""

from __future__ import annotations

import contextlib

from fuzz.harness import instrumented, run

with instrumented(__name__ == "__main__"):
    from audit_heka.netlink.status import (
        SETTABLE,
        StatusError,
        decode_features,
        decode_signal_info,
        decode_status,
        encode_status_set,
        format_status,
    )


def check_status(data: bytes) -> None:
    try:
        status = decode_status(data)
    except StatusError as exc:
        assert len(data) < 32 or len(data) % 4, exc
    else:
        assert len(data) >= 32
        format_status(status)
        status.as_dict()
        assert status.features is not None
        changes = {name: getattr(status, name) for name in SETTABLE
                   if getattr(status, name) is not None}
        again = decode_status(encode_status_set(**changes))
        for name, value in changes.items():
            assert getattr(again, name) == value
    for decoder in (decode_features, decode_signal_info):
        with contextlib.suppress(StatusError):
            decoder(data)


def one_input(data: bytes) -> None:
    check_status(data)


if __name__ == "__main__":
    run(one_input)

"""struct audit_status, audit_features and audit_sig_info as values (sans-IO).

Why length-tolerant: the struct grew over the years (8 fields on 2.6 kernels,
10 with version/backlog_wait_time, 11 since v5.9 with
backlog_wait_time_actual). A reply is decoded by its length: fields the kernel
did not send are ``None``, extra trailing bytes from a newer kernel are
ignored, and anything shorter than the 2.6 layout is an error, never a
guess. On AUDIT_SET the kernel copies ``min(sizeof, payload_len)``, so we
always send the full 44 bytes with a mask saying which fields count.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, fields

from audit_heka.netlink.uapi import Feature, StatusMask

STATUS_FIELDS = (
    "mask",
    "enabled",
    "failure",
    "pid",
    "rate_limit",
    "backlog_limit",
    "lost",
    "backlog",
    "feature_bitmap",
    "backlog_wait_time",
    "backlog_wait_time_actual",
)
STATUS_SIZE = 4 * len(STATUS_FIELDS)  # 44
#: The oldest layout (2.6 kernels) has the first eight fields.
STATUS_MIN_SIZE = 32

_U32 = struct.Struct("=I")
_STATUS = struct.Struct("=11I")
_FEATURES = struct.Struct("=4I")
_SIG_INFO_HEAD = struct.Struct("=Ii")

#: The fields an AUDIT_SET can change, with the mask bit that selects each.
SETTABLE: Mapping[str, StatusMask] = {
    "enabled": StatusMask.ENABLED,
    "failure": StatusMask.FAILURE,
    "pid": StatusMask.PID,
    "rate_limit": StatusMask.RATE_LIMIT,
    "backlog_limit": StatusMask.BACKLOG_LIMIT,
    "backlog_wait_time": StatusMask.BACKLOG_WAIT_TIME,
}


class StatusError(ValueError):
    """A status/feature/signal-info payload that cannot be decoded."""


@dataclass(frozen=True, slots=True)
class AuditStatus:
    """The kernel's audit state as one AUDIT_GET reply reported it.

    Fields the kernel's struct did not carry (older kernels) are ``None``.
    """

    mask: int
    enabled: int
    failure: int
    pid: int
    rate_limit: int
    backlog_limit: int
    lost: int
    backlog: int
    feature_bitmap: int | None = None
    backlog_wait_time: int | None = None
    backlog_wait_time_actual: int | None = None

    @property
    def features(self) -> Feature:
        return Feature(self.feature_bitmap or 0)

    def as_dict(self) -> dict[str, int | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def decode_status(payload: bytes) -> AuditStatus:
    """Decode an AUDIT_GET reply payload of any known length.

    Raises StatusError when it is shorter than the oldest layout or not a
    whole number of 32-bit fields within the known part.
    """
    size = len(payload)
    if size < STATUS_MIN_SIZE:
        raise StatusError(
            f"audit status reply is {size} bytes; expected {STATUS_MIN_SIZE}..{STATUS_SIZE}"
            " (is this an audit netlink socket?)"
        )
    known = min(size, STATUS_SIZE)
    if known % 4:
        raise StatusError(f"audit status reply is {size} bytes, not a multiple of 4")
    values = struct.unpack_from(f"={known // 4}I", payload)
    return AuditStatus(*values)


def encode_status_set(**changes: int) -> bytes:
    """The 44-byte AUDIT_SET payload that changes exactly ``changes``.

    Keyword names are AuditStatus field names from SETTABLE; values must fit
    in 32 bits.
    """
    values = dict.fromkeys(STATUS_FIELDS, 0)
    mask = StatusMask(0)
    for name, value in changes.items():
        if name not in SETTABLE:
            raise ValueError(f"audit status field {name!r} cannot be set")
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{name}={value} does not fit in 32 bits")
        values[name] = value
        mask |= SETTABLE[name]
    values["mask"] = int(mask)
    return _STATUS.pack(*values.values())


def encode_status_mask(mask: StatusMask) -> bytes:
    """An AUDIT_SET payload with only ``mask`` set (used for counter resets:
    ``mask == LOST`` resets lost and the kernel returns the old value)."""
    return _STATUS.pack(int(mask), *([0] * (len(STATUS_FIELDS) - 1)))


@dataclass(frozen=True, slots=True)
class AuditFeatures:
    """struct audit_features: vers, mask, features, lock (feature bits 0=
    only_unset_loginuid, 1=loginuid_immutable)."""

    vers: int
    mask: int
    features: int
    lock: int

    @property
    def loginuid_immutable(self) -> bool:
        return bool(self.features & 0x2)

    @property
    def loginuid_immutable_locked(self) -> bool:
        return bool(self.lock & 0x2)


AUDIT_FEATURE_VERSION = 1
AUDIT_FEATURE_LOGINUID_IMMUTABLE = 1


def decode_features(payload: bytes) -> AuditFeatures:
    if len(payload) < _FEATURES.size:
        raise StatusError(f"audit features reply is {len(payload)} bytes; expected 16")
    return AuditFeatures(*_FEATURES.unpack_from(payload))


def encode_features_set(feature: int, value: bool, lock: bool) -> bytes:
    bit = 1 << feature
    return _FEATURES.pack(AUDIT_FEATURE_VERSION, bit, bit if value else 0, bit if lock else 0)


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """struct audit_sig_info: who last sent SIGTERM/HUP/USR1/USR2 to the daemon."""

    uid: int
    pid: int
    context: str


def decode_signal_info(payload: bytes) -> SignalInfo:
    if len(payload) < _SIG_INFO_HEAD.size:
        raise StatusError(f"audit signal info reply is {len(payload)} bytes; expected >= 8")
    uid, pid = _SIG_INFO_HEAD.unpack_from(payload)
    ctx = payload[_SIG_INFO_HEAD.size :].split(b"\0", 1)[0].decode("utf-8", "replace")
    return SignalInfo(uid, pid, ctx)


def format_status(status: AuditStatus) -> list[tuple[str, str]]:
    """``auditctl -s`` lines as (name, value) pairs, for fields the kernel sent."""
    out: list[tuple[str, str]] = []
    for name in STATUS_FIELDS[1:]:
        value = getattr(status, name)
        if value is None or name == "feature_bitmap":
            continue
        out.append((name, str(value)))
    return out

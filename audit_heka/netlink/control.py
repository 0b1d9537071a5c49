"""The audit control channel over pyroute2 (an I/O edge).

Why pyroute2 here and not on the record path: pyroute2 has no audit family,
but it does the request/sequence/ACK/error bookkeeping well, which is what
control traffic (status, rules, features, signal info) needs. Its generic
parser is ~40x slower than slicing a datagram and trusts nlmsg_len, so the
record stream (source.py) does not go through it.

Two kernel habits shape this module (reference/kernel-audit.md §2):
- GET-style requests are sent WITHOUT NLM_F_ACK: the kernel answers them from
  a kthread, so the ACK arrives first and pyroute2 would stop at it.
- ``AUDIT_SET`` with ``mask == LOST`` (or BACKLOG_WAIT_TIME_ACTUAL) resets the
  counter and returns the old value as a *positive* NLMSG_ERROR code;
  pyroute2 takes abs() of error codes, so ``MarshalAudit`` reads the sign
  first and hands positive codes back as values.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterator
from types import TracebackType
from typing import Any, ClassVar

from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST, nlmsg, nlmsgerr
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.nlsocket import Marshal, NetlinkSocket

from audit_heka.netlink.rules import (
    Rule,
    as_watch_fallback,
    decode_rule,
    encode_rule,
    rule_has_key,
)
from audit_heka.netlink.status import (
    AUDIT_FEATURE_LOGINUID_IMMUTABLE,
    AuditFeatures,
    AuditStatus,
    SignalInfo,
    StatusError,
    decode_features,
    decode_signal_info,
    decode_status,
    encode_features_set,
    encode_status_mask,
    encode_status_set,
    format_status,
)
from audit_heka.netlink.uapi import NETLINK_AUDIT, NLMSG_ERROR, MsgType, StatusMask

_I32 = struct.Struct("=i")
_U32 = struct.Struct("=I")


class audit_msg(nlmsg):  # type: ignore[misc]  # pyroute2 names message classes after the C structs
    """Any audit control message: a netlink header and an opaque payload.

    The payload is decoded by the sans-IO codecs (status.py, rules.py), which
    know the struct's history; pyroute2's ``fields`` would need one fixed size.
    """

    fields = ()

    def encode(self) -> None:
        nlmsg.encode(self)
        payload: bytes = self.get("payload", b"")
        self.data.extend(payload)
        self.length = self["header"]["length"] = 16 + len(payload)
        _U32.pack_into(self.data, self.offset, self.length)

    def decode(self) -> None:
        nlmsg.decode(self)
        length = self["header"]["length"]
        self["payload"] = bytes(self.data[self.offset + 16 : self.offset + length])


class MarshalAudit(Marshal):  # type: ignore[misc]
    msg_map: ClassVar[dict[int, type[audit_msg]]] = {int(t): audit_msg for t in MsgType}
    default_message_class = audit_msg

    def parse_one_message(
        self, key: int, flags: int, sequence_number: int, data: Any, offset: int, length: int
    ) -> Any:
        if key == NLMSG_ERROR and len(data) >= offset + 20:
            (code,) = _I32.unpack_from(data, offset + 16)
            if code > 0:
                msg = nlmsgerr(data, offset=offset)
                msg.decode()
                msg["header"]["error"] = None
                msg["audit_value"] = code
                return msg
        return super().parse_one_message(key, flags, sequence_number, data, offset, length)


class AuditSocket(NetlinkSocket):  # type: ignore[misc]
    """A NETLINK_AUDIT socket with the audit marshal."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NETLINK_AUDIT, **kwargs)
        self.set_marshal(MarshalAudit())


_EXPLAIN = {
    errno.EPERM: "operation not permitted: audit is locked (enabled=2, only a reboot unlocks"
    " it) or this process lacks CAP_AUDIT_CONTROL",
    errno.EEXIST: "the kernel already has this (rule exists / another daemon registered)",
    errno.EINVAL: "the kernel rejected it as invalid (EINVAL)",
    errno.ENOENT: "no such rule in the kernel",
    errno.EACCES: "permission denied (only the registered daemon may unregister itself)",
    errno.ECONNREFUSED: "the kernel refused the audit connection (no audit support, or not"
    " in the initial user namespace)",
    errno.EOPNOTSUPP: "not supported by this kernel",
    errno.ENOSPC: "the kernel has no room for it (too many rules or fields)",
}


#: What libaudit 3.0.9 calls each request in "Error sending ... request (%s)"
#: (its strings; backlog_wait_time really reuses "backlog limit").
AUDITCTL_REQUESTS = {
    "add_rule": "add rule data",
    "delete_rule": "delete rule data",
    "enabled": "enable",
    "failure": "failure mode",
    "rate_limit": "rate limit",
    "backlog_limit": "backlog limit",
    "backlog_wait_time": "backlog limit",
    "lost": "lost reset",
    "list_rules": "rule list data",
    "status": "status",
}


_REQUEST_OF = {"adding rule": "add_rule", "deleting rule": "delete_rule"}


def auditctl_words(request: str, code: int) -> str:
    """The line auditctl prints when the kernel refuses ``request`` with ``code``.

    Why: operators search for auditctl's messages, and a refused rule line
    should read the same whichever tool loaded it.
    """
    reason = "Rule exists" if request == "add_rule" and code == errno.EEXIST else os.strerror(code)
    return f"Error sending {AUDITCTL_REQUESTS.get(request, request)} request ({reason})"


class AuditError(Exception):
    """A refused audit request, with the errno and a sentence for humans.

    ``request`` names the request as ``AUDITCTL_REQUESTS`` does, so that
    ``auditctl`` gives auditctl's own words for the refusal.
    """

    def __init__(self, code: int, what: str, request: str | None = None) -> None:
        self.errno = code
        self.what = what
        self.request = request or _REQUEST_OF.get(what)
        reason = _EXPLAIN.get(code, os.strerror(code))
        super().__init__(f"{what}: {reason} [{errno.errorcode.get(code, code)}]")

    @property
    def auditctl(self) -> str:
        """What auditctl prints for this refusal."""
        if self.request is None:
            return f"{self.what}: {os.strerror(self.errno)}"
        return auditctl_words(self.request, self.errno)


class AuditControl:
    """Status, rules, features and signal info over one control socket.

    Use as a context manager; every method raises AuditError on a kernel
    refusal and StatusError/RuleError on a reply it cannot decode.
    """

    def __init__(self, sock: Any | None = None) -> None:
        self._sock = sock if sock is not None else AuditSocket()
        if sock is None:
            try:
                self._sock.bind()
            except OSError as exc:
                self._sock.close()
                raise AuditError(exc.errno or errno.EIO, "opening the audit socket") from exc

    def __enter__(self) -> AuditControl:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    # -- plumbing --

    def _request(
        self, what: str, msg_type: int, payload: bytes = b"", *, ack: bool,
        request: str | None = None,
    ) -> list[Any]:
        msg = audit_msg()
        msg["payload"] = payload
        flags = NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
        try:
            return list(self._sock.nlm_request(msg, msg_type=msg_type, msg_flags=flags))
        except NetlinkError as exc:
            raise AuditError(exc.code, what, request) from None
        except OSError as exc:
            raise AuditError(exc.errno or errno.EIO, what, request) from None

    def _one_reply(self, what: str, msg_type: int, reply_type: int) -> bytes:
        for msg in self._request(what, msg_type, ack=False):
            if msg["header"]["type"] == reply_type:
                payload: bytes = msg["payload"]
                return payload
        raise AuditError(errno.EPROTO, f"{what}: no reply of type {reply_type}")

    # -- status --

    def get_status(self) -> AuditStatus:
        return decode_status(self._one_reply("reading audit status", MsgType.GET, MsgType.GET))

    def set_status(self, **changes: int) -> None:
        """AUDIT_SET of the named fields (enabled, failure, pid, rate_limit,
        backlog_limit, backlog_wait_time)."""
        what = "setting " + ", ".join(f"{k}={v}" for k, v in changes.items())
        request = next(iter(changes)) if len(changes) == 1 else None
        self._request(what, MsgType.SET, encode_status_set(**changes), ack=True,
                      request=request)

    def _reset(self, mask: StatusMask, what: str) -> int:
        for msg in self._request(what, MsgType.SET, encode_status_mask(mask), ack=True):
            if "audit_value" in msg:
                value: int = msg["audit_value"]
                return value
        return 0

    def reset_lost(self) -> int:
        """Zero the kernel's lost counter; returns the value it had."""
        return self._reset(StatusMask.LOST, "resetting the lost counter")

    def reset_backlog_wait_time_actual(self) -> int:
        return self._reset(
            StatusMask.BACKLOG_WAIT_TIME_ACTUAL, "resetting backlog_wait_time_actual"
        )

    def get_features(self) -> AuditFeatures:
        payload = self._one_reply("reading audit features", MsgType.GET_FEATURE,
                                  MsgType.GET_FEATURE)
        return decode_features(payload)

    def set_loginuid_immutable(self) -> None:
        payload = encode_features_set(AUDIT_FEATURE_LOGINUID_IMMUTABLE, True, True)
        self._request("setting loginuid immutable", MsgType.SET_FEATURE, payload, ack=True)

    def signal_info(self) -> SignalInfo:
        payload = self._one_reply("reading signal info", MsgType.SIGNAL_INFO,
                                  MsgType.SIGNAL_INFO)
        return decode_signal_info(payload)

    # -- rules --

    def list_rule_payloads(self) -> list[bytes]:
        """The raw AUDIT_LIST_RULES payloads, in the kernel's order."""
        msgs = self._request("listing rules", MsgType.LIST_RULES, ack=False)
        return [m["payload"] for m in msgs if m["header"]["type"] == MsgType.LIST_RULES]

    def list_rules(self) -> list[Rule]:
        return [decode_rule(p) for p in self.list_rule_payloads()]

    def add_rule(self, rule: Rule) -> Rule:
        """Add ``rule``; a refused directory watch is retried as a file watch,
        as auditctl does. Returns the rule that the kernel accepted."""
        try:
            self._request("adding rule", MsgType.ADD_RULE, encode_rule(rule), ack=True,
                          request="add_rule")
        except AuditError as exc:
            fallback = as_watch_fallback(rule)
            if exc.errno != errno.EINVAL or fallback is None:
                raise
            self._request("adding rule", MsgType.ADD_RULE, encode_rule(fallback), ack=True,
                          request="add_rule")
            return fallback
        return rule

    def delete_rule(self, rule: Rule) -> None:
        self._request("deleting rule", MsgType.DEL_RULE, encode_rule(rule), ack=True,
                      request="delete_rule")

    def delete_all(self, key: str | None = None) -> int:
        """``auditctl -D [-k key]``: delete every rule (with that key); returns
        how many were deleted."""
        count = 0
        for payload in self.list_rule_payloads():
            rule = decode_rule(payload)
            if key is not None and not rule_has_key(rule, key):
                continue
            self._request("deleting rule", MsgType.DEL_RULE, payload, ack=True,
                          request="delete_rule")
            count += 1
        return count

    def iter_status_lines(self) -> Iterator[tuple[str, str]]:
        yield from format_status(self.get_status())


__all__ = [
    "AuditControl",
    "AuditError",
    "AuditSocket",
    "MarshalAudit",
    "StatusError",
    "audit_msg",
    "auditctl_words",
]

"""Health reports: the daemon's loss and delivery counters as a Heka message.

Losses must show up where events do, so the counters travel as Heka
messages of their own Type through the same outputs, every N seconds and
at exit. A receiver can alert on ``Fields[kernel_lost]`` growing without
looking at the daemon's host. Sans-IO: the caller passes the clock and the
uuid.
"""

from __future__ import annotations

from collections.abc import Mapping

from audit_heka.heka.message import Field, Message

HEALTH_TYPE = "audit_heka_health"

#: Counters whose growth means an audit event may be missing (Severity 4).
LOSS_COUNTERS = (
    "kernel_lost",  # the kernel's own lost counter, delta since start
    "serial_gaps",  # serials the assembler never saw on the live stream
    "netlink_overruns",  # ENOBUFS on the audit socket
    "malformed_records",  # records that could not be parsed
    "oversize",  # events whose header alone exceeds max_message_size: refused
    "delivery_oversize",  # frames a target cannot carry even degraded
    "delivery_discarded",  # frames for a target gone for good (stdout closed)
    "delivery_spool_drops_oldest",
    "delivery_spool_drops_newest",
    "log_write_errors",  # events a log: target could not write
    "dropped_at_stop",  # frames a full `block` spool could not take at shutdown
    "rules_refused",  # rule lines not in force: what they would audit is not recorded
)


def health_message(
    counters: Mapping[str, int],
    *,
    timestamp_ns: int,
    uuid: bytes,
    hostname: str,
    pid: int,
    final: bool = False,
    previous: Mapping[str, int] | None = None,
) -> Message:
    """One health report.

    Fields carry every counter (INTEGER, totals since start). Severity is 4
    (warning) when a loss counter grew since ``previous``, else 6.
    """
    grew = any(counters.get(k, 0) > (previous or {}).get(k, 0) for k in LOSS_COUNTERS)
    fields = [Field.string("report", "final" if final else "periodic")]
    fields += [Field.integer(name, int(value)) for name, value in sorted(counters.items())]
    return Message(
        uuid=uuid,
        timestamp=timestamp_ns,
        type=HEALTH_TYPE,
        logger="audit-heka",
        severity=4 if grew else 6,
        pid=pid,
        hostname=hostname,
        fields=tuple(fields),
    )

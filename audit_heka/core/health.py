"""Health reports: the daemon's loss and delivery counters as a Heka message.

Losses must show up where events do, so the counters travel as Heka
messages of their own Type through the same outputs, every N seconds and
at exit. A receiver can alert on ``Fields[kernel_lost]`` growing without
looking at the daemon's host. Sans-IO: the caller passes the clock and the
uuid.
"""

from __future__ import annotations

from collections.abc import Mapping

from audit_heka.core.counters import LOSS_COUNTERS
from audit_heka.heka.message import Field, Message

__all__ = ["HEALTH_TYPE", "LOSS_COUNTERS", "health_message"]

HEALTH_TYPE = "audit_heka_health"


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

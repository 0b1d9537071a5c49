"""Transports that carry framed Heka messages to a receiver (I/O edges).

One module per transport (``tcp``, ``tls``, ``udp``, ``file``, ``stdout``),
all implementing ``transport.Transport``; ``target`` parses ``--target``
strings and ``transport.open_transport`` maps a parsed target to its
transport. Reliability (in flight, retries, acknowledgement) lives in
``audit_heka.core.delivery_state``, driven by ``audit_heka.delivery``, not here:
a transport only moves bytes and says how many of them the far side has not
acknowledged yet.
"""

from __future__ import annotations

"""audit-heka: ship Linux kernel audit events to Heka as framed protobuf messages.

The package is split in two on purpose. Everything that parses, assembles,
interprets, encodes and frames is sans-IO: ``core`` (pure functions and small
classes over bytes and strings, time passed in as ``now``; ``core.session`` and
``core.delivery_state`` are the two sans-IO objects the processes drive) and
``heka`` (the wire format). ``host`` reads the host's names, /proc and
privileges; only ``netlink``, ``journal`` (writer, follower, cursor),
``shipper``, ``delivery``, ``outputs``, ``supervisor`` and ``cli`` touch
sockets, files, clocks and signals.
"""

from __future__ import annotations

__version__ = "0.1.0"

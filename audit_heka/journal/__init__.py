"""The journal: the durable, append-only record log between reader and shipper.

The reader (audit_heka.netlink.reader) drains the kernel into it; the shipper
follows it. Its files are ordinary auditd logs (``ausearch -i -if`` and the Lua
decoder read them), with control bytes escaped so that one line is always one
record (:mod:`audit_heka.journal.format`).
"""

from __future__ import annotations

"""Heka's wire format: the Message protobuf and the stream framing around it.

Sans-IO: nothing in this package opens a socket or a file. ``message``
builds, encodes and decodes Heka messages; ``framing`` wraps encoded
messages in Heka's record framing (optionally HMAC-signed) and unwraps a
byte stream fed in any chunking.
"""

from __future__ import annotations

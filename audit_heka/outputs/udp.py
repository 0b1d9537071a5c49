"""UDP to a Heka UdpInput configured with HekaFramingSplitter + ProtobufDecoder.

One framed message per datagram. Heka's splitter reads into an 8 KiB buffer
by default (``min_buffer_size``), so a bigger datagram may be cut by the
read: frames above ``max_datagram`` are never sent (a truncated frame is a
silently lost event on the far side); the delivery loop counts them as
``oversize`` instead. UDP has no acknowledgement: a frame is released once
the kernel accepted the datagram, and an ICMP "port unreachable" reported on
a later send makes that frame go again after a backoff.
"""

from __future__ import annotations

import collections

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

#: Heka UdpInput's default splitter buffer (min_buffer_size) is 8 KiB.
DEFAULT_MAX_DATAGRAM = 8192
#: The largest UDP payload over IPv4.
MAX_UDP_PAYLOAD = 65507


class UdpTransport:
    """Frames as datagrams on a connected UDP socket."""

    joins_frames = False

    def __init__(self, host: str, port: int, max_datagram: int = DEFAULT_MAX_DATAGRAM) -> None:
        if not 0 < max_datagram <= MAX_UDP_PAYLOAD:
            raise ValueError(f"max datagram size must be from 1 to {MAX_UDP_PAYLOAD}")
        self.host = host
        self.port = port
        self.max_frame: int | None = max_datagram
        self._sock: socket.socket | None = None
        self.errors: collections.Counter[str] = collections.Counter()

    @property
    def name(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"udp://{host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> None:
        import socket  # noqa: PLC0415 - start-up cost that only UDP targets pay

        self.close()
        family, kind, proto, _name, address = socket.getaddrinfo(
            self.host,
            self.port,
            type=socket.SOCK_DGRAM,
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(1.0)
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        self._sock = sock

    def send(self, frame: bytes) -> None:
        if self._sock is None:
            raise ConnectionError(f"{self.name}: not connected")
        if self.max_frame is not None and len(frame) > self.max_frame:
            raise ValueError(f"frame of {len(frame)} bytes exceeds the datagram size")
        try:
            sent = self._sock.send(frame)
        except OSError:
            self.close()
            raise
        if sent != len(frame):
            self.close()
            raise OSError(f"{self.name}: datagram truncated by the kernel ({sent} bytes)")

    def unacked_bytes(self) -> int:
        return 0

    def alive(self) -> bool:
        return self._sock is not None

    def tick(self) -> None:
        """Nothing periodic for UDP."""

    def abort(self) -> None:
        """A UDP send never blocks for long (1 s timeout)."""

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            import contextlib  # noqa: PLC0415 - start-up cost that only UDP targets pay

            with contextlib.suppress(OSError):
                sock.close()

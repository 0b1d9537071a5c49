"""TCP to a Heka TcpInput (HekaFramingSplitter + ProtobufDecoder).

Blocking sockets with timeouts, driven from the target's own delivery
thread: ``send`` writes a whole frame or raises, after which the connection
is dropped. The receiver's splitter discards a partial frame (it rescans for
the next 0x1E), so resending the frame whole on a new connection is exactly
right. ``unacked_bytes`` (SIOCOUTQ) lets the delivery loop release a frame
only once the receiver's TCP has acknowledged it, not merely once it sat in
our send buffer.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import select
import socket
import struct
import termios


def socket_unacked(sock: socket.socket) -> int:
    """Bytes in the send queue not yet acknowledged by the peer's TCP (Linux SIOCOUTQ)."""
    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    value: int = struct.unpack("i", buf)[0]
    return value


def socket_peer_closed(sock: socket.socket) -> bool:
    """Whether a Heka receiver (which never sends) closed or reset the connection.

    A receiver never writes to us, so readability means EOF or an error.
    Checking before writing avoids the classic plain-TCP loss: the first write
    after the peer closed "succeeds" into a dead connection.
    """
    try:
        readable, _, errored = select.select([sock], [], [sock], 0)
    except (OSError, ValueError):
        return True
    if errored:
        return True
    if not readable:
        return False
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b""


def set_keepalive(sock: socket.socket) -> None:
    """Detect a receiver host that vanished (no FIN, no RST) within about a minute."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


class TcpTransport:
    """Frames over a plain TCP connection."""

    max_frame: int | None = None
    joins_frames = True

    def __init__(
        self,
        host: str,
        port: int,
        connect_timeout: float = 5.0,
        send_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self._sock: socket.socket | None = None
        self.errors: collections.Counter[str] = collections.Counter()

    @property
    def name(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def _open_socket(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            set_keepalive(sock)
            sock.settimeout(self.send_timeout)
        except OSError:
            sock.close()
            raise
        return sock

    def connect(self) -> None:
        self.close()
        self._sock = self._open_socket()

    def send(self, frame: bytes) -> None:
        if self._sock is None:
            raise ConnectionError(f"{self.name}: not connected")
        try:
            self._sock.sendall(frame)
        except OSError:
            self.close()
            raise

    def unacked_bytes(self) -> int:
        if self._sock is None:
            return 0
        try:
            return socket_unacked(self._sock)
        except OSError:
            return 0

    def alive(self) -> bool:
        return self._sock is not None and not socket_peer_closed(self._sock)

    def tick(self) -> None:
        """Nothing periodic for TCP."""

    def abort(self) -> None:
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

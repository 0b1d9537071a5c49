"""A Heka TcpInput/UdpInput stand-in: accept framed messages, count every failure.

Heka itself cannot run here, and it drops bad frames without a word; this
receiver does what Heka's input does (HekaFramingSplitter + ProtobufDecoder)
but reports every dropped byte and frame. It serves ``audit-heka listen``,
the demo, and the end-to-end tests. It is an I/O edge: the protocol work is
the sans-IO :class:`~audit_heka.heka.framing.Unframer`.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from audit_heka.heka.errors import DecodeError
from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, Signer, Unframer
from audit_heka.heka.message import Message, decode_message

#: A connection beyond this many is accepted and closed at once (and counted):
#: a peer opening thousands of sockets must not exhaust our descriptors.
MAX_CONNECTIONS = 1024
#: When every slot is taken, a peer silent for this long makes room for the
#: newcomer: otherwise 1,024 idle sockets would lock every sender out.
IDLE_EVICT = 10.0
#: Out of descriptors (EMFILE/ENFILE), accept() fails while the listening
#: socket stays readable: without a pause the loop would spin at 100% CPU.
#: Accepting resumes after this long, or as soon as a connection closes.
ACCEPT_PAUSE = 0.5
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_RECV_SIZE = 256 * 1024


def parse_address(text: str, default_port: int = 5565) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT``, ``:PORT`` or ``HOST`` -> (host, port)."""
    host, port = text, str(default_port)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unterminated IPv6 address in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"expected [HOST]:PORT, got {text!r}")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bad port in {text!r}")
    return host or "0.0.0.0", int(port)


@dataclass
class _Peer:
    address: str
    unframer: Unframer
    last_active: float = 0.0


@dataclass
class ListenerStats:
    """What a listener saw: messages, per-cause errors, connections."""

    messages: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    connections: int = 0


class Listener:
    """Receive Heka frames over TCP (many connections) or UDP (one frame per datagram)."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        udp: bool = False,
        signers: Mapping[str, Signer] | None = None,
        require_signature: bool = False,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        idle_evict: float = IDLE_EVICT,
    ) -> None:
        self.udp = udp
        self.idle_evict = idle_evict
        self.stats = ListenerStats()
        self._signers = dict(signers or {})
        self._require_signature = require_signature
        self._max_message_size = max_message_size
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        self._sock = socket.socket(family, kind)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if udp:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._sock.bind(address)
        if not udp:
            self._sock.listen(128)
        self._sock.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ)
        self._peers: dict[socket.socket, _Peer] = {}
        self._udp_unframer = self._new_unframer()
        self._accept_paused_until: float | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (useful after binding port 0)."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def _new_unframer(self) -> Unframer:
        return Unframer(self._max_message_size, self._signers, self._require_signature)

    def poll(self, timeout: float, on_message: Callable[[Message, str | None], None]) -> None:
        """Wait up to ``timeout`` seconds and hand every complete message to ``on_message``."""
        if self._accept_paused_until is not None:
            left = self._accept_paused_until - time.monotonic()
            if left <= 0:
                self._resume_accept()
            else:
                timeout = min(timeout, left)
        for key, _ in self._selector.select(timeout):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is self._sock:
                if self.udp:
                    self._read_datagrams(on_message)
                else:
                    self._accept()
            else:
                self._read_stream(sock, on_message)

    def _accept(self) -> None:
        while True:
            try:
                conn, addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.stats.errors["accept_failed"] += 1
                if exc.errno in _RESOURCE_ERRNOS and self._accept_paused_until is None:
                    self._selector.unregister(self._sock)
                    self._accept_paused_until = time.monotonic() + ACCEPT_PAUSE
                return
            now = time.monotonic()
            if len(self._peers) >= MAX_CONNECTIONS and not self._evict_idle(now):
                self.stats.errors["connections_refused"] += 1
                conn.close()
                continue
            conn.setblocking(False)
            self.stats.connections += 1
            self._peers[conn] = _Peer(f"{addr[0]}:{addr[1]}", self._new_unframer(), now)
            self._selector.register(conn, selectors.EVENT_READ)

    def _evict_idle(self, now: float) -> bool:
        """Close the longest-silent peer if it has been silent ``idle_evict`` seconds."""
        conn, peer = min(self._peers.items(), key=lambda item: item[1].last_active)
        if now - peer.last_active < self.idle_evict:
            return False
        self.stats.errors["connections_evicted"] += 1
        self._drop(conn, peer)
        return True

    def _drop(self, conn: socket.socket, peer: _Peer) -> None:
        peer.unframer.close()
        self._absorb(peer.unframer)
        self._selector.unregister(conn)
        conn.close()
        del self._peers[conn]

    def _read_stream(
        self, conn: socket.socket, on_message: Callable[[Message, str | None], None]
    ) -> None:
        peer = self._peers[conn]
        try:
            data = conn.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.stats.errors["connection_reset"] += 1
            data = b""
        if not data:
            self._drop(conn, peer)
            self._resume_accept()  # a descriptor is free again
            return
        peer.last_active = time.monotonic()
        self._deliver(peer.unframer, data, on_message)

    def _resume_accept(self) -> None:
        if self._accept_paused_until is not None:
            self._accept_paused_until = None
            self._selector.register(self._sock, selectors.EVENT_READ)

    def _read_datagrams(self, on_message: Callable[[Message, str | None], None]) -> None:
        while True:
            try:
                data = self._sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            # A datagram stands alone: a frame torn across two datagrams is lost.
            self._deliver(self._udp_unframer, data, on_message)
            self._udp_unframer.close()
            self._absorb(self._udp_unframer)

    def _deliver(
        self, unframer: Unframer, data: bytes, on_message: Callable[[Message, str | None], None]
    ) -> None:
        for unframed in unframer.feed(data):
            try:
                msg = decode_message(unframed.message)
            except DecodeError:
                self.stats.errors["undecodable"] += 1
                continue
            self.stats.messages += 1
            on_message(msg, unframed.signer)
        self._absorb(unframer)

    def _absorb(self, unframer: Unframer) -> None:
        if unframer.errors:
            self.stats.errors.update(unframer.errors)
            unframer.errors.clear()

    def close(self) -> None:
        """Close every connection and the listening socket."""
        for conn, peer in list(self._peers.items()):
            peer.unframer.close()
            self._absorb(peer.unframer)
            conn.close()
        self._peers.clear()
        self._selector.close()
        self._sock.close()

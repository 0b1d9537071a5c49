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
#: When every slot is taken, a peer that delivered messages but has been
#: silent this long may make room for a newcomer.
IDLE_EVICT = 10.0
#: Seconds a peer may take from a frame's first byte (0x1E) to the end of its
#: header (at most 258 bytes): a header trickled a byte at a time must not
#: hold a slot. Heka's senders write a frame in one go.
HEADER_TIMEOUT = 5.0
#: Seconds a peer may take from a frame's first byte to its last (64 KiB at
#: 20 kbit/s is 26 s).
FRAME_TIMEOUT = 30.0
#: Connections one source address may hold: one host cannot take every slot.
MAX_PER_SOURCE = 64
#: A frame in progress this long makes a peer that delivered before a
#: candidate for eviction when room is needed (a real sender writes a frame
#: in milliseconds).
SLOW_FRAME = 1.0
#: How often the timeouts are checked (seconds).
SWEEP_INTERVAL = 0.25
#: Connections accepted per poll before the peers already in are read: a
#: flood of reconnecting peers, each evicting the slowest, must not evict a
#: newcomer before its first frame (already in its socket) is even read.
ACCEPT_BATCH = 64
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
    """One connection, with what the eviction policy needs to know of it."""

    host: str
    address: str
    unframer: Unframer
    connected_at: float
    last_active: float
    last_message: float | None = None  # when it last completed a message
    frame_started: float | None = None  # when its buffered, incomplete frame began
    consumed: int = 0  # unframer.consumed when frame_started was last checked

    def progress(self) -> float:
        """When it last showed it is a real sender: its last message, or its connect."""
        return self.last_message if self.last_message is not None else self.connected_at


@dataclass(frozen=True, slots=True)
class PeerLimits:
    """The bounds that keep hostile peers from locking senders out (issue 17)."""

    max_connections: int = MAX_CONNECTIONS
    max_per_source: int = MAX_PER_SOURCE
    header_timeout: float = HEADER_TIMEOUT
    frame_timeout: float = FRAME_TIMEOUT
    idle_evict: float = IDLE_EVICT


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
        limits: PeerLimits | None = None,
    ) -> None:
        self.udp = udp
        self.limits = limits or PeerLimits()
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
        self._per_source: Counter[str] = Counter()
        self._next_sweep = 0.0
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
            elif sock in self._peers:  # not evicted earlier in this round
                self._read_stream(sock, on_message)
        if self._peers:
            now = time.monotonic()
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_INTERVAL
                self._sweep(now)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
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
            host = str(addr[0])
            if not self._make_room(host, now):
                conn.close()
                continue
            conn.setblocking(False)
            self.stats.connections += 1
            self._peers[conn] = _Peer(host, f"{host}:{addr[1]}", self._new_unframer(), now, now)
            self._per_source[host] += 1
            self._selector.register(conn, selectors.EVENT_READ)

    def _make_room(self, host: str, now: float) -> bool:
        """Whether a newcomer from ``host`` can have a slot, evicting to make one.

        A source at its cap gives up its own slowest peer; a full table gives
        up the slowest of all. Only a peer that has not proved itself can be
        the slowest: one that never completed a message, one whose frame has
        been in progress for ``SLOW_FRAME`` seconds, or one silent
        ``idle_evict`` seconds -- and among them the one whose last message
        (or connect) is oldest. A sender that keeps delivering is never
        evicted for a newcomer. Counted by cause.
        """
        limits = self.limits
        if self._per_source[host] >= limits.max_per_source and not self._evict_slowest(
            now, host, "per_source"
        ):
            self.stats.errors["refused.per_source"] += 1
            return False
        if len(self._peers) >= limits.max_connections and not self._evict_slowest(
            now, None, "slowest"
        ):
            self.stats.errors["refused.full"] += 1
            return False
        return True

    def _evict_slowest(self, now: float, host: str | None, cause: str) -> bool:
        idle = self.limits.idle_evict
        victim: tuple[socket.socket, _Peer] | None = None
        for conn, peer in self._peers.items():
            if host is not None and peer.host != host:
                continue
            slow = peer.frame_started is not None and now - peer.frame_started >= SLOW_FRAME
            if not (slow or peer.last_message is None or now - peer.last_active >= idle):
                continue
            if victim is None or peer.progress() < victim[1].progress():
                victim = (conn, peer)
        if victim is None:
            return False
        self._evict(*victim, cause)
        return True

    def _sweep(self, now: float) -> None:
        """Evict the peers that took too long over a header or a frame."""
        limits = self.limits
        late: list[tuple[socket.socket, _Peer, str]] = []
        for conn, peer in self._peers.items():
            if peer.frame_started is None:
                continue
            age = now - peer.frame_started
            if age > limits.header_timeout and peer.unframer.in_header:
                late.append((conn, peer, "header_timeout"))
            elif age > limits.frame_timeout:
                late.append((conn, peer, "frame_timeout"))
        for conn, peer, cause in late:
            self._evict(conn, peer, cause)

    def _evict(self, conn: socket.socket, peer: _Peer, cause: str) -> None:
        self.stats.errors[f"evicted.{cause}"] += 1
        self._drop(conn, peer)
        self._resume_accept()

    def _drop(self, conn: socket.socket, peer: _Peer) -> None:
        peer.unframer.close()
        self._absorb(peer.unframer)
        self._selector.unregister(conn)
        conn.close()
        del self._peers[conn]
        self._per_source[peer.host] -= 1
        if not self._per_source[peer.host]:
            del self._per_source[peer.host]

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
        now = time.monotonic()
        peer.last_active = now
        unframer = peer.unframer
        if self._deliver(unframer, data, on_message):
            peer.last_message = now
        if not unframer.buffered:
            peer.frame_started = None
        elif peer.frame_started is None or unframer.consumed != peer.consumed:
            peer.frame_started = now  # a new frame began
        peer.consumed = unframer.consumed

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
    ) -> bool:
        """Feed ``data``; whether it completed a message that decoded."""
        delivered = False
        for unframed in unframer.feed(data):
            try:
                msg = decode_message(unframed.message)
            except DecodeError:
                self.stats.errors["undecodable"] += 1
                continue
            self.stats.messages += 1
            delivered = True
            on_message(msg, unframed.signer)
        self._absorb(unframer)
        return delivered

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
        self._per_source.clear()
        self._selector.close()
        self._sock.close()

"""Loopback Heka receivers for the delivery tests: count uuids, misbehave on demand.

``TcpReceiver`` reads framed messages like a Heka TcpInput and records each
uuid; it can be killed (connections reset with unread data discarded, as when
hekad is SIGKILLed) and restarted on the same port, accept and never read (a
full TCP window), or close the first connection in the middle of a frame.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import struct
import threading
import time
import uuid as uuid_module

from audit_heka.heka.framing import Unframer, frame
from audit_heka.heka.message import Message, decode_message, encode_message


def make_frame(index: int, payload_size: int = 64) -> bytes:
    """A framed message whose uuid encodes ``index``."""
    msg = Message(
        uuid=uuid_module.UUID(int=index).bytes,
        timestamp=1_700_000_000_000_000_000 + index,
        type="audit-heka.test",
        payload="x" * payload_size,
    )
    return frame(encode_message(msg))


def index_of(uuid: bytes) -> int:
    return uuid_module.UUID(bytes=uuid).int


class TcpReceiver:
    def __init__(
        self,
        mode: str = "read",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        close_after: int = 0,
    ) -> None:
        self.mode = mode  # "read" or "never_read"
        self.port = port
        self.tls = tls
        self.close_after = close_after  # "close mid-frame": bytes before the first cut
        self.indexes: list[int] = []
        #: Every message as received (encoded), in order: byte-identity checks.
        self.messages: list[bytes] = []
        self.connections = 0
        self.tls_errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._listener is not None
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ)
        unframers: dict[socket.socket, Unframer] = {}
        received: dict[socket.socket, int] = {}
        while not self._stop.is_set():
            for key, _ in sel.select(0.02):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    conn, _addr = self._listener.accept()
                    if self.tls is not None:
                        conn.settimeout(5)
                        try:
                            conn = self.tls.wrap_socket(conn, server_side=True)
                        except (OSError, ssl.SSLError):
                            self.tls_errors += 1
                            conn.close()
                            continue
                    self.connections += 1
                    self._conns.append(conn)
                    if self.mode != "never_read":
                        conn.setblocking(False)
                        sel.register(conn, selectors.EVENT_READ)
                        unframers[conn] = Unframer()
                        received[conn] = 0
                    continue
                try:
                    data = sock.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError):
                    continue
                except OSError:
                    data = b""
                if self.close_after and received[sock] + len(data) >= self.close_after:
                    data = data[: self.close_after - received[sock]]
                    self.close_after = 0
                    self._record(unframers[sock], data)
                    sel.unregister(sock)
                    self._reset(sock)
                    continue
                received[sock] += len(data)
                if not data:
                    sel.unregister(sock)
                    sock.close()
                    continue
                self._record(unframers[sock], data)
        sel.close()

    def _record(self, unframer: Unframer, data: bytes) -> None:
        for unframed in unframer.feed(data):
            with self._lock:
                self.indexes.append(index_of(decode_message(unframed.message).uuid))
                self.messages.append(bytes(unframed.message))

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.close()

    def kill(self) -> None:
        """Die like a SIGKILLed receiver: unread data is discarded, peers get a reset."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for conn in self._conns:
            self._reset(conn)
        self._conns.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def received(self) -> list[int]:
        with self._lock:
            return list(self.indexes)

    def wait_for(self, wanted: set[int], timeout: float) -> set[int]:
        """Wait until every index in ``wanted`` arrived; return the missing ones."""
        deadline = time.monotonic() + timeout
        while True:
            missing = wanted - set(self.received())
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.02)


class UdpReceiver:
    def __init__(self, buffer_size: int = 8192) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.buffer_size = buffer_size
        self.indexes: list[int] = []
        self.datagram_sizes: list[int] = []
        self.unframer_errors: dict[str, int] = {}

    def drain(self, timeout: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(self.buffer_size)
            except TimeoutError:
                continue
            self.datagram_sizes.append(len(data))
            unframer = Unframer()
            for unframed in unframer.feed(data):
                self.indexes.append(index_of(decode_message(unframed.message).uuid))
            unframer.close()
            for k, v in unframer.errors.items():
                self.unframer_errors[k] = self.unframer_errors.get(k, 0) + v

    def close(self) -> None:
        self.sock.close()

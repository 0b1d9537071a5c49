"""The interface every transport implements, and the factory from a target.

The delivery loop runs each transport in its own thread with blocking calls
bounded by timeouts, so a transport is a small object: ``connect``, ``send``
a whole frame or raise, report ``unacked_bytes`` (what was sent but may
still be lost if the connection dies now), ``abort`` from another thread to
unblock a stuck ``send`` at shutdown, and ``close``.
"""

from __future__ import annotations

from types import MappingProxyType

from audit_heka.outputs.file import FileTransport, FsyncPolicy
from audit_heka.outputs.target import TargetKind, TlsOptions
from audit_heka.outputs.udp import DEFAULT_MAX_DATAGRAM, UdpTransport
from audit_heka.value import Value

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
#: :class:`Transport` is a Protocol: it exists for the type checker only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import collections
    from collections.abc import Mapping
    from typing import Any, Final, Protocol, TextIO

    from audit_heka.heka.framing import Signer
    from audit_heka.outputs.target import Target

    class Transport(Protocol):
        """A way to move frames to one receiver."""

        @property
        def name(self) -> str: ...

        @property
        def max_frame(self) -> int | None:
            """Largest frame this transport can carry whole (None: no limit)."""
            ...

        @property
        def connected(self) -> bool: ...

        #: Whether several frames may be written with one ``send`` (a byte stream
        #: that resends everything unacknowledged after a failure anyway). Not UDP
        #: (a datagram per frame), not files (a failed batch would leave whole
        #: frames that are written again), not stdout (decodes frame by frame).
        joins_frames: bool

        #: Counted problems of the transport itself (e.g. ``malformed`` frames).
        errors: collections.Counter[str]

        def connect(self) -> None:
            """Open the connection (bounded by the transport's timeout); raises OSError."""

        def send(self, frame: bytes) -> None:
            """Write the whole frame or raise OSError (the connection is then unusable)."""

        def unacked_bytes(self) -> int:
            """Bytes sent that the far side has not acknowledged (0 when it cannot say)."""
            ...

        def alive(self) -> bool:
            """False if the far side is known to have gone away (checked without blocking)."""
            ...

        def tick(self) -> None:
            """Periodic work while idle (e.g. a timed fsync)."""

        def abort(self) -> None:
            """Unblock a ``send`` running in another thread (shutdown)."""

        def close(self) -> None: ...


_NO_TLS = TlsOptions()
_NEVER = FsyncPolicy()
_NO_SIGNERS: Mapping[str, Signer] = MappingProxyType({})


class TransportOptions(Value):
    """Per-run transport settings (from the ``run`` command line)."""

    __slots__ = ("connect_timeout", "fsync", "max_datagram", "send_timeout", "signers",
                 "stdout", "tls")

    def __init__(self, connect_timeout: float = 5.0, send_timeout: float = 10.0,
                 max_datagram: int = DEFAULT_MAX_DATAGRAM, tls: TlsOptions = _NO_TLS,
                 fsync: FsyncPolicy = _NEVER, signers: Mapping[str, Signer] = _NO_SIGNERS,
                 stdout: TextIO | None = None) -> None:
        self.connect_timeout: Final = connect_timeout
        self.send_timeout: Final = send_timeout
        self.max_datagram: Final = max_datagram
        self.tls: Final = tls
        self.fsync: Final = fsync
        self.signers: Final = signers
        self.stdout: Final = stdout

    def _as_dict(self) -> dict[str, Any]:
        return {"connect_timeout": self.connect_timeout, "send_timeout": self.send_timeout,
                "max_datagram": self.max_datagram, "tls": self.tls, "fsync": self.fsync,
                "signers": self.signers, "stdout": self.stdout}


def open_transport(target: Target, options: TransportOptions) -> Transport:
    """The transport for ``target`` (not yet connected).

    TCP, TLS and JSON lines are imported when a target needs them: ``ssl``
    alone costs ~35 ms of start-up, ``socket`` ~2 ms, ``json`` and ``logging``
    ~5 ms, which a replay to a file must not pay.
    """
    if target.kind is TargetKind.TCP:
        from audit_heka.outputs.tcp import TcpTransport  # noqa: PLC0415 - see above

        return TcpTransport(target.host, target.port, options.connect_timeout, options.send_timeout)
    if target.kind is TargetKind.TLS:
        from audit_heka.outputs.tls import TlsTransport  # noqa: PLC0415 - see above

        return TlsTransport(
            target.host,
            target.port,
            options.tls,
            options.connect_timeout,
            options.send_timeout,
        )
    if target.kind is TargetKind.UDP:
        return UdpTransport(target.host, target.port, options.max_datagram)
    if target.kind is TargetKind.FILE:
        return FileTransport(target.path, options.fsync)
    from audit_heka.outputs.stdout import JsonLinesTransport  # noqa: PLC0415 - see above

    return JsonLinesTransport(options.stdout, options.signers)

"""Parsing ``--target`` strings into a value the delivery layer can act on.

Pure: a string in, a frozen ``Target`` or a ``TargetError`` naming the
accepted forms out, so a typo on the command line is a one-line message and
not a traceback or a daemon that silently ships nowhere.
"""

from __future__ import annotations

import enum
import re

from audit_heka.value import Value

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final


class TargetKind(enum.Enum):
    """The transports a target can name."""

    TCP = "tcp"
    UDP = "udp"
    TLS = "tls"
    FILE = "file"
    STDOUT = "stdout"


ACCEPTED_FORMS = (
    "host:port, tcp://host:port, udp://host:port, tls://host:port "
    "(IPv6 as [::1]:5565), file:PATH, or - for JSON lines on stdout"
)


class TargetError(ValueError):
    """A target string that does not parse; the message names the accepted forms."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"invalid target {text!r}: {reason} (accepted: {ACCEPTED_FORMS})")
        self.text = text
        self.reason = reason


class TlsOptions(Value):
    """``--ca``, ``--cert``, ``--key`` and the server name to check.

    Here rather than in ``outputs.tls``: every command builds transport
    options, and importing ``ssl`` (~35 ms) for that is what only a TLS
    target needs. (Written out, as the other small values of the outputs: no typing,
    no dataclasses at start-up.)
    """

    __slots__ = ("ca", "cert", "insecure", "key", "server_name")

    def __init__(self, ca: str | None = None, cert: str | None = None, key: str | None = None,
                 server_name: str | None = None, insecure: bool = False) -> None:
        self.ca: Final = ca
        self.cert: Final = cert
        self.key: Final = key
        self.server_name: Final = server_name
        self.insecure: Final = insecure

    def _as_dict(self) -> dict[str, Any]:
        return {"ca": self.ca, "cert": self.cert, "key": self.key, "server_name": self.server_name,
                "insecure": self.insecure}


class Target(Value):
    """Where frames go. ``host``/``port`` for network kinds, ``path`` for files."""

    __slots__ = ("host", "kind", "path", "port")

    def __init__(self, kind: TargetKind, host: str = "", port: int = 0, path: str = "") -> None:
        self.kind: Final = kind
        self.host: Final = host
        self.port: Final = port
        self.path: Final = path

    def _as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "host": self.host, "port": self.port, "path": self.path}

    def __str__(self) -> str:
        if self.kind is TargetKind.STDOUT:
            return "-"
        if self.kind is TargetKind.FILE:
            return f"file:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind.value}://{host}:{self.port}"

    @property
    def is_stream(self) -> bool:
        """Whether frames travel over a connection that can break mid-frame."""
        return self.kind in (TargetKind.TCP, TargetKind.TLS)


#: Compiled on first use (re keeps it): a replay to a file names no host (start-up).
_HOSTNAME = r"^(?=.{1,253}$)[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\.[A-Za-z0-9_-]{1,63})*\.?$"


def _host_port(text: str, rest: str) -> tuple[str, int]:
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0 or not rest[close + 1 :].startswith(":"):
            raise TargetError(text, "an IPv6 address must be written [addr]:port")
        host, port_text = rest[1:close], rest[close + 2 :]
        import ipaddress  # noqa: PLC0415 - ~2 ms of start-up that only [IPv6] targets need

        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise TargetError(text, f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = rest.rpartition(":")
        if not sep or not host:
            raise TargetError(text, "missing host or port")
        if ":" in host:
            raise TargetError(text, "an IPv6 address must be written [addr]:port")
        if not re.match(_HOSTNAME, host):
            raise TargetError(text, f"{host!r} is not a host name or address")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TargetError(text, f"port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def parse_target(text: str) -> Target:
    """Parse one ``--target`` value."""
    if text == "-":
        return Target(TargetKind.STDOUT)
    if text.startswith("file:"):
        path = text[len("file:") :]
        path = path.removeprefix("//")
        if not path:
            raise TargetError(text, "file: needs a path")
        return Target(TargetKind.FILE, path=path)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    kinds = {k.value: k for k in (TargetKind.TCP, TargetKind.UDP, TargetKind.TLS)}
    kind = kinds.get(scheme.lower())
    if kind is None:
        raise TargetError(text, f"unknown scheme {scheme!r}")
    if "/" in rest:
        raise TargetError(text, "no path is allowed after host:port")
    host, port = _host_port(text, rest)
    return Target(kind, host=host, port=port)

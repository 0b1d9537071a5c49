"""TLS to a Heka TcpInput with ``use_tls = true``.

Verification is on by default (system CAs, host name checked against the
certificate); ``ca`` replaces the trust store with one file (a private CA, or
a self-signed receiver certificate), ``cert``/``key`` present a client
certificate for a TcpInput with ``client_auth``. ``insecure`` exists for
labs only and is logged loudly.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl

from audit_heka.outputs.target import TlsOptions
from audit_heka.outputs.tcp import TcpTransport, socket_peer_closed

__all__ = ["TlsOptions", "TlsTransport", "client_context"]

log = logging.getLogger(__name__)


def client_context(options: TlsOptions) -> ssl.SSLContext:
    """An SSL context for the sender; raises ValueError with a clear message on bad files."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if options.ca is not None:
            context.load_verify_locations(cafile=options.ca)
        if options.cert is not None:
            context.load_cert_chain(options.cert, options.key)
        elif options.key is not None:
            raise ValueError("--key needs --cert")
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"TLS setup failed: {exc}") from exc
    if options.insecure:
        log.warning("TLS certificate verification is OFF (insecure): anyone can impersonate it")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class TlsTransport(TcpTransport):
    """Frames over TLS; byte accounting as for TCP (SIOCOUTQ counts ciphertext,
    which only makes the release point more conservative).
    """

    def __init__(
        self,
        host: str,
        port: int,
        options: TlsOptions,
        connect_timeout: float = 5.0,
        send_timeout: float = 10.0,
    ) -> None:
        super().__init__(host, port, connect_timeout, send_timeout)
        self.options = options
        self.context = client_context(options)

    @property
    def name(self) -> str:
        return "tls" + super().name[3:]

    def connect(self) -> None:
        self.close()
        raw = self._open_socket()
        raw.settimeout(self.connect_timeout)
        try:
            sock = self.context.wrap_socket(
                raw,
                server_hostname=self.options.server_name or self.host,
            )
        except (OSError, ssl.SSLError):
            with contextlib.suppress(OSError):
                raw.close()
            raise
        sock.settimeout(self.send_timeout)
        self._sock = sock

    def alive(self) -> bool:
        # A TLS peer may legitimately send (session tickets, alerts): peek at
        # the raw socket only for EOF/errors, via the TCP check on the fd.
        sock = self._sock
        if sock is None:
            return False
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        raw = socket.socket(fileno=sock.fileno())
        try:
            closed = socket_peer_closed(raw)
        finally:
            raw.detach()
        return not closed

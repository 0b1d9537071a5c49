"""Heka stream framing: frame, sign, and a streaming unframer.

A frame is ``0x1E | len(header) | Header pb | 0x1F | Message pb``
(heka ``message/message.go``). The header carries the message length and,
when signed, an HMAC of the *message bytes only*. Heka drops a frame with a
bad signature or an unknown signer without a word, so a misconfigured key is
invisible on the wire; the :class:`Unframer` counts every such case instead,
which is what ``audit-heka listen`` is for.
"""

from __future__ import annotations

from collections import Counter

from audit_heka.heka.errors import FramingError, MessageTooLarge
from audit_heka.heka.message import varint
from audit_heka.value import Value

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final, Literal

    HashName = Literal["md5", "sha1"]

RECORD_SEPARATOR = 0x1E
UNIT_SEPARATOR = 0x1F
MAX_HEADER_SIZE = 255
#: Heka's default ``max_message_size`` (hekad global option, 0.10).
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024
#: hekad refuses a max_message_size of 1024 or less (cmd/hekad/main.go).
MIN_MAX_MESSAGE_SIZE = 1025

# Header.HmacHashFunction (message.proto) as plain numbers: framing must not
# import the protobuf runtime (~20 ms of start-up) to write frames; a test
# checks these against the generated bindings.
HMAC_MD5 = 0
HMAC_SHA1 = 1
_HASH_BY_HEADER = {HMAC_MD5: "md5", HMAC_SHA1: "sha1"}


class Signer(Value):
    """An HMAC signing identity, as Heka's ``[x.signer.NAME_VERSION] hmac_key``.

    A :class:`~audit_heka.value.Value`, not a dataclass: start-up cost (measured there).
    """

    __slots__ = ("hash", "key", "name", "version")

    def __init__(self, name: str, version: int, key: bytes, hash: HashName = "md5") -> None:
        self.name: Final = name
        self.version: Final = version
        self.key: Final = key
        self.hash: Final = hash

    def _as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "key": self.key, "hash": self.hash}

    @property
    def lookup_key(self) -> str:
        """The name Heka looks a signer up by: ``"<signer>_<version>"``."""
        return f"{self.name}_{self.version}"

    @classmethod
    def parse(cls, spec: str, hash: HashName = "md5") -> Signer:
        """Parse ``SIGNER:VERSION=KEY`` (the CLI form of ``--hmac-key``)."""
        ident, sep, key = spec.partition("=")
        name, colon, version = ident.rpartition(":")
        if not sep or not colon or not name or not version.isdigit():
            raise ValueError(f"expected SIGNER:VERSION=KEY, got {spec!r}")
        return cls(name, int(version), key.encode(), hash)


def _hmac(key: bytes, message: bytes, hash_name: str) -> bytes:
    """The HMAC of ``message``: hmac (hashlib, OpenSSL's start: ~4 ms) is imported to sign only."""
    import hmac  # noqa: PLC0415 - start-up cost that only signing and verifying pay

    return hmac.new(key, message, hash_name).digest()


def _header(message: bytes, signer: Signer | None) -> bytes:
    # message_length first: Hindsight's reader requires the header to begin with tag 0x08.
    header = b"\x08" + varint(len(message))
    if signer is None:
        return header
    digest = _hmac(signer.key, message, signer.hash)
    name = signer.name.encode()
    # MD5 is the default hash function: like Heka's Go client, leave it unset.
    if signer.hash == "sha1":
        header += b"\x18\x01"
    header += b"\x22" + varint(len(name)) + name + b"\x28" + varint(signer.version)
    return header + b"\x32" + varint(len(digest)) + digest


def frame_overhead(message_length: int, signer: Signer | None = None) -> int:
    """Bytes a frame adds to a message of ``message_length`` bytes.

    Why: a target that limits whole frames (a UDP datagram) needs the message
    limit that leaves room for the header; the digest length does not depend
    on the message, so no message is hashed.
    """
    header = _header(b"", signer)
    return 3 + len(header) - 1 + len(varint(message_length))


def unframe_one(data: bytes) -> bytes:
    """The message of one frame we wrote ourselves (header not verified)."""
    if len(data) < 3 or data[0] != RECORD_SEPARATOR:
        raise FramingError("not a frame")
    end = 2 + data[1]
    if len(data) <= end or data[end] != UNIT_SEPARATOR:
        raise FramingError("not a frame")
    return data[end + 1 :]


def frame(
    message: bytes,
    signer: Signer | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> bytes:
    """Wrap an encoded message in Heka's stream framing, signed if ``signer``.

    Raises :class:`MessageTooLarge` rather than emit a frame Heka would drop.
    """
    size = len(message)
    if size > max_message_size:
        raise MessageTooLarge(size, max_message_size)
    if signer is None and 0x80 <= size < 0x4000:  # most events: the header made here
        return bytes((0x1E, 3, 8, (size & 0x7F) | 0x80, size >> 7, 0x1F)) + message
    header = _header(message, signer)
    if len(header) > MAX_HEADER_SIZE:
        raise FramingError(f"header of {len(header)} bytes exceeds {MAX_HEADER_SIZE}")
    return b"\x1e" + bytes((len(header),)) + header + b"\x1f" + message


class Unframed(Value):
    """A message taken out of the stream, with the signer named in its header.

    ``verified`` says whether that signature was checked against a key (always
    so when the Unframer verifies); it is None for an unsigned frame.
    """

    __slots__ = ("message", "signer", "verified")

    def __init__(self, message: bytes, signer: str | None = None,
                 verified: bool | None = None) -> None:
        self.message: Final = message
        self.signer: Final = signer
        self.verified: Final = verified

    def _as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "signer": self.signer, "verified": self.verified}


#: Names of the errors :class:`Unframer` counts.
ERRORS = (
    "garbage_bytes",  # bytes skipped outside any frame
    "bad_header",  # a 0x1E whose header is not a valid Heka header
    "oversize",  # a header announcing more than max_message_size
    "bad_hmac",  # signature does not match the message
    "unknown_signer",  # signed by a signer/version we have no key for
    "unsigned",  # no signature while one is required
    "truncated",  # the stream ended inside a frame
)


class Unframer:
    """Turn a byte stream, fed in any chunking, into messages.

    It finds frames the way Heka's HekaFramingSplitter does: scan to the next
    0x1E; if what follows is not a valid header (no 0x1F where the length
    byte says, a header that does not parse, an oversize length), skip that
    one byte and scan again. Frames that are complete but fail verification
    are consumed whole. Every skipped byte and dropped frame is counted in
    :attr:`errors`; nothing raises.

    With ``verify`` (Heka's splitter, ``listen``) a signed frame passes only if
    a key in ``signers`` checks its HMAC. Without it (heka-cat, ``decode``
    without keys) signed frames pass unchecked, marked ``verified=False``.
    """

    def __init__(
        self,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        signers: Mapping[str, Signer] | None = None,
        require_signature: bool = False,
        verify: bool = True,
    ) -> None:
        self.max_message_size = max_message_size
        self.signers = dict(signers or {})
        self.require_signature = require_signature
        self.verify = verify
        self.errors: Counter[str] = Counter()
        self._buf = bytearray()
        #: Bytes taken out of the buffer so far (frames, skipped bytes): when
        #: it moves, a frame still buffered is a new one (listener timers).
        self.consumed = 0

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    @property
    def in_header(self) -> bool:
        """A frame has begun (its 0x1E is buffered) but its header is incomplete."""
        buf = self._buf
        return bool(buf) and (len(buf) < 2 or len(buf) < buf[1] + 3)

    def feed(self, data: bytes) -> list[Unframed]:
        """Add ``data`` to the stream; return every message it completes."""
        self._buf += data
        out: list[Unframed] = []
        buf = self._buf
        pos = 0
        while True:
            start = buf.find(RECORD_SEPARATOR, pos)
            if start < 0:
                if len(buf) > pos:
                    self.errors["garbage_bytes"] += len(buf) - pos
                pos = len(buf)
                break
            if start > pos:
                self.errors["garbage_bytes"] += start - pos
            pos = start
            if len(buf) - start < 2:
                break
            header_end = start + buf[start + 1] + 3
            if len(buf) < header_end:
                break
            header = self._parse_header(bytes(buf[start + 2 : header_end - 1]), buf[header_end - 1])
            if header is None:
                self.errors["garbage_bytes"] += 1
                pos = start + 1
                continue
            frame_end = header_end + header.message_length
            if len(buf) < frame_end:
                break
            message = bytes(buf[header_end:frame_end])
            pos = frame_end
            unframed = self._verify(header, message)
            if unframed is not None:
                out.append(unframed)
        del buf[:pos]
        self.consumed += pos
        return out

    def close(self) -> int:
        """End of stream: count and drop an incomplete trailing frame; return its size."""
        left = len(self._buf)
        if left:
            self.errors["truncated"] += 1
            self._buf.clear()
        return left

    # The header is Any, not message_pb2.Header: upb returns bytes for a
    # hmac_signer that is not UTF-8, and the compiled build (setup.py) checks
    # the stubs' ``str`` at run time.
    def _parse_header(self, data: bytes, terminator: int) -> Any:
        if terminator != UNIT_SEPARATOR:
            return None
        # Reading frames (listen, decode) needs the bindings; writing them does not.
        from google.protobuf.message import DecodeError as PbDecodeError  # noqa: PLC0415

        from audit_heka.heka import message_pb2  # noqa: PLC0415

        header: Any = message_pb2.Header()
        try:
            header.ParseFromString(data)
        except (PbDecodeError, ValueError):
            self.errors["bad_header"] += 1
            return None
        if not header.HasField("message_length"):
            self.errors["bad_header"] += 1
            return None
        if header.message_length > self.max_message_size:
            self.errors["oversize"] += 1
            return None
        return header

    def _verify(self, header: Any, message: bytes) -> Unframed | None:
        if not header.HasField("hmac"):
            if self.require_signature:
                self.errors["unsigned"] += 1
                return None
            return Unframed(message)
        if not self.verify:
            return Unframed(message, header.hmac_signer, verified=False)
        signer = self.signers.get(f"{header.hmac_signer}_{header.hmac_key_version}")
        if signer is None:
            self.errors["unknown_signer"] += 1
            return None
        hash_name = _HASH_BY_HEADER.get(header.hmac_hash_function, "md5")
        from hmac import compare_digest  # noqa: PLC0415 - see _hmac

        if not compare_digest(_hmac(signer.key, message, hash_name), header.hmac):
            self.errors["bad_hmac"] += 1
            return None
        return Unframed(message, header.hmac_signer, verified=True)

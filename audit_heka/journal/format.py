"""The journal's line codec: one record per line, in auditd's log format (pure).

A line is ``[node=NAME ]type=TYPE msg=TEXT\\n`` where TEXT is the kernel's
record text (``audit(SEC.MSEC:SERIAL): BODY``) byte for byte, except that:

* every byte 0x00-0x1f and 0x7f is written as ``\\xHH`` (two lowercase hex
  digits), and
* a backslash immediately followed by ``x`` is written as ``\\x5c``.

Why: the kernel passes user-space messages (USER_*, ``auditctl -m``) through
with raw newlines and other control bytes, so without escaping a local user
with CAP_AUDIT_WRITE could end a line early and forge a whole record after it
(``...\\ntype=USER_LOGIN msg=audit(...): ...``). After escaping, every ``\\x``
in TEXT starts an escape, so :func:`unescape` is the exact inverse and no
byte of TEXT can end a line. Kernel-generated records never hold these bytes
(the kernel hex-encodes untrusted strings), so they are written unchanged and
remain what ``ausearch`` and ``lua/audit_decoder.lua`` expect.

Lines are bytes throughout: the reader never decodes the kernel's text.
Readers of the journal split on ``b"\\n"`` only (:func:`split_lines`), never
with ``str.splitlines()``, which also splits at \\x1c-\\x1e and \\x85.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

try:  # hashlib's own blake2b; hashlib itself loads OpenSSL (2.4 ms of the reader's start)
    from _blake2 import blake2b
except ImportError:  # a Python built without its bundled hashes
    from hashlib import blake2b

from audit_heka.tables.msgtypes import MSG_TYPES

#: Bytes that may not appear raw in a line's TEXT, or the backslash of ``\x``.
_NEEDS_ESCAPE = re.compile(rb"[\x00-\x1f\x7f]|\\(?=x)")
_ESCAPED = re.compile(rb"\\x([0-9a-f]{2})")
#: ``\xHH`` for every byte, so escaping is one table look-up per escaped byte.
_HEX = tuple(b"\\x%02x" % i for i in range(256))
#: A node name goes into the line verbatim, so it must be one plain token.
_NODE = re.compile(rb"[!-~]+")

_TYPE_PREFIX = b"type="
_MSG = b" msg="
_NODE_PREFIX = b"node="


def _escape_match(m: re.Match[bytes]) -> bytes:
    return _HEX[m.group()[0]]


def _unescape_match(m: re.Match[bytes]) -> bytes:
    return bytes((int(m.group(1), 16),))


#: The bytes :data:`_NEEDS_ESCAPE` matches on its own (the rest is ``\\x``).
_CONTROL = bytes(range(0x20)) + b"\x7f"


def needs_escape(text: bytes) -> bool:
    """True when ``text`` holds a control byte or ``\\x``: the slow path.

    Asked of every record the reader receives, so two scans in C instead of
    the regex, whose alternation with a look-ahead costs it its fast scan:
    0.5 us against 2.3 us on a 300-byte SYSCALL record (measured), a fifth of
    the reader's work per record.
    """
    return b"\\x" in text or len(text.translate(None, _CONTROL)) != len(text)


def lines_need_escape(region: bytes | bytearray, lines: int) -> bool:
    """Whether ``lines`` newline-ended lines in ``region`` hold a byte to escape.

    The reader appends a whole batch of records as they came and asks this
    once for the batch: one look for ``\\x`` and one count of control bytes
    (exactly its ``lines`` newlines when the kernel's text is plain) instead
    of a scan and a copy per record.
    """
    return b"\\x" in region or len(region) - len(region.translate(None, _CONTROL)) != lines


def escape(text: bytes) -> bytes:
    """``text`` with control bytes and the backslash of ``\\x`` as ``\\xHH``.

    Returns ``text`` itself (no copy) when nothing needs escaping, which is
    every record the kernel writes on its own.
    """
    if not needs_escape(text):
        return text
    return _NEEDS_ESCAPE.sub(_escape_match, text)


def unescape(text: bytes) -> bytes:
    """The exact inverse of :func:`escape`."""
    if b"\\x" not in text:
        return text
    return _ESCAPED.sub(_unescape_match, text)


def type_name(msgtype: int) -> bytes:
    """The name auditd writes for a type number (``UNKNOWN[n]`` if unknown)."""
    name = MSG_TYPES.get(msgtype)
    return (name if name is not None else f"UNKNOWN[{msgtype}]").encode("ascii")


def node_prefix(node: str | None) -> bytes:
    """The ``node=NAME `` prefix of every line, or b"" without a node.

    Raises ValueError for a name that is not one printable ASCII token: it is
    written verbatim, so a space or ``=`` in it would change the line's fields.
    """
    if node is None:
        return b""
    raw = node.encode("utf-8", "surrogateescape")
    if _NODE.fullmatch(raw) is None or b"=" in raw:
        raise ValueError(
            f"node name {node!r} must be printable ASCII without spaces or '='"
        )
    return _NODE_PREFIX + raw + b" "


class LineBuilder:
    """Builds journal lines for one node name; caches the per-type prefixes.

    The reader's hot path: one dict look-up, one regex scan and a few
    concatenations per record; no per-record objects beyond the line.
    """

    __slots__ = ("_node", "_prefixes")

    def __init__(self, node: str | None = None) -> None:
        self._node = node_prefix(node)
        self._prefixes: dict[int, bytes] = {}

    def prefix(self, msgtype: int) -> bytes:
        """``[node=N ]type=NAME msg=`` for ``msgtype``."""
        p = self._prefixes.get(msgtype)
        if p is None:
            p = self._node + _TYPE_PREFIX + type_name(msgtype) + _MSG
            self._prefixes[msgtype] = p
        return p

    def line(self, msgtype: int, text: bytes) -> bytes:
        """The whole line, newline included, for the kernel's record ``text``."""
        return self.prefix(msgtype) + escape(text) + b"\n"


def build_line(msgtype: int, stamp: bytes, body: bytes, node: str | None = None) -> bytes:
    """One line from its parts: ``stamp`` is ``SEC.MSEC:SERIAL``.

    For writers that hold a record's parts rather than the kernel's text
    (tests, tools); the reader uses :class:`LineBuilder` on the raw text.
    """
    text = b"audit(" + stamp + b"): " + body
    return node_prefix(node) + _TYPE_PREFIX + type_name(msgtype) + _MSG + escape(text) + b"\n"


def split_lines(buf: bytes | bytearray | memoryview) -> tuple[list[bytes], int]:
    """The complete lines in ``buf`` (without their newline) and the number of
    bytes they span; a trailing partial line is left for the next read.

    Splits on ``b"\\n"`` only: the one byte escaping guarantees is a boundary.
    """
    data = bytes(buf)
    end = data.rfind(b"\n") + 1
    if end == 0:
        return [], 0
    return data[: end - 1].split(b"\n"), end


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One journal line, split into its parts; ``text`` is unescaped."""

    node: bytes | None
    type_name: bytes
    text: bytes  # "audit(SEC.MSEC:SERIAL): BODY" as the kernel sent it


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not ``[node=N ]type=T msg=TEXT``; ``reason`` is a counter name."""

    reason: str
    line: bytes


def parse_line(line: bytes) -> JournalLine | BadLine:
    """Split one line (without its newline) into node, type name and text.

    Only the prefix is parsed: whatever TEXT holds (a forged ``type=``
    included) is the record's own text.
    """
    node: bytes | None = None
    rest = line
    if rest.startswith(_NODE_PREFIX):
        space = rest.find(b" ")
        if space == -1:
            return BadLine("bad_node", line)
        node = rest[5:space]
        rest = rest[space + 1 :]
    if not rest.startswith(_TYPE_PREFIX):
        return BadLine("no_type", line)
    msg = rest.find(_MSG)
    if msg == -1:
        return BadLine("no_msg", line)
    name = rest[5:msg]
    if not name or b" " in name:
        return BadLine("bad_type", line)
    return JournalLine(node, name, unescape(rest[msg + 5 :]))


#: A journal file's *head* is a digest of its first line (at most the first
#: HEAD_BYTES bytes of it): the file's first record, with its time stamp and
#: serial. File systems reuse a deleted file's inode number for the next new
#: file (ext4 at once, in the same directory), so (st_dev, st_ino) alone does
#: not name a journal file: the reader deletes old files and creates new ones
#: all the time. The writer only writes whole lines, so once a file holds a
#: line its head is final.
HEAD_BYTES = 256
#: The head of a file that held no complete line when the cursor was written.
NO_HEAD = "-"
_HEAD = re.compile(rb"[0-9a-f]{16}|-")


def file_head(start: bytes | bytearray) -> str | None:
    """The head of a journal file from its first bytes (``pread(fd, HEAD_BYTES, 0)``).

    None while it is not final: fewer than HEAD_BYTES bytes and no newline
    (an empty file, or a torn first line).
    """
    end = start.find(b"\n", 0, HEAD_BYTES)
    if end >= 0:
        first = start[: end + 1]
    elif len(start) >= HEAD_BYTES:
        first = start[:HEAD_BYTES]
    else:
        return None
    return blake2b(first, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Cursor:
    """The shipper's position: the journal file holding the first record not
    yet acknowledged by every target (by identity, so renames by rotation do
    not move it) and the offset of that record's line start in it.

    ``head`` (:func:`file_head`) tells the file from a later one that reuses
    its inode number; None for a ``v1`` cursor (written before heads: known
    by identity alone), :data:`NO_HEAD` when the file was still empty.
    """

    dev: int
    ino: int
    offset: int
    head: str | None = None

    def names_file(self, dev: int, ino: int, head: str | None) -> bool:
        """Whether this cursor names the file with identity (dev, ino) and ``head``.

        A file whose head is not known yet (None: empty) is never the file of
        a cursor with a head: that file had a first line. A NO_HEAD cursor
        names no file (its file's head was unknown, so a match would be a
        guess); a v1 cursor matches by identity, as v1 always did.
        """
        if dev != self.dev or ino != self.ino:
            return False
        if self.head is None:
            return True
        return head is not None and head == self.head


CURSOR_FILE = "cursor"
#: The writer's note of the last journal file it deleted while the cursor
#: named its end (shipped to the last record): a cursor line naming that end.
#: A shipper restarted at such a cursor finds its file gone and must not take
#: it for lost (see :mod:`audit_heka.journal.follower`).
SHIPPED_FILE = "shipped"


def format_cursor(cursor: Cursor) -> bytes:
    """The cursor file's one line: ``v2 <st_dev> <st_ino> <offset> <head>\\n``
    (``v1`` without the head, for a cursor read from a v1 file)."""
    if cursor.head is None:
        return b"v1 %d %d %d\n" % (cursor.dev, cursor.ino, cursor.offset)
    return b"v2 %d %d %d %s\n" % (cursor.dev, cursor.ino, cursor.offset,
                                  cursor.head.encode("ascii"))


def parse_cursor(data: bytes) -> Cursor | None:
    """The cursor in a cursor file's content (v1 or v2), or None when it is not one."""
    parts = data.split()
    if len(parts) == 4 and parts[0] == b"v1":
        head = None
    elif len(parts) == 5 and parts[0] == b"v2" and _HEAD.fullmatch(parts[4]) is not None:
        head = parts[4].decode("ascii")
    else:
        return None
    if not all(p.isdigit() for p in parts[1:4]):
        return None
    return Cursor(int(parts[1]), int(parts[2]), int(parts[3]), head)

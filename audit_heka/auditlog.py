"""The daemon's log output (``--target log:PATH``): events as auditd log lines.

Why: users who keep Heka's LogstreamerInput + the bundled Lua decoder (the
seed's set-up) need audit-heka to write what auditd writes, so that it can take
auditd's place without changing their Heka side. The records of an event are
written contiguously, in auditd's log form (``[node=X ]type=NAME
msg=audit(SEC.MSEC:SERIAL): BODY``), and followed by one end-marker line shaped
exactly like the kernel's EOE record (``type=EOE msg=audit(SEC.MSEC:SERIAL): ``).
auditd never writes EOE to its logs, so a reader of auditd's own files has to
guess when an event is complete (timeouts, "last record" rules); with the
marker, ``lua/audit_decoder.lua`` and ``audit-heka replay`` flush the event the
moment its marker line arrives.

Formatting is pure (:func:`format_event`); :class:`AuditLogWriter` is the I/O
edge: append-only 0600 files, one ``write(2)`` per event (a tailer never sees
half an event unless the disk fills), and size-based rotation like auditd's
``max_log_file``/``num_logs`` with ``max_log_file_action = ROTATE``:
``audit.log`` is the live file, ``audit.log.1`` the newest rotated one, up to
``audit.log.<num_logs-1>``. Rotation happens only between events, so an event
never straddles two files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from audit_heka.core.records import Record

END_MARKER_TYPE = "EOE"
FILE_MODE = 0o600


class HasRecords(Protocol):
    """What we need of an event: its records, in arrival order."""

    @property
    def records(self) -> Sequence[Record]: ...


def end_marker(record: Record) -> str:
    """The EOE-style line that closes the event ``record`` belongs to.

    It carries the event's node (if any), time and serial and an empty body:
    byte for byte what auditd would log if it logged the kernel's EOE record.
    """
    prefix = f"node={record.node} " if record.node is not None else ""
    return (
        f"{prefix}type={END_MARKER_TYPE} "
        f"msg=audit({record.seconds}.{record.milliseconds:03d}:{record.serial}): "
    )


def format_event(event: HasRecords) -> str:
    """An event's records as log lines, then its end marker; newline-terminated.

    Newlines inside a record (never produced by the kernel, which hex-encodes
    control bytes, but possible in a hostile user-space ``msg``) would split
    the record in two for every line reader, so they are written as a space.
    An event with no records formats as the empty string.
    """
    records = event.records
    if not records:
        return ""
    lines = [_one_line(r.log_line()) for r in records]
    lines.append(end_marker(records[0]))
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        return text.replace("\r", " ").replace("\n", " ")
    return text


def rotated_paths(path: Path, num_logs: int) -> list[Path]:
    """The files a writer keeps, newest first: PATH, PATH.1, ..., PATH.<num_logs-1>."""
    return [path] + [path.with_name(f"{path.name}.{i}") for i in range(1, num_logs)]


class AuditLogWriter:
    """Appends formatted events to ``path``, rotating by size like auditd.

    ``max_bytes`` is the size at which the live file is rotated before the next
    event is written (0 = never rotate, like ``max_log_file_action = IGNORE``);
    ``num_logs`` is the number of files kept, the live one included (like
    auditd's ``num_logs``); the oldest is removed when a rotation would exceed
    it. An event larger than ``max_bytes`` is still written whole, into a file
    of its own. Files are created 0600 and re-chmodded 0600 if found wider.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = 8 * 1024 * 1024,
                 num_logs: int = 5) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
        if num_logs < 1:
            raise ValueError(f"num_logs must be >= 1, not {num_logs}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.num_logs = num_logs
        self.rotations = 0
        self.events_written = 0
        self._fd = -1
        self._size = 0
        self._open()

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            self._size = os.fstat(fd).st_size
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        paths = rotated_paths(self.path, self.num_logs)
        # Shift PATH.(n-2) -> PATH.(n-1), ..., PATH -> PATH.1; the oldest is replaced.
        for newer, older in zip(reversed(paths[:-1]), reversed(paths[1:]), strict=True):
            if newer.exists():
                newer.replace(older)
        if self.num_logs == 1:
            self.path.unlink(missing_ok=True)
        self.rotations += 1
        self._open()

    def write_event(self, event: HasRecords) -> None:
        """Write one event (records + end marker) with a single append."""
        data = format_event(event).encode("utf-8", "surrogateescape")
        if not data:
            return
        if self._fd < 0:
            raise ValueError("write to a closed AuditLogWriter")
        if self.max_bytes and self._size > 0 and self._size + len(data) > self.max_bytes:
            self._rotate()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        self.events_written += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> AuditLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

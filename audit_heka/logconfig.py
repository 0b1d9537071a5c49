"""How audit-heka's own log lines look, and which loggers speak.

Why a module: the daemon and its helpers log to stderr, which is either a
terminal or file (timestamps wanted) or journald (which stamps every line
itself and reads a ``<N>`` syslog priority prefix to store the level). systemd
says which by setting ``JOURNAL_STREAM`` to the device and inode of the
stream it connected: only when stderr *is* that stream is it the journal (a
child redirecting stderr to a file inherits the variable, so the variable
alone is not enough).

Third-party loggers (pyroute2 logs every netlink message at DEBUG) stay at
WARNING unless ``debug-all`` is asked for: ``-v`` is for audit-heka's own
debugging, not for hexdumps of its netlink traffic.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO

#: ``--log-level`` values: audit-heka's level; ``debug-all`` opens every logger.
LEVELS = ("debug-all", "debug", "info", "warning", "error")
OWN_LOGGER = "audit_heka"

# syslog priorities for journald's SyslogLevelPrefix (sd-daemon.h).
_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def under_journald(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether ``stream`` is the journal stream systemd announced in ``JOURNAL_STREAM``."""
    announced = environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = announced.partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


class OriginFilter(logging.Filter):
    """Sets ``record.origin``: empty for our loggers, ``[name] `` for a library's."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == OWN_LOGGER or record.name.startswith(OWN_LOGGER + ".")
        record.origin = "" if own else f"[{record.name}] "
        return True


class JournalFormatter(logging.Formatter):
    """``<priority>audit-heka: LEVEL message``: journald adds the time, keeps the level."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _SYSLOG_PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


def timestamp(created: float) -> str:
    """ISO 8601 local time with milliseconds and UTC offset, e.g. 2026-11-29T19:10:02.517+0000."""
    local = time.localtime(created)
    millis = int((created - int(created)) * 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', local)}.{millis:03d}{time.strftime('%z', local)}"


def plain_line(prog: str, level: str, message: str, *, journal: bool, created: float) -> str:
    """One log line, as :func:`configure_logging`'s handler writes it, for code
    that does not go through logging (the reader's hot loop)."""
    if journal:
        priority = _SYSLOG_PRIORITY.get(getattr(logging, level, logging.INFO), 6)
        return f"<{priority}>{prog}: {level} {message}"
    return f"{timestamp(created)} {prog}: {level} {message}"


class TimestampFormatter(logging.Formatter):
    """Lines that start with :func:`timestamp`."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return timestamp(record.created)


def configure_logging(
    level: str = "info",
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    prog: str = "audit-heka",
    who: str = "",
) -> logging.Handler:
    """Send log records to ``stream`` (stderr) in the format its reader wants.

    Replaces the handler an earlier call installed (so it can be called
    again); handlers others installed stay. Returns the handler.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (accepted: {', '.join(LEVELS)})")
    out = stream if stream is not None else sys.stderr
    env = os.environ if environ is None else environ
    handler = logging.StreamHandler(out)
    # ``who`` names a child process of ``run`` ("shipper: "): one program, one prefix.
    fmt = f"{prog}: %(levelname)s {who}%(origin)s%(message)s"
    handler.addFilter(OriginFilter())
    if under_journald(out, env):
        handler.setFormatter(JournalFormatter(fmt))
    else:
        handler.setFormatter(TimestampFormatter(f"%(asctime)s {fmt}"))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "audit_heka", False):  # ours from an earlier call; others stay
            root.removeHandler(old)
    handler.audit_heka = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    own = logging.DEBUG if level.startswith("debug") else getattr(logging, level.upper())
    root.setLevel(logging.DEBUG if level == "debug-all" else logging.WARNING)
    logging.getLogger(OWN_LOGGER).setLevel(own)
    return handler

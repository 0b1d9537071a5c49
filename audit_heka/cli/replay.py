"""``audit-heka replay``: ship the events of audit.log files, as the daemon ships live ones.

This is an I/O edge only: it reads lines (files in the given order, ``-`` for
stdin, ``--follow`` to keep tailing the last file across rotation) and writes
frames to a target. Parsing, assembling, interpreting, encoding and framing
are the sans-IO :class:`audit_heka.pipeline.Pipeline` and ``Framer`` that
``run`` uses too.

Targets come from ``audit_heka.outputs``: :func:`open_target` is the one seam
between replay and the transports (``-`` JSON lines, ``file:PATH``,
``host:port``/``tcp://``, ``udp://``, ``tls://``). Replay sends directly, without
the daemon's spool: a broken connection ends the replay with an error (rerun
it; deterministic uuids make the repeats harmless).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import click

from audit_heka.accounts import read_groups, read_users
from audit_heka.events import Assembler
from audit_heka.heka.message import Message
from audit_heka.interpret import Interpreter
from audit_heka.outputs.target import TargetError, parse_target
from audit_heka.outputs.transport import Transport, TransportOptions, open_transport
from audit_heka.pipeline import Framer, Pipeline
from audit_heka.schema import DEFAULT_MESSAGE_TYPE, MessageBuilder

POLL_INTERVAL = 0.25  # seconds between checks of a followed file at EOF
IDLE_FLUSH = 2.0  # seconds without new lines before pending events are shipped (follow)
CHUNK = 1 << 16


def open_target(text: str) -> Transport:
    """The connected transport for a ``--target`` string (raises click errors)."""
    try:
        target = parse_target(text)
    except TargetError as e:
        raise click.BadParameter(str(e), param_hint="--target") from e
    transport = open_transport(target, TransportOptions())
    try:
        transport.connect()
    except OSError as e:
        raise click.ClickException(f"cannot open target {text}: {e}") from e
    return transport


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def read_lines(stream: BinaryIO) -> Iterator[str]:
    """Lines of a whole file or pipe (split on "\\n" only: ENRICHED logs contain \\x1d)."""
    for raw in stream:
        yield _decode(raw)


def follow_lines(path: str, stop_after_idle: float | None = None) -> Iterator[str | None]:
    """Tail ``path`` forever, across rotation (new inode) and truncation.

    Yields each complete line, and ``None`` whenever no new data has arrived
    for IDLE_FLUSH seconds (so the caller can ship pending events). At EOF it
    sleeps POLL_INTERVAL between checks rather than spinning. A rotated-away
    file is read to its end before the new one is opened.
    ``stop_after_idle`` (tests) ends the generator after that many idle seconds.
    """
    stream: BinaryIO | None = None
    inode: tuple[int, int] | None = None
    partial = b""
    idle_since = time.monotonic()
    idle_reported = False
    while True:
        if stream is None:
            try:
                stream = Path(path).open("rb")  # noqa: SIM115 - closed on rotation below
            except FileNotFoundError:
                time.sleep(POLL_INTERVAL)
                continue
            opened = os.fstat(stream.fileno())
            inode = (opened.st_dev, opened.st_ino)
        chunk = stream.read(CHUNK)
        if chunk:
            idle_since = time.monotonic()
            idle_reported = False
            data = partial + chunk
            lines = data.split(b"\n")
            partial = lines.pop()
            for raw in lines:
                yield _decode(raw)
            continue
        # At EOF: rotated? truncated? otherwise wait.
        st: os.stat_result | None
        try:
            st = Path(path).stat()
        except FileNotFoundError:
            st = None
        if st is not None and (st.st_dev, st.st_ino) != inode:
            # Rotated: what was appended to the old file since our last read
            # (auditd's final writes) comes first, then the new file.
            rest = partial + stream.read()
            stream.close()
            stream = None
            partial = b""
            for raw in rest.split(b"\n"):
                if raw:
                    yield _decode(raw)
            continue
        if st is not None and st.st_size < stream.tell():
            stream.seek(0)
            partial = b""
            continue
        idle = time.monotonic() - idle_since
        if idle >= IDLE_FLUSH and not idle_reported:
            idle_reported = True
            yield None
        if stop_after_idle is not None and idle >= stop_after_idle:
            if partial:
                yield _decode(partial)
            stream.close()
            return
        time.sleep(POLL_INTERVAL)


def _sources(files: tuple[str, ...], follow: bool) -> Iterable[str | None]:
    for index, name in enumerate(files):
        last = index == len(files) - 1
        if name == "-":
            yield from read_lines(sys.stdin.buffer)
        elif follow and last:
            yield from follow_lines(name)
        else:
            try:
                with Path(name).open("rb") as stream:
                    yield from read_lines(stream)
            except OSError as e:
                raise click.ClickException(f"cannot read {name}: {e.strerror}") from e


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--target", "target_text", default="-", show_default=True,
              help="-, file:PATH, host:port, tcp://, udp://, tls://")
@click.option("--follow", is_flag=True, help="Keep tailing the last FILE across rotation.")
@click.option("--type", "message_type", default=DEFAULT_MESSAGE_TYPE, show_default=True,
              help="Heka message Type.")
@click.option("--payload/--no-payload", default=True, show_default=True,
              help="Carry the raw records in Payload.")
@click.option("--hostname", default=None, help="Hostname for records without node= "
              "[default: this host's name].")
@click.option("--passwd", default="/etc/passwd", show_default=True,
              help="passwd file for uid names (the host the log came from).")
@click.option("--group", "group_file", default="/etc/group", show_default=True,
              help="group file for gid names.")
def replay(
    files: tuple[str, ...],
    target_text: str,
    follow: bool,
    message_type: str,
    payload: bool,
    hostname: str | None,
    passwd: str,
    group_file: str,
) -> None:
    """Ship the events in audit.log FILES (oldest first; - for stdin) to a target.

    Exits 1 if any line was malformed or any event too large to send (counts
    on stderr).
    """
    if follow and files[-1] == "-":
        raise click.BadParameter("cannot --follow stdin", param_hint="--follow")
    interpreter = Interpreter(read_users(passwd), read_groups(group_file))
    builder = MessageBuilder(interpreter, hostname=hostname or socket.gethostname(),
                             message_type=message_type, payload=payload)
    pipeline = Pipeline(builder, Assembler(live=False))
    framer = Framer()
    transport = open_target(target_text)

    def ship(messages: list[Message]) -> None:
        for message in messages:
            data = framer.frame(message)
            if data is not None:
                transport.send(data)

    try:
        for line in _sources(files, follow):
            if line is None:
                ship(pipeline.finish())
            else:
                ship(pipeline.feed_line(line))
        ship(pipeline.finish())
    except OSError as e:
        raise click.ClickException(f"target {target_text}: {e}") from e
    except KeyboardInterrupt:
        ship(pipeline.finish())
    finally:
        transport.close()
    _report(pipeline, framer)
    if pipeline.parse_errors or framer.oversize:
        sys.exit(1)


def _report(pipeline: Pipeline, framer: Framer) -> None:
    counters = pipeline.counters()
    click.echo(
        f"audit-heka replay: {counters['lines']} lines, {counters['records']} records, "
        f"{counters['messages']} events, {framer.frames} sent",
        err=True,
    )
    problems = {k: v for k, v in counters.items()
                if v and k.startswith(("malformed", "late_records", "aligned_fill",
                                            "interpret_errors"))}
    if framer.payload_dropped:
        problems["payload_dropped_for_size"] = framer.payload_dropped
    if framer.oversize:
        problems["oversize"] = framer.oversize
    for key, value in sorted(problems.items()):
        click.echo(f"audit-heka replay: {key}: {value}", err=True)
    for sample in pipeline.error_samples:
        click.echo(f"audit-heka replay: malformed ({sample.reason}): {sample.text[:200]!r}",
                   err=True)

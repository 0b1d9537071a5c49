"""``audit-heka replay``: ship the events of audit.log files, as the daemon ships live ones.

This is an I/O edge only: it reads lines (files in the given order, ``-`` for
stdin, ``--follow`` to keep tailing the last file across rotation) and writes
frames to a target. Parsing, assembling, interpreting, encoding and framing
are the sans-IO :class:`audit_heka.core.session.Session` that the shipper uses
too.

Targets come from ``audit_heka.outputs``: :func:`open_target` is the one seam
between replay and the transports (``-`` JSON lines, ``file:PATH``,
``host:port``/``tcp://``, ``udp://``, ``tls://``). Replay sends directly, without
the shipper's journal and delivery loop: a broken connection, Ctrl-C or SIGTERM ends the replay
with a non-zero status, where it got to (file, line, events sent and known
delivered) and the ``--resume FILE:LINE`` that continues it losing nothing
(see :mod:`audit_heka.core.resume`); what a resumed run sends twice carries the
same deterministic uuids, so receivers deduplicate it.

On a terminal, a progress line (lines, events/s, ETA) is kept up to date on
stderr; piped or logged runs stay quiet.
"""

from __future__ import annotations

import functools
import os
import sys
import time

from audit_heka.cli.heka_options import MAX_MESSAGE_SIZE, SIGNING, TLS, one_signer
from audit_heka.cli.options import Command, CommandError, Option, UsageError
from audit_heka.core.events import Assembler
from audit_heka.core.interpret import Interpreter
from audit_heka.core.resume import ResumeTracker
from audit_heka.core.schema import DEFAULT_MESSAGE_TYPE, MessageBuilder
from audit_heka.core.session import Session
from audit_heka.heap import settle_for_streaming
from audit_heka.host.accounts import read_groups, read_users
from audit_heka.outputs.target import TargetError, TargetKind, TlsOptions, parse_target
from audit_heka.outputs.transport import TransportOptions, open_transport

try:  # the C module: ``signal`` builds its enums at import (~1 ms of replay's start-up)
    import _signal  # type: ignore[import-not-found]
except ImportError:  # not CPython
    import signal as _signal

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType
    from typing import BinaryIO, Final, NoReturn, TextIO

    from audit_heka.core.session import Shipment
    from audit_heka.heka.framing import Signer
    from audit_heka.outputs.target import Target
    from audit_heka.outputs.transport import Transport

POLL_INTERVAL = 0.25  # seconds between checks of a followed file at EOF
IDLE_FLUSH = 2.0  # seconds without new lines before pending events are shipped (follow)
CHUNK = 1 << 16
#: Seconds an acknowledged frame may still be lost by a receiver that dies
#: (unread in its socket): the daemon's delivery ``hold``.
HOLD = 1.0
#: On Ctrl-C/SIGTERM, wait at most this long for the receiver to acknowledge.
ACK_WAIT = 2.0
PROGRESS_INTERVAL = 0.5
#: A file target takes the frames of many events in one write, up to this many bytes (a
#: write per event was ~7 % of an exec log's replay).
FILE_WRITE_BYTES = 256 * 1024


def open_target(target: Target, text: str, options: TransportOptions) -> Transport:
    """The connected transport for a ``--target`` (raises CommandError)."""
    transport = open_transport(target, options)
    try:
        transport.connect()
    except (OSError, ValueError) as e:
        raise CommandError(f"cannot open target {text}: {e}") from e
    return transport


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def follow_lines(
    path: str,
    stop_after_idle: float | None = None,
    on_reopen: Callable[[], None] | None = None,
) -> Iterator[str | None]:
    """Tail ``path`` forever, across rotation (new inode) and truncation.

    Yields each complete line, and ``None`` whenever no new data has arrived
    for IDLE_FLUSH seconds (so the caller can ship pending events). At EOF it
    sleeps POLL_INTERVAL between checks rather than spinning. A rotated-away
    file is read to its end before the new one is opened.
    ``stop_after_idle`` (tests) ends the generator after that many idle seconds.
    ``on_reopen`` is called before the first line of a rotated-in or
    truncated file (line numbers start again).
    """
    stream: BinaryIO | None = None
    inode: tuple[int, int] | None = None
    partial = b""
    idle_since = time.monotonic()
    idle_reported = False
    opened_before = False
    try:
        while True:
            if stream is None:
                try:
                    stream = open(path, "rb")  # noqa: PTH123, SIM115 - no pathlib at start-up; closed below
                except FileNotFoundError:
                    time.sleep(POLL_INTERVAL)
                    continue
                opened = os.fstat(stream.fileno())
                inode = (opened.st_dev, opened.st_ino)
                if opened_before and on_reopen is not None:
                    on_reopen()
                opened_before = True
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
                st = os.stat(path)  # noqa: PTH116 - no pathlib at start-up
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
                if on_reopen is not None:
                    on_reopen()
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
    finally:  # an abandoned generator (Ctrl-C, a test) closes its file
        if stream is not None:
            stream.close()


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (raised from the signal handler).

    A BaseException, as KeyboardInterrupt is: code that guards against any
    Exception (one event that fails to build must not stop a stream) must
    not swallow a stop.
    """

    def __init__(self, signum: int) -> None:
        import signal  # noqa: PLC0415 - the signal's name; start-up cost (above) only now

        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SourceError(Exception):
    """An input file could not be read."""


class TargetGone(Exception):
    """The target can take no more frames (stdout closed by its reader)."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> NoReturn:
    raise Interrupted(signum)


def parse_resume(text: str, files: tuple[str, ...]) -> tuple[int, int]:
    """``FILE:LINE`` -> (index of FILE in ``files``, LINE); raises ValueError."""
    name, sep, line = text.rpartition(":")
    if not sep or not name or not line.isdigit() or int(line) < 1:
        raise ValueError(f"expected FILE:LINE (LINE from 1), got {text!r}")
    for index, candidate in enumerate(files):
        if candidate == name:
            return index, int(line)
    wanted = os.path.realpath(name) if name != "-" else None  # Path.resolve(), without pathlib
    for index, candidate in enumerate(files):
        if wanted is not None and candidate != "-" and os.path.realpath(candidate) == wanted:
            return index, int(line)
    raise ValueError(f"{name} is not one of the files given")


class LineReader:
    """The lines of FILES in order, numbered: each line's *mark* is its index
    over all files (skipped ones included), which the resume point is in.

    Iterating gives lists of lines (without their "\\n"), as many as one read
    gave, and None when a followed file is idle. A list, because the session
    takes a run of lines in one call (Session.feed_lines); as many as one
    read gave, because a pipe's lines must not wait for more to come.
    """

    def __init__(self, files: tuple[str, ...], follow: bool,
                 start: tuple[int, int] = (0, 1)) -> None:
        self.files = files
        self.follow = follow
        self.start_index, self.start_line = start
        self.mark = 0  # mark of the next line
        #: (file, mark of its line 1, rotation count of the followed file when opened)
        self.starts: list[tuple[str, int, int]] = []
        self.rotations = 0  # times the followed file was rotated (or truncated) under us
        self.stream: BinaryIO | None = None
        self.done_bytes = 0  # bytes of the files read to their end

    def __iter__(self) -> Iterator[list[str] | None]:
        for index in range(self.start_index, len(self.files)):
            name = self.files[index]
            skip = self.start_line - 1 if index == self.start_index else 0
            self.mark += skip
            self.starts.append((name, self.mark - skip, 0))
            if name == "-":
                yield from self._batches(sys.stdin.buffer, skip)
            elif self.follow and index == len(self.files) - 1:
                for line in follow_lines(name, on_reopen=functools.partial(self._reopened, name)):
                    if line is None:
                        yield None
                    elif skip:
                        skip -= 1
                    else:
                        self.mark += 1
                        yield [line]
            else:
                try:
                    stream = open(name, "rb")  # noqa: PTH123, SIM115 - no pathlib at start-up; closed below
                except OSError as e:
                    raise SourceError(f"cannot read {name}: {e.strerror}") from e
                with stream:
                    yield from self._batches(stream, skip)
                    self.done_bytes += stream.tell()

    def _reopened(self, name: str) -> None:
        self.rotations += 1
        self.starts.append((name, self.mark, self.rotations))

    def _batches(self, stream: BinaryIO, skip: int, chunk_bytes: int = CHUNK
                 ) -> Iterator[list[str]]:
        """A file's lines, ``chunk_bytes`` at a time; a pipe's (not seekable) one by one,
        as they come (a read of a chunk would wait for all of it)."""
        self.stream = stream
        try:
            if not stream.seekable():
                for raw in stream:
                    if skip:
                        skip -= 1
                        continue
                    self.mark += 1
                    yield [_decode(raw.rstrip(b"\n"))]
                return
            partial = b""
            while True:
                chunk = stream.read(chunk_bytes)
                if not chunk:
                    if not partial:
                        return
                    data, partial = partial, b""  # a last line without its "\n"
                else:
                    data = partial + chunk
                    cut = data.rfind(b"\n") + 1
                    if not cut:
                        partial = data
                        continue
                    data, partial = data[:cut - 1], data[cut:]
                # Decoded whole: "\n" is never part of a UTF-8 sequence, so each
                # line decodes as it would alone (the same replacements).
                lines = _decode(data).split("\n")
                if skip:
                    lines, skip = lines[skip:], max(0, skip - len(lines))
                    if not lines:
                        continue
                self.mark += len(lines)
                yield lines
        except OSError as e:
            raise SourceError(f"reading {self.starts[-1][0]}: {e.strerror}") from e
        finally:
            self.stream = None

    def position(self, mark: int) -> tuple[str, int]:
        """(file, line number) of ``mark``; past a file's end it is that file's last line + 1.

        Lines of a followed file that was rotated since are named as auditd
        names rotated files: ``audit.log.1`` for the newest, and so on.
        """
        name, first, generation = (self.starts[0] if self.starts
                                   else (self.files[self.start_index], 0, 0))
        for candidate in self.starts:
            if candidate[1] <= mark:
                name, first, generation = candidate
        if self.rotations > generation and self.follow and name == self.files[-1]:
            name = f"{name}.{self.rotations - generation}"
        return name, mark - first + 1

    def bytes_read(self) -> int:
        stream = self.stream
        current = 0
        if stream is not None:
            try:
                current = stream.tell()
            except OSError:
                current = 0
        return self.done_bytes + current


def total_bytes(files: tuple[str, ...], follow: bool, start_index: int) -> int | None:
    """The size of the input, when it is known in advance (no stdin, no --follow)."""
    if follow:
        return None
    total = 0
    for name in files[start_index:]:
        if name == "-":
            return None
        try:
            total += os.stat(name).st_size  # noqa: PTH116
        except OSError:
            return None
    return total


def progress_line(
    where: tuple[str, int], lines: int, events: int, elapsed: float,
    done: int, total: int | None,
) -> str:
    """One line of progress (pure): position, counts, rate, percentage and ETA."""
    rate = events / elapsed if elapsed > 0 else 0.0
    text = (f"{where[0]}:{where[1]}  {lines} lines, {events} events, "
            f"{rate:,.0f} events/s")
    if total:
        fraction = min(1.0, done / total)
        text += f", {fraction:.0%}"
        if 0 < fraction < 1 and elapsed > 0:
            left = int(elapsed * (1 - fraction) / fraction)
            text += f", ETA {left // 60}:{left % 60:02d}"
    return text


class Progress:
    """A self-overwriting progress line on a terminal (nothing otherwise)."""

    def __init__(self, stream: TextIO, enabled: bool, total: int | None) -> None:
        self.stream = stream
        self.enabled = enabled
        self.total = total
        self.started = time.monotonic()
        self._next = self.started + PROGRESS_INTERVAL
        self._shown = False

    def update(self, reader: LineReader, session: Session, tracker: ResumeTracker) -> None:
        if not self.enabled:  # (called at every line: no clock read when not shown)
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + PROGRESS_INTERVAL
        text = progress_line(reader.position(reader.mark - 1), session.lines, tracker.frames,
                             now - self.started, reader.bytes_read(), self.total)
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


class Outcome:
    """How a replay ended, when it did not read everything."""

    __slots__ = ("status", "why")

    def __init__(self, why: str, status: int) -> None:
        self.why: Final = why
        self.status: Final = status


#: replay's options: the one definition that its click command (``audit-heka
#: replay --help``) and its click-free parser are both made from.
OPTIONS = (
    Option((), "files", kind="arguments"),
    Option(("--target",), "target_text", default="-", show_default=True,
           help="-, file:PATH, host:port, tcp://, udp://, tls://"),
    Option(("--follow",), "follow", kind="flag", default=False,
           help="Keep tailing the last FILE across rotation."),
    Option(("--resume",), "resume", metavar="FILE:LINE",
           help="Start at line LINE of FILE (one of FILES; the files before it are "
           "skipped), as an interrupted replay prints."),
    Option(("--type",), "message_type", default=DEFAULT_MESSAGE_TYPE, show_default=True,
           help="Heka message Type."),
    Option(("--payload", "--no-payload"), "payload", kind="switch", default=True,
           show_default=True, help="Carry the raw records in Payload."),
    Option(("--hostname",), "hostname", help="Hostname for records without node= "
           "[default: this host's name]."),
    Option(("--passwd",), "passwd", default="/etc/passwd", show_default=True,
           help="passwd file for uid names (the host the log came from)."),
    Option(("--group",), "group_file", default="/etc/group", show_default=True,
           help="group file for gid names."),
    *SIGNING,
    *TLS,
    MAX_MESSAGE_SIZE,
    Option(("--progress", "--no-progress"), "progress", kind="switch",
           help="Show a progress line on stderr [default: when stderr is a terminal]."),
)


def replay(
    files: tuple[str, ...],
    target_text: str,
    follow: bool,
    resume: str | None,
    message_type: str,
    payload: bool,
    hostname: str | None,
    passwd: str,
    group_file: str,
    hmac_keys: tuple[Signer, ...],
    hmac_key_files: tuple[Signer, ...],
    hmac_hash: str,
    ca: str | None,
    cert: str | None,
    key: str | None,
    max_message_size: int,
    progress: bool | None,
) -> Callable[[], None]:
    """Ship the events in audit.log FILES (oldest first; - for stdin) to a target.

    Exits 1 if any line was malformed or any event too large to send (counts
    on stderr). Interrupted (Ctrl-C 130, SIGTERM 143) or cut off by the
    target (1), it says how far it got and the --resume FILE:LINE that
    continues without losing an event.
    """
    if follow and files[-1] == "-":
        raise UsageError("cannot --follow stdin", param_hint="--follow")
    start = (0, 1)
    if resume is not None:
        try:
            start = parse_resume(resume, files)
        except ValueError as exc:
            raise UsageError(str(exc), param_hint="--resume") from None
    signer = one_signer(hmac_keys, hmac_key_files, hmac_hash)
    try:
        target = parse_target(target_text)
    except TargetError as exc:
        raise UsageError(str(exc), param_hint="--target") from None
    return functools.partial(
        _replay, files=files, target=target, target_text=target_text, follow=follow,
        start=start, message_type=message_type, payload=payload, hostname=hostname,
        passwd=passwd, group_file=group_file, signer=signer,
        tls=TlsOptions(ca=ca, cert=cert, key=key), max_message_size=max_message_size,
        progress=progress,
    )


#: ``audit-heka replay``, run by :func:`audit_heka.cli.options.run_fast` or by click.
COMMAND = Command("replay", OPTIONS, replay)


def _replay(
    files: tuple[str, ...],
    target: Target,
    target_text: str,
    follow: bool,
    start: tuple[int, int],
    message_type: str,
    payload: bool,
    hostname: str | None,
    passwd: str,
    group_file: str,
    signer: Signer | None,
    tls: TlsOptions,
    max_message_size: int,
    progress: bool | None,
) -> None:
    """Replay checked options (:func:`replay`): read, ship, report, exit."""
    # The host's machine (what platform.machine() reads) and name (socket.gethostname()),
    # from os.uname() without importing either module.
    host = os.uname()
    interpreter = Interpreter(read_users(passwd), read_groups(group_file), host.machine)
    builder = MessageBuilder(interpreter, hostname=hostname or host.nodename,
                             message_type=message_type, payload=payload)
    session = Session(builder, Assembler(live=False), signer=signer,
                      max_message_size=max_message_size)
    options = TransportOptions(
        tls=tls,
        signers={signer.lookup_key: signer} if signer else {},
    )
    transport = open_target(target, target_text, options)
    # Only JSON lines on stdout notices a reader that went away (and needs json to decode).
    json_lines = None
    if target.kind is TargetKind.STDOUT:
        from audit_heka.outputs.stdout import JsonLinesTransport  # noqa: PLC0415 - start-up

        json_lines = transport if isinstance(transport, JsonLinesTransport) else None
    reader = LineReader(files, follow, start)
    # Marks count every line of the files from the first one read, skipped ones too.
    tracker = ResumeTracker(start_mark=start[1] - 1, hold=HOLD if target.is_stream else 0.0)
    show = Progress(sys.stderr, sys.stderr.isatty() if progress is None else progress,
                    total_bytes(files, follow, start[0]))

    # Frames for a file target wait here for one write; the checkpoint is taken after it,
    # so a stop in between resumes before their events (resent with the same uuids).
    # Not when following: a trickle of lines may never leave the follower idle, and
    # each event must reach the file as it completes.
    waiting: list[bytes] | None = (
        [] if target.kind is TargetKind.FILE and not follow else None)
    waiting_bytes = 0

    def ship(shipments: list[Shipment], flush: bool = False) -> None:
        nonlocal waiting_bytes
        for item in shipments:
            data = item.frame
            if data is None:
                continue
            if waiting is not None:
                waiting.append(data)
                waiting_bytes += len(data)
                continue
            transport.send(data)
            if json_lines is not None and json_lines.reader_gone:
                raise TargetGone("stdout was closed by its reader")
            tracker.sent(len(data))
        if waiting is not None:
            if waiting_bytes < FILE_WRITE_BYTES and not flush:
                return
            if waiting:
                transport.send(b"".join(waiting))
                for data in waiting:
                    tracker.sent(len(data))
                waiting.clear()
                waiting_bytes = 0
        pending = session.lowest_pending()
        now = time.monotonic()
        tracker.checkpoint(reader.mark if pending is None else min(pending, reader.mark), now)
        tracker.acknowledged(tracker.written - transport.unacked_bytes(), now)

    settle_for_streaming()
    outcome: Outcome | None = None
    old_handlers = {sig: _signal.signal(sig, _raise_interrupted)
                    for sig in (_signal.SIGINT, _signal.SIGTERM)}
    try:
        try:
            for lines in reader:
                if lines is None:  # following, at the end for now: everything out
                    ship(session.finish(), flush=True)
                    continue
                end = reader.mark
                shipments = session.feed_lines(lines, positions=range(end - len(lines), end))
                if shipments:
                    ship(shipments)
                show.update(reader, session, tracker)
            ship(session.finish(), flush=True)
        except Interrupted as exc:
            outcome = Outcome(f"interrupted ({exc})", 128 + exc.signum)
            _settle(transport, tracker)
        except OSError as exc:
            outcome = Outcome(f"target {target_text}: {exc.strerror or exc}", 1)
        except (TargetGone, SourceError) as exc:
            outcome = Outcome(str(exc), 1)
        finally:
            show.clear()
            transport.close()
    except Interrupted:  # a second Ctrl-C while settling: report what is known
        outcome = outcome or Outcome("interrupted", 130)
    finally:
        for sig, handler in old_handlers.items():
            _signal.signal(sig, handler)
    _report(session)
    if outcome is not None:
        _report_stop(outcome, reader, tracker)
        sys.exit(outcome.status)
    if session.parse_errors or session.framer.oversize:
        sys.exit(1)


def _settle(transport: Transport, tracker: ResumeTracker) -> None:
    """After Ctrl-C/SIGTERM: give a healthy receiver a moment to acknowledge."""
    deadline = time.monotonic() + ACK_WAIT
    unacked = transport.unacked_bytes()
    while unacked and time.monotonic() < deadline:
        time.sleep(0.02)
        unacked = transport.unacked_bytes()
    tracker.acknowledged(tracker.written - unacked, float("inf"))


def _report_stop(outcome: Outcome, reader: LineReader, tracker: ResumeTracker) -> None:
    import shlex  # noqa: PLC0415 - only a replay that stops early quotes a resume point

    stopped = reader.position(max(0, reader.mark - 1)) if reader.starts else None
    at = f" at {stopped[0]} line {stopped[1]}" if stopped else ""
    _say(f"audit-heka replay: stopped{at}: {outcome.why}; {tracker.frames} events sent, "
         f"{tracker.delivered_frames} known delivered")
    name, line = reader.position(tracker.safe_mark)
    rotated = "" if name in reader.files else (
        f" and {shlex.quote(name)} (rotated while followed) added before "
        f"{shlex.quote(reader.files[-1])}")
    _say(f"audit-heka replay: to resume, run the same command with --resume "
         f"{shlex.quote(f'{name}:{line}')}{rotated} (events after that line already "
         "delivered are sent again with the same uuid; receivers deduplicate them)")


def _report(session: Session) -> None:
    counters = session.counters()
    _say(f"audit-heka replay: {counters['lines']} lines, {counters['records']} records, "
         f"{counters['messages']} events, {session.framer.frames} sent")
    problems = {k: v for k, v in counters.items()
                if v and k.startswith(("malformed", "late_records", "aligned_fill", "comment_lines",
                                       "duplicate_key", "suspicious_duplicates",
                                       "unparsed_shipped", "shared_lines", "interpret_errors",
                                       "build_errors"))}
    if session.framer.payload_dropped:
        problems["payload_dropped_for_size"] = session.framer.payload_dropped
    if session.framer.degraded:
        problems["degraded_for_size"] = session.framer.degraded
    if session.framer.oversize:
        problems["oversize"] = session.framer.oversize
    for key, value in sorted(problems.items()):
        _say(f"audit-heka replay: {key}: {value}")
    for sample in session.error_samples:
        _say(f"audit-heka replay: malformed ({sample.reason}): {sample.text[:200]!r}")


def _say(text: str) -> None:
    """One line on stderr, flushed (as click.echo did: the summary must not wait in a buffer)."""
    print(text, file=sys.stderr, flush=True)

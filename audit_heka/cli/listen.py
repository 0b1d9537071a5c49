"""``audit-heka listen``: a Heka TcpInput/UdpInput stand-in printing JSON lines."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections import Counter
from types import FrameType

import click

from audit_heka.cli.click_build import with_options
from audit_heka.cli.heka_options import ACCEPTED_KEYS, MAX_MESSAGE_SIZE
from audit_heka.heka.framing import Signer
from audit_heka.heka.message import Message, message_to_json
from audit_heka.listener import (
    FRAME_TIMEOUT,
    HEADER_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_PER_SOURCE,
    Listener,
    PeerLimits,
    parse_address,
)


def report_errors(prefix: str, errors: Counter[str], reported: Counter[str]) -> None:
    """Print each error cause whose count grew since the last report."""
    for cause, total in sorted(errors.items()):
        if total != reported[cause]:
            click.echo(f"{prefix}: {cause} +{total - reported[cause]} (total {total})", err=True)
            reported[cause] = total


#: Seconds between two reports of the error counters on stderr.
REPORT_INTERVAL = 1.0


@click.command()
@click.option("--address", default="127.0.0.1:5565", show_default=True, help="HOST:PORT to bind.")
@click.option("--udp", is_flag=True, help="Receive datagrams (Heka UdpInput) instead of TCP.")
@with_options(ACCEPTED_KEYS)
@click.option("--require-signature", is_flag=True, help="Drop unsigned messages (and count them).")
@with_options((MAX_MESSAGE_SIZE,))
@click.option("--count", type=click.IntRange(min=1), help="Exit after this many messages.")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), default=HEADER_TIMEOUT,
              show_default=True, help="Seconds a peer may take to send a frame's header.")
@click.option("--frame-timeout", type=click.FloatRange(min=0.1), default=FRAME_TIMEOUT,
              show_default=True, help="Seconds a peer may take to send a whole frame.")
@click.option("--max-connections", type=click.IntRange(min=1), default=MAX_CONNECTIONS,
              show_default=True, help="Connections held at once (the slowest makes room).")
@click.option("--max-per-source", type=click.IntRange(min=1), default=MAX_PER_SOURCE,
              show_default=True, help="Connections one source address may hold.")
def listen(
    address: str,
    udp: bool,
    signers: tuple[Signer, ...],
    key_files: tuple[Signer, ...],
    require_signature: bool,
    max_message_size: int,
    count: int | None,
    header_timeout: float,
    frame_timeout: float,
    max_connections: int,
    max_per_source: int,
) -> None:
    """Receive framed Heka messages and print each as one JSON object per line.

    Garbage, bad or unknown signatures and oversize frames are reported on
    stderr with running counts; they never stop the listener. A peer that
    trickles a header or a frame is evicted after the timeouts; when every
    slot is taken the slowest peer makes room (evicted.CAUSE counters).
    """
    try:
        bind = parse_address(address)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--address") from None
    try:
        listener = Listener(
            bind,
            udp=udp,
            signers={s.lookup_key: s for s in (*signers, *key_files)},
            require_signature=require_signature,
            max_message_size=max_message_size,
            limits=PeerLimits(
                max_connections=max_connections,
                max_per_source=max_per_source,
                header_timeout=header_timeout,
                frame_timeout=frame_timeout,
            ),
        )
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {address}: {exc.strerror}") from None
    host, port = listener.address
    click.echo(f"audit-heka listen: {'udp' if udp else 'tcp'} {host}:{port}", err=True)

    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    printed = 0
    beyond_count = 0  # received in the same read as the last counted one: not printed

    def on_message(msg: Message, signer: str | None) -> None:
        # One read can carry many frames: --count N prints exactly N.
        nonlocal printed, beyond_count
        if count is not None and printed >= count:
            beyond_count += 1
            return
        printed += 1
        obj = message_to_json(msg)
        if signer is not None:
            obj["Signer"] = signer
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    reported: Counter[str] = Counter()
    next_report = 0.0
    try:
        while not stop and (count is None or printed < count):
            listener.poll(0.2, on_message)
            now = time.monotonic()
            if now >= next_report:  # at most every REPORT_INTERVAL: a flood must not flood stderr
                next_report = now + REPORT_INTERVAL
                report_errors("audit-heka listen", listener.stats.errors, reported)
    except BrokenPipeError:
        pass
    finally:
        listener.close()
        report_errors("audit-heka listen", listener.stats.errors, reported)
        errors = ", ".join(f"{k}={v}" for k, v in sorted(listener.stats.errors.items()))
        if beyond_count:
            click.echo(f"audit-heka listen: --count {count} reached; {beyond_count} more "
                       "messages received were not printed", err=True)
        click.echo(
            f"audit-heka listen: {listener.stats.messages} messages, "
            f"{listener.stats.connections} connections, errors: {errors or 'none'}",
            err=True,
        )

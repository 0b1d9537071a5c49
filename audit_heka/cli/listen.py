"""``audit-heka listen``: a Heka TcpInput/UdpInput stand-in printing JSON lines."""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter
from types import FrameType

import click

from audit_heka.cli.heka_options import accepted_key_options, max_message_size_option
from audit_heka.heka.framing import Signer
from audit_heka.heka.message import Message, message_to_json
from audit_heka.listener import Listener, parse_address


def report_errors(prefix: str, errors: Counter[str], reported: Counter[str]) -> None:
    """Print each error cause whose count grew since the last report."""
    for cause, total in sorted(errors.items()):
        if total != reported[cause]:
            click.echo(f"{prefix}: {cause} +{total - reported[cause]} (total {total})", err=True)
            reported[cause] = total


@click.command()
@click.option("--address", default="127.0.0.1:5565", show_default=True, help="HOST:PORT to bind.")
@click.option("--udp", is_flag=True, help="Receive datagrams (Heka UdpInput) instead of TCP.")
@accepted_key_options
@click.option("--require-signature", is_flag=True, help="Drop unsigned messages (and count them).")
@max_message_size_option
@click.option("--count", type=click.IntRange(min=1), help="Exit after this many messages.")
def listen(
    address: str,
    udp: bool,
    signers: tuple[Signer, ...],
    key_files: tuple[Signer, ...],
    require_signature: bool,
    max_message_size: int,
    count: int | None,
) -> None:
    """Receive framed Heka messages and print each as one JSON object per line.

    Garbage, bad or unknown signatures and oversize frames are reported on
    stderr with running counts; they never stop the listener.
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
    try:
        while not stop and (count is None or printed < count):
            listener.poll(0.2, on_message)
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

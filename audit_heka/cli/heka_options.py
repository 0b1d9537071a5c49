"""Click option callbacks shared by the commands that speak Heka's wire format."""

from __future__ import annotations

import click

from audit_heka.heka.framing import MIN_MAX_MESSAGE_SIZE, Signer


def parse_signers(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[Signer, ...]:
    """``SIGNER:VERSION=KEY`` values, as Heka names keys ``[x.signer.SIGNER_VERSION]``."""
    try:
        return tuple(Signer.parse(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def check_max_message_size(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """hekad refuses a max_message_size of 1024 or less; so do we."""
    if value < MIN_MAX_MESSAGE_SIZE:
        raise click.BadParameter(f"must be at least {MIN_MAX_MESSAGE_SIZE} (as in hekad)")
    return value

"""Click options shared by the commands that speak Heka's wire format.

``run`` and ``replay`` send (one signing key, TLS client files); ``listen``
and ``decode`` receive (any number of accepted keys). Each option is defined
once here, so its name, help text and checks cannot drift between commands.

Keys can come from the command line (``--hmac-key``, visible in ``ps``) or
from a key file (``--hmac-key-file``); a key file readable by group or others
gets a warning, as ssh does for private keys.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, MIN_MAX_MESSAGE_SIZE, Signer

F = TypeVar("F", bound=Callable[..., object])

KEY_FORM = "SIGNER:VERSION=KEY"


def parse_signers(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[Signer, ...]:
    """``SIGNER:VERSION=KEY`` values, as Heka names keys ``[x.signer.SIGNER_VERSION]``."""
    try:
        return tuple(Signer.parse(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def exposure_warning(path: Path, mode: int, what: str) -> str | None:
    """The warning for a secret-holding file readable by group or others, else None."""
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return (f"warning: {path} holds {what} and is readable by group or others "
                f"(mode {stat.S_IMODE(mode):04o}): chmod 600 {path}")
    return None


def read_key_file(path: Path) -> tuple[Signer, ...]:
    """Keys from a file: one ``SIGNER:VERSION=KEY`` per line, ``#`` comments and
    blank lines ignored. Raises ValueError with ``file:line:`` on a bad line."""
    text = path.read_text(encoding="utf-8")
    signers: list[Signer] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            signers.append(Signer.parse(line))
        except ValueError:
            # Never echo the line: it may be a key with a typo in it.
            raise ValueError(f"{path}:{number}: expected {KEY_FORM}") from None
    if not signers:
        raise ValueError(f"{path}: no key in it (expected lines of {KEY_FORM})")
    return tuple(signers)


def parse_key_files(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[Signer, ...]:
    """Read every ``--hmac-key-file``; warn (stderr) when one is not private."""
    out: list[Signer] = []
    for value in values:
        path = Path(value)
        try:
            st = path.stat()
            out += read_key_file(path)
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise click.BadParameter(str(exc)) from None
        warning = exposure_warning(path, st.st_mode, "HMAC keys")
        if warning is not None and not ctx.resilient_parsing:
            click.echo(f"audit-heka: {warning}", err=True)
    return tuple(out)


def check_max_message_size(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """hekad refuses a max_message_size of 1024 or less; so do we."""
    if value < MIN_MAX_MESSAGE_SIZE:
        raise click.BadParameter(f"must be at least {MIN_MAX_MESSAGE_SIZE} (as in hekad)")
    return value


def _apply(f: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        f = option(f)
    return f


def signing_options(f: F) -> F:
    """``--hmac-key``, ``--hmac-key-file``, ``--hmac-hash``: how a sender signs."""
    return _apply(f, [
        click.option(
            "--hmac-key", "hmac_keys", multiple=True, metavar=KEY_FORM, callback=parse_signers,
            help="Sign every message (Heka [x.signer.SIGNER_VERSION] hmac_key). Visible in "
            "ps: prefer --hmac-key-file.",
        ),
        click.option(
            "--hmac-key-file", "hmac_key_files", multiple=True, metavar="FILE",
            callback=parse_key_files,
            help=f"Read the signing key from FILE (a line {KEY_FORM}; keep it mode 0600).",
        ),
        click.option(
            "--hmac-hash", type=click.Choice(["md5", "sha1"]), default="md5", show_default=True,
            help="HMAC hash (Heka's hmac_hash).",
        ),
    ])


def accepted_key_options(f: F) -> F:
    """``--hmac-key`` and ``--hmac-key-file`` for receivers: every key they accept."""
    return _apply(f, [
        click.option(
            "--hmac-key", "signers", multiple=True, metavar=KEY_FORM, callback=parse_signers,
            help="Accept messages signed with this key (repeatable).",
        ),
        click.option(
            "--hmac-key-file", "key_files", multiple=True, metavar="FILE",
            callback=parse_key_files,
            help=f"Accept the keys in FILE (lines of {KEY_FORM}; repeatable).",
        ),
    ])


def tls_options(f: F) -> F:
    """``--ca``, ``--cert``, ``--key`` for ``tls://`` targets."""
    path = click.Path(exists=True, dir_okay=False)
    return _apply(f, [
        click.option("--ca", type=path,
                     help="tls:// targets: trust only this CA file (PEM) instead of the "
                     "system's."),
        click.option("--cert", type=path,
                     help="tls:// targets: client certificate (PEM), for client_auth."),
        click.option("--key", type=path,
                     help="tls:// targets: the client certificate's private key (PEM)."),
    ])


def max_message_size_option(f: F) -> F:
    """``--max-message-size``, as hekad's setting of that name."""
    return click.option(
        "--max-message-size", default=DEFAULT_MAX_MESSAGE_SIZE, show_default=True,
        callback=check_max_message_size,
        help="Largest message, as hekad's max_message_size (larger ones are counted).",
    )(f)


def one_signer(
    hmac_keys: tuple[Signer, ...], hmac_key_files: tuple[Signer, ...], hmac_hash: str
) -> Signer | None:
    """The sender's single signing key, with its hash (raises a click error if several)."""
    keys = (*hmac_keys, *hmac_key_files)
    if len(keys) > 1:
        raise click.BadParameter("give one signing key (--hmac-key or one line in "
                                 "--hmac-key-file)", param_hint="--hmac-key")
    if not keys:
        return None
    k = keys[0]
    return Signer(k.name, k.version, k.key, "sha1" if hmac_hash == "sha1" else "md5")


"""The options shared by the commands that speak Heka's wire format, as data.

``run`` and ``replay`` send (one signing key, TLS client files); ``listen``
and ``decode`` receive (any number of accepted keys). Each option is defined
once here (tables of :class:`~audit_heka.cli.options.Option`, which click
commands are built from by :mod:`audit_heka.cli.click_build`), so its name,
help text and checks cannot drift between commands. No click here: ``replay``
parses its command line without it.

Keys can come from the command line (``--hmac-key``, visible in ``ps``) or
from a key file (``--hmac-key-file``); a key file readable by group or others
gets a warning, as ssh does for private keys.
"""

from __future__ import annotations

import os
import stat

from audit_heka.cli.options import Option, UsageError
from audit_heka.heka.framing import DEFAULT_MAX_MESSAGE_SIZE, MIN_MAX_MESSAGE_SIZE, Signer

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from audit_heka.cli.options import Warn

KEY_FORM = "SIGNER:VERSION=KEY"


def parse_signers(values: tuple[str, ...], warn: Warn) -> tuple[Signer, ...]:
    """``SIGNER:VERSION=KEY`` values, as Heka names keys ``[x.signer.SIGNER_VERSION]``."""
    return tuple(Signer.parse(v) for v in values)


def exposure_warning(path: str | os.PathLike[str], mode: int, what: str) -> str | None:
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


def parse_key_files(values: tuple[str, ...], warn: Warn) -> tuple[Signer, ...]:
    """Read every ``--hmac-key-file``; warn when one is not private."""
    if not values:
        return ()
    from pathlib import Path  # noqa: PLC0415 - start-up cost only key files need

    out: list[Signer] = []
    for value in values:
        path = Path(value)
        try:
            st = path.stat()
            out += read_key_file(path)
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror}") from None
        warning = exposure_warning(path, st.st_mode, "HMAC keys")
        if warning is not None:
            warn(f"audit-heka: {warning}")
    return tuple(out)


def check_max_message_size(value: int, warn: Warn) -> int:
    """hekad refuses a max_message_size of 1024 or less; so do we."""
    if value < MIN_MAX_MESSAGE_SIZE:
        raise ValueError(f"must be at least {MIN_MAX_MESSAGE_SIZE} (as in hekad)")
    return value


#: ``--hmac-key``, ``--hmac-key-file``, ``--hmac-hash``: how a sender signs.
SIGNING = (
    Option(("--hmac-key",), "hmac_keys", multiple=True, metavar=KEY_FORM, check=parse_signers,
           help="Sign every message (Heka [x.signer.SIGNER_VERSION] hmac_key). Visible in "
           "ps: prefer --hmac-key-file."),
    Option(("--hmac-key-file",), "hmac_key_files", multiple=True, metavar="FILE",
           check=parse_key_files,
           help=f"Read the signing key from FILE (a line {KEY_FORM}; keep it mode 0600)."),
    Option(("--hmac-hash",), "hmac_hash", kind="choice", choices=("md5", "sha1"),
           default="md5", show_default=True, help="HMAC hash (Heka's hmac_hash)."),
)

#: ``--hmac-key`` and ``--hmac-key-file`` for receivers: every key they accept.
ACCEPTED_KEYS = (
    Option(("--hmac-key",), "signers", multiple=True, metavar=KEY_FORM, check=parse_signers,
           help="Accept messages signed with this key (repeatable)."),
    Option(("--hmac-key-file",), "key_files", multiple=True, metavar="FILE",
           check=parse_key_files,
           help=f"Accept the keys in FILE (lines of {KEY_FORM}; repeatable)."),
)

#: ``--ca``, ``--cert``, ``--key`` for ``tls://`` targets.
TLS = (
    Option(("--ca",), "ca", kind="file",
           help="tls:// targets: trust only this CA file (PEM) instead of the system's."),
    Option(("--cert",), "cert", kind="file",
           help="tls:// targets: client certificate (PEM), for client_auth."),
    Option(("--key",), "key", kind="file",
           help="tls:// targets: the client certificate's private key (PEM)."),
)

#: ``--max-message-size``, as hekad's setting of that name.
MAX_MESSAGE_SIZE = Option(
    ("--max-message-size",), "max_message_size", kind="int", default=DEFAULT_MAX_MESSAGE_SIZE,
    show_default=True, check=check_max_message_size,
    help="Largest message, as hekad's max_message_size (larger ones are counted).",
)


def one_signer(
    hmac_keys: tuple[Signer, ...], hmac_key_files: tuple[Signer, ...], hmac_hash: str
) -> Signer | None:
    """The sender's single signing key, with its hash (raises UsageError if several)."""
    keys = (*hmac_keys, *hmac_key_files)
    if len(keys) > 1:
        raise UsageError("give one signing key (--hmac-key or one line in "
                                 "--hmac-key-file)", param_hint="--hmac-key")
    if not keys:
        return None
    k = keys[0]
    return Signer(k.name, k.version, k.key, "sha1" if hmac_hash == "sha1" else "md5")


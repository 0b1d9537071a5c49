"""``audit-heka decode``: print a file of framed Heka messages as JSON lines (like heka-cat)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import BinaryIO

import click

from audit_heka.cli.click_build import with_options
from audit_heka.cli.heka_options import ACCEPTED_KEYS, MAX_MESSAGE_SIZE
from audit_heka.cli.listen import report_errors
from audit_heka.heka.errors import DecodeError
from audit_heka.heka.framing import Signer, Unframer
from audit_heka.heka.message import decode_message, message_to_json


@click.command()
@click.argument("source", type=click.File("rb"))
@with_options(ACCEPTED_KEYS)
@click.option("--require-signature", is_flag=True, help="Count unsigned messages as errors.")
@with_options((MAX_MESSAGE_SIZE,))
def decode(
    source: BinaryIO,
    signers: tuple[Signer, ...],
    key_files: tuple[Signer, ...],
    require_signature: bool,
    max_message_size: int,
) -> None:
    """Decode SOURCE (a file of framed messages, or - for stdin) to JSON lines.

    Like heka-cat, every message is printed; a signed one carries "Signer" and
    "Verified": false, as no key was given to check it. With keys (--hmac-key,
    --hmac-key-file) the
    signatures are checked as Heka's splitter checks them: a message signed by
    an unknown signer or with a bad HMAC is dropped and counted, the others get
    "Verified": true. Exits 1 when anything in the file could not be decoded or
    was dropped (counts on stderr).
    """
    keys = {s.lookup_key: s for s in (*signers, *key_files)}
    unframer = Unframer(max_message_size, keys, require_signature, verify=bool(keys))
    errors: Counter[str] = Counter()
    count = 0
    while chunk := source.read(1 << 20):
        for unframed in unframer.feed(chunk):
            try:
                msg = decode_message(unframed.message)
            except DecodeError:
                errors["undecodable"] += 1
                continue
            obj = message_to_json(msg)
            if unframed.signer is not None:
                obj["Signer"] = unframed.signer
                obj["Verified"] = bool(unframed.verified)
            sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
            count += 1
    unframer.close()
    errors.update(unframer.errors)
    report_errors("audit-heka decode", errors, Counter())
    click.echo(f"audit-heka decode: {count} messages", err=True)
    if errors:
        sys.exit(1)

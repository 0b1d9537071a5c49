"""Digests of the frames a tree writes for the checked-in corpus (tests/data/corpus).

    .venv/bin/python tests/golden_frames.py --tree /path/to/a/checkout > golden.json

Why: the frames are the contract (issue 13). The bytes-first hot path
(audit_heka.core.hotpath) must write, for the same input, the frames main wrote
before it, commit 8a1b372. tests/data/corpus/golden.json holds the digests
that tree wrote, made by this file run with ``--tree`` on a checkout of it;
tests/test_hotpath.py computes them again with the code under test and
compares. A deliberate change of the message scheme regenerates the file
from the new tree and says so in its commit.

The corpus: tests/capture.py's RAW and ENRICHED logs as the kernel and
auditd wrote them, exec-event logs (bench/exec_log.py, with and without
--new-pointers), a storm log (bench/bench.py's log-250k, cut), a real mixed log
(bench/mixed_log.py: a STIG/CIS-like rule set under a varied workload, its first
7,500 records; its digests were added from a checkout of 8a1b372), user-space
records (tests/userspace_capture.py via bench/userspace_log.py: PAM, sshd, cron,
sudo, systemd; RAW, and ENRICHED with node=; the first 2,000 lines of each; their
digests from main dc48a41, whose frames for the other logs equal 8a1b372's), and the fuzz
seeds (tests/data/fuzz/records, kernel ones through the netlink entry). Each
goes through several sessions (VARIANTS): replay's log mode, the shipper's live
mode, and one with small messages (degraded), no payload, another type and HMAC
signatures. Names are
fixed here, not read from this machine's /etc/passwd, so that the digests do
not depend on the machine.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
SEEDS = Path(__file__).resolve().parent / "data" / "fuzz" / "records"
USERS = {0: "root", 1000: "alice", 65534: "nobody"}
GROUPS = {0: "root", 1000: "alice"}
VARIANTS: dict[str, dict[str, Any]] = {
    "log": {"live": False},
    "live": {"live": True},
    "small": {"live": False, "payload": False, "message_type": "audit_small",
              "max_message_size": 2048, "signer": "golden:1=secret"},
}


def logs() -> dict[str, list[str]]:
    """The corpus: name -> lines (as replay reads them: split on "\\n" only)."""
    out = {}
    for path in sorted(CORPUS.glob("*.log.gz")):
        text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        out[path.name.removesuffix(".log.gz")] = text.split("\n")
    out["seeds"] = [p.read_bytes().decode("utf-8", "replace") for p in sorted(SEEDS.iterdir())
                    if not p.name.startswith("seed-kernel-")]
    return out


def kernel_seeds() -> list[tuple[str, str]]:
    """(type name, netlink text) of the kernel-form seeds."""
    out = []
    for p in sorted(SEEDS.glob("seed-kernel-*")):
        type_name = p.name.removeprefix("seed-kernel-").rsplit("-", 1)[0]
        out.append((type_name, p.read_bytes().decode("utf-8", "replace")))
    return out


def run(lines: list[str], variant: dict[str, Any], fast: bool | None = None,
        kernel: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The frames' digest, count and the session's counters for one log and variant.

    ``fast``: None for the tree's default session; True/False selects the
    hot path or the general one (trees that have the choice).
    """
    from audit_heka.core.events import Assembler  # noqa: PLC0415 - the tree's, see main()
    from audit_heka.core.interpret import Interpreter  # noqa: PLC0415
    from audit_heka.core.schema import MessageBuilder  # noqa: PLC0415
    from audit_heka.core.session import Session  # noqa: PLC0415
    from audit_heka.heka.framing import Signer  # noqa: PLC0415
    from audit_heka.tables.msgtypes import MSG_TYPE_NUMBERS  # noqa: PLC0415

    builder = MessageBuilder(Interpreter(USERS, GROUPS, machine="x86_64"), hostname="golden",
                             message_type=variant.get("message_type", "audit_log"),
                             payload=variant.get("payload", True))
    options: dict[str, Any] = {}
    if "signer" in variant:
        options["signer"] = Signer.parse(variant["signer"])
    if "max_message_size" in variant:
        options["max_message_size"] = variant["max_message_size"]
    if fast is not None:
        options["fast"] = fast
    live = bool(variant["live"])
    session = Session(builder, Assembler(live=live), **options)
    digest = hashlib.sha256()
    count = 0
    now = 1000.0

    def take(shipments: list[Any]) -> None:
        nonlocal count
        for item in shipments:
            count += 1
            digest.update(len(item.frame or b"").to_bytes(4, "big") + (item.frame or b""))
            digest.update(item.uuid if hasattr(item, "uuid") else item.message.uuid)

    for position, line in enumerate(lines):
        if live:
            now += 0.01
            take(session.feed(line, now, position=position))
            if position % 50 == 49:
                take(session.expire(now + 0.5))
        else:
            take(session.feed(line, position=position))
    for type_name, text in kernel or ():
        now += 0.01
        take(session.feed_kernel(MSG_TYPE_NUMBERS.get(type_name, 0), text, now))
    take(session.finish())
    return {"frames": digest.hexdigest(), "count": count, "counters": session.counters()}


def digests(fast: bool | None = None) -> dict[str, Any]:
    out = {}
    for name, lines in logs().items():
        for variant_name, variant in VARIANTS.items():
            kernel = kernel_seeds() if name == "seeds" else None
            out[f"{name}/{variant_name}"] = run(lines, variant, fast, kernel)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, required=True,
                        help="the checkout whose audit_heka writes the frames")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    import audit_heka  # noqa: PLC0415 - from the tree given

    assert audit_heka.__file__ is not None and audit_heka.__file__.startswith(
        str(args.tree.resolve())), audit_heka.__file__
    json.dump(digests(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

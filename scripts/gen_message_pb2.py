#!/usr/bin/env python3
"""Regenerate audit_heka/heka/message_pb2.py(i) from proto/message.proto.

Run after editing the schema:  python scripts/gen_message_pb2.py
With --check it writes nothing and exits 1 when the checked-in bindings are
stale (tests/test_message_pb2.py runs that). Uses Debian's protoc
(protobuf-compiler), the same compiler the wire tests decode with.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "audit_heka" / "heka"
OUTPUTS = ("message_pb2.py", "message_pb2.pyi")


def generate(into: Path) -> None:
    protoc = shutil.which("protoc")
    if protoc is None:
        sys.exit("protoc not found: apt-get install protobuf-compiler")
    subprocess.run(
        [protoc, f"-I{PROTO_DIR}", f"--python_out={into}", f"--pyi_out={into}", "message.proto"],
        check=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether they are current")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = [
            name
            for name in OUTPUTS
            if (Path(tmp) / name).read_bytes() != (OUT_DIR / name).read_bytes()
        ]
        if args.check:
            for name in stale:
                print(f"{OUT_DIR / name} is stale: run scripts/gen_message_pb2.py", file=sys.stderr)
            return 1 if stale else 0
        for name in OUTPUTS:
            shutil.copyfile(Path(tmp) / name, OUT_DIR / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Our interpretation agrees with `ausearch -i` on logs captured from the live kernel.

For every event ausearch prints and every `key=value` it prints, the same value must be in
our interpretation of the same record (`<key>_i` when the field has an interpretation, the
raw value otherwise). ausearch's output is parsed guided by our own key sequence: values may
contain spaces (`exit=ENOENT(No such file or directory)`, proctitle, saddr), so a value runs
until the next expected ` key=`. Differences we know of are listed in KNOWN with the reason.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from audit_state import require_tool
from capture import CapturedLog

from audit_heka.accounts import read_groups, read_users
from audit_heka.interpret import Interpreter
from audit_heka.records import Record, parse_line

pytestmark = pytest.mark.kernel

# (record type, key) -> why ausearch prints something else.
KNOWN = {
    ("USER", "text"): "auditctl -m sends msg='text=hello from test ...'; records.py ends an "
    "unquoted value at the first space (the rest is free text), ausearch prints the "
    "whole run 'hello from test'. A parsing choice, not an interpretation.",
}

STAMP = re.compile(r"msg=audit\([^)]*:(\d+)\) : ?")


def read_events(path: Path) -> dict[tuple[str | None, int], list[Record]]:
    events: dict[tuple[str | None, int], list[Record]] = defaultdict(list)
    with path.open(encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            record = parse_line(line.rstrip("\n"))
            assert isinstance(record, Record), record
            if record.type_name != "EOE":
                events[(record.node, record.serial)].append(record)
    return events


def expected(record: Record, interpreted: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    """(key, text) in the order ausearch prints them: keys split, first value of a key."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, raw in record.fields:
        value = interpreted.get(key) if key not in seen else None
        if isinstance(value, list):
            out += [(key, part) for part in value]
        else:
            out.append((key, value if value is not None else raw))
        seen.add(key)
    return out


def body_of(line: str) -> str:
    body = STAMP.split(line, maxsplit=1)[-1].lstrip(" ")
    if "msg='" in body:  # user messages: inner pairs printed inside msg='...'
        i = body.index("msg='")
        j = body.rindex("'")
        body = body[:i] + body[i + 5 : j] + body[j + 1 :]
    return body[:-1] if body.endswith(" ") else body


def compare(body: str, wanted: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Walk ausearch's text along our keys; return (key, theirs, ours) per value."""
    pairs: list[tuple[str, str, str]] = []
    pos = 0
    for i, (key, ours) in enumerate(wanted):
        token = f"{key}="
        if not body.startswith(token, pos):
            found = body.find(" " + token, pos)
            if found < 0:
                pairs.append((key, "<missing>", ours))
                continue
            pos = found + 1
        start = pos + len(token)
        if i + 1 < len(wanted):
            hint = start + len(ours) if body.startswith(ours, start) else start
            end = body.find(f" {wanted[i + 1][0]}=", hint)
            end = len(body) if end < 0 else end
        else:
            end = len(body)
        pairs.append((key, body[start:end], ours))
        pos = end + 1
    return pairs


def test_ausearch_agreement(captured_log: CapturedLog) -> None:
    ausearch = require_tool("ausearch")
    env = dict(os.environ, TZ="UTC", LC_ALL="C", LANG="C")
    out = subprocess.run(
        [ausearch, "-i", "-if", str(captured_log.path)], capture_output=True, env=env,
        check=True, timeout=60,
    ).stdout.decode("utf-8", "backslashreplace")
    ours_by_event = read_events(captured_log.path)
    interpreter = Interpreter(read_users(), read_groups())
    blocks = [b for b in out.split("----\n") if b.strip()]
    compared = agreed = records = 0
    unknown: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], tuple[str, str]] = {}
    known_hits: Counter[tuple[str, str]] = Counter()
    cursor: Counter[tuple[str | None, int]] = Counter()
    for block in blocks:
        lines = [ln for ln in block.splitlines()[::-1] if ln and " type=EOE " not in f" {ln}"]
        lines = [ln for ln in lines if not ln.split(" msg=")[0].endswith("type=EOE")]
        node_match = re.match(r"node=(\S+) ", lines[0])
        serial = int(STAMP.search(lines[0]).group(1))  # type: ignore[union-attr]
        node = node_match.group(1) if node_match else None
        # auparse closes an event early at some types (LOGIN, USER_*), so one serial may
        # print as several consecutive blocks: take this block's records in file order.
        start = cursor[(node, serial)]
        records_ = ours_by_event[(node, serial)][start : start + len(lines)]
        cursor[(node, serial)] = start + len(lines)
        assert len(records_) == len(lines), f"event {serial}: record count differs"
        for record, line, interp in zip(records_, lines, interpreter.interpret(records_),
                                        strict=True):
            records += 1
            for key, theirs, ours in compare(body_of(line), expected(record, interp)):
                compared += 1
                if theirs == ours:
                    agreed += 1
                elif (record.type_name, key) in KNOWN:
                    known_hits[(record.type_name, key)] += 1
                else:
                    unknown[(record.type_name, key)] += 1
                    examples.setdefault((record.type_name, key), (theirs, ours))
    percent = 100.0 * agreed / compared
    print(
        f"\nausearch -i agreement ({captured_log.log_format}): {percent:.3f}% "
        f"of {compared} values, {records} records, {len(blocks)} events; "
        f"known differences: {dict(known_hits)}"
    )
    assert len(blocks) >= 20 and compared >= 500, "the captured corpus is too small"
    assert not unknown, f"unexplained differences: {dict(unknown)}; e.g. {examples}"

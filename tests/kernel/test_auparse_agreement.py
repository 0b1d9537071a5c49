"""Our interpretation agrees with python3-audit's `auparse.interpret_field()`, field by field.

auparse is only importable by Debian's /usr/bin/python3 (not by the venv), so a small script
runs there and prints, per record of the captured log, [field name, interpretation] pairs as
JSON. The records are matched to ours by (node, serial) and order within the event; every
field auparse reports (it splits `key` on 0x01 itself) is compared with our `<key>_i`, or
with the raw value when the field has no interpretation.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict

import pytest
from auparse_oracle import auparse_dump
from capture import CapturedLog

from audit_heka.core.interpret import Interpreter
from audit_heka.core.records import Record, parse_line
from audit_heka.host.accounts import read_groups, read_users

pytestmark = pytest.mark.kernel

# (record type, key) -> why auparse returns something else. Empty: none is known.
# (ausearch's USER `text` difference is its printing of msg='...', not auparse's value.)
KNOWN: dict[tuple[str, str], str] = {}


def test_auparse_agreement(oracle_log: CapturedLog) -> None:
    theirs = auparse_dump(oracle_log.path)
    ours: dict[tuple[str | None, int], list[Record]] = defaultdict(list)
    with oracle_log.path.open(encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            record = parse_line(line.rstrip("\n"))
            assert isinstance(record, Record), record
            if record.type_name != "EOE":
                ours[(record.node, record.serial)].append(record)
    interpreter = Interpreter(read_users(), read_groups(), os.uname().machine)
    cursor: Counter[tuple[str | None, int]] = Counter()
    compared = agreed = 0
    unknown: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], tuple[str, str]] = {}
    known_hits: Counter[tuple[str, str]] = Counter()
    events = {(r["node"], r["serial"]) for r in theirs}
    for item in theirs:
        node = item["node"]
        serial = item["serial"]
        assert isinstance(node, str | None) and isinstance(serial, int)
        key = (node, serial)
        record = ours[key][cursor[key]]
        cursor[key] += 1
        interp = interpreter.interpret([record])[0]
        mine: list[tuple[str, str]] = []
        seen: set[str] = set()
        for name, raw in record.fields:
            value = interp.get(name) if name not in seen else None
            if isinstance(value, list):
                mine += [(name, part) for part in value]
            else:
                mine.append((name, value if value is not None else raw))
            seen.add(name)
        fields = item["fields"]
        assert isinstance(fields, list)
        assert [n for n, _ in fields] == [n for n, _ in mine], f"fields of {key} differ"
        for (name, text), (_, our_text) in zip(fields, mine, strict=True):
            compared += 1
            if text == our_text:
                agreed += 1
            elif (record.type_name, name) in KNOWN:
                known_hits[(record.type_name, name)] += 1
            else:
                unknown[(record.type_name, name)] += 1
                examples.setdefault((record.type_name, name), (text, our_text))
    print(
        f"\nauparse.interpret_field agreement ({oracle_log.log_format}): "
        f"{100.0 * agreed / compared:.3f}% of {compared} fields, {len(theirs)} records, "
        f"{len(events)} serials; known differences: {dict(known_hits)}"
    )
    assert compared >= 500, "the captured corpus is too small"
    assert not unknown, f"unexplained differences: {dict(unknown)}; e.g. {examples}"

"""`ausearch -i` as the oracle: run it on a log, line its values up with our interpretation.

Shared by the kernel agreement test (captured logs) and the interpretation tests that
write their own records (tests/test_interpret_oracle.py). For every event ausearch prints
and every `key=value` it prints, the same value must be in our interpretation of the same
record (`<key>_i` when the field has one, the raw value otherwise). ausearch's output is
parsed guided by our own key sequence: values may contain spaces (`exit=ENOENT(No such
file or directory)`, proctitle, saddr), so a value runs until the next expected ` key=`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from audit_heka.core.interpret import Interpreter
from audit_heka.core.records import Record, parse_line

STAMP = re.compile(r"msg=audit\([^)]*:(\d+)\) : ?")


@dataclass
class Agreement:
    """Values compared with ausearch, those that agree, and the others by (type, key)."""

    compared: int = 0
    agreed: int = 0
    records: int = 0
    events: int = 0
    known: Counter[tuple[str, str]] = field(default_factory=Counter)
    unknown: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * self.agreed / self.compared if self.compared else 100.0

    def summary(self) -> str:
        return (f"{self.agreed}/{self.compared} values agree ({self.percent:.3f}%), "
                f"{self.records} records, {self.events} events; known differences: "
                f"{dict(self.known)}")


def read_events(path: Path) -> dict[tuple[str | None, int], list[Record]]:
    events: dict[tuple[str | None, int], list[Record]] = defaultdict(list)
    with path.open(encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            record = parse_line(line.rstrip("\n"))
            assert isinstance(record, Record), record
            if record.type_name != "EOE":
                events[(record.node, record.serial)].append(record)
    return events


def expected(record: Record, interpreted: Mapping[str, str | list[str]]) -> list[tuple[str, str]]:
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


def ausearch_text(ausearch: str, path: Path) -> str:
    env = dict(os.environ, TZ="UTC", LC_ALL="C", LANG="C")
    return subprocess.run(
        [ausearch, "-i", "-if", str(path)], capture_output=True, env=env, check=True,
        timeout=300,
    ).stdout.decode("utf-8", "backslashreplace")


def agreement(ausearch: str, path: Path, interpreter: Interpreter,
              known: Mapping[tuple[str, str], str] | None = None) -> Agreement:
    """Compare every value ausearch prints for the log at `path` with `interpreter`'s."""
    out = ausearch_text(ausearch, path)
    ours_by_event = read_events(path)
    blocks = [b for b in out.split("----\n") if b.strip()]
    result = Agreement(events=len(blocks))
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
        records = ours_by_event[(node, serial)][start : start + len(lines)]
        cursor[(node, serial)] = start + len(lines)
        assert len(records) == len(lines), f"event {serial}: record count differs"
        for record, line, interp in zip(records, lines, interpreter.interpret(records),
                                        strict=True):
            result.records += 1
            for key, theirs, ours in compare(body_of(line), expected(record, interp)):
                result.compared += 1
                where = (record.type_name, key)
                if theirs == ours:
                    result.agreed += 1
                elif known is not None and where in known:
                    result.known[where] += 1
                else:
                    result.unknown[where] += 1
                    result.examples.setdefault(where, (theirs, ours, record.log_line()[:300]))
    return result

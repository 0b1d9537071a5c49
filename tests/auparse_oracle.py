"""The oracle for parsing and naming: what auparse (the library of ``ausearch -i``) reads.

auparse is importable only by Debian's /usr/bin/python3 (not the venv), so a small script
runs there and prints, per record, [field name, interpretation] pairs as JSON.
:func:`agreement` compares them with the values audit-heka ships for the same records
(MessageBuilder.record_values), as a multiset per record: auparse names every occurrence of
a repeated key by the key, audit-heka by ``key``/``key_N`` (and ``old-auid`` for the old
LOGIN's ``old auid=``), so the comparison is by original key.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from audit_state import require, require_tool

from audit_heka.core.records import Record, is_comment, parse_line, split_records
from audit_heka.core.schema import MessageBuilder

SYSTEM_PYTHON = Path("/usr/bin/python3")

AUPARSE_DUMP = r"""
import json, sys
import auparse
p = auparse.AuParser(auparse.AUSOURCE_FILE, sys.argv[1])
out = []
while p.parse_next_event():
    while True:
        fields = []
        node = None
        p.first_field()
        while True:
            try:  # (a record with no fields at all: auparse has no name to give)
                name = p.get_field_name()
            except RuntimeError:
                break
            if name == "node":
                node = p.get_field_str()
            elif name != "type":
                fields.append([name, p.interpret_field()])
            if not p.next_field():
                break
        try:
            type_name = p.get_type_name()
        except LookupError:  # a type auparse has no name for (UNKNOWN[1420]), or none
            try:
                type_name = "UNKNOWN[%d]" % p.get_type()
            except LookupError:
                type_name = "?"
        stamp = p.get_timestamp()
        if stamp is not None:  # (None: a line that is no record, "# a comment")
            out.append({"node": node, "serial": stamp.serial, "fields": fields,
                        "type": type_name})
        if not p.next_record():
            break
json.dump(out, sys.stdout)
"""


def auparse_dump(path: Path) -> list[dict[str, object]]:
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import auparse"], capture_output=True,
                           check=False)
    require(probe.returncode == 0, "python3-audit (auparse) is not importable by /usr/bin/python3")
    done = subprocess.run([str(SYSTEM_PYTHON), "-c", AUPARSE_DUMP, str(path)],
                          capture_output=True, check=True, timeout=120)
    data: list[dict[str, object]] = json.loads(done.stdout.decode("utf-8", "surrogateescape"))
    return data


@dataclass
class Agreement:
    compared: int = 0
    agreed: int = 0
    differences: list[tuple[str, str, str, str]] = field(default_factory=list)
    known: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def percent(self) -> float:
        """Agreement, counting known differences as disagreement."""
        return 100.0 * self.agreed / self.compared if self.compared else 100.0

    @property
    def unexplained(self) -> int:
        return len(self.differences)

    def add(self, other: Agreement) -> None:
        self.compared += other.compared
        self.agreed += other.agreed
        self.differences += other.differences
        self.known += other.known


# What auparse reads that audit-heka ships differently on purpose -> why.
KNOWN: dict[tuple[str, str], str] = {
    ("AVC", "seresult"): "auparse makes fields of the AVC's free text 'avc: denied { read }'; "
    "audit-heka ships that text whole as msgdata",
    ("AVC", "seperms"): "as seresult",
    ("USER_AVC", "seresult"): "as AVC",
    ("USER_AVC", "seperms"): "as AVC",
    ("CHGRP_ID", "auid"): "auparse cuts the record at the \\x1d a user wrote into newgrp's "
    "message and believes the forged AUID=\"root\" after it (issue 17.2); audit-heka keeps "
    "the \\x1d as data and ships the kernel's auid (unset)",
    ("CHGRP_ID", "new-group"): "the same cut: auparse reads 'y', audit-heka the whole name",
    ("LOGIN", "ses"): "the old LOGIN's 'old ses=' is auparse's second 'ses' (interpreted: "
    "unset); audit-heka names it old-ses like the modern kernel's, which auparse does not "
    "interpret either",
}
#: A quoted value with spaces (older kernels' reason="memory violation", AppArmor's
#: info="..." and requested_mask="send receive"): auparse's field API gives its first
#: word with the quote ('"memory') or ' '; audit-heka ships it whole, as ausearch -i
#: prints it. Counted under this name, for any type and key.
QUOTED_WITH_SPACES = "quoted value with spaces"


# What ausearch's text shows differently from auparse.interpret_field -> why.
AUSEARCH_KNOWN: dict[tuple[str, str], str] = {
    ("USER_ACCT", "acct"): "acct=\"root (no closing quote): interpret_field gives ' ', "
    "ausearch prints 'root' (the value audit-heka ships raw is '\"root')",
    ("USER_ACCT", "exe"): "after that quote ausearch prints 'exe= bin/su\"' (its printer "
    "mangles the rest of the line); interpret_field and audit-heka give /bin/su",
}


def _old_form(record: Record, key: str) -> str:
    """``old-auid`` of an old LOGIN (``old auid=``) is auparse's second ``auid``."""
    if key.startswith("old-") and f"old {key[4:]}=" in record.text:
        return key[4:]
    return key


def our_records(path: Path) -> dict[tuple[str | None, int], list[Record]]:
    records: dict[tuple[str | None, int], list[Record]] = defaultdict(list)
    with path.open(encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if not line.strip() or is_comment(line):
                continue
            for piece in split_records(line.rstrip("\n")):
                record = parse_line(piece)
                if isinstance(record, Record) and record.type_name != "EOE":
                    records[(record.node, record.serial)].append(record)
    return records


def agreement(path: Path, builder: MessageBuilder) -> Agreement:
    """Values auparse reads in the file's records that audit-heka ships too."""
    ours = our_records(path)
    cursor: Counter[tuple[str | None, int]] = Counter()
    result = Agreement()
    for item in auparse_dump(path):
        node, serial, fields = item["node"], item["serial"], item["fields"]
        assert isinstance(node, str | None) and isinstance(serial, int)
        assert isinstance(fields, list)
        key = (node, serial)
        mine: Counter[tuple[str, str]] = Counter()
        record = ours[key][cursor[key]] if cursor[key] < len(ours[key]) else None
        cursor[key] += 1
        if record is not None:
            for _, k, text in builder.record_values(record):
                for part in text if isinstance(text, list) else [text]:
                    mine[(_old_form(record, k), part)] += 1
        for name, text in fields:
            result.compared += 1
            if mine[(name, text)] > 0:
                mine[(name, text)] -= 1
                result.agreed += 1
            elif (str(item.get("type")), name) in KNOWN:
                result.known[(str(item.get("type")), name)] += 1
            elif record is not None and _cut_at_a_space(record, name, text):
                result.known[(str(item.get("type")), QUOTED_WITH_SPACES)] += 1
            else:
                result.differences.append((str(item.get("type")), name, text, repr(record)))
    return result


def _cut_at_a_space(record: Record, name: str, text: str) -> bool:
    """Whether auparse's ``text`` for ``name`` is a quoted value of the record with
    spaces, cut at the first one (:data:`QUOTED_WITH_SPACES`)."""
    return any(k == name and raw[:1] == '"' and " " in raw
               and text in (" ", raw.split(" ", 1)[0]) for k, raw in record.fields)


_AUSEARCH_STAMP = re.compile(r"^(?:node=(\S+) )?type=(\S+) msg=audit\([^)]*:(\d+)\)")


def ausearch_agreement(path: Path, builder: MessageBuilder) -> Agreement:
    """The same comparison against the text ``ausearch -i -if`` prints.

    Every value audit-heka ships for a record ausearch prints must appear in ausearch's
    line as ``key=text`` (a word of its own: after a space, ``(`` or ``'``; before a
    space, ``,``, ``)``, ``'`` or the end). Records ausearch does not print (it drops
    some events of odd logs) are not compared.

    ausearch prints an event's records last to first, so its line is paired with the
    one of our records of that type it agrees with most (an event's two PATH items
    differ in nearly every value), not with the next one in order.
    """
    done = subprocess.run([require_tool("ausearch"), "-i", "-if", str(path)],
                          capture_output=True, check=False, timeout=120)
    ours: dict[tuple[str | None, int, str], list[Record]] = defaultdict(list)
    for (node, serial), records in our_records(path).items():
        for r in records:  # ausearch may print an event's records in another order
            ours[(node, serial, r.type_name)].append(r)
    result = Agreement()
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        stamp = _AUSEARCH_STAMP.match(line)
        if stamp is None:
            continue
        key = (stamp.group(1), int(stamp.group(3)), stamp.group(2))
        if not ours[key]:
            continue
        body = line[stamp.end():]
        found = [[_printed(body, _old_form(r, k), part)
                  for _, k, text in builder.record_values(r)
                  for part in (text if isinstance(text, list) else [text])]
                 for r in ours[key]]
        best = max(range(len(found)), key=lambda i: sum(found[i]))
        record = ours[key].pop(best)
        # ausearch cuts a record at a \x1d that is data (issue 17.2): what follows is lost.
        cut = record.text.find("\x1d") if not record.enriched else -1
        printed = iter(found[best])
        for _, k, text in builder.record_values(record):
            for part in text if isinstance(text, list) else [text]:
                name = _old_form(record, k)
                result.compared += 1
                if next(printed):
                    result.agreed += 1
                elif (record.type_name, name) in KNOWN:
                    result.known[(record.type_name, name)] += 1
                elif cut != -1 and record.text.find(f"{k}=", cut) != -1:
                    result.known[(record.type_name, "after \\x1d")] += 1
                elif (record.type_name, name) in AUSEARCH_KNOWN:
                    result.known[(record.type_name, name)] += 1
                else:
                    result.differences.append((record.type_name, name, part, line))
    return result


def _printed(body: str, name: str, text: str) -> bool:
    """Whether ausearch's line shows ``name=text`` as a word of its own."""
    return re.search(r"(?:^|[ ('])" + re.escape(f"{name}={text}") + r"(?=$|[ ,)'])",
                     body) is not None

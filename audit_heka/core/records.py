"""One audit record, parsed from any of the text dialects users have.

The same record reaches us in three shapes, and the rest of the pipeline must
not care which:

* the kernel's netlink text: ``audit(SEC.MSEC:SERIAL): BODY`` with the numeric
  type carried separately in the netlink header (:func:`parse_kernel`);
* auditd log lines: ``[node=HOST ]type=NAME msg=audit(SEC.MSEC:SERIAL): BODY``
  where NAME may be ``UNKNOWN[1234]`` (:func:`parse_line`);
* ENRICHED log lines, which append ``\\x1d`` and auditd's own interpretation
  (``AUID="unset" UID="root" SADDR={ ... }``) to BODY.

BODY is a list of ``key=value`` pairs, possibly preceded by free text (AVC:
``avc:  denied  { read } for  pid=...``). Values are written as the kernel
wrote them: ``"quoted"``, unquoted (numbers, ``(null)``, ``?``), uppercase hex
for untrusted strings, ``'...'`` for user-space ``msg=`` and ``{ ... }`` for
ENRICHED socket addresses. We keep every value exactly as written (quotes
included) because only the interpreter can tell a quoted string from hex, and
the Payload must reproduce the original text.

User-space records (USER_*, and ``auditctl -m``) wrap their own key=value list
in ``msg='...'``; those inner pairs are flattened after the outer ones so that
``op``, ``acct``, ``exe``, ``res`` ... are ordinary fields. ``msg`` itself is
kept only when its text is not a key=value list.

Odd and old writers (issue 16), read as ``ausearch``/auparse reads them:

* audit 1.x punctuation: ``(hostname=?, addr=?, terminal=pts/0 res=success)``,
  ``uid=500:`` -- a key loses a leading ``(``, an unquoted value one trailing
  ``,``, then one unbalanced trailing ``)``, or the ``:`` after a number
  (auparse also cuts ``(x)`` to ``(x`` and IPv6 ``fe80::`` to ``fe80:``; we do
  not: balanced parentheses and colons of addresses are data);
* old LOGIN records ``old auid=4294967295 new auid=0``: the words name the
  pair, so the keys become the modern kernel's ``old-auid`` and ``auid``;
* a quoted value with no closing quote (one that ends a word) ends at the next
  space, as in auparse, but a user message's ``msg='`` runs to the end of the
  record (its pairs read as auparse reads them); the record is kept and
  ``problem`` says ``unterminated_quote`` (counted);
* DAEMON_* headers with no colon after ``audit(...)``.

``\x1d`` is data except where auditd's ENRICHED writer put it
(:func:`split_enriched`), and the kernel's own records never carry the
separator at all (:func:`parse_kernel` does not look for it): a user who
writes ``\x1d`` into a setuid helper's message (``newgrp $'y\x1dAUID=root'``)
cannot cut the record short.

This is the hot path, so it is a ``str.find`` loop, not a regex per field.
Bad input never raises: the parse functions return a :class:`ParseError`
carrying the raw text and a reason, which callers count and still ship.
"""

from __future__ import annotations

import re

from audit_heka.tables.msgtypes import MSG_TYPE_NUMBERS, MSG_TYPES
from audit_heka.value import Value

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

ENRICHED_SEPARATOR = "\x1d"
# A kernel record is at most AUDIT_MESSAGE_TEXT_MAX (8560) + header; auditd's
# ENRICHED form adds interpretations. Anything far beyond is not a record.
MAX_RECORD_LENGTH = 65536
# The largest header numbers a Heka message can carry (int64 ns Timestamp, int64 serial).
MAX_SECONDS = ((1 << 63) - 1) // 1_000_000_000 - 1
MAX_SERIAL = (1 << 63) - 1

Pairs = tuple[tuple[str, str], ...]


class Record(Value):
    """One audit record. ``fields`` hold raw values as written (quotes kept).

    A :class:`~audit_heka.value.Value`, not a dataclass: start-up cost (measured there).
    """

    __slots__ = ("enriched", "fields", "free_text", "milliseconds", "msg_fields", "node",
                 "problem", "seconds", "serial", "text", "type", "type_name")

    def __init__(self, type: int, type_name: str, seconds: int, milliseconds: int,
                 serial: int, node: str | None, fields: Pairs, enriched: Pairs,
                 free_text: str, text: str, msg_fields: int = 0, problem: str = "") -> None:
        self.type: Final = type  # message type number; 0 if a log named a type we do not know
        self.type_name: Final = type_name  # "SYSCALL", "UNKNOWN[1338]", ... as the source named it
        self.seconds: Final = seconds
        self.milliseconds: Final = milliseconds
        self.serial: Final = serial
        self.node: Final = node  # node= prefix of auditd logs (name_format), else None
        # (key, raw value) in record order; inner msg='' pairs after outer
        self.fields: Final = fields
        self.enriched: Final = enriched  # ENRICHED section pairs (key as written, e.g. "UID")
        # text that is not key=value (AVC "avc:  denied  { read } for")
        self.free_text: Final = free_text
        self.text: Final = text  # the body after "audit(...): ", ENRICHED section included
        #: How many of ``fields`` (the last ones) came from inside a user-space
        #: ``msg='...'``: the text a user-space writer (and whoever fed it) chose.
        self.msg_fields: Final = msg_fields
        #: Why the record was only partly understood ("" if it was not), e.g.
        #: ``unterminated_quote``; the record is kept, the reason counted and shipped.
        self.problem: Final = problem

    def _as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "type_name": self.type_name, "seconds": self.seconds,
                "milliseconds": self.milliseconds, "serial": self.serial, "node": self.node,
                "fields": self.fields, "enriched": self.enriched, "free_text": self.free_text,
                "text": self.text, "msg_fields": self.msg_fields, "problem": self.problem}

    @property
    def timestamp_ns(self) -> int:
        return self.seconds * 1_000_000_000 + self.milliseconds * 1_000_000

    def log_line(self) -> str:
        """The record in auditd log form (what Payload and file logs carry)."""
        prefix = f"node={self.node} " if self.node is not None else ""
        return (
            f"{prefix}type={self.type_name} "
            f"msg=audit({self.seconds}.{self.milliseconds:03d}:{self.serial}): {self.text}"
        )

    def get(self, key: str) -> str | None:
        """The first raw value of ``key``, or None."""
        for k, v in self.fields:
            if k == key:
                return v
        return None


class ParseError(Value):
    """A line that is not an audit record; ``reason`` is a counter name."""

    __slots__ = ("reason", "text")

    def __init__(self, reason: str, text: str) -> None:
        self.reason: Final = reason
        self.text: Final = text

    def _as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "text": self.text}


class _Malformed(Exception):
    """Internal control flow of the parser; never escapes this module."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def type_name_for(number: int) -> str:
    """The name auditd would write for a type number."""
    name = MSG_TYPES.get(number)
    return name if name is not None else f"UNKNOWN[{number}]"


def type_number_for(name: str) -> int:
    """The number for a logged type name; UNKNOWN[n] gives n; unknown names 0."""
    number = MSG_TYPE_NUMBERS.get(name)
    if number is not None:
        return number
    if name.startswith("UNKNOWN[") and name.endswith("]"):
        digits = name[8:-1]
        if digits.isascii() and digits.isdigit():
            return int(digits)
    return 0


def _digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def _stamp(s: str, start: int) -> tuple[int, int, int, str]:
    """Parse ``audit(SEC.MSEC:SERIAL): BODY`` at s[start:]; return time, serial, body."""
    if not s.startswith("audit(", start):
        raise _Malformed("bad_header")
    dot = s.find(".", start + 6)
    colon = s.find(":", dot + 1) if dot != -1 else -1
    close = s.find(")", colon + 1) if colon != -1 else -1
    if close == -1:
        raise _Malformed("bad_header")
    sec, msec, serial = s[start + 6 : dot], s[dot + 1 : colon], s[colon + 1 : close]
    if not (_digits(sec) and _digits(msec) and _digits(serial)) or len(msec) > 3:
        raise _Malformed("bad_header")
    # Heka's Timestamp (ns) and the serial INTEGER field are int64: a time past
    # 2262 or a serial past 2**63 cannot be shipped (found by fuzz/fuzz_records.py).
    # The length test comes first so that int() never sees thousands of digits.
    if len(sec) > 19 or len(serial) > 19:
        raise _Malformed("bad_header")
    seconds, number = int(sec), int(serial)
    if seconds > MAX_SECONDS or number > MAX_SERIAL:
        raise _Malformed("bad_header")
    rest = close + 1
    if s.startswith(": ", rest):
        body = s[rest + 2 :]
    elif (s.startswith(":", rest) and len(s) == rest + 1) or len(s) == rest:
        body = ""
    elif s.startswith(" ", rest):  # old DAEMON_* records: "audit(...) auditd start, ..."
        body = s[rest + 1 :]
    else:
        raise _Malformed("bad_header")
    return seconds, int(msec), number, body


# Values that end in ")" although they are whole: the kernel's and auparse's placeholders.
_PARENTHESISED = frozenset({"(none)", "(null)", "(unknown)", "(deleted)", "(invalid)"})


def _trim(value: str) -> str:
    """An unquoted value without the old format's punctuation (see the module doc).

    ``res=success)`` -> ``success``, ``sauid=81,`` -> ``81``, ``uid=500:`` ->
    ``500``; ``(none)``, ``(x)`` and ``fe80::`` are left whole.
    """
    comma = value.endswith(",")
    if comma:
        value = value[:-1]
    if value.endswith(")"):
        if value not in _PARENTHESISED and value.count("(") < value.count(")"):
            value = value[:-1]
    elif not comma and value.endswith(":") and _digits(value[:-1]):
        value = value[:-1]
    return value


def _pairs_fast(s: str) -> list[tuple[str, str]] | None:
    """The common case -- only ``key=value`` words, no value with a space -- by split().

    Kernel records are nearly always like this (the kernel hex-encodes any
    string with a space). Returns None for anything else (free text, quoted
    values with spaces, ``'...'``, ``{ ... }``, old-format punctuation), which
    :func:`_pairs_exact` handles; both give the same result where this one
    answers (a property test checks it).
    """
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    for word in s.split(" "):
        if not word:
            continue
        key, sep, value = word.partition("=")
        if not sep or not key or key[0] == "(":
            return None
        if value:
            c = value[0]
            if c == '"':
                if len(value) < 2 or value[-1] != '"' or '"' in value[1:-1]:
                    return None
            elif c in "'{" or (value[-1] in ",:)" and _trim(value) != value):
                return None
        append((key, value))
    return pairs


def reads_alone(key: str, value: str) -> bool:
    """Whether the word ``key=value`` alone reads as this pair by :func:`_pairs_fast`."""
    if not key or key[0] == "(" or " " in value or " " in key or "=" in key:
        return False
    if not value:
        return True
    c = value[0]
    if c == '"':
        return len(value) >= 2 and value[-1] == '"' and '"' not in value[1:-1]
    return c not in "'{" and (value[-1] not in ",:)" or _trim(value) == value)


def _pairs(s: str) -> tuple[list[tuple[str, str]], str, str]:
    """Split a body into (key, raw value) pairs, the free text, and a problem ("" if none)."""
    if s.endswith("'"):  # a user-space msg='...' ends the body (kernel records: never)
        fast = _pairs_user(s)
        if fast is not None:
            return fast, "", ""
    fast = _pairs_fast(s)
    if fast is not None:
        return fast, "", ""
    return _pairs_exact(s)


def _pairs_user(s: str) -> list[tuple[str, str]] | None:
    """A user-space record's body -- ``key=value`` words, then ``msg='...'`` last, the
    only quote marks of the body -- by split(); None for anything else.

    libaudit writes every user-space record so (``pid=.. uid=.. auid=.. ses=..
    msg='op=PAM:session_open ... res=success'``), and a real server writes many:
    :func:`_pairs_exact` would walk it character group by group. Where this
    answers, the general tokenizer gives the same (a property test checks it): the
    words before ``msg=`` are what :func:`_pairs_fast` reads, and ``msg`` takes the
    rest, up to the last quote, which ends the body.
    """
    last = len(s) - 1
    if last < 5 or s[last] != "'":
        return None
    quote = s.find("'")
    if quote < 4 or s.find("'", quote + 1) != last or not s.startswith("msg=", quote - 4):
        return None
    if quote > 4 and s[quote - 5] != " ":
        return None  # "xmsg='": another key
    outer = _pairs_fast(s[: quote - 4])
    if outer is None:
        return None
    outer.append(("msg", s[quote:]))
    return outer


_NAMING_WORDS = {"old": "old-", "new": ""}  # LOGIN of audit 1.x: "old auid=... new auid=..."


def _pairs_exact(s: str) -> tuple[list[tuple[str, str]], str, str]:
    """The general tokenizer: quoted values with spaces, free text, msg='', { }.

    Never raises: a quote or brace that is not closed ends its value at the
    next space (auparse's reading) and is reported as the third result.
    """
    pairs: list[tuple[str, str]] = []
    extra: list[str] = []
    problem = ""
    lead_end = -1  # where the free text before the first pair ends
    naming = ""  # the key prefix a LOGIN naming word asks for ("old-" or "")
    named = False  # the next pair follows a naming word
    n = len(s)
    i = 0
    find = s.find
    while i < n:
        if s[i] == " ":
            i += 1
            continue
        sp = find(" ", i)
        if sp == -1:
            sp = n
        eq = find("=", i, sp)
        if s[i] == "(" and eq > i + 1:
            i += 1  # "(hostname=?," of the old format: the parenthesis is not the key's
        if eq <= i:  # no "=" in this word (or it starts with one): free text
            word = s[i:sp]
            prefix = _NAMING_WORDS.get(word)
            nxt = sp + 1 if sp < n else n
            if prefix is not None and lead_end != -1 and find("=", nxt, _word_end(s, nxt)) > nxt:
                naming, named = prefix, True
                i = sp
                continue
            if lead_end == -1:
                i = sp
                continue
            extra.append(word)
            i = sp
            continue
        if lead_end == -1:
            lead_end = i
        key = s[i:eq]
        if named:
            key = naming + key
            named = False
        j = eq + 1
        c = s[j] if j < n else ""
        end = -1
        if c == '"':
            end = find('"', j + 1)
            if end != -1 and end + 1 < n and s[end + 1] != " ":
                end = -1  # 'acct="root exe="/bin/su"': a quote that does not end a word
            if end == -1:
                problem = problem or "unterminated_quote"
        elif c == "'":
            end = s.rfind("'", j + 1)
            if end == -1:
                problem = problem or "unterminated_quote"
                if key == "msg":  # a user message cut before its quote: the rest is its
                    end = n - 1  # text, whose pairs auparse reads all the same
        elif c == "{":
            end = find("}", j + 1)
            if end == -1:
                problem = problem or "unterminated_brace"
        if end != -1:
            i = end + 1
            pairs.append((key, s[j:i]))
        else:
            i = sp
            pairs.append((key, _trim(s[j:i]) if c != "{" else s[j:i]))
    if lead_end == -1:
        lead = s.strip()
    else:  # without the "(" of an old-format first pair
        lead = s[: lead_end - 1 if lead_end and s[lead_end - 1] == "(" else lead_end].strip()
    if extra:
        lead = " ".join([lead, *extra]) if lead else " ".join(extra)
    return pairs, lead, problem


def _word_end(s: str, i: int) -> int:
    end = s.find(" ", i)
    return len(s) if end == -1 else end


#: Compiled on first use (re keeps it): only ENRICHED logs need it (start-up).
_ENRICHED_KEY = r"[A-Z][A-Z0-9_-]*\Z"


_ENRICHED_TAILS: dict[str, bool] = {}  # an ENRICHED part -> whether it reads as one


def split_enriched(body: str) -> tuple[str, str]:
    """(raw part, ENRICHED part) of a log record's body.

    auditd's ENRICHED writer appends ``\\x1d`` and its interpretations once,
    after the record text, and names them in upper case (``AUID="unset"
    UID="root"``). So the separator is the LAST ``\\x1d``, and only if (a)
    everything after it is such upper-case ``NAME=value`` pairs, at least one,
    and nothing else, and (b) the text before it has no ``msg='`` left open. Any
    other ``\\x1d`` is part of a value: a user can write one into a setuid
    helper's message (``newgrp $'y\\x1dAUID="root"'``), but the library then
    appends its own lower-case fields and the closing quote after it, which
    (a) and (b) refuse.

    A SOCKADDR record's one interpretation is the exception: ``SADDR=`` and the
    rest of the line (:func:`enriched_pairs`), where a socket's path is written
    as it is -- spaces, braces, even a ``\\x1d`` of its own (``path=/tmp/.{GUID}``
    is common). So in a SOCKADDR record (its body starts with the kernel's
    ``saddr=``), the first ``\\x1dSADDR=`` with a ``{`` after it is the separator,
    as auparse reads it: the kernel hex-encodes control characters, so no
    ``\\x1d`` of its own comes before.
    """
    if body.startswith("saddr="):  # (a SOCKADDR record: the kernel writes saddr alone)
        saddr = body.find(_SADDR_TAIL)
        if saddr != -1 and body.find("{", saddr) != -1 and not _msg_open(body[:saddr]):
            return body[:saddr], body[saddr + 1:]
    sep = body.rfind(ENRICHED_SEPARATOR)
    if sep == -1:
        return body, ""
    head, tail = body[:sep], body[sep + 1 :]
    valid = _ENRICHED_TAILS.get(tail)
    if valid is None:  # (tails repeat: UID="root" AUID="unset" on record after record)
        pairs, free, problem = _pairs(tail)
        # At least one pair: auditd writes no separator for a record with nothing to
        # interpret, so a bare trailing \x1d is the record's own data.
        valid = (bool(pairs) and not free and not problem
                 and all(re.match(_ENRICHED_KEY, k) for k, _ in pairs))
        if len(tail) <= BODY_MEMO_MAX:
            if len(_ENRICHED_TAILS) >= BODY_MEMO_SIZE:
                _ENRICHED_TAILS.clear()
            _ENRICHED_TAILS[tail] = valid
    if not valid or _msg_open(head):
        return body, ""
    return head, tail


_SADDR_TAIL = ENRICHED_SEPARATOR + "SADDR="


def _msg_open(head: str) -> bool:
    """Whether a user-space ``msg='`` is left open in ``head`` (its \\x1d is data)."""
    opened = head.find("msg='")
    return opened != -1 and head.rfind("'") <= opened + 4


def enriched_pairs(tail: str) -> Pairs:
    """The pairs of an ENRICHED part: upper-case words, or a SOCKADDR's ``SADDR=`` and
    all the rest from its ``{`` (:func:`split_enriched`; auparse reads it so)."""
    brace = tail.find("{", 6) if tail.startswith("SADDR=") else -1
    if brace != -1:
        return (("SADDR", tail[brace:]),)
    pairs, _, _ = _pairs(tail)
    return tuple(pairs)


def _body(body: str, enriched_allowed: bool) -> tuple[Pairs, Pairs, str, int, str]:
    """Fields, ENRICHED pairs, free text, count of msg='' fields, problem."""
    if enriched_allowed and ENRICHED_SEPARATOR in body:
        raw, enriched_text = split_enriched(body)
    else:
        raw, enriched_text = body, ""
    pairs, free, problem = _pairs(raw)
    msg_fields = 0
    # User-space records: msg='k=v k=v' -> the inner pairs become fields.
    # (Kernel records have none: the scan is skipped when the text cannot hold one.)
    for index, (key, value) in enumerate(pairs if "msg='" in raw else ()):
        if key == "msg" and value[:1] == "'":  # (its closing quote may be missing)
            text = value[1:-1] if len(value) >= 2 and value[-1] == "'" else value[1:]
            inner, inner_free, inner_problem = _pairs(text)
            if inner:
                pairs = pairs[:index] + pairs[index + 1 :] + inner
                msg_fields = len(inner)
                if inner_free:
                    free = f"{free} {inner_free}" if free else inner_free
                problem = problem or inner_problem
            break
    enriched = enriched_pairs(enriched_text) if enriched_text else ()
    return tuple(pairs), enriched, free, msg_fields, problem


def _check(text: str) -> str | None:
    if len(text) > MAX_RECORD_LENGTH:
        return "too_long"
    if "\x00" in text:
        return "binary"
    return None


def parse_kernel(msg_type: int, text: str) -> Record | ParseError:
    """Parse the netlink payload of one record (``audit(...): BODY``).

    The kernel never adds an ENRICHED section: a ``\\x1d`` here is data.
    """
    problem = _check(text)
    if problem is not None:
        return ParseError(problem, text)
    try:
        sec, msec, serial, body = _stamp(text, 0)
    except _Malformed as e:
        return ParseError(e.reason, text)
    fields, enriched, free, msg_fields, problem_ = _body(body, False)
    return Record(msg_type, type_name_for(msg_type), sec, msec, serial, None,
                  fields, enriched, free, body, msg_fields, problem_)


#: A record body's parse: fields, ENRICHED pairs, free text, msg='' field count, problem.
Body = tuple[Pairs, Pairs, str, int, str]
BODY_MEMO_SIZE = 8192  # bodies remembered by a parse_line memo (cleared when full)
BODY_MEMO_MAX = 4096  # characters of a body remembered (a longer one is parsed each time)
#: Fields of a body remembered: a parse holds ~150 bytes a field, so 4 KB of one-letter
#: arguments held ~100 KB, and a memo full of such EXECVE records (a user's execs of
#: every argument count) hundreds of megabytes. Only an EXECVE has more than a few
#: dozen fields; the hot path patches its repeats from the last one of its length.
BODY_MEMO_FIELDS = 64


def parse_line(line: str, bodies: dict[str, Body] | None = None) -> Record | ParseError:
    """Parse one auditd log line (RAW or ENRICHED, with or without node=).

    ``bodies``: a memo of body parses the caller keeps (bounded here). Bodies
    repeat -- a storm's records differ only in their ``audit(...)`` stamp,
    an exec's CWD, PATH and PROCTITLE records repeat from one event to the
    next -- and a body's parse depends on nothing else, so a repeated body
    costs a dict look-up; its records share the same (immutable) tuples,
    which audit_heka.core.hotpath's own memo recognises.
    """
    text = line.rstrip("\r\n")
    problem = _check(text)
    if problem is not None:
        return ParseError(problem, text)
    try:
        node: str | None = None
        start = 0
        if text.startswith("node="):
            sp = text.find(" ")
            if sp == -1:
                raise _Malformed("bad_header")
            node = text[5:sp]
            start = sp + 1
        if not text.startswith("type=", start):
            raise _Malformed("bad_header")
        sp = text.find(" ", start + 5)
        if sp == -1 or not text.startswith("msg=", sp + 1):
            raise _Malformed("bad_header")
        name = text[start + 5 : sp]
        if not name:
            raise _Malformed("bad_header")
        sec, msec, serial, body = _stamp(text, sp + 5)
    except _Malformed as e:
        return ParseError(e.reason, text)
    parsed = _body(body, True) if bodies is None else parse_body(body, bodies)
    fields, enriched, free, msg_fields, problem_ = parsed
    return Record(type_number_for(name), name, sec, msec, serial, node,
                  fields, enriched, free, body, msg_fields, problem_)


def memo_keeps(body: str, fields: Pairs) -> bool:
    """Whether a memo may keep a record body, its parse or its entry (and what is keyed
    by that entry): at most BODY_MEMO_MAX characters and BODY_MEMO_FIELDS fields, so
    that memory stays bounded by size as well as by count."""
    return len(body) <= BODY_MEMO_MAX and len(fields) <= BODY_MEMO_FIELDS


def parse_body(body: str, bodies: dict[str, Body]) -> Body:
    """A log record's body (after ``audit(...): ``) parsed, through the memo ``bodies``
    (of the bodies :func:`memo_keeps`)."""
    if len(body) > BODY_MEMO_MAX:
        return _body(body, True)
    hit = bodies.get(body)
    if hit is None:
        hit = _body(body, True)
        if memo_keeps(body, hit[0]):
            if len(bodies) >= BODY_MEMO_SIZE:
                bodies.clear()
            bodies[body] = hit
    return hit


#: A log line in the form parse_line would write back (Record.log_line): no leading
#: zeros, three millisecond digits, ": " before the body. Groups: node (or None),
#: type name, seconds, milliseconds, serial.
CANONICAL_LINE = re.compile(
    r"(?:node=([^ ]+) )?type=([^ ]+) "
    r"msg=audit\((0|[1-9][0-9]{0,18})\.([0-9]{3}):(0|[1-9][0-9]{0,18})\): ")


def is_comment(line: str) -> bool:
    """A ``#`` comment line (some tools annotate logs); not a record, not malformed."""
    return line.lstrip(" \t").startswith("#")


#: Compiled on first use (re keeps it): only lines of two records need it (start-up).
_NEXT_RECORD = r" (?:node=[^ ]+ )?type=[^ =]+ msg=audit\([0-9]+\.[0-9]+:[0-9]+\)"


def split_records(line: str) -> list[str]:
    """The records of one log line: odd writers put two on a line (issue 16).

    A second header starts a new record only where it cannot be data: not
    inside a ``"..."`` value, and not inside a ``msg='...'`` (which runs to
    the line's last quote, as the tokenizer reads it) -- otherwise a user
    could forge a whole record through a setuid helper's message.
    """
    if line.count("msg=audit(", 1) < 2:
        return [line]
    out: list[str] = []
    start = 0
    last_quote = line.rfind("'")
    for match in re.compile(_NEXT_RECORD).finditer(line, 1):
        cut = match.start()
        if cut <= start:
            continue
        piece = line[start:cut]
        opened = piece.find("msg='")
        if opened != -1 and last_quote > cut:
            continue  # inside a user-space msg='...' (it may hold quotes of its own)
        if piece.count('"') % 2:
            continue  # inside a quoted value
        out.append(piece)
        start = cut + 1
    out.append(line[start:])
    return out

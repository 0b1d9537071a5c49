"""The bytes-first hot path: an event's Heka Message bytes from memoised field encodings.

Why: building a Message object per event -- a Record, a dozen Field objects, a
Message, then encoding them -- made replay and the shipper cost ~240 us per
exec event, mostly in CPython's object machinery (issue 13). Audit values
repeat: the same uids, exe, comm, cwd, key, proctitle event after event,
and a storm repeats whole records. So the finished protobuf encodings are
memoised and an event's message is a join of bytes:

* per record, by (type, name, body): the record's keys in order and, per key,
  a :class:`~audit_heka.core.entries.Piece` holding the encodings of its raw
  Field and of its interpretation (``<key>_i``) -- plus what the event header
  takes from the record (severity, pid): its :class:`~audit_heka.core.entries.Rec`;
* per field, by (record type, key, raw value) -- with the arch, syscall, a0
  and a1 of the record for the fields whose text depends on them -- for the
  records that are new (a SYSCALL whose pid changes each time);
* per record type and shape, the last few entries, to patch a new record from
  one like it but for a few words (a new pid, new pointers): a kernel record by
  its words, a user-space one (``msg='...'``, libaudit's) by its words without
  the ``msg='`` wrapper, from the last one of the same program -- a new session's
  pid, ses, account and address;
* per event shape (its records' types and keys), the plan
  (audit_heka.core.plans): which key becomes which field, single or aligned on
  repeated records, collision prefixes, where ``argv`` goes;
* the header (uuid by hashlib.sha1, timestamp, severity, pid, hostname) is
  encoded directly.

Semantics live in one place: audit_heka.core.schema.MessageBuilder. This module
answers only for the common case and says ``None`` for anything unusual --
a record parsed in part, a repeated key or a forged library field, an
interpretation that raised, an enricher, EXECVE keys spread over records,
a name that is not UTF-8 -- and the caller then takes the builder's general
path. The general path is the reference: the tests compare the two byte for
byte on corpora, fuzz seeds and hypothesis-mutated records.

Memos are bounded (cleared when full) and dropped when their inputs change:
the interpreter's ``names_generation`` (user/group names re-read) and the
builder's hostname, type and payload options. An interpretation naming an id
as ``unknown(...)`` is never memoised (the account may appear: the
interpreter asks again each time, so does this).
"""

from __future__ import annotations

from itertools import compress, count
from operator import is_not, ne

from audit_heka.core.entries import (
    EMPTY_STRING,
    FIELD_MEMO_SIZE,
    INTEGER,
    LASTING_OF,
    STRING,
    VOLATILE_OF,
    WARN_OF,
    FieldKey,
    Piece,
    Rec,
    Text,
    field_entry,
    integers_element,
    string_element,
    text_elements,
)
from audit_heka.core.events import Event
from audit_heka.core.interpret import CONTEXT_KINDS, Interpreter, enriched_text
from audit_heka.core.plans import (
    ALIGNED,
    ALIGNED_MEMO_SIZE,
    MISSING_PLAN,
    RECORD,
    SINGLE,
    Aligned,
    Op,
    Plan,
    Recent,
    dependencies,
    make_plan,
)
from audit_heka.core.records import (
    BODY_MEMO_SIZE,
    Body,
    Pairs,
    Record,
    _pairs_fast,
    parse_body,
    reads_alone,
    split_enriched,
)
from audit_heka.core.schema import (
    AUDIT_HEKA_NAMESPACE,
    EXECVE,
    LOGGER,
    MessageBuilder,
    integer_key,
    is_execve_arg,
    renaming,
)
from audit_heka.heka.message import varint

try:  # hashlib's own SHA-1: hashlib itself starts OpenSSL (~4 ms of replay's start-up)
    from _sha1 import sha1  # type: ignore[import-not-found]
except ImportError:  # a Python built without its bundled hashes
    from hashlib import sha1

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

USER_TTY = 1124  # its msg='' keys are interpreted raw: the general path's business
RECORD_MEMO_SIZE = 8192  # record entries remembered (cleared when full)
PLAN_MEMO_SIZE = 1024  # event shapes remembered
ARGV_MEMO_SIZE = 1024  # argv encodings remembered, by the EXECVE records' bodies
GROUP_MEMO_SIZE = 4096  # group encodings remembered, all plans together
BASES = 4  # recent records per record type and length, to patch the next one from
RECENT_SIZE = 256  # pieces of new values kept for the next records (one session's)
# Memory stays bounded by size too: what is larger is computed at each use.
MEMO_VALUE_MAX = 1024  # characters of a raw value whose piece is remembered
MEMO_BODY_MAX = 4096  # characters of a record body whose entry is remembered
MEMO_BYTES_MAX = 16384  # bytes of a group's or argv's encoding remembered

_INT64_MAX = (1 << 63) - 1
class FastEncoder:
    """Event -> encoded Message bytes for the common case; None: use the general path.

    Shares the builder's interpreter, options and counters: an event encoded
    here counts exactly what the builder would have counted.
    """

    @classmethod
    def of(cls, builder: MessageBuilder) -> FastEncoder | None:
        """The hot path of a builder, or None when the builder has rules of its own (a
        subclass) or its interpreter is not ours (a stand-in: the general path asks only
        what InterpreterLike promises)."""
        interpreter = builder.interpreter
        if type(builder) is not MessageBuilder or not isinstance(interpreter, Interpreter):
            return None
        return cls(builder, interpreter)

    def __init__(self, builder: MessageBuilder, interpreter: Interpreter) -> None:
        self.builder = builder
        #: The builder's interpreter (:meth:`of` checks it is one).
        self.interpreter = interpreter
        self.encoded = 0  # events encoded here
        self.general = 0  # events handed to the general path
        self._records: dict[tuple[int, str, str], Rec | None] = {}  # by Record (encode)
        #: Entries by log line body: (record type, type name, entry or None for "the
        #: general path"). The session's lane reads it for the lines after a run's first.
        self.entries: dict[str, tuple[int, str, Rec | None]] = {}
        self._fields: dict[FieldKey, Piece] = {}
        # (record type, "key=value" word) -> its pair and piece (see line_rec)
        self._words: dict[int, dict[str, tuple[tuple[str, str], Piece]]] = {}
        self._word_count = 0
        # Per (record type, word count, ENRICHED part): the last few entries put together
        # from words, with their words (the bases of _patched), by their first two words.
        self._last: dict[tuple[int, int, str],
                         dict[tuple[str, ...], tuple[str, list[str], Rec]]] = {}
        # Per (record type, type name, field count, msg='' field count): the last few
        # entries of parsed records without context kinds (see _from_record_base).
        self._record_bases: dict[tuple[int, str, int, int, str, str], list[Rec]] = {}
        self._recent: dict[tuple[str, str], Piece] = {}  # see _session_piece
        self._shapes: dict[tuple[str, ...], int] = {}
        self._plans: dict[tuple[int, ...], Plan | None] = {}
        self._argvs: dict[tuple[Rec, ...], bytes] = {}
        self._group_entries = 0  # in all plans' group memos
        self._generation = -1
        self._malformed: list[str] = []  # counted when the event's bytes are returned
        self._fill = 0
        self._stamp = -1  # the last timestamp and its varint
        self._stamp_bytes = b""
        self._options: tuple[str, str, bool] | None = None
        self._type_logger = b""
        self._hostname = b""

    # ------------------------------------------------------------------ public

    def encode(self, event: Event, limit: int) -> bytes | None:
        """The event's message bytes, or None when the general path must build it.

        None too for a message over ``limit`` bytes: the general path degrades
        it to fit (audit_heka.core.degrade). Counters move only when bytes are
        returned, so that the general path never counts an event twice.
        """
        records = event.records
        lines = [r.log_line() for r in records]
        if self.surely_too_large(sum(map(len, lines)), limit):
            self.general += 1
            return None
        recs: list[Rec] = []
        self._check_names()
        memo = self._records
        for record in records:
            rec = memo.get((record.type, record.type_name, record.text))
            if rec is None or (rec.fields is not record.fields and not rec.matches(record)):
                rec = self._record(record)
                if rec is None:
                    self.general += 1
                    return None
            recs.append(rec)
        return self._counted_encoding(event.node, event.serial, event.seconds,
                                      event.milliseconds, event.part, recs, lines,
                                      records.__getitem__, limit)

    def surely_too_large(self, payload: int, limit: int) -> bool:
        """Whether an event whose log lines hold ``payload`` characters is left to
        the general path for its size, the hot path's work on it being thrown away.

        Why: a message over ``limit`` is cut to fit by the general path
        (audit_heka.core.degrade), the only one that can; an event written to
        cost us (a long argv) gets there after its records' entries and its whole
        encoding here. A message holds its payload and each value at least once
        more (EXECVE's twice: raw and as text), so with a payload over half the
        limit it hardly ever fits. Where it would have, the general path gives the
        same bytes: a wrong guess costs time, not output.
        """
        return self.builder.payload and payload > limit // 2

    def line_rec(self, rtype: int, type_name: str, body: str,
                 bodies: dict[str, Body], looked: bool = False) -> Rec | None:
        """The entry of a log line's record; ``bodies``: parse_line's memo of bodies.

        A body seen before is one look-up. A new one whose every ``key=value``
        word was seen before in a record of its type (a SYSCALL whose pid is
        the only news) is put together from those words' pieces: one split
        and a look-up per word, no tokenising, no interpreting -- with the
        parse records._body would give it (the words passed its fast path).
        """
        if self.interpreter.names_generation != self._generation:
            self._check_names()
        elif not looked:  # (``looked``: the caller found no entry in :attr:`entries`)
            hit = self.entries.get(body)
            if hit is not None and hit[0] == rtype and hit[1] == type_name:
                return hit[2]
        if rtype != EXECVE and body not in bodies:
            if "\x1d" not in body:  # (a user-space msg='...' ends a RAW body)
                rec = (self._from_user_words(rtype, type_name, body, bodies)
                       if body.endswith("'") else None)
                if rec is None:
                    rec = self._from_words(rtype, type_name, body, bodies)
            elif "msg='" in body:
                rec = self._from_user_words(rtype, type_name, body, bodies)
            else:
                rec = self._from_enriched(rtype, type_name, body, bodies)
            if rec is not None:
                return rec
        fields, enriched, free, msg_fields, problem = parse_body(body, bodies)
        record = Record(rtype, type_name, 0, 0, 0, None, fields, enriched, free, body,
                        msg_fields, problem)
        rec = self._record_of_parse(record)
        if rec is not None and not rec.execve and not free and not problem:
            if msg_fields:
                self._user_base(rtype, type_name, body, record, rec)
            elif not enriched:
                self._learn_words(rtype, record, rec)
            else:
                self._enriched_base(rtype, type_name, body, record, rec)
        self._remember(rtype, type_name, body, None, rec, bodies)
        return rec

    def keep_line(self, rtype: int, type_name: str, body: str, rec: Rec) -> None:
        """Remember the entry of a log line's body that :meth:`line_rec` gave, for the
        event's encoding (:meth:`encode`): a record handed to the assembler as read
        (a user message waiting for its timeout) is not read twice."""
        self._remember(rtype, type_name, body, None, rec, _NO_BODIES)

    def _enriched_base(self, rtype: int, type_name: str, body: str, record: Record,
                       rec: Rec) -> None:
        """An ENRICHED record whose raw part is plain words: a base for the next ones
        with the same ENRICHED part (:meth:`_from_enriched`)."""
        if len(body) > MEMO_BODY_MAX:
            return
        head, tail = split_enriched(body)
        fields = record.fields
        if not tail or "msg='" in head or " ".join([f"{k}={v}" for k, v in fields]) != head:
            return
        if not all(reads_alone(k, v) for k, v in fields):
            return
        split = head.split(" ")
        self._keep_base(self._bases((rtype, len(split), tail)), tuple(split[:2]), type_name,
                        split, rec)

    def _user_base(self, rtype: int, type_name: str, body: str, record: Record,
                   rec: Rec) -> None:
        """A user-space record read as words (:func:`_user_words`): a base for the next
        ones of its type, word count and ENRICHED part (:meth:`_from_user_words`)."""
        got = _user_words(body)
        if got is None:
            return
        mark, at, words, head = got
        fields = record.fields
        if (at != len(fields) - record.msg_fields or "" in words
                or words != [f"{k}={v}" for k, v in fields]
                or not all(reads_alone(k, v) for k, v in fields)):
            return
        self._keep_base(self._bases((rtype, len(words), mark)), head, type_name, words, rec)
        if not record.enriched:
            self._learn_words(rtype, record, rec)

    def _from_user_words(self, rtype: int, type_name: str, body: str,
                         bodies: dict[str, Body]) -> Rec | None:
        """A user-space record (``pid=.. ses=.. msg='op=.. acct=.. res=..'``) like a
        recent one of its type but for a few words -- its pid, its session, an
        account or an address: that entry patched, no tokenising (:meth:`_patched`)."""
        got = _user_words(body)
        if got is None:
            return None
        mark, _, words, head = got
        bases = self._last.get((rtype, len(words), mark))
        if bases is None:
            return None
        return self._from_bases(bases, rtype, type_name, body, words, bodies, head)

    def _from_enriched(self, rtype: int, type_name: str, body: str,
                       bodies: dict[str, Body]) -> Rec | None:
        """An ENRICHED record like a base with the same ENRICHED part but for a few
        words of its raw part (auditd's default format on many systems: every new
        pointer or inode would otherwise cost a whole parse)."""
        if len(body) > MEMO_BODY_MAX:
            return None
        head, tail = split_enriched(body)
        if not tail or "msg='" in head:
            return None  # (a msg=' opened in the raw part decides what the \x1d is)
        split = head.split(" ")
        bases = self._last.get((rtype, len(split), tail))
        if bases is None:
            return None
        return self._from_bases(bases, rtype, type_name, body, split, bodies)

    def _learn_words(self, rtype: int, record: Record, rec: Rec) -> None:
        """Remember the words of a record of the common kind (see :meth:`line_rec`)."""
        words = self._words_of(rtype, len(record.fields))
        for pair, piece in zip(record.fields, rec.pieces, strict=True):
            k, raw = pair
            if len(raw) <= MEMO_VALUE_MAX and reads_alone(k, raw):
                words[f"{k}={raw}"] = (pair, _CONTEXTUAL if piece.kind in CONTEXT_KINDS else piece)

    def _words_of(self, rtype: int, adding: int) -> dict[str, tuple[tuple[str, str], Piece]]:
        """The word memo of a record type, with room for ``adding`` words (bounded)."""
        self._word_count += adding
        if self._word_count > FIELD_MEMO_SIZE:
            self._words.clear()
            self._word_count = 0
            self._last.clear()
            self._word_count = adding
        words = self._words.get(rtype)
        if words is None:
            words = self._words[rtype] = {}
        return words

    def _from_words(self, rtype: int, type_name: str, body: str,
                    bodies: dict[str, Body]) -> Rec | None:
        words = self._words.get(rtype)
        if words is None:
            return None
        split = body.split(" ")
        shape = (rtype, len(split), "")
        small = len(body) <= MEMO_BODY_MAX  # (bases of bounded size, as the other memos)
        bases = self._last.get(shape) if small else None
        if bases is not None:
            rec = self._from_bases(bases, rtype, type_name, body, split, bodies)
            if rec is not None:
                return rec
        rec = self._put_together(rtype, type_name, body, split, words, bodies)
        if rec is not None and small and "" not in split:
            self._keep_base(self._bases(shape) if bases is None else bases, tuple(split[:2]),
                            type_name, split, rec)
        return rec

    def _bases(self, shape: tuple[int, int, str]
               ) -> dict[tuple[str, ...], tuple[str, list[str], Rec]]:
        """The bases of a shape (record type, word count, ENRICHED part), made if new."""
        bases = self._last.get(shape)
        if bases is None:
            if len(self._last) >= PLAN_MEMO_SIZE:  # a few per record type seen
                self._last.clear()
            bases = self._last[shape] = {}
        return bases

    def _from_bases(self, bases: dict[tuple[str, ...], tuple[str, list[str], Rec]],
                    rtype: int, type_name: str, body: str, split: list[str],
                    bodies: dict[str, Body], head: tuple[str, ...] | None = None
                    ) -> Rec | None:
        """The record patched from one of the most recent of its type and length (and
        ENRICHED part): one like it but for a few words (the same call with new
        pointers, the next file of a directory). The one with the same first two
        words (the same call, the same item), or ``head``, is tried first."""
        if head is None:
            head = tuple(split[:2])
        same = bases.get(head)
        if same is not None:
            rec = self._patched_from(same, rtype, type_name, body, split, bodies)
            if rec is not None:
                self._keep_base(bases, head, type_name, split, rec)
                return rec
        for base in reversed(bases.values()):
            if base is not same:
                rec = self._patched_from(base, rtype, type_name, body, split, bodies)
                if rec is not None:
                    self._keep_base(bases, head, type_name, split, rec)
                    return rec
        return None

    def _patched_from(self, base: tuple[str, list[str], Rec], rtype: int, type_name: str,
                      body: str, split: list[str], bodies: dict[str, Body]) -> Rec | None:
        """The record patched from ``base`` if only a few of its words changed (no call)."""
        name, base_split, rec = base
        if name != type_name:
            return None
        n = len(split)
        changed = list(compress(range(n), map(ne, split, base_split)))
        if not changed:  # the same words again (a second call on one file): its entry,
            self._remember(rtype, type_name, body, rec.fields, rec, bodies)  # now kept
            rec.lasting = not rec.volatile
            return rec
        # A user-space record's words have no call context: a patch of half of them is
        # still cheaper than a parse (a new session's pid, ses, account and address).
        if len(changed) > (n // 2 if rec.msg_fields else max(4, n // 4)):
            return None
        fields = rec.fields
        for i in changed:
            if fields[i][0] in _CALL_KEYS:
                return None  # another call: the context of the others' texts
        return self._patched(rtype, type_name, body, split, changed, rec, bodies)

    @staticmethod
    def _keep_base(bases: dict[tuple[str, ...], tuple[str, list[str], Rec]],
                   head: tuple[str, ...], type_name: str, split: list[str], rec: Rec) -> None:
        """``rec`` the most recent base of its shape: one per first two words (a call,
        an item and name), BASES of them."""
        if bases.pop(head, None) is None and len(bases) >= BASES:
            del bases[next(iter(bases))]  # the least recent
        bases[head] = (type_name, split, rec)

    def _patched(self, rtype: int, type_name: str, body: str, split: list[str],
                 changed: list[int], last: Rec, bodies: dict[str, Body]) -> Rec | None:
        """A record like the last one of its type but for a few words (a new pid, new
        pointers): that entry with those pieces replaced. An ENRICHED one (its base
        has the same ENRICHED part) makes its new pieces with those pairs."""
        enriched = dict(reversed(last.enriched)) if last.enriched else None
        # (the word memo's pieces were made without ENRICHED pairs)
        words = self._words.get(rtype, _NO_WORDS) if enriched is None else _NO_WORDS
        pairs = list(last.fields)
        pieces = list(last.pieces)
        unknown: list[int] = []  # changed words whose piece is to be made (or looked up)
        reads_args = False  # a0 or a1 changed: the context of others' texts, for some calls
        new = False  # a word not seen before
        for i in changed:
            word = split[i]
            hit = words.get(word)
            if hit is None:
                new = True
                key, _, value = word.partition("=")
                if key == pairs[i][0] and value and (
                        value[-1] not in ",:)" and value[0] not in "\"'{" if value[0] != '"'
                        else len(value) >= 2 and value[-1] == '"' and '"' not in value[1:-1]):
                    pair = (key, value)  # what _pairs_fast reads of such a word
                else:
                    alone = _pairs_fast(word)
                    if alone is None or len(alone) != 1:
                        return None
                    pair = alone[0]
                piece = _CONTEXTUAL
            else:
                pair, piece = hit
            if pair[0] != pairs[i][0] or pair[0] in _CALL_KEYS:
                return None  # other keys, or another call: the context of others' texts
            if pair[0] in _ARG_KEYS:
                reads_args = True
            pairs[i] = pair
            pieces[i] = piece
            if piece is _CONTEXTUAL:
                unknown.append(i)
        fields = tuple(pairs)
        record = Record(rtype, type_name, 0, 0, 0, None, fields, last.enriched, "", body,
                        last.msg_fields, "")
        interpreter = self.interpreter
        if reads_args and len(interpreter.context_key(record)) > 2:
            return None  # this call's texts read a0/a1 (socketcall, fcntl...)
        for i in unknown:
            k, raw = pairs[i]
            if enriched is not None:
                if last.msg_fields and k.upper() not in enriched:  # (no pair: its own text)
                    pieces[i] = self._session_piece(record, k, raw)
                    continue
                kind = interpreter.kind(rtype, k, raw)
                pieces[i] = self._piece(record, k, raw, enriched, remember=(
                    kind is not None and kind not in CONTEXT_KINDS))
                continue
            # A value that changes from record to record (a pid) is seldom seen again:
            # remembered only when its text cost an interpretation. The entry itself
            # is not remembered either (but as a base of its type, for the next one).
            # Memos that fill with one-off entries keep the garbage collector busy.
            if last.msg_fields:  # a user-space record: its session's next ones repeat it
                pieces[i] = self._session_piece(record, k, raw)
                continue
            kind = interpreter.kind(rtype, k, raw)
            if kind is None:
                piece = pieces[i] = Piece(k, raw, None, False, None)
                piece.once = True
                continue
            text = interpreter.kind_text(record, kind, raw)
            piece = pieces[i] = Piece(
                k, raw, text, isinstance(text, str) and text.startswith("unknown("), kind)
            if kind not in CONTEXT_KINDS and len(raw) <= MEMO_VALUE_MAX:  # (not a0-a3)
                self._remember_piece(record, k, raw, piece)
                self._words_of(rtype, 1)[split[i]] = ((k, raw), piece)
            else:
                piece.once = True
        rec = Rec(record, last.keys, tuple(pieces), last.shape, last, changed)
        if not new:  # known words (a PATH item like one seen before) may come again
            self._remember(rtype, type_name, body, fields, rec, bodies)
        else:
            rec.lasting = False
        return rec

    def _remember(self, rtype: int, type_name: str, body: str, fields: Pairs | None,
                  rec: Rec | None, bodies: dict[str, Body]) -> None:
        """The entry of a log line's body; with ``fields``, its parse too (put together
        from words: what records._body gives such a body, the ENRICHED pairs of its
        entry's)."""
        if len(body) > MEMO_BODY_MAX:
            return
        if fields is not None:
            if len(bodies) >= BODY_MEMO_SIZE:
                bodies.clear()
            bodies[body] = ((fields, (), "", 0, "") if rec is None
                            else (fields, rec.enriched, "", rec.msg_fields, ""))
        memo = self.entries
        if len(memo) >= RECORD_MEMO_SIZE:
            memo.clear()
        memo[body] = (rtype, type_name, rec)

    def _put_together(self, rtype: int, type_name: str, body: str, split: list[str],
                      words: dict[str, tuple[tuple[str, str], Piece]],
                      bodies: dict[str, Body]) -> Rec | None:
        pairs: list[tuple[str, str]] = []
        pieces: list[Piece] = []
        contextual = False
        new: list[int] = []  # words not seen before: read here, one by one
        for word in split:
            if word:
                hit = words.get(word)
                if hit is None:
                    if len(new) * 2 >= len(split):
                        return None  # a record of another kind: parsed the usual way
                    alone = _pairs_fast(word)
                    if alone is None or len(alone) != 1:
                        return None
                    new.append(len(pairs))
                    pairs.append(alone[0])
                    pieces.append(_CONTEXTUAL)
                    contextual = True
                    continue
                pairs.append(hit[0])
                pieces.append(hit[1])
                if hit[1] is _CONTEXTUAL:
                    contextual = True
        if not pairs or len(new) * 2 > len(pairs):
            return None
        keys = tuple([k for k, _ in pairs])
        if len(set(keys)) != len(keys):
            return None  # a repeated key: the general path names them
        fields = tuple(pairs)
        record = Record(rtype, type_name, 0, 0, 0, None, fields, (), "", body, 0, "")
        if contextual:
            # New words, and texts whose context is new: made, and remembered (below)
            # only when they cost an interpretation that other records may share.
            context = self.interpreter.context_key(record)
            memo = self._fields
            for i, piece in enumerate(pieces):
                if piece is _CONTEXTUAL:
                    k, raw = pairs[i]
                    found = memo.get((rtype, k, raw, *context))
                    pieces[i] = (found if found is not None
                                 else self._piece(record, k, raw, None, remember=False))
        words = self._words_of(rtype, len(new))
        for i in new:
            k, raw = pairs[i]
            piece = pieces[i]
            if piece.kind is not None and piece.kind not in CONTEXT_KINDS and (
                    len(raw) <= MEMO_VALUE_MAX):
                self._remember_piece(record, k, raw, piece)
                words[f"{k}={raw}"] = ((k, raw), piece)
        rec = Rec(record, keys, tuple(pieces), self._shape(type_name, keys))
        if not new:  # a body of known words may come again (a storm's); new ones seldom
            self._remember(rtype, type_name, body, fields, rec, bodies)
        return rec

    def _shape(self, type_name: str, keys: tuple[str, ...]) -> int:
        shape_key = (type_name, *keys)
        shape = self._shapes.get(shape_key)
        if shape is None:
            if len(self._shapes) >= PLAN_MEMO_SIZE:
                self._shapes.clear()  # ids stay unique: plans keyed by old ones stay right
            shape = self._shapes[shape_key] = next(_SHAPE_IDS)
        return shape

    def encode_parts(self, node: str | None, serial: int, seconds: int, milliseconds: int,
                     part: int, recs: list[Rec], lines: list[str],
                     record_at: Callable[[int], Record], limit: int) -> bytes | None:
        """:meth:`encode` from an event's parts: its records' entries and log lines;
        ``record_at(i)`` gives record i when an entry does not say enough (rare)."""
        if self.surely_too_large(sum(map(len, lines)), limit):
            self.general += 1  # degraded there, at once
            return None
        return self._counted_encoding(node, serial, seconds, milliseconds, part, recs,
                                      lines, record_at, limit)

    def _counted_encoding(self, node: str | None, serial: int, seconds: int,
                          milliseconds: int, part: int, recs: list[Rec], lines: list[str],
                          record_at: Callable[[int], Record], limit: int) -> bytes | None:
        """:meth:`encode_parts` once the event's size was asked (:meth:`encode` asks it
        before making any entry), with the counters it moves."""
        self._malformed.clear()
        self._fill = 0
        self._check_options()
        try:
            data = self._encode(node, serial, seconds, milliseconds, part, recs, lines,
                                record_at)
        except Exception:  # whatever went wrong here, the general path decides (and says)
            data = None
        if data is None or len(data) > limit:
            self.general += 1
            return None
        counters = self.builder.counters
        for key in self._malformed:
            counters.malformed_integer += 1
            counters.by_key[key] = counters.by_key.get(key, 0) + 1
        counters.aligned_fill += self._fill
        self.encoded += 1
        return data

    def _encode(self, node: str | None, serial: int, seconds: int, milliseconds: int,
                part: int, recs: list[Rec], lines: list[str],
                record_at: Callable[[int], Record]) -> bytes | None:
        builder = self.builder
        timestamp = seconds * 1_000_000_000 + milliseconds * 1_000_000
        if (builder.enricher is not None or not recs
                or not 0 <= timestamp <= _INT64_MAX or not 0 <= serial <= _INT64_MAX):
            return None
        shape = tuple([r.shape for r in recs])
        plan = self._plans.get(shape, MISSING_PLAN)
        if plan is MISSING_PLAN:
            if len(self._plans) >= PLAN_MEMO_SIZE:
                self._plans.clear()
            plan = self._plans[shape] = make_plan(recs)
        if plan is None:
            return None
        out = [b"", plan.head]
        if node is not None:
            out.append(field_entry(b"\x0a\x04node" + STRING + string_element(node)))
        malformed = self._malformed
        for kind, indexes, ops, memo, recent in plan.groups:
            if kind == RECORD:
                i = indexes[0]
                rec = recs[i]
                if rec.malformed:
                    malformed.extend(rec.malformed)
                if not rec.volatile:
                    joined = rec.joined
                    out.append(joined if joined is not None else rec.join())
                    continue
                for chunk in rec.parts or rec.encoded():
                    if isinstance(chunk, bytes):
                        out.append(chunk)
                    else:
                        out.append(chunk.single)  # without its text: asked now
                        out.append(self._text_field(chunk, record_at, i, chunk.name_i))
                continue
            # A group whose bytes depend on its records only: memoised by them.
            members = tuple([recs[i] for i in indexes])
            hit = memo.get(members)
            if hit is None:
                fill = self._fill
                start = len(malformed)
                data = (self._group_bytes(ops, recs, record_at)
                        if recent is None or any(map(VOLATILE_OF, members))
                        else self._group_patched(ops, recs, record_at, indexes, members,
                                                 recent))
                hit = (data, malformed[start:], self._fill - fill)
                if len(data) <= MEMO_BYTES_MAX and all(map(LASTING_OF, members)):
                    self._count_group_entry()
                    if len(memo) >= ALIGNED_MEMO_SIZE:
                        memo.clear()
                    memo[members] = hit
            else:
                malformed.extend(hit[1])
                self._fill += hit[2]
            out.append(hit[0])
        number = varint(serial)
        out[0] = _SERIAL_ENTRIES[len(number)] + number
        host = node if node is not None else builder.hostname
        name = f"{host}|{seconds}.{milliseconds:03d}|{serial}"
        if part:
            name += f"#{part}"
        digest = sha1(AUDIT_HEKA_NAMESPACE + name.encode("utf-8"),
                              usedforsecurity=False).digest()
        pid = recs[plan.pid_rec].pid if plan.pid_rec >= 0 else None
        if timestamp != self._stamp:  # events of one millisecond share it
            self._stamp, self._stamp_bytes = timestamp, varint(timestamp)
        head = [
            b"\x0a\x10", digest[:6], _VERSION5[digest[6] & 0x0F], digest[7:8],
            _VARIANT[digest[8] & 0x3F], digest[9:16], b"\x10", self._stamp_bytes,
            self._type_logger, b"\x28\x04" if any(map(WARN_OF, recs)) else b"\x28\x06",
        ]
        if builder.payload:
            payload = "\n".join(lines).encode("utf-8", "surrogateescape")
            head += (b"\x32", varint(len(payload)), payload)
        if pid is not None:
            head += (b"\x40", varint(pid))
        head.append(self._hostname if node is None else _host(node))
        head += out
        return b"".join(head)

    # --------------------------------------------------------------- internals

    def _check_names(self) -> None:
        """Drop the memos of interpreted texts when the user/group names were re-read."""
        if self.interpreter.names_generation != self._generation:
            self._generation = self.interpreter.names_generation
            self._records.clear()
            self.entries.clear()
            self._fields.clear()
            self._words.clear()
            self._word_count = 0
            self._last.clear()
            self._record_bases.clear()
            self._recent.clear()

    def _check_options(self) -> None:
        """The header's encodings follow the builder's options."""
        builder = self.builder
        options = (builder.message_type, builder.hostname, builder.payload)
        if options != self._options:
            self._options = options
            self._type_logger = (b"\x1a" + _len_str(builder.message_type)
                                 + b"\x22" + _len_str(LOGGER))
            self._hostname = _host(builder.hostname)

    def _record(self, record: Record) -> Rec | None:
        key = (record.type, record.type_name, record.text)
        memo = self._records
        if key in memo:
            hit = memo[key]
            if hit is None or hit.matches(record):
                return hit
        # The lane's entry of this body, when it read the line before handing it to the
        # assembler (a record that stands alone, a user message: it waits for its timeout).
        read = self.entries.get(record.text)
        rec = read[2] if read is not None and read[0] == record.type and (
            read[1] == record.type_name) else None
        if rec is None or not rec.matches(record):
            rec = self._record_of_parse(record)
        if len(record.text) > MEMO_BODY_MAX:
            return rec
        if rec is None or rec.matches(record):  # (a hand-made record may not match its text)
            if len(memo) >= RECORD_MEMO_SIZE:
                memo.clear()
            memo[key] = rec
        return rec

    def _record_of_parse(self, record: Record) -> Rec | None:
        """The entry of a parsed record: patched from a recent one like it, or made.

        Only user-space records (``msg='...'``) are patched here: a kernel record's
        words are patched by the lane (:meth:`line_rec`) before it is parsed."""
        if (not record.msg_fields or record.problem or record.type == EXECVE
                or len(record.text) > MEMO_BODY_MAX):
            return self._make_record(record)  # (None, or not a base: bounded by size)
        fields = record.fields
        count = record.msg_fields
        exe = ""
        if count:  # a user-space record: by its program too (see _user_words)
            for k, v in reversed(fields):
                if k == "exe":
                    exe = v
                    break
        shape = (record.type, record.type_name, len(fields), count,
                 fields[-count][1] if count else "", exe)
        bases = self._record_bases.get(shape)
        rec = self._from_record_base(record, bases) if bases is not None else None
        if rec is None:
            rec = self._make_record(record)
            if rec is None or any(p.kind in CONTEXT_KINDS for p in rec.pieces):
                return rec  # (a syscall's: the lane's words patch those, by their call)
        if bases is None:
            if len(self._record_bases) >= PLAN_MEMO_SIZE:
                self._record_bases.clear()
            self._recent.clear()
            bases = self._record_bases[shape] = []
        elif len(bases) >= BASES:
            del bases[0]  # the least recent
        bases.append(rec)
        return rec

    def _from_record_base(self, record: Record, bases: list[Rec]) -> Rec | None:
        """A parsed record like a recent one of its type and keys but for a few values.

        Why: records written by user space (PAM's USER_* and CRED_*, sshd's
        USER_LOGIN, sudo's USER_CMD, systemd's SERVICE_*) repeat their keys and
        most values, but each new one has a pid and a session of its own and
        often a few other words (the account, the address): their bodies never
        repeat, and their ``msg='...'`` does not split into words. With the same
        keys, the same ``msg=''`` field count, free text and ENRICHED pairs, the
        general path names the fields alike (schema.renaming depends on nothing
        else), so the base's entry holds but for the values that changed. No base
        holds a field whose text depends on others (CONTEXT_KINDS).
        """
        fields = record.fields
        best: Rec | None = None
        changed: list[int] = []
        limit = max(4, len(fields) // 2)
        free_text, enriched_pairs = record.free_text, record.enriched
        for base in reversed(bases):  # the most recent like it (a patch is cheap anyway)
            if base.free_text != free_text or base.enriched != enriched_pairs:
                continue
            theirs = base.fields
            diff = list(compress(range(len(fields)), map(ne, fields, theirs)))
            if len(diff) <= limit:
                for i in diff:
                    if fields[i][0] != theirs[i][0]:
                        break
                else:
                    best, changed = base, diff
                    break
        if best is None:
            return None
        rtype = record.type
        enriched = dict(reversed(record.enriched)) if record.enriched else None
        offset = 1 if record.free_text else 0  # (msgdata first)
        pieces = list(best.pieces)
        memo = self._fields
        interpreter = self.interpreter
        try:
            for i in changed:
                k, raw = fields[i]
                if enriched is not None:
                    kind = interpreter.kind(rtype, k, raw)
                    piece = self._piece(record, k, raw, enriched, remember=kind is not None)
                else:
                    hit = memo.get((rtype, k, raw))
                    piece = hit if hit is not None else self._session_piece(record, k, raw)
                if piece is _CONTEXTUAL or piece.kind in CONTEXT_KINDS:
                    return None
                pieces[i + offset] = piece
        except Exception:  # an interpretation that raised: the general path reports it
            return None
        return Rec(record, best.keys, tuple(pieces), best.shape, best,
                   [i + offset for i in changed])

    def _session_piece(self, record: Record, key: str, raw: str) -> Piece:
        """The piece of a value no record of this type had: a pid, a session, an
        address -- which the next records of the same session (other types) often
        repeat: from the recent pieces by (key, value) if its kind is the same
        there (a piece depends on its key, value and kind only, but for ENRICHED
        pairs and CONTEXT_KINDS, which do not come here)."""
        kind = self.interpreter.kind(record.type, key, raw)
        recent = self._recent
        piece = recent.get((key, raw))
        if piece is not None and piece.kind == kind:
            return piece
        if kind is None:
            piece = Piece(key, raw, None, False, None)
        else:
            piece = self._piece(record, key, raw, None, looked=True)
        if len(raw) <= MEMO_VALUE_MAX:
            if len(recent) >= RECENT_SIZE:
                recent.clear()
            recent[(key, raw)] = piece
        return piece

    def _make_record(self, record: Record) -> Rec | None:
        """The record's entry, or None when its event needs the general path."""
        if record.problem or record.type == USER_TTY:
            return None
        if (record.type == EXECVE) != (record.type_name == "EXECVE"):
            return None  # the general path groups by name but merges by number
        named, _ = renaming(record)
        if named is not None:  # a repeated key or a forged library field
            return None
        enriched = dict(reversed(record.enriched)) if record.enriched else None
        keys: list[str] = []
        pieces: list[Piece] = []
        execve = record.type == EXECVE
        try:
            if record.free_text:
                if record.get("msgdata") is not None:
                    return None  # a key "msgdata" beside the free text
                keys.append("msgdata")  # free text: never interpreted
                pieces.append(Piece("msgdata", record.free_text, None, False))
            memo = self._fields
            rtype = record.type
            context: tuple[str | int | None, ...] | None = None
            for k, raw in record.fields:
                if execve and is_execve_arg(k):
                    continue
                keys.append(k)
                if enriched is not None:
                    pieces.append(self._piece(record, k, raw, enriched))
                    continue
                piece = memo.get((rtype, k, raw))
                if piece is _CONTEXTUAL:
                    if context is None:
                        context = self.interpreter.context_key(record)
                    piece = memo.get((rtype, k, raw, *context))
                pieces.append(piece if piece is not None
                              else self._piece(record, k, raw, None, looked=True))
        except Exception:  # an interpretation that raised, a name the encoder refuses:
            return None  # the general path reports it (interpret_error)
        return Rec(record, tuple(keys), tuple(pieces), self._shape(record.type_name, tuple(keys)))

    def _piece(self, record: Record, key: str, raw: str, enriched: dict[str, str] | None,
               remember: bool = True, looked: bool = False) -> Piece:
        """The piece of one field; ``remember``: into the memos (a value seldom seen
        again is not); ``looked``: the caller found it in no memo."""
        interpreter = self.interpreter
        kind = interpreter.kind(record.type, key, raw)
        if not remember and enriched is None:  # a value seldom seen again: made, not looked up
            if kind is None:
                return Piece(key, raw, None, False, None)
            text: Text = interpreter.kind_text(record, kind, raw)
            return Piece(key, raw, text,
                         isinstance(text, str) and text.startswith("unknown("), kind)
        resolved = enriched.get(key.upper()) if enriched is not None else None
        memo = self._fields
        memo_key: FieldKey
        contextual = kind in CONTEXT_KINDS and resolved is None
        if contextual:
            memo_key = (record.type, key, raw, *interpreter.context_key(record))
        elif resolved is None:
            memo_key = (record.type, key, raw)
        else:
            memo_key = (record.type, key, raw, resolved)
        piece = None if looked else memo.get(memo_key)
        if piece is not None:
            return piece
        # What field_text says, from the kind and ENRICHED value found above.
        if kind is None:
            text = None
        elif resolved is None:
            text = interpreter.kind_text(record, kind, raw)
        else:
            text = enriched_text(resolved)
        # An unknown id may be an account created since: its text is asked again at
        # each use (the interpreter does not memoise it either).
        volatile = resolved is None and isinstance(text, str) and text.startswith("unknown(")
        piece = Piece(key, raw, text, volatile, kind)
        if remember and len(raw) <= MEMO_VALUE_MAX:
            self._remember_piece(record, key, raw, piece, memo_key, contextual)
        return piece

    def _remember_piece(self, record: Record, key: str, raw: str, piece: Piece,
                        memo_key: FieldKey | None = None, contextual: bool = False) -> None:
        """Into the field memo; ``memo_key`` None: a piece of a record without ENRICHED
        pairs (its key made here)."""
        memo = self._fields
        if memo_key is None:
            contextual = piece.kind in CONTEXT_KINDS
            memo_key = ((record.type, key, raw, *self.interpreter.context_key(record))
                        if contextual else (record.type, key, raw))
        if len(memo) >= FIELD_MEMO_SIZE:
            memo.clear()
        memo[memo_key] = piece
        if contextual:  # the plain key says: look again with the record's context
            memo[(record.type, key, raw)] = _CONTEXTUAL

    def _count_group_entry(self) -> None:
        """One more group or aligned field remembered: all plans' together are bounded."""
        self._group_entries += 1
        if self._group_entries > GROUP_MEMO_SIZE:
            for plan in self._plans.values():
                if plan is not None:
                    for group in plan.groups:
                        group[3].clear()
                        for op in group[2]:
                            op[7].clear()
            self._group_entries = 1

    def _group_bytes(self, ops: tuple[Op, ...], recs: list[Rec],
                     record_at: Callable[[int], Record]) -> bytes:
        """A group's fields (and their ``_i``), in plan order.

        An aligned field is first looked up by its pieces (most keys of a PATH
        group carry values seen before even when one record is new).
        """
        out = []
        for op in ops:
            kind, name, name_i, key, where, index, plain, memo = op
            if kind == ALIGNED:
                pieces = tuple([recs[i].pieces[j] if i is not None and j is not None else None
                                for i, j in zip(where, index, strict=True)])
                hit = memo.get(pieces)
                if hit is None:
                    out.append(self._aligned(pieces, record_at, name, name_i, key, where, memo))
                    continue
                data, bad, filled = hit
                if bad:
                    self._malformed.extend([key] * bad)
                self._fill += filled
                out.append(data)
            elif kind == SINGLE:
                i = where[0]
                assert i is not None
                piece = recs[i].pieces[index[0] or 0]
                if piece.malformed:
                    self._malformed.append(key)
                if plain and not piece.volatile:
                    out.append(piece.single)
                else:
                    out.append(piece.raw_field(name)
                               + self._text_field(piece, record_at, i, name_i))
            else:
                out.append(self._argv(recs, record_at))
        return b"".join(out)

    def _group_patched(self, ops: tuple[Op, ...], recs: list[Rec],
                       record_at: Callable[[int], Record], indexes: tuple[int, ...],
                       members: tuple[Rec, ...], recent: Recent) -> bytes:
        """:meth:`_group_bytes` of records none of them volatile, from the group's last
        encoding: only the ops that read a piece not in the last records are done."""
        last = recent.members
        if last is None:
            if not recent.primed:  # a plan's first miss: most plans of a log are seen once
                recent.primed = True
                return self._group_bytes(ops, recs, record_at)
            if recent.deps is None:
                recent.deps, recent.always = dependencies(ops)
            redo: Iterable[int] = range(len(ops))
            recent.parts = [b""] * len(ops)
            recent.bad = [[] for _ in ops]
            recent.fills = [0] * len(ops)
        else:
            again = set(recent.always)
            deps = recent.deps
            assert deps is not None  # (made before the first ``members``)
            for i, new, old in zip(indexes, members, last, strict=True):
                if new is not old:
                    for j in compress(count(), map(is_not, new.pieces, old.pieces)):
                        again.update(deps.get((i, j), ()))
            redo = again
        parts, bad, fills = recent.parts, recent.bad, recent.fills
        malformed = self._malformed
        for n in redo:
            mark, fill = len(malformed), self._fill
            parts[n] = self._group_bytes((ops[n],), recs, record_at)
            bad[n] = malformed[mark:]
            del malformed[mark:]
            fills[n] = self._fill - fill
            self._fill = fill
        if any(bad):
            for keys in bad:
                malformed += keys
        self._fill += sum(fills)
        data = b"".join(parts)
        if len(data) <= MEMO_BYTES_MAX:  # memory bounded by size, as the memos'
            recent.members = members
        else:
            recent.members = None
            recent.parts, recent.bad, recent.fills = [], [], []
        return data

    def _text_field(self, piece: Piece, record_at: Callable[[int], Record], i: int,
                    name_i: bytes) -> bytes:
        if not piece.volatile:
            return piece.text_field(name_i)
        text = self._volatile_text(piece, record_at, i)
        if text is None:
            return b""
        asked = piece.asked
        if text == asked[0] and name_i == asked[1]:
            return asked[2]
        field = field_entry(name_i + STRING + text_elements(text)[0])
        piece.asked = (text, name_i, field)
        return field

    def _volatile_text(self, piece: Piece, record_at: Callable[[int], Record], i: int) -> Text:
        """A text that names an id found unknown before: asked again, as the interpreter
        does (of the record only when the text depends on its other fields)."""
        interpreter = self.interpreter
        if piece.kind in _NAME_KINDS:  # asked of the map again: the same text while unknown
            name = interpreter.known_name(piece.kind, piece.raw)
            return piece.text if name is None else name
        if piece.kind is not None and piece.kind not in CONTEXT_KINDS:
            return interpreter.plain(piece.kind, piece.raw)
        return interpreter.field_text(record_at(i), piece.key, piece.raw, None)

    def _aligned(self, pieces: tuple[Piece | None, ...], record_at: Callable[[int], Record],
                 name: bytes, name_i: bytes, key: str, where: tuple[int | None, ...],
                 memo: Aligned) -> bytes:
        """A key of a repeated record type: arrays aligned on its records (as schema's),
        remembered by its pieces (see :meth:`_group_bytes`)."""
        # One pass, no generator per step: this runs for every new item of a group.
        values: list[bytes] = []  # the raw array's STRING elements (a filler where missing)
        packed: list[bytes] = []  # its INTEGER values (of the pieces present)
        texts: list[bytes] = []  # the ``_i`` array's elements (a filler where no text)
        missing = bad = no_text = 0
        volatile = once = False
        for p, i in zip(pieces, where, strict=True):
            if p is None or i is None:
                missing += 1
                no_text += 1
                values.append(EMPTY_STRING)
                texts.append(EMPTY_STRING)
                continue
            if p.malformed:
                bad += 1
            values.append(p.value)
            packed.append(p.packed)
            if p.once:
                once = True
            if p.volatile:
                volatile = True
                text = self._volatile_text(p, record_at, i)
                element = text_elements(text)[1] if text is not None else None
            else:
                element = p.text_joined if p.text is not None else None
            if element is None:
                no_text += 1
                texts.append(EMPTY_STRING)
            else:
                texts.append(element)
        if bad:
            self._malformed += [key] * bad
        filled = 0
        if integer_key(key) and not missing and not bad:
            out = field_entry(name + INTEGER + integers_element(b"".join(packed)))
        else:
            filled = missing
            out = field_entry(name + STRING + b"".join(values))
        if no_text < len(texts):  # a text for some: the others' are fillers
            filled += no_text
            out += field_entry(name_i + STRING + b"".join(texts))
        self._fill += filled
        if len(out) <= MEMO_BYTES_MAX and not volatile and not once:
            self._count_group_entry()
            if len(memo) >= ALIGNED_MEMO_SIZE:
                memo.clear()
            memo[pieces] = (out, bad, filled)
        return out

    def _argv(self, recs: list[Rec], record_at: Callable[[int], Record]) -> bytes:
        key = tuple([r for r in recs if r.execve])  # entries stand for their fields
        data = self._argvs.get(key)
        if data is None:
            argv = self.interpreter.argv(
                [record_at(i) for i, r in enumerate(recs) if r.execve])
            data = field_entry(b"\x0a\x04argv" + STRING + b"".join(map(string_element, argv)))
            if len(data) > MEMO_BYTES_MAX:
                return data
            if len(self._argvs) >= ARGV_MEMO_SIZE:
                self._argvs.clear()
            self._argvs[key] = data
        return data


def _user_words(body: str) -> tuple[str, int, list[str], tuple[str, ...]] | None:
    """A user-space body as words: (its shape's mark, the index of its first ``msg=''``
    word, the words, its bases' key), the ``msg='`` and closing quote cut off -- so
    that word i is field i of the parse (records._pairs_user, then the inner pairs
    after the outer ones), as long as every word reads alone. None: not of that form
    (the msg is not last, or quotes other than its own). Its bases are kept by its
    first inner word and its ``exe=`` (the operation, the program): the last record
    of the same program is the one most like it (sshd's next login, cron's next job)."""
    if len(body) > MEMO_BODY_MAX:
        return None
    head, tail = split_enriched(body) if "\x1d" in body else (body, "")
    last = len(head) - 1
    if last < 5 or head[last] != "'" or head.count("'") != 2:
        return None
    quote = head.find("'")
    if quote < 4 or not head.startswith("msg=", quote - 4) or (
            quote > 4 and head[quote - 5] != " "):
        return None
    words = head.split(" ")
    at = head.count(" ", 0, quote)
    words[at] = words[at][5:]
    words[-1] = words[-1][:-1]
    exe = ""
    for word in reversed(words):  # libaudit writes it fifth or third from the end
        if word.startswith("exe="):
            exe = word
            break
    return f"{tail}\x00{at}", at, words, (words[at], exe)


def _len_str(text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape")
    return varint(len(data)) + data


def _host(hostname: str) -> bytes:
    return b"\x4a" + _len_str(hostname)


_SHAPE_IDS = count(1)  # shape ids, never reused: a cleared shape memo must not alias plans
_NO_WORDS: dict[str, tuple[tuple[str, str], Piece]] = {}  # (never written)
_NO_BODIES: dict[str, Body] = {}  # (never written: _remember without a parse)
_CONTEXTUAL = Piece("", "", None, False)  # in the field memo: "keyed with the context too"
_NAME_KINDS = frozenset({"UID", "GID"})  # texts naming an id: uid() and gid()
# What interpret._Context reads: the call (arch, syscall), its arguments (a0, a1).
_CALL_KEYS = frozenset({"arch", "syscall"})
_ARG_KEYS = frozenset({"a0", "a1"})
# The ``serial`` field's entry up to its value, by the value's length (a varint of at
# most 10 bytes): tag, length, name, INTEGER, packed value_integer of that length.
_SERIAL_ENTRIES = tuple(
    b"\x52" + bytes((12 + n,)) + b"\x0a\x06serial" + INTEGER + b"\x32" + bytes((n,))
    for n in range(11))
_VERSION5 = tuple(bytes(((b & 0x0F) | 0x50,)) for b in range(16))
_VARIANT = tuple(bytes(((b & 0x3F) | 0x80,)) for b in range(64))

"""The entries of log lines, by body: a line seen before is a look-up, a new one is
patched from one like it.

Why: replay and the shipper read audit records as log lines, and most of a
log's bodies were seen before (a storm's) or differ from a recent one of their
type in a few words only: a new pid, new pointers, the next file of a
directory, a new session. Such a line gets its entry
(:class:`~audit_heka.core.entries.Rec`) without a parse and without
interpreting what did not change:

* by its body (:attr:`LineEntries.entries`, which the session's lane reads
  first);
* a kernel record whose every ``key=value`` word was seen before in a record of
  its type: put together from those words' pieces;
* a record like a recent base of its type and length (and ENRICHED part) but
  for a few words: that base's entry with the new words' pieces -- for a
  user-space record (``msg='...'``), the last one of the same program; for an
  EXECVE (a build's next compiler line, up to the kernel's ~7.5 KB record), the
  new arguments as its fields, and its argv made from the base's;
* else parsed, and its entry made (audit_heka.core.record_entries).

A change in a word the others' texts depend on (the call: arch, syscall; a0 and
a1 for the calls whose texts read them) is never patched. The memos are bounded
by size as well as by count: a body over MEMO_BODY_MAX characters or
BODY_MEMO_FIELDS fields is remembered by none (a user chooses their execs' sizes).
"""

from __future__ import annotations

from itertools import compress
from operator import ne

from audit_heka.core.entries import FIELD_MEMO_SIZE, Piece, Rec, string_element
from audit_heka.core.interpret import (
    CONTEXT_KINDS,
    KIND_BY_VALUE,
    CallContext,
    Interpreter,
    argument_text,
    argv_is_values,
)
from audit_heka.core.record_entries import (
    BASES,
    CONTEXTUAL,
    MEMO_BODY_MAX,
    MEMO_VALUE_MAX,
    PLAN_MEMO_SIZE,
    RECORD_MEMO_SIZE,
    RecordEntries,
)
from audit_heka.core.records import (
    BODY_MEMO_SIZE,
    Body,
    Pairs,
    Record,
    _pairs_fast,
    enriched_pairs,
    memo_keeps,
    parse_body,
    reads_alone,
    split_enriched,
)
from audit_heka.core.schema import EXECVE, is_execve_arg

#: Characters of an EXECVE body patched from a base. The kernel writes at most
#: MAX_EXECVE_AUDIT_LEN (7500) characters of arguments into one EXECVE record, so a
#: C++ build's compiler line of 5-7 KB (dozens of -I and -D flags) is one record, over
#: MEMO_BODY_MAX: parsed whole at every exec, it cost ~3x a short one (bench/RESULTS.md).
EXECVE_BASE_MAX = 8192
#: Word counts of EXECVE records over MEMO_BODY_MAX whose bases are kept (least recent
#: out): a build's few command lines at a time, in bounded memory (BASES each).
LONG_EXECVE_SHAPES = 8
#: Bases kept per shape of a SYSCALL record, one per call (arch and syscall): a process
#: or a mix of them runs dozens of calls in turn, and a call whose base was pushed out by
#: BASES others is put together from its words again (~4x a patch).
CALL_BASES = 64
#: Bases kept in all, every shape together (cleared when more): memory bounded by count
#: as the other memos, the bases of a SYSCALL shape being as many as its calls.
BASES_MAX = 4096
#: Arguments of an argv whose elements its entry keeps for the next command line (a
#: compiler's ~30-150): memory bounded by size, the entries being kept by the memos.
ARGV_KEPT_MAX = 256


class LineEntries:
    """A log line's body -> its entry; None: the general path builds its event."""

    def __init__(self, records: RecordEntries) -> None:
        #: The entries of parsed records, and their memos of pieces.
        self.records = records
        self.interpreter: Interpreter = records.interpreter
        #: Entries by log line body: (record type, type name, entry or None for "the
        #: general path"). The session's lane reads it for the lines after a run's first.
        self.entries: dict[str, tuple[int, str, Rec | None]] = {}
        # (record type, "key=value" word) -> its pair and piece (see line_rec)
        self._words: dict[int, dict[str, tuple[tuple[str, str], Piece]]] = {}
        self._word_count = 0
        # Per (record type, word count, ENRICHED part): the last few entries put together
        # from words, with their words (the bases of _patched_from), by their first two words.
        self._last: dict[tuple[int, int, str],
                         dict[tuple[str, ...], tuple[str, list[str], Rec]]] = {}
        # The same for EXECVE records over MEMO_BODY_MAX, by word count, least recent first.
        self._long: dict[int, dict[tuple[str, ...], tuple[str, list[str], Rec]]] = {}
        self._base_count = 0  # bases in _last and _long (BASES_MAX)
        self._generation = -1

    def check_names(self) -> None:
        """Drop the memos of interpreted texts when the user/group names were re-read
        (the records' memos too)."""
        if self.interpreter.names_generation != self._generation:
            self._generation = self.interpreter.names_generation
            self.entries.clear()
            self._words.clear()
            self._word_count = 0
            self._forget_bases()
        self.records.check_names()

    def _forget_bases(self) -> None:
        """No base kept: the memos they were made with were cleared, or they are too many."""
        self._last.clear()
        self._long.clear()
        self._base_count = 0

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
            self.check_names()
        elif not looked:  # (``looked``: the caller found no entry in :attr:`entries`)
            hit = self.entries.get(body)
            if hit is not None and hit[0] == rtype and hit[1] == type_name:
                return hit[2]
        if body not in bodies:
            if rtype == EXECVE:
                rec = self._from_execve_base(type_name, body)
            elif "\x1d" not in body:  # (a user-space msg='...' ends a RAW body)
                rec = (self._from_user_words(rtype, type_name, body, bodies)
                       if body.endswith("'") else None)
                if rec is None:
                    rec = self._from_words(rtype, type_name, body, body, "", bodies)
            elif "msg='" in body:
                rec = self._from_user_words(rtype, type_name, body, bodies)
            else:
                rec = self._from_enriched(rtype, type_name, body, bodies)
            if rec is not None:
                return rec
        fields, enriched, free, msg_fields, problem = parse_body(body, bodies)
        record = Record(rtype, type_name, 0, 0, 0, None, fields, enriched, free, body,
                        msg_fields, problem)
        rec = self.records.entry(record)
        if rec is not None and not free and not problem:
            if rec.execve:
                if not enriched and not msg_fields:  # (its words are not learned: few repeat)
                    self._parsed_base(rtype, type_name, body, record, rec)
            elif msg_fields:
                self._user_base(rtype, type_name, body, record, rec)
            else:
                self._learn_words(rtype, record, rec)
                self._parsed_base(rtype, type_name, body, record, rec)
        self._remember(rtype, type_name, body, None, rec, bodies)
        return rec

    def keep_line(self, rtype: int, type_name: str, body: str, rec: Rec) -> None:
        """Remember the entry of a log line's body that :meth:`line_rec` gave, for the
        event's encoding (hotpath's ``FastEncoder.encode``): a record handed to the
        assembler as read (a user message waiting for its timeout) is not read twice."""
        self._remember(rtype, type_name, body, None, rec, _NO_BODIES)

    def _parsed_base(self, rtype: int, type_name: str, body: str, record: Record,
                     rec: Rec) -> None:
        """A kernel record that was parsed -- for its many new words (a PROCTITLE, a
        SOCKADDR: one word, new at each call) or its ENRICHED part -- as a base for the
        next ones of its shape (type, word count, ENRICHED part), which are then patched
        (:meth:`_from_bases`) rather than parsed again. Only when its raw part is plain
        words, one a field."""
        if len(body) > (EXECVE_BASE_MAX if rec.execve else MEMO_BODY_MAX):
            return
        head, tail = split_enriched(body) if record.enriched else (body, "")
        fields = record.fields
        if (record.enriched and not tail) or "msg='" in head or (
                " ".join([f"{k}={v}" for k, v in fields]) != head):
            return
        if not all(reads_alone(k, v) for k, v in fields):
            return
        split = head.split(" ")
        bases = (self._execve_bases(len(split), body, True) if rec.execve
                 else self._bases((rtype, len(split), tail)))
        assert bases is not None  # (made)
        self._keep_base(bases, tuple(split[:2]), type_name, split, rec)

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
        account or an address: that entry patched, no tokenising (:meth:`_patched_from`)."""
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
        """An ENRICHED record (auditd's default format on many systems: every new pointer
        or inode would otherwise cost a whole parse), from its raw part's words as a RAW
        record is (:meth:`_from_words`), its ENRICHED part as it stands."""
        if len(body) > MEMO_BODY_MAX:
            return None
        head, tail = split_enriched(body)
        if not tail or "msg='" in head:
            return None  # (a msg=' opened in the raw part decides what the \x1d is)
        return self._from_words(rtype, type_name, body, head, tail, bodies)

    def _from_execve_base(self, type_name: str, body: str) -> Rec | None:
        """An EXECVE record like a recent one of its length but for some arguments (a
        build's next compiler line): that entry with the new words as its fields.

        Why: the message takes an EXECVE's arguments raw, into ``argv``, and
        interprets only its other keys (argc), so an entry whose arguments alone
        changed keeps the base's pieces; the new words need reading, not
        interpreting. Every word that changed must be an argument of the same
        key that reads alone (:func:`~audit_heka.core.records.reads_alone`): the
        fields are then what a parse gives."""
        if len(body) > EXECVE_BASE_MAX:
            return None
        split = body.split(" ")
        bases = self._execve_bases(len(split), body, False)
        if bases is None:
            return None
        head = tuple(split[:2])
        same = bases.get(head)  # (the same argc and command: tried first)
        others = [base for base in reversed(bases.values()) if base is not same]
        for base in others if same is None else [same, *others]:
            name, base_split, last = base
            if name != type_name:
                continue
            fields = list(last.fields)
            changed = list(compress(range(len(split)), map(ne, split, base_split)))
            for i in changed:
                key, sep, value = split[i].partition("=")
                if not sep or key != fields[i][0] or not is_execve_arg(key) or not (
                        reads_alone(key, value)):
                    break
                fields[i] = (key, value)
            else:
                rec = Rec.patch(last, EXECVE, tuple(fields), last.pieces, ())
                assert rec is not None  # (no piece changed: taken over whatever they are)
                rec.lasting = False  # (not remembered: a command line seldom comes again)
                elements = self.argv_elements(last)
                if elements is not None:  # (its argv is its values: so is this one's)
                    rec.argv_base = (elements, changed)
                self._keep_base(bases, head, type_name, split, rec)
                return rec
        return None

    def argv_elements(self, rec: Rec) -> list[bytes] | None:
        """The STRING elements of an EXECVE entry's argv when argv is its values in order
        (interpret.argv_is_values), made once and kept on the entry; None: its argv is
        read otherwise (aN_len, more than ARGV_KEPT_MAX arguments).

        Why: a build execs one compiler line after another, the same but for a few
        file names, and reading argv again cost a third of such an event (~20 us for
        30 arguments). An entry patched from the last one (:meth:`_from_execve_base`)
        holds that one's elements and the fields that changed: only those arguments
        are read. They are asked when the entry is patched from, not only when its
        event is encoded: the session encodes a round's events after reading its
        lines (Session.feed_lines), so the next command line is read first.
        """
        elements = rec.argv_elements
        if elements is not None:
            return elements
        base = rec.argv_base
        fields = rec.fields
        if base is not None:
            rec.argv_base = None  # (the base's list let go: entries never chain)
            elements = base[0].copy()
            for i in base[1]:  # field i is argument i - 1 (argc first)
                elements[i - 1] = string_element(argument_text(fields[i][1]))
        elif len(fields) <= ARGV_KEPT_MAX + 1 and argv_is_values(fields):
            elements = list(map(string_element, self.interpreter.argv_of([fields])))
        else:
            return None
        rec.argv_elements = elements
        return elements

    def _execve_bases(self, words: int, body: str, make: bool
                      ) -> dict[tuple[str, ...], tuple[str, list[str], Rec]] | None:
        """The bases of EXECVE records of ``words`` words and of ``body``'s size class
        (``make``: made if new). Bodies over MEMO_BODY_MAX have a store of their own,
        of LONG_EXECVE_SHAPES word counts: the bases of the other records are bounded
        by count, which at ~8 KB a base would hold tens of megabytes."""
        if len(body) <= MEMO_BODY_MAX:
            shape = (EXECVE, words, "")
            return self._bases(shape) if make else self._last.get(shape)
        long = self._long
        bases = long.pop(words, None)  # (put back last: the most recent)
        if bases is None:
            if not make:
                return None
            if len(long) >= LONG_EXECVE_SHAPES:
                self._base_count -= len(long.pop(next(iter(long))))
            bases = {}
        long[words] = bases
        return bases

    def _learn_words(self, rtype: int, record: Record, rec: Rec) -> None:
        """Remember the words of a record of the common kind (see :meth:`line_rec`). A word
        whose key has an ENRICHED pair is remembered for its pair alone: its piece is
        made with the pairs of the record that has it (:meth:`_put_together`), and a RAW
        record reads it as a word of another call (CONTEXTUAL: made, not looked up)."""
        words = self._words_of(rtype, len(record.fields))
        named = {name for name, _ in record.enriched}
        for pair, piece in zip(record.fields, rec.pieces, strict=True):
            k, raw = pair
            if len(raw) <= MEMO_VALUE_MAX and reads_alone(k, raw):
                if named and k.upper() in named:
                    words.setdefault(f"{k}={raw}", (pair, CONTEXTUAL))
                else:
                    words[f"{k}={raw}"] = (pair, CONTEXTUAL if piece.kind in CONTEXT_KINDS
                                           else piece)

    def _words_of(self, rtype: int, adding: int) -> dict[str, tuple[tuple[str, str], Piece]]:
        """The word memo of a record type, with room for ``adding`` words (bounded)."""
        self._word_count += adding
        if self._word_count > FIELD_MEMO_SIZE:
            self._words.clear()
            self._forget_bases()
            self._word_count = adding
        words = self._words.get(rtype)
        if words is None:
            words = self._words[rtype] = {}
        return words

    def _from_words(self, rtype: int, type_name: str, body: str, head: str, tail: str,
                    bodies: dict[str, Body]) -> Rec | None:
        """A kernel record (``head``: its raw part, ``tail``: its ENRICHED part or "")
        patched from a recent one of its shape, or put together from its words."""
        split = head.split(" ")
        shape = (rtype, len(split), tail)
        small = len(body) <= MEMO_BODY_MAX  # (bases of bounded size, as the other memos)
        bases = self._last.get(shape) if small else None
        if bases is not None:
            rec = self._from_bases(bases, rtype, type_name, body, split, bodies)
            if rec is not None:
                return rec
        words = self._words.get(rtype)
        if words is None:
            return None
        rec = self._put_together(rtype, type_name, body, split, tail, words, bodies)
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
                self._forget_bases()
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
        if len(head) == 2 and head[0].startswith("arch=") and head[1].startswith("syscall="):
            return None  # the others are other calls, never patched into this one
        for base in reversed(bases.values()):
            if base is not same:
                rec = self._patched_from(base, rtype, type_name, body, split, bodies)
                if rec is not None:
                    self._keep_base(bases, head, type_name, split, rec)
                    return rec
        return None

    def _keep_base(self, bases: dict[tuple[str, ...], tuple[str, list[str], Rec]],
                   head: tuple[str, ...], type_name: str, split: list[str], rec: Rec) -> None:
        """``rec`` the most recent base of its shape: one per first two words (a call,
        an item and name), BASES of them, or CALL_BASES calls. One of other keys that
        it replaces is kept beside it, under the same words: records of two kinds that
        take turns (sshd's failed logins, ``acct=``, between its logins, ``id=``) cannot
        be patched from each other, and each would otherwise be parsed whenever the
        other came last."""
        last = bases.pop(head, None)
        if last is not None and last[2].keys is rec.keys:  # (patched from it: no new base)
            bases[head] = (type_name, split, rec)
            return
        size = len(bases) + (last is not None)
        if last is not None and last[2].keys != rec.keys:
            bases[(*head, "")] = last  # (a third word: no first two words are its key)
        bases[head] = (type_name, split, rec)
        most = CALL_BASES if head[0].startswith("arch=") else BASES
        while len(bases) > most:
            del bases[next(iter(bases))]  # the least recent
        self._base_count += len(bases) - size
        if self._base_count > BASES_MAX:
            self._forget_bases()

    def _patched_from(self, base: tuple[str, list[str], Rec], rtype: int, type_name: str,
                      body: str, split: list[str], bodies: dict[str, Body]) -> Rec | None:
        """The record patched from ``base`` (a recent one of its type and shape) if only a
        few of its words changed, none of them the call: that entry with those pieces
        replaced. An ENRICHED one (its base has the same ENRICHED part) makes the new
        pieces of keys with a pair from those pairs, the others as a record without
        them (a pointer, an inode)."""
        name, base_split, last = base
        if name != type_name:
            return None
        n = len(split)
        changed = list(compress(range(n), map(ne, split, base_split)))
        if not changed:  # the same words again (a second call on one file): its entry,
            self._remember(rtype, type_name, body, last.fields, last, bodies)  # now kept
            return last
        # A patch of half of the words is still cheaper than a parse or putting the record
        # together: a new session's pid, ses, account and address; a new process's exec.
        if len(changed) > 4 and len(changed) > n // 2:
            return None
        pairs = list(last.fields)
        enriched = last.enriched_map
        if enriched is None and last.enriched:
            enriched = last.enriched_map = dict(reversed(last.enriched))
        words = self._words.get(rtype, _NO_WORDS)
        pieces = list(last.pieces)
        unknown: list[int] = []  # changed words whose piece is to be made (or looked up)
        reads_args = False  # a0 or a1 changed: the context of others' texts, for some calls
        new = False  # a word not seen before
        for i in changed:
            word = split[i]
            key = pairs[i][0]
            if key in _CALL_KEYS:
                return None  # another call: the context of the others' texts
            hit = words.get(word)
            # (the word memo's pieces were made without ENRICHED pairs)
            if hit is None or (enriched is not None and key.upper() in enriched):
                new = True
                k, _, value = word.partition("=")
                if k != key:
                    return None  # other keys: the context of others' texts
                if not value or (value[-1] in ",:)" or value[0] in "\"'{" if value[0] != '"'
                                 else len(value) < 2 or value[-1] != '"'
                                 or '"' in value[1:-1]):
                    alone = _pairs_fast(word)  # (else what it reads of such a word)
                    if alone is None or len(alone) != 1 or alone[0][0] != key:
                        return None
                    value = alone[0][1]
                pairs[i] = (key, value)
                unknown.append(i)
            else:
                pair, piece = hit
                if pair[0] != key:
                    return None
                pairs[i] = pair
                pieces[i] = piece
                if piece is CONTEXTUAL:
                    unknown.append(i)
            if key in _ARG_KEYS:
                reads_args = True
        fields = tuple(pairs)
        # Its texts are read in its call's context, the same as its base's (neither arch
        # nor syscall changed, nor a0 or a1 of a call that reads them: refused below),
        # kept on the entries (Rec.context).
        context = last.context
        if context is None and (reads_args or unknown):
            context = last.context = self.interpreter.call_context(last.fields)
        if reads_args and context is not None and context.reads_arguments:
            return None  # this call's texts read a0/a1 (socketcall, fcntl...)
        record: Record | None = None  # made only for a piece that needs it (below)
        if enriched is None and not last.msg_fields:
            # A kernel record without ENRICHED pairs: its new words' texts are their own.
            if context is not None:  # (asked for the unknown words)
                before = last.pieces
                for i in unknown:
                    pieces[i] = self._own_piece(rtype, split[i], fields[i], context,
                                                before[i].kind)
        else:
            record = self._other_pieces(rtype, type_name, body, split, last, fields, pieces,
                                        unknown, context, enriched)
        made = tuple(pieces)
        # The entry taken over from the base's without a Record (Rec.patch), but where the
        # change bears on a counter or the severity.
        rec = Rec.patch(last, rtype, fields, made, changed)
        if rec is None:
            if record is None:
                record = _like(last, rtype, type_name, body, fields)
            rec = Rec(record, last.keys, made, last.shape)  # (made anew: not plain)
            rec.enriched_map = enriched  # (the same ENRICHED pairs as its base's)
        rec.context = context
        if not new:  # known words (a PATH item like one seen before) may come again
            self._remember(rtype, type_name, body, fields, rec, bodies)
        else:  # not remembered, so it will not come again: nor will groups keyed by it
            rec.lasting = False
        return rec

    def _other_pieces(self, rtype: int, type_name: str, body: str, split: list[str],
                      last: Rec, fields: Pairs, pieces: list[Piece], unknown: list[int],
                      context: CallContext | None, enriched: dict[str, str] | None
                      ) -> Record | None:
        """The pieces of the new words of an ENRICHED or a user-space record patched from
        ``last`` (:meth:`_patched_from`), into ``pieces``; the record they needed, if
        any: a text from an ENRICHED pair, a user-space value (RecordEntries asks it)."""
        record: Record | None = None
        interpreter = self.interpreter
        for i in unknown:
            k, raw = fields[i]
            if enriched is not None and k.upper() in enriched:  # its text: its pair's
                if record is None:
                    record = _like(last, rtype, type_name, body, fields)
                kind = interpreter.kind(rtype, k, raw)
                pieces[i] = self.records.piece(record, k, raw, enriched, remember=(
                    kind is not None and kind not in CONTEXT_KINDS))
            elif last.msg_fields:  # a user-space record: its session's next ones repeat it
                if record is None:
                    record = _like(last, rtype, type_name, body, fields)
                pieces[i] = self.records.session_piece(record, k, raw)
            else:  # its own text, as in a record without ENRICHED pairs
                assert context is not None  # (asked for the unknown words)
                pieces[i] = self._own_piece(rtype, split[i], fields[i], context,
                                            last.pieces[i].kind)
        return record

    def _own_piece(self, rtype: int, word: str, pair: tuple[str, str],
                   context: CallContext, kind: str | None) -> Piece:
        """The piece of a new word of a patched record whose text is its own (no ENRICHED
        pair), read in its record's ``context``; ``kind``: that of its base's piece of the
        same key (a kind depends on the record type and key, but KIND_BY_VALUE's).

        A value that changes from record to record (a pid) is seldom seen again: it
        is remembered only when its text cost an interpretation. The entry itself is
        not remembered either (but as a base of its type, for the next one). Memos
        that fill with one-off entries keep the garbage collector busy."""
        k, raw = pair
        interpreter = self.interpreter
        if k in KIND_BY_VALUE:
            kind = interpreter.kind(rtype, k, raw)
        if kind is None:
            piece = Piece(k, raw, None, False, None)
            piece.once = True
            return piece
        text = interpreter.text_in(context, kind, raw)
        piece = Piece(k, raw, text, isinstance(text, str) and text.startswith("unknown("), kind)
        if kind not in CONTEXT_KINDS and len(raw) <= MEMO_VALUE_MAX:  # (not a0-a3)
            self.records.remember_piece((rtype, k, raw), piece)
            self._words_of(rtype, 1)[word] = (pair, piece)
        else:
            piece.once = True
        return piece

    def _remember(self, rtype: int, type_name: str, body: str, fields: Pairs | None,
                  rec: Rec | None, bodies: dict[str, Body]) -> None:
        """The entry of a log line's body; with ``fields``, its parse too (put together
        from words: what records._body gives such a body, the ENRICHED pairs of its
        entry's)."""
        if not memo_keeps(body, () if rec is None else rec.fields):
            if rec is not None:  # no memo keeps it: nor will one keep what is keyed by it
                rec.lasting = False
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
        if rec is not None:  # it may come again: so may the groups keyed by it
            rec.lasting = not rec.volatile

    def _put_together(self, rtype: int, type_name: str, body: str, split: list[str],
                      tail: str, words: dict[str, tuple[tuple[str, str], Piece]],
                      bodies: dict[str, Body]) -> Rec | None:
        """A kernel record whose words were seen before in records of its type, but for a
        few: put together from their pieces (see :meth:`line_rec`), what its parse would
        give. A word whose key has a pair in the ENRICHED part ``tail`` takes its text
        from that pair, as the parse's (RecordEntries.piece)."""
        enriched: Pairs = enriched_pairs(tail) if tail else ()
        named = dict(reversed(enriched)) if enriched else None
        pairs: list[tuple[str, str]] = []
        pieces: list[Piece] = []
        contextual = False
        new: list[int] = []  # words not seen before: read here, one by one
        paired: list[int] = []  # words whose key has an ENRICHED pair
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
                    hit = (alone[0], CONTEXTUAL)
                if named is not None and hit[0][0].upper() in named:
                    paired.append(len(pairs))
                elif hit[1] is CONTEXTUAL:
                    contextual = True
                pairs.append(hit[0])
                pieces.append(hit[1])
        if not pairs or len(new) * 2 > len(pairs):
            return None
        keys = tuple([k for k, _ in pairs])
        if len(set(keys)) != len(keys):
            return None  # a repeated key: the general path names them
        fields = tuple(pairs)
        record = Record(rtype, type_name, 0, 0, 0, None, fields, enriched, "", body, 0, "")
        for i in paired:
            k, raw = pairs[i]
            pieces[i] = self.records.piece(record, k, raw, named)
        if contextual:
            # New words, and texts whose context is new: made, and remembered (below)
            # only when they cost an interpretation that other records may share.
            context = self.interpreter.context_key(record)
            memo = self.records.fields
            for i, piece in enumerate(pieces):
                if piece is CONTEXTUAL:
                    k, raw = pairs[i]
                    found = memo.get((rtype, k, raw, *context))
                    pieces[i] = (found if found is not None
                                 else self.records.piece(record, k, raw, None, remember=False))
        words = self._words_of(rtype, len(new))
        for i in new:
            k, raw = pairs[i]
            piece = pieces[i]
            if named is not None and k.upper() in named:
                words.setdefault(f"{k}={raw}", ((k, raw), CONTEXTUAL))  # (its pair alone)
            elif piece.kind is not None and piece.kind not in CONTEXT_KINDS and (
                    len(raw) <= MEMO_VALUE_MAX):
                self.records.remember_piece((rtype, k, raw), piece)
                words[f"{k}={raw}"] = ((k, raw), piece)
        rec = Rec(record, keys, tuple(pieces), self.records.shape(type_name, keys))
        if not new:  # a body of known words may come again (a storm's); new ones seldom
            self._remember(rtype, type_name, body, fields, rec, bodies)
        else:
            rec.lasting = False  # (see _patched_from)
        return rec


def _like(base: Rec, rtype: int, type_name: str, body: str, fields: Pairs) -> Record:
    """The record of a line patched from ``base``'s (same type name, ENRICHED pairs and
    ``msg=''`` field count, no free text) with these ``fields``, for what needs one."""
    return Record(rtype, type_name, 0, 0, 0, None, fields, base.enriched, "", body,
                  base.msg_fields, "")


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


_NO_WORDS: dict[str, tuple[tuple[str, str], Piece]] = {}  # (never written)
_NO_BODIES: dict[str, Body] = {}  # (never written: _remember without a parse)
# What interpret._Context reads: the call (arch, syscall), its arguments (a0, a1).
_CALL_KEYS = frozenset({"arch", "syscall"})
_ARG_KEYS = frozenset({"a0", "a1"})

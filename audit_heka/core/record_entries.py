"""The entries of parsed records: a record's pieces, interpreted once and remembered.

Why: an audit value repeats (the same uids, exe, comm, cwd, key) far more than
its record does, so the work of a field -- its interpretation and the
protobuf encodings of its raw Field and of its ``<key>_i`` -- is done once per
(record type, key, raw value) and shared by every record that holds it; the
fields whose texts read other fields of their record (CONTEXT_KINDS: a
syscall's name, a0-a3) are remembered with that context. A user-space record
(``msg='...'``, PAM's, sshd's) is patched from a recent one of its program
whose keys it shares: only its new values (a pid, a session) are interpreted.

This is what the two readers of records share: the lane's log lines
(audit_heka.core.line_entries) and an assembled event's Records
(audit_heka.core.hotpath). Anything unusual gives None: the general path
(audit_heka.core.schema) builds that event, and reports what went wrong.
"""

from __future__ import annotations

from itertools import compress, count
from operator import ne

from audit_heka.core.entries import FIELD_MEMO_SIZE, FieldKey, Piece, Rec, Text
from audit_heka.core.interpret import CONTEXT_KINDS, Interpreter, enriched_text
from audit_heka.core.records import BODY_MEMO_MAX, Record
from audit_heka.core.schema import EXECVE, is_execve_arg, renaming

USER_TTY = 1124  # its msg='' keys are interpreted raw: the general path's business
RECORD_MEMO_SIZE = 8192  # entries remembered, by body or by Record (cleared when full)
PLAN_MEMO_SIZE = 1024  # event shapes remembered (and shapes of bases)
BASES = 4  # recent records per record type and length, to patch the next one from
RECENT_SIZE = 256  # pieces of new values kept for the next records (one session's)
# Memory stays bounded by size too: what is larger is computed at each use.
MEMO_VALUE_MAX = 1024  # characters of a raw value whose piece is remembered
MEMO_BODY_MAX = BODY_MEMO_MAX  # characters of a record body whose entry is remembered

#: In the field memo: "keyed with the record's context too" (CONTEXT_KINDS).
CONTEXTUAL = Piece("", "", None, False)


class RecordEntries:
    """Parsed Record -> its :class:`~audit_heka.core.entries.Rec`, with the memos of
    pieces by value; None: the general path builds the record's event."""

    def __init__(self, interpreter: Interpreter) -> None:
        self.interpreter = interpreter
        #: Pieces by (record type, key, raw value), with the record's context for the
        #: CONTEXT_KINDS (CONTEXTUAL under the plain key), or with the ENRICHED value.
        self.fields: dict[FieldKey, Piece] = {}
        # Per (record type, type name, field count, msg='' field count): the last few
        # entries of parsed records without context kinds (see _from_record_base).
        self._record_bases: dict[tuple[int, str, int, int, str, str], list[Rec]] = {}
        self._recent: dict[tuple[str, str], Piece] = {}  # see session_piece
        self._shapes: dict[tuple[str, ...], int] = {}
        self._generation = interpreter.names_generation

    def check_names(self) -> None:
        """Drop the memos of interpreted texts when the user/group names were re-read."""
        if self.interpreter.names_generation != self._generation:
            self._generation = self.interpreter.names_generation
            self.fields.clear()
            self._record_bases.clear()
            self._recent.clear()

    def entry(self, record: Record) -> Rec | None:
        """The entry of a parsed record: patched from a recent one like it, or made.

        Only user-space records (``msg='...'``) are patched here: a kernel record's
        words are patched by the lane (audit_heka.core.line_entries) before it is parsed."""
        if (not record.msg_fields or record.problem or record.type == EXECVE
                or len(record.text) > MEMO_BODY_MAX):
            return self._make_record(record)  # (None, or not a base: bounded by size)
        fields = record.fields
        count = record.msg_fields
        exe = ""
        if count:  # a user-space record: by its program too (see line_entries' _user_words)
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
        memo = self.fields
        interpreter = self.interpreter
        try:
            for i in changed:
                k, raw = fields[i]
                if enriched is not None:
                    kind = interpreter.kind(rtype, k, raw)
                    piece = self.piece(record, k, raw, enriched, remember=kind is not None)
                else:
                    hit = memo.get((rtype, k, raw))
                    piece = hit if hit is not None else self.session_piece(record, k, raw)
                if piece is CONTEXTUAL or piece.kind in CONTEXT_KINDS:
                    return None
                pieces[i + offset] = piece
        except Exception:  # an interpretation that raised: the general path reports it
            return None
        return Rec(record, best.keys, tuple(pieces), best.shape, best,
                   [i + offset for i in changed])

    def session_piece(self, record: Record, key: str, raw: str) -> Piece:
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
            piece = self.piece(record, key, raw, None, looked=True)
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
            memo = self.fields
            rtype = record.type
            context: tuple[str | int | None, ...] | None = None
            for k, raw in record.fields:
                if execve and is_execve_arg(k):
                    continue
                keys.append(k)
                if enriched is not None:
                    pieces.append(self.piece(record, k, raw, enriched))
                    continue
                piece = memo.get((rtype, k, raw))
                if piece is CONTEXTUAL:
                    if context is None:
                        context = self.interpreter.context_key(record)
                    piece = memo.get((rtype, k, raw, *context))
                pieces.append(piece if piece is not None
                              else self.piece(record, k, raw, None, looked=True))
        except Exception:  # an interpretation that raised, a name the encoder refuses:
            return None  # the general path reports it (interpret_error)
        return Rec(record, tuple(keys), tuple(pieces), self.shape(record.type_name, tuple(keys)))

    def piece(self, record: Record, key: str, raw: str, enriched: dict[str, str] | None,
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
        memo = self.fields
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
            self.remember_piece(memo_key, piece,
                                (record.type, key, raw) if contextual else None)
        return piece

    def remember_piece(self, memo_key: FieldKey, piece: Piece,
                       plain_key: FieldKey | None = None) -> None:
        """Into the field memo under ``memo_key``; ``plain_key``: a piece of the CONTEXT_KINDS,
        whose memo key holds its record's context: the key without it says "look again
        with the record's context" (CONTEXTUAL)."""
        memo = self.fields
        if len(memo) >= FIELD_MEMO_SIZE:
            memo.clear()
        memo[memo_key] = piece
        if plain_key is not None:
            memo[plain_key] = CONTEXTUAL

    def shape(self, type_name: str, keys: tuple[str, ...]) -> int:
        shape_key = (type_name, *keys)
        shape = self._shapes.get(shape_key)
        if shape is None:
            if len(self._shapes) >= PLAN_MEMO_SIZE:
                self._shapes.clear()  # ids stay unique: plans keyed by old ones stay right
            shape = self._shapes[shape_key] = next(_SHAPE_IDS)
        return shape


_SHAPE_IDS = count(1)  # shape ids, never reused: a cleared shape memo must not alias plans

"""What the journal writer may do with its files (pure: no I/O, no clock).

The journal is bounded twice, like auditd's log: each file is rotated at
``file_bytes`` (``max_log_file``), and the files kept may not exceed
``max_bytes`` together (auditd's ``num_logs`` times ``max_log_file``, as a
byte budget). Rotation keeps the budget by deleting the oldest files; the
question is what to do when the oldest file still holds records that the
shipper has not delivered (the cursor points into it or before it):

* ``block``: do not delete it; the reader slows to one record per 10 ms,
  held in bounded memory, until the shipper moves on (the kernel's backlog
  and backlog_wait_time then throttle the audited processes, as auditd's
  ``disk_full_action = suspend`` does; reading on, slowly, keeps the kernel
  from giving up on its daemon after HZ/10: see the reader);
* ``drop-oldest``: delete it and count every record in it that no shipper
  will ship (:func:`given_up_from`: what the shipper has consumed is not
  given up; a file a live follower reads is not given up at all -- the
  writer asks its lock, :mod:`audit_heka.journal.consumed`).

A full disk asks the same question with a smaller budget: files already
shipped may always go; unshipped ones only under ``drop-oldest``.

The writer (:mod:`audit_heka.journal.writer`) feeds this module file sizes,
identities and the cursor; it answers which files to delete and whether
that gives up records.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from audit_heka.journal.format import Cursor


class FullAction(enum.Enum):
    """``--journal-full``: what to do when the journal's budget is spent."""

    BLOCK = "block"
    DROP_OLDEST = "drop-oldest"


@dataclass(frozen=True, slots=True)
class JournalFile:
    """One journal file as the writer knows it: identity, size and head.

    ``head`` (:func:`~audit_heka.journal.format.file_head` of its first line;
    None while it is empty) tells it from an earlier file whose inode number
    the file system gave it: the cursor may still name that deleted file.
    """

    dev: int
    ino: int
    size: int
    head: str | None = None


@dataclass(frozen=True, slots=True)
class Removal:
    """Delete the ``index``-th file (0 = the active file, then newest first).

    ``unshipped_from`` is the offset where its unshipped records start
    (0: all of them), or None when every record in it was shipped.
    """

    index: int
    unshipped_from: int | None


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer: files to delete, oldest first, or ``blocked``."""

    removals: tuple[Removal, ...]
    blocked: bool


def unshipped_from(files: Sequence[JournalFile], index: int, cursor: Cursor | None) -> int | None:
    """Where the unshipped records of ``files[index]`` start (None: none are).

    ``files`` are newest first (the active file at 0). Files older than the
    cursor's file are shipped; the cursor's file is unshipped from its
    offset; newer ones entirely. Without a cursor, or with one naming a file
    that is no longer here, nothing counts as shipped: losing records must
    be a decision, never a guess. A file that reuses the inode number of the
    cursor's (deleted) file is not the cursor's file: the heads differ.
    """
    if cursor is None:
        return 0
    for position, f in enumerate(files):
        if cursor.names_file(f.dev, f.ino, f.head):
            if index > position:
                return None
            if index == position:
                return None if cursor.offset >= f.size else cursor.offset
            return 0
    return 0


def given_up_from(files: Sequence[JournalFile], index: int, cursor: Cursor | None,
                  mark: Cursor | None) -> int | None:
    """Where the records of ``files[index]`` that no shipper has consumed start
    (None: it consumed them all), if the file is deleted now.

    ``mark`` is the shipper's consumed mark (:mod:`audit_heka.journal.consumed`):
    what it has handed to its session is not given up, acknowledged or not.
    The cursor counts too, for the case where the mark is stale or missing
    (after a crash of the machine, or from a shipper before marks): each is a
    lower bound of what was consumed, so the further one wins. Whether a live
    follower still reads the file (and so gives up nothing) is the writer's
    question (a lock), not this function's.
    """
    start = unshipped_from(files, index, cursor)
    if mark is None or start is None:
        return start
    consumed = unshipped_from(files, index, mark)
    return None if consumed is None else max(start, consumed)


class JournalPolicy:
    """The rotation and bound decisions, for given limits and ``--journal-full``."""

    def __init__(self, file_bytes: int, max_bytes: int, full: FullAction) -> None:
        if file_bytes < 1:
            raise ValueError("the journal file size must be at least 1 byte")
        if max_bytes < 2 * file_bytes:
            raise ValueError(
                f"--journal-max-bytes ({max_bytes}) must be at least twice "
                f"--journal-file-bytes ({file_bytes}): the active file and one rotated one"
            )
        self.file_bytes = file_bytes
        self.max_bytes = max_bytes
        self.full = full

    def room(self, active_size: int) -> int:
        """Bytes the active file may still take before it is rotated."""
        return max(0, self.file_bytes - active_size)

    def plan_rotation(self, files: Sequence[JournalFile], cursor: Cursor | None) -> Plan:
        """Before rotating ``files`` (newest first, active at 0): what must go so
        that the kept files plus a full new active file fit in ``max_bytes``."""
        budget = self.max_bytes - self.file_bytes
        excess = sum(f.size for f in files) - budget
        removals: list[Removal] = []
        index = len(files) - 1
        while excess > 0 and index >= 1:
            shipped_from = unshipped_from(files, index, cursor)
            if shipped_from is not None and self.full is FullAction.BLOCK:
                return Plan(tuple(removals), blocked=True)
            removals.append(Removal(index, shipped_from))
            excess -= files[index].size
            index -= 1
        return Plan(tuple(removals), blocked=False)

    def plan_make_room(self, files: Sequence[JournalFile], cursor: Cursor | None) -> Plan:
        """The disk is full: delete the oldest rotated file if the policy allows.

        Shipped files always may go; an unshipped one only under drop-oldest.
        Never the active file (index 0). Blocked when nothing may go.
        """
        if len(files) < 2:
            return Plan((), blocked=True)
        index = len(files) - 1
        shipped_from = unshipped_from(files, index, cursor)
        if shipped_from is not None and self.full is FullAction.BLOCK:
            return Plan((), blocked=True)
        return Plan((Removal(index, shipped_from),), blocked=False)

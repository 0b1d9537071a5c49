"""The one registry of counter names: what each counts, and which mean loss.

Why a registry: the counters travel in three places (``shipper.status`` /
``audit-heka status``, the health messages, the logs) and are produced by
several modules (session, delivery, journal follower, reader). One table
names each counter once, says what it means for an operator, and marks the
*loss* counters -- the ones whose growth means an audit event may be
missing -- so health severity and loss logging cannot drift apart. Each loss
is counted once, at the place that sees it, under exactly one cause:

* ``kernel_lost``: the kernel's own ``lost`` (backlog overflow, rate limit);
* ``serial_gaps``: serials the shipper never saw (lost before the journal,
  e.g. netlink overruns this kernel does not count in ``lost``);
* ``netlink_overruns``: ENOBUFS on the reader's audit socket;
* ``journal_dropped_records``: records given up by ``--journal-full drop-oldest``
  (exactly those no shipper will ship: not what it holds or has consumed; the
  rest of a file deleted under a shipper that then died, from its consumed
  mark), never again as ``serial_gaps`` (the gap note marks where they were);
* ``oversize``: events whose header alone exceeds max_message_size (larger
  events are degraded to fit, never dropped: ``degraded``);
* ``delivery_oversize`` per target: frames a target cannot carry even degraded.

Pure data and two helpers; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CounterInfo:
    """One counter: who keeps it, whether its growth means loss, what it means."""

    source: str  # "session", "delivery", "journal", "reader", "kernel", "shipper"
    loss: bool
    meaning: str


COUNTERS: Mapping[str, CounterInfo] = {
    # --- the kernel and the reader (kept by the reader / supervisor)
    "kernel_lost": CounterInfo("kernel", True, "growth of the kernel's lost counter since start"),
    "kernel_backlog": CounterInfo("kernel", False, "the kernel's queue length at the last poll"),
    "netlink_overruns": CounterInfo("reader", True, "ENOBUFS on the audit socket (records lost)"),
    "journal_dropped_records": CounterInfo(
        "reader", True, "records given up by --journal-full drop-oldest: deleted before the "
        "shipper consumed them, in a file it was not reading or stopped reading (it died "
        "there: counted from its consumed mark), or never written (disk full)"),
    "reregistrations": CounterInfo(
        "reader", False, "times the kernel dropped the reader as its daemon and it registered "
        "again (what the kernel could not send meanwhile is in kernel_lost)"),
    "journal_blocked_reads": CounterInfo(
        "reader", False, "records read at the blocked pace into memory while the journal was full"),
    "journal_blocked_hold_full": CounterInfo(
        "reader", False, "blocks that spent their memory bound: reading stopped, losses counted"),
    # --- the supervisor (kernel state and children)
    "rules_refused": CounterInfo(
        "supervisor", True, "rule lines not in force: what they would audit is not recorded"),
    "rule_reloads": CounterInfo("supervisor", False, "SIGHUP rule reloads"),
    "rule_reload_errors": CounterInfo("supervisor", False, "rule reloads that failed"),
    "reader_restarts": CounterInfo("supervisor", False, "reader processes restarted"),
    "shipper_restarts": CounterInfo("supervisor", False, "shipper processes restarted"),
    # --- the journal as the shipper follows it
    "journal_lines": CounterInfo("journal", False, "journal lines read by the shipper"),
    "journal_bytes": CounterInfo("journal", False, "journal bytes read by the shipper"),
    "journal_files": CounterInfo("journal", False, "journal files followed (rotations + 1)"),
    "journal_lost_files": CounterInfo(
        "journal", True, "restarts whose cursor's file was gone (deleted, or its inode number "
        "reused by a newer file) before it was shipped to its end (the records drop-oldest "
        "gave up in it are in journal_dropped_records; an operator's deletion only here)"),
    "journal_unsafe_files": CounterInfo(
        "journal", True, "journal names that are not our regular files (symlinks): not read"),
    "journal_gaps": CounterInfo(
        "journal", False, "places where drop-oldest gave records up that the shipper passed "
        "(files given up before it reached them, records a full disk never took): counted "
        "once, in journal_dropped_records; serials missing there are not serial_gaps"),
    "journal_partial_lines": CounterInfo(
        "journal", True, "unterminated lines at the end of a rotated-away file"),
    # --- the session (parse, assemble, build, frame)
    "lines": CounterInfo("session", False, "lines fed to the session"),
    "blank_lines": CounterInfo("session", False, "empty lines (skipped)"),
    "comment_lines": CounterInfo("session", False, "'#' lines: not records, not malformed"),
    "shared_lines": CounterInfo("session", False, "lines that held more than one record"),
    "records": CounterInfo("session", False, "records parsed"),
    "messages": CounterInfo("session", False, "Heka messages built (one per event)"),
    "frames": CounterInfo("session", False, "messages framed"),
    "payload_dropped": CounterInfo(
        "session", False, "messages sent without Payload to fit max_message_size"),
    "degraded": CounterInfo(
        "session", False, "messages with fields cut or dropped to fit max_message_size"),
    "oversize": CounterInfo(
        "session", True, "events whose header alone exceeds max_message_size: refused"),
    "build_errors": CounterInfo(
        "session", False, "events that failed to build: shipped raw with an error field"),
    "shipped_raw": CounterInfo(
        "session", False, "events shipped raw after the shipper died at their position"),
    "malformed_records": CounterInfo(
        "session", True, "lines that could not be parsed (shipped raw, unreadable)"),
    "events_in_flight": CounterInfo("session", False, "events waiting for more records"),
    "events_completed_by_eoe": CounterInfo("session", False, "events ended by an EOE record"),
    "events_completed_alone": CounterInfo("session", False, "stand-alone records"),
    "events_timed_out": CounterInfo("session", False, "events ended by the time-out"),
    "events_overflowed": CounterInfo("session", False, "events flushed: too many in flight"),
    "events_flushed": CounterInfo("session", False, "events flushed at end of input"),
    "late_records": CounterInfo("session", False, "records after their event was completed"),
    "orphan_eoe": CounterInfo("session", False, "EOE records for no known event"),
    "serial_gaps": CounterInfo("session", True, "serials never seen: events lost upstream"),
    "malformed_integer": CounterInfo("session", False, "integer fields that are not int64"),
    "aligned_fill": CounterInfo("session", False, "empty values filled in repeated records"),
    "duplicate_key": CounterInfo("session", False, "keys repeated inside one record"),
    "suspicious_duplicates": CounterInfo(
        "session", False, "repeated keys that look like a forged record tail"),
    "unparsed_shipped": CounterInfo(
        "session", False, "unparsable lines shipped raw with a parse_error field"),
    "interpret_errors": CounterInfo(
        "session", False, "values that failed to interpret: shipped with interpret_error"),
    # --- delivery, per target and summed (prefixed delivery_ when summed)
    "delivery_queued": CounterInfo("delivery", False, "frames queued for the target"),
    "delivery_sent": CounterInfo("delivery", False, "frames written whole (resends included)"),
    "delivery_resent": CounterInfo("delivery", False, "frames written again after a reconnect"),
    "delivery_acked": CounterInfo("delivery", False, "frames acknowledged (done with)"),
    "delivery_send_errors": CounterInfo("delivery", False, "connections lost while sending"),
    "delivery_connect_errors": CounterInfo("delivery", False, "failed connection attempts"),
    "delivery_reconnects": CounterInfo("delivery", False, "connections after the first"),
    "delivery_refitted": CounterInfo(
        "delivery", False, "frames degraded again to fit the target (UDP datagram size)"),
    "delivery_oversize": CounterInfo(
        "delivery", True, "frames the target cannot carry even degraded: not sent"),
    "delivery_malformed": CounterInfo("delivery", False, "frames stdout could not decode"),
    "delivery_discarded": CounterInfo(
        "delivery", True, "frames for a target gone for good (stdout closed by its reader)"),
    # --- --enrich (audit_heka.host.enrich, in the shipper)
    "enriched": CounterInfo("shipper", False, "events given /proc fields"),
    "enrich_cache_hits": CounterInfo("shipper", False, "enrichments from the process cache"),
    "enrich_cache_misses": CounterInfo("shipper", False, "enrichments that read /proc"),
    "enrich_gone": CounterInfo("shipper", False, "processes gone before they could be read"),
    "enrich_pid_reused": CounterInfo("shipper", False, "pids reused by another process"),
    # --- the shipper's own
    "log_events": CounterInfo("shipper", False, "events written to log: targets"),
    "log_write_errors": CounterInfo("shipper", True, "events a log: target could not write"),
    "health_messages": CounterInfo("shipper", False, "health messages sent"),
    "cursor_writes": CounterInfo("shipper", False, "cursor persisted"),
    "cursor_errors": CounterInfo("shipper", False, "cursor writes that failed"),
    "mark_errors": CounterInfo(
        "shipper", False, "consumed-mark writes that failed (drop-oldest may then count "
        "records the shipper had as given up)"),
    "line_errors": CounterInfo("shipper", True, "journal lines that raised while processed"),
    "resumed_skipped": CounterInfo(
        "shipper", False, "events before the cursor re-read at start (already delivered)"),
    "crashes_at_cursor": CounterInfo(
        "shipper", False, "unclean exits in a row without the cursor moving"),
    "blocked_ms": CounterInfo("shipper", False, "time the shipper waited on full delivery queues"),
}

#: Counters whose growth means an audit event may be missing (health Severity 4).
LOSS_COUNTERS: tuple[str, ...] = tuple(name for name, info in COUNTERS.items() if info.loss)

#: Counters kept by the other processes of ``run`` that the shipper's health
#: messages carry too (a receiver watching only the Heka stream must see a
#: refused rule or a kernel loss), read from their status files in the status
#: directory: the supervisor's own file (not its merged one, which holds the
#: shipper's counters) and the reader's.
UPSTREAM_COUNTERS: tuple[str, ...] = tuple(
    name for name, info in COUNTERS.items() if info.source in ("supervisor", "reader", "kernel"))
SUPERVISOR_STATUS_NAME = "supervisor.status"
READER_STATUS_NAME = "reader.status"


def describe(name: str) -> str:
    """What a counter means (``malformed_records.REASON`` inherits its parent's)."""
    info = COUNTERS.get(name) or COUNTERS.get(name.partition(".")[0])
    return info.meaning if info is not None else ""


def losses(counters: Mapping[str, int]) -> dict[str, int]:
    """The loss counters among ``counters`` that are non-zero."""
    return {name: counters[name] for name in LOSS_COUNTERS if counters.get(name, 0)}

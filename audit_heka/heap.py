"""The process's garbage collector, set for a stream of short-lived objects.

Why: replay and the shipper turn each event into a few dozen small containers
(tuples, lists, entries) that reference counting frees at once; they form no
cycles. CPython still runs a generation-0 collection every 700 container
allocations, and each one walks every young container and, now and then, the
older generations with the interpreter's own start-up objects: ~9 % of the
per-event CPU on a real mixed log (bench/RESULTS.md, session 6). Freezing
what start-up made (modules, tables, the names maps: alive for the whole
process) keeps it out of every collection, and a threshold of 50,000 makes
collections rare while still bounding what a cycle could hold (gc collects
as before, only less often).
"""

from __future__ import annotations

import gc

#: Container allocations (net) between generation-0 collections; CPython's default is 700.
YOUNG_THRESHOLD = 50_000


def settle_for_streaming() -> None:
    """Call once start-up is done (modules imported, tables and names read)."""
    # No gc.collect() first: start-up leaves no cyclic garbage to speak of (0 objects
    # after replay's imports) and a collection would cost ~1.3 ms of start-up.
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)

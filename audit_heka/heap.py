"""The process's garbage collector, set for a stream of short-lived objects.

Why: replay and the shipper turn each event into a few dozen small containers
(tuples, lists, entries) that reference counting frees at once; they form no
cycles. CPython still runs a generation-0 collection every 700 container
allocations, each walking every young container, and promotes the long-lived
memo entries through the older generations on the way. At a threshold of
50,000 those collections are rare: 4-7 % less CPU per event on real mixed and
captured logs, ~1 % on exec logs (bench/RESULTS.md, session 6). Cycles are
still collected, only less often, so what one could hold stays bounded.

Measured and not done: gc.freeze() of what start-up made as well. With it the
45-event corpora cost 10 % more than with neither (the collector's heuristic
for full collections counts long-lived objects, and a freeze leaves none).
"""

from __future__ import annotations

import gc

#: Container allocations (net) between generation-0 collections; CPython's default is 700.
YOUNG_THRESHOLD = 50_000


def settle_for_streaming() -> None:
    """Call once, at the start of a process that streams events (replay, the shipper)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)

"""Reconnect delays: exponential backoff with full jitter.

A receiver that restarts is hit by every sender at once when it comes back;
jitter spreads them. Pure (the random source is injected) so the schedule
is testable without sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delay before the next attempt: ``uniform(base/2, min(cap, base * 2**n))``.

    The lower bound keeps a refused receiver from being hammered in a tight
    loop; ``reset`` after a success starts again from ``base``.
    """

    base: float = 0.1
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.attempts, 32)))
        self.attempts += 1
        return self.rng.uniform(min(self.base / 2, ceiling), ceiling)

    def reset(self) -> None:
        self.attempts = 0

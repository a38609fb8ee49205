"""Reddit's per-client request budget: fixed windows aligned to server start."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    used: int
    remaining: float
    reset: int  # whole seconds until the current window ends

    def headers(self) -> dict[str, str]:
        # asyncprawcore parses used/reset with int() and remaining with float().
        return {
            "X-Ratelimit-Used": str(self.used),
            "X-Ratelimit-Remaining": f"{self.remaining:.1f}",
            "X-Ratelimit-Reset": str(self.reset),
        }


class FixedWindowLimiter:
    """Counts requests per client id in fixed windows; the budget is per client, not per token."""

    def __init__(self, budget: int, window_seconds: float, clock=time.monotonic) -> None:
        self.budget = budget
        self.window = window_seconds
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}  # client -> (window index, used)

    def hit(self, client_id: str) -> Verdict:
        """Charge one request to ``client_id``; refused requests are not charged."""
        with self._lock:
            elapsed = self._clock() - self._start
            index = int(elapsed // self.window)
            window, used = self._counts.get(client_id, (index, 0))
            if window != index:
                used = 0
            allowed = used < self.budget
            if allowed:
                used += 1
            self._counts[client_id] = (index, used)
            # Round up so a client sleeping for `reset` seconds lands in the next window.
            reset = max(0, math.ceil((index + 1) * self.window - elapsed))
            return Verdict(allowed, used, float(max(0, self.budget - used)), reset)

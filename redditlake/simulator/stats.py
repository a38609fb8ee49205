"""Request counters, readable from tests and from other processes via /_sim/stats."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Counters of API requests (the /_sim control plane is not counted).

    ``by_status`` uses 0 for requests answered by dropping the connection (reset faults).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # In-flight gauges survive reset(): requests running during a reset still finish.
        self.in_flight = 0
        self._morechildren_in_flight: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.by_family: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.by_client: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.rate_limited = 0
            self.peak_concurrency = self.in_flight
            self.morechildren_concurrent_max = 0

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self.in_flight)

    def finished(self, family: str, status: int, client: str | None) -> None:
        with self._lock:
            self.in_flight -= 1
            self.requests += 1
            self.by_family[family] += 1
            self.by_status[status] += 1
            if client:
                self.by_client[client] += 1
            if status == 429:
                self.rate_limited += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def morechildren_enter(self, client: str) -> None:
        with self._lock:
            self._morechildren_in_flight[client] += 1
            self.morechildren_concurrent_max = max(
                self.morechildren_concurrent_max, self._morechildren_in_flight[client]
            )

    def morechildren_exit(self, client: str) -> None:
        with self._lock:
            self._morechildren_in_flight[client] -= 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "by_family": dict(self.by_family),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "by_client": dict(self.by_client),
                "faults": dict(self.faults),
                "rate_limited": self.rate_limited,
                "peak_concurrency": self.peak_concurrency,
                "in_flight": self.in_flight,
                "morechildren_concurrent_max": self.morechildren_concurrent_max,
            }

"""A circuit breaker per API host.

After ``failure_threshold`` consecutive transient failures the breaker opens:
callers wait out ``cooldown_seconds`` instead of hammering a dead API, then one
probe goes through (half-open). A success closes it; a failure opens it again
for another cool-down. The state is logged on every change. When the host has
been down for longer than ``max_outage_seconds``, waiting callers fail with
``ApiUnavailable`` instead of waiting for ever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import Enum

from redditlake import alerts
from redditlake.errors import ApiUnavailable
from redditlake.reddit.requestlog import current_subreddit

log = logging.getLogger("redditlake.breaker")


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        host: str,
        *,
        failure_threshold: int = 5,
        cooldown_seconds: float = 15.0,
        max_outage_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.host = host
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self.max_outage_seconds = max_outage_seconds
        self._down_since: float | None = None
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.opened_count = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    async def before_call(self) -> None:
        """Wait until a call may go to the host."""
        while True:
            if self.state is BreakerState.CLOSED:
                return
            now = self._clock()
            if self._down_since is not None and now - self._down_since > self.max_outage_seconds:
                raise ApiUnavailable(
                    f"{self.host} has been failing for {now - self._down_since:.0f}s (circuit breaker open); "
                    "rerun when it is back: nothing collected so far is lost"
                )
            if self.state is BreakerState.OPEN:
                left = self._opened_at + self.cooldown_seconds - now
                if left > 0:
                    await asyncio.sleep(left)
                    continue
                self._set(BreakerState.HALF_OPEN)
            if not self._probe_in_flight:
                self._probe_in_flight = True
                return
            await asyncio.sleep(min(1.0, self.cooldown_seconds / 4))

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self._down_since = None
        self._probe_in_flight = False
        if self.state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        self._probe_in_flight = False
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and self.consecutive_failures >= self.failure_threshold
        ):
            self._opened_at = self._clock()
            if self._down_since is None:
                self._down_since = self._opened_at
            self.opened_count += 1
            self._set(BreakerState.OPEN)
            alerts.breaker_opened(self.host, self.consecutive_failures, current_subreddit())

    def _set(self, state: BreakerState) -> None:
        self.state = state
        level = logging.WARNING if state is BreakerState.OPEN else logging.INFO
        log.log(
            level,
            "circuit breaker for %s is %s after %d consecutive failures%s",
            self.host,
            state.value,
            self.consecutive_failures,
            f"; next probe in {self.cooldown_seconds:.0f}s" if state is BreakerState.OPEN else "",
        )

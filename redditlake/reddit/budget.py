"""The request budget: one gate every Reddit API request passes.

Why not asyncprawcore's limiter: it is per process, has no lock (concurrent
requests all go at once) and lets a 429 through. Why not only a Prefect rate
limit: its slot decay undershoots (~75 % of the configured rate here) and it
only sees processes on the same Prefect API.

Design. Reddit's ``X-Ratelimit-Remaining`` / ``-Reset`` headers count the whole
client id, so every process sharing the id sees the *shared* budget on every
response. The gate paces on them:

* It never lets ``remaining - safety_margin - in_flight`` drop below one: the
  margin absorbs requests that other processes have in flight.
* Within that, it is a token bucket of ``burst`` tokens refilled at
  ``available / seconds_to_reset``: a short job goes at once, a long one spends
  the window's remainder evenly and arrives at the reset with (almost) nothing
  left. With P processes each pacing on the shared ``remaining``, the remainder
  decays like ``(1 - t/T)**P``: they front-load a little but still end each
  window having spent it, and never overrun it.
* Until the first response of a window tells us the state (a new process, or a
  window that has rolled over), only one probe request is in flight. Resets
  come in whole seconds, so the end of a window is known to within a second:
  the probe goes at the earliest end, paid from the margin.
* The configured ``requests_per_window / window_seconds`` is only an assumption:
  it paces an API whose responses carry no rate-limit headers. Once headers have
  been seen, they alone say what the window holds, however much that is.
* ``max_rate`` (requests per second, off by default) is an explicit cap below
  whatever the headers grant, for users who leave room for other apps.
* Waiters are served by priority, then arrival: a scheduled sweep of ``new``
  goes before a deep comment backfill when the budget is tight.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum


class Priority(IntEnum):
    """Lower goes first."""

    URGENT = 0  # listings of a scheduled sweep
    NORMAL = 10
    BACKFILL = 20  # comment-tree expansion, refreshes


_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar("redditlake_priority", default=Priority.NORMAL)


@contextmanager
def request_priority(priority: Priority) -> Iterator[None]:
    """Requests made inside this block (and tasks it starts) wait with ``priority``."""
    token = _priority.set(priority)
    try:
        yield
    finally:
        _priority.reset(token)


def current_priority() -> Priority:
    return _priority.get()


@dataclass
class BudgetSnapshot:
    remaining: float | None
    used: int | None
    seconds_to_reset: float | None
    in_flight: int
    waiting: int


class Activity:
    """Where a process's wall time went, as seen by the budget: some request in flight
    (the API), none in flight but some waiting (the budget's pacing), or neither (the
    caller's own work: orchestration, parsing, writing). The three add up to wall time."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.started = self._last = clock()
        self.api = self.budget = self.other = 0.0

    def note(self, in_flight: int, waiting: int) -> None:
        """Charge the time since the last change to the state that held until now."""
        now = self._clock()
        elapsed, self._last = now - self._last, now
        if in_flight:
            self.api += elapsed
        elif waiting:
            self.budget += elapsed
        else:
            self.other += elapsed

    def seconds(self, in_flight: int = 0, waiting: int = 0) -> dict[str, float]:
        self.note(in_flight, waiting)
        return {"wall": self._last - self.started, "api": self.api, "budget": self.budget, "other": self.other}


class RequestBudget:
    def __init__(
        self,
        *,
        requests_per_window: float = 100,
        window_seconds: float = 60,
        burst: int = 10,
        safety_margin: int = 3,
        max_in_flight: int = 4,
        max_rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.requests_per_window = requests_per_window
        self.window_seconds = window_seconds
        self.burst = burst
        self.safety_margin = safety_margin
        self.max_in_flight = max_in_flight
        self.max_rate = max_rate
        self._clock = clock
        self._headerless = False  # a response came back without rate-limit headers
        self.activity = Activity(clock)
        self._remaining: float | None = None
        self._used: int | None = None
        self._reset_at: float | None = None
        self._pace_until = 0.0
        self._in_flight = 0
        self._tokens = float(burst)
        self._refilled_at = clock()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._wakeup: asyncio.TimerHandle | None = None

    # -- state from the server ------------------------------------------------
    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the shared budget's state from a response's rate-limit headers."""
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            if self._reset_at is None:
                self._headerless = True
            return
        self._headerless = False
        self._refill()
        now = self._clock()
        self._remaining = remaining
        used = headers.get("x-ratelimit-used")
        self._used = int(float(used)) if used is not None else None
        # Whole seconds, rounded one way or the other: the window ends within a second of
        # `reset`. Spend as if it ends at the earliest, trust `remaining` until the latest.
        self._pace_until = now + max(reset - 1, 0)
        self._reset_at = now + reset + 1

    def snapshot(self) -> BudgetSnapshot:
        now = self._clock()
        return BudgetSnapshot(
            remaining=self._remaining,
            used=self._used,
            seconds_to_reset=None if self._reset_at is None else max(0.0, self._reset_at - now),
            in_flight=self._in_flight,
            waiting=len(self._waiters),
        )

    def activity_seconds(self) -> dict[str, float]:
        """Wall time since the budget was made: API busy, waiting on the budget, neither."""
        return self.activity.seconds(self._in_flight, len(self._waiters))

    # -- the gate -------------------------------------------------------------
    async def acquire(self, priority: Priority | None = None) -> None:
        prio = int(current_priority() if priority is None else priority)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self.activity.note(self._in_flight, len(self._waiters))
        heapq.heappush(self._waiters, (prio, next(self._seq), fut))
        self._dispatch()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # granted and cancelled in the same tick
            else:
                self.activity.note(self._in_flight, len(self._waiters))
                self._waiters = [w for w in self._waiters if w[2] is not fut]
                heapq.heapify(self._waiters)
            raise

    def release(self, headers: Mapping[str, str] | None = None) -> None:
        self.activity.note(self._in_flight, len(self._waiters))
        self._in_flight -= 1
        if headers is not None:
            self.observe(headers)
        self._dispatch()

    def _known(self, now: float) -> bool:
        """Do the last headers still describe the current window?"""
        if self._reset_at is None or now >= self._reset_at:
            return False
        # Resets come in whole seconds: the window ends between `_pace_until` and `_reset_at`.
        # Past the first, with exactly the margin left, one probe finds out instead of idling up
        # to a second of the new window. It is paid from the margin; once the margin is touched
        # (the window had not rolled over, or another process probed too) we wait for `_reset_at`.
        return not (now >= self._pace_until and self._margin_intact())

    def _margin_intact(self) -> bool:
        """Exactly the safety margin is left: nobody has spent from it yet."""
        return max(self.safety_margin, 1) <= self._remaining < self.safety_margin + 1

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._refilled_at
        self._refilled_at = now
        if self._known(now):
            available = self._remaining - self.safety_margin - self._in_flight
            rate = self._capped(max(available, 0.0) / max(self._pace_until - now, 0.05))
        else:
            rate = self._assumed_rate()
        self._tokens = min(float(self.burst), self._tokens + elapsed * rate)

    def _capped(self, rate: float) -> float:
        return rate if self.max_rate is None else min(rate, self.max_rate)

    def _assumed_rate(self) -> float:
        return self._capped(self.requests_per_window / self.window_seconds)

    def _paced_by_assumption(self) -> bool:
        """No header has ever told us the budget: the configured rate is all we have."""
        return self._headerless or (self.max_rate is not None and self._reset_at is None)

    def _wait_needed(self) -> float:
        """Seconds until the next request may go; 0 means now."""
        now = self._clock()
        if self._in_flight >= self.max_in_flight:
            return float("inf")  # a release will dispatch
        if self._paced_by_assumption() and not self._known(now):
            if self._reset_at is None and not self._headerless and self._in_flight:
                return float("inf")  # the first probe is still out
            self._refill()
            return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._assumed_rate()
        if not self._known(now):
            # New process or rolled-over window: probe with one request.
            return 0.0 if self._in_flight == 0 else float("inf")
        available = self._remaining - self.safety_margin - self._in_flight
        if available < 1:
            if self._in_flight:
                return float("inf")
            until = self._pace_until if self._margin_intact() else self._reset_at
            return max(until - now, 0.0) + 0.05
        self._refill()
        if self._tokens >= 1:
            return 0.0
        rate = self._capped(available / max(self._pace_until - now, 0.05))
        return (1 - self._tokens) / rate

    def _dispatch(self) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        while self._waiters:
            prio, seq, fut = self._waiters[0]
            if fut.done():
                heapq.heappop(self._waiters)
                continue
            wait = self._wait_needed()
            if wait > 0:
                if wait != float("inf"):
                    loop = fut.get_loop()
                    self._wakeup = loop.call_later(wait, self._dispatch)
                return
            self.activity.note(self._in_flight, len(self._waiters))
            heapq.heappop(self._waiters)
            self._in_flight += 1
            if self._known(self._clock()) or self._paced_by_assumption():
                self._tokens -= 1
            fut.set_result(None)

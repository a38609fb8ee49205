"""The request budget: paces on the shared rate-limit headers, never overruns them."""

from __future__ import annotations

import asyncio
import time

import pytest

from redditlake.reddit.budget import Priority, RequestBudget


class FixedWindowServer:
    """Counts requests per fixed window like Reddit and answers with its headers."""

    def __init__(self, per_window: int, window: float):
        self.per_window, self.window = per_window, window
        self.start = time.monotonic()
        self.counts: dict[int, int] = {}
        self.rejected = 0

    def hit(self) -> dict[str, str]:
        now = time.monotonic() - self.start
        w = int(now // self.window)
        used = self.counts.get(w, 0) + 1
        self.counts[w] = used
        if used > self.per_window:
            self.rejected += 1
        reset = self.window - (now % self.window)
        return {
            "x-ratelimit-used": str(used),
            "x-ratelimit-remaining": f"{max(self.per_window - used, 0)}.0",
            "x-ratelimit-reset": str(int(reset)),
        }


async def _client(budget: RequestBudget, server: FixedWindowServer, n: int, latency: float = 0.005) -> None:
    for _ in range(n):
        await budget.acquire()
        await asyncio.sleep(latency)
        budget.release(server.hit())


def test_one_process_spends_a_window_without_overrunning_it():
    async def main():
        server = FixedWindowServer(per_window=40, window=3.0)
        budget = RequestBudget(requests_per_window=40, window_seconds=3.0, burst=5, safety_margin=2, max_in_flight=4)
        await asyncio.gather(*(_client(budget, server, 25) for _ in range(4)))  # 100 requests: > 2 windows
        return server

    server = asyncio.run(main())
    assert server.rejected == 0
    # The budget is not left idle: every full window is well used (a sanity bound that holds on a
    # loaded machine; the utilisation itself is measured in benchmarks/utilisation.py).
    full = [c for w, c in sorted(server.counts.items())][:-1]
    assert full and all(c >= (40 - 2 - 4) // 2 for c in full), server.counts


def test_budgets_of_separate_processes_share_the_headers_and_stay_inside():
    """Two budgets (two processes) with one client id: the headers count both."""

    async def main():
        server = FixedWindowServer(per_window=30, window=3.0)
        budgets = [RequestBudget(requests_per_window=30, window_seconds=3.0, burst=5, safety_margin=4) for _ in range(2)]
        await asyncio.gather(*(_client(b, server, 20) for b in budgets for _ in range(2)))
        return server

    server = asyncio.run(main())
    assert server.rejected == 0, server.counts


def test_waiters_are_served_by_priority_when_the_budget_is_tight():
    async def main():
        budget = RequestBudget(requests_per_window=100, window_seconds=60, burst=1, max_in_flight=1)
        order: list[str] = []
        await budget.acquire()  # the probe holds the only slot

        async def req(name: str, prio: Priority):
            await budget.acquire(prio)
            order.append(name)
            budget.release({"x-ratelimit-remaining": "90", "x-ratelimit-used": "10", "x-ratelimit-reset": "50"})

        tasks = [asyncio.create_task(req("backfill", Priority.BACKFILL)), asyncio.create_task(req("sweep", Priority.URGENT))]
        await asyncio.sleep(0.01)
        budget.release({"x-ratelimit-remaining": "90", "x-ratelimit-used": "10", "x-ratelimit-reset": "50"})
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(main()) == ["sweep", "backfill"]


def test_only_one_probe_goes_before_the_first_headers_arrive():
    async def main():
        budget = RequestBudget(max_in_flight=8)
        granted = 0

        async def req():
            nonlocal granted
            await budget.acquire()
            granted += 1

        tasks = [asyncio.create_task(req()) for _ in range(5)]
        await asyncio.sleep(0.05)
        first = granted
        budget.release({"x-ratelimit-remaining": "95", "x-ratelimit-used": "5", "x-ratelimit-reset": "50"})
        await asyncio.sleep(0.05)
        for t in tasks:
            t.cancel()
        return first, granted

    first, after = asyncio.run(main())
    assert first == 1
    assert after == 5


@pytest.mark.parametrize(
    "remaining, reset, at_least",
    [
        # Only the margin left: one probe at the earliest the window can end (reset - 1 s).
        ("3.0", "2", 0.9),
        # Nothing left: wait until the window has surely rolled over (reset + 1 s).
        ("0.0", "1", 1.9),
    ],
)
def test_an_exhausted_window_waits_for_its_end(remaining, reset, at_least):
    async def main():
        budget = RequestBudget(safety_margin=3, max_in_flight=4)
        await budget.acquire()
        budget.release({"x-ratelimit-remaining": remaining, "x-ratelimit-used": "97", "x-ratelimit-reset": reset})
        t0 = time.monotonic()
        await budget.acquire()
        return time.monotonic() - t0

    assert asyncio.run(main()) >= at_least


async def _demand(budget: RequestBudget, answer, n: int, workers: int = 4, latency: float = 0.002) -> None:
    async def one(k: int) -> None:
        for _ in range(k):
            await budget.acquire()
            await asyncio.sleep(latency)
            budget.release(answer())

    await asyncio.gather(*(one(n // workers) for _ in range(workers)))


def test_defaults_use_what_the_headers_grant_not_the_configured_rate():
    """Configured for 100 a minute (the defaults), the API grants 40 a second: the headers win."""

    async def main():
        server = FixedWindowServer(per_window=40, window=1.0)
        budget = RequestBudget()  # defaults: 100 per 60 s assumed
        await _demand(budget, server.hit, 120)
        return server

    server = asyncio.run(main())
    assert server.rejected == 0, server.counts
    full = [c for w, c in sorted(server.counts.items())][1:-1]  # whole windows after the first
    assert full and all(c >= 40 - 3 - 4 for c in full), server.counts


def test_an_explicit_cap_holds_below_what_the_headers_grant():
    async def main():
        server = FixedWindowServer(per_window=1000, window=10.0)
        budget = RequestBudget(burst=2, max_rate=20.0)
        started = time.monotonic()
        await _demand(budget, server.hit, 40)
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    # 40 requests at most 20 a second after a burst of 2 (plus the first probe): not faster.
    assert 40 <= 3 + 20 * elapsed


def test_without_rate_limit_headers_the_configured_rate_paces():
    async def main():
        budget = RequestBudget(requests_per_window=30, window_seconds=1, burst=2)
        started = time.monotonic()
        await _demand(budget, lambda: {"content-type": "application/json"}, 40)
        return time.monotonic() - started, budget.activity_seconds()

    elapsed, seconds = asyncio.run(main())
    assert 40 <= 3 + 30 * elapsed  # never faster than assumed
    # The accounting adds up to the wall time, and the waits are charged to the budget.
    assert abs(seconds["api"] + seconds["budget"] + seconds["other"] - seconds["wall"]) < 1e-6
    assert seconds["budget"] > seconds["api"]

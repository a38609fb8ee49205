"""The Prefect side of the request budget: one collection of a subreddit at a time.

Requests are paced by ``RequestBudget`` alone (``redditlake/reddit/budget.py``), on
the ``X-Ratelimit-*`` headers every process sharing a client id sees. An earlier
Prefect global rate limit per client id, on every request, was removed: it was set
from the configured ``requests_per_minute`` (x2 headroom), so an API granting
300 per 10 s was used at ~11 %; derived from the headers instead, Prefect's slot
decay undershoots (~75 % of its rate here), so it would bind below the grant unless
set well above it, where it never binds and only costs (measured per request in
``benchmarks/prefect_guard.py``, see benchmarks/README.md). A bound on requests in
flight through Prefect costs two API round trips per request and guards nothing
Reddit limits (only morechildren must be sequential, which the client serialises).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, PrefectHTTPStatusError

from redditlake.config import Settings


async def _upsert(name: str, limit: int, slot_decay_per_second: float | None = None) -> None:
    """Create or update a limit. Prefect's upsert is read-then-create: two processes starting
    at once can both try to create (409); the loser's second try takes the update path."""
    async with get_client() as client:
        for attempt in range(2):
            try:
                await client.upsert_global_concurrency_limit_by_name(name, limit, slot_decay_per_second)
                return
            except (ObjectAlreadyExists, PrefectHTTPStatusError) as exc:
                if attempt or (isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code != 409):
                    raise


@asynccontextmanager
async def subreddit_slot(settings: Settings, subreddit: str) -> AsyncIterator[None]:
    """One collection of a subreddit at a time, across processes on the same Prefect API.

    The lake's write path is safe without it (dedup under a lock); this keeps two
    runs from spending the budget twice on the same subreddit.
    """
    if not settings.budget.prefect_limit:
        yield
        return
    name = f"collect-r-{subreddit.lower()}"
    await _upsert(name, 1)
    # A lease, not a lock: a run killed with its worker (OOM, spot reclaim, SIGKILL) stops
    # renewing it, and the server frees the slot slot_lease_seconds later (Prefect's default,
    # 300 s, held the subreddit's next run back five minutes).
    async with concurrency(name, occupy=1, strict=True, lease_duration=settings.budget.slot_lease_seconds):
        yield

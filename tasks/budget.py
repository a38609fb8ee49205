"""The Prefect side of the request budget: global concurrency limits.

One limit per client id, created idempotently on first use (a limit that does
not exist is otherwise silently skipped) and used with ``strict=True``:

``reddit-rate-<client>``: a rate limit (slot decay) set ``prefect_rate_headroom``
  times above ``requests_per_minute``. Every Reddit request spends one of its
  slots. Prefect's slot decay undershoots its configured rate (about 75 %
  measured here), so it cannot be the pacer that reaches high utilisation: it
  is the ceiling that holds even for a process that sees no rate-limit
  headers. The precise pacing is ``RequestBudget``'s, on the headers every
  process sees. Slots are taken from Prefect ``chunk`` at a time, ahead of
  need, and spent locally: one API round trip per request cost ~0.4 s here
  (measured: 47 requests took 20.7 s gated one by one, 2.0 s ungated).
Requests in flight are bounded per process by ``RequestBudget.max_in_flight``.
A Prefect ``concurrency()`` slot per fetch task was tried as a global bound and
dropped: acquiring one took ~2 s inside task runs on the SQLite-backed server
(0.1 s outside), which cost more than the bound was worth.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency, rate_limit
from prefect.exceptions import ObjectAlreadyExists, PrefectHTTPStatusError

from redditlake.config import Settings
from redditlake.reddit.transport import GateFactory


def limit_name(settings: Settings) -> str:
    client = re.sub(r"[^A-Za-z0-9_-]", "-", settings.reddit.client_id or "anonymous")
    return f"reddit-rate-{client}"


def _chunk(settings: Settings) -> int:
    return max(1, min(settings.budget.burst, 10))


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


async def ensure_limit(settings: Settings) -> str:
    b = settings.budget
    name = limit_name(settings)
    await _upsert(name, 3 * _chunk(settings), b.requests_per_minute / 60 * b.prefect_rate_headroom)
    return name


class RateReservoir:
    """Slots of the Prefect rate limit, taken ``chunk`` at a time and spent locally.

    The next chunk is requested in the background when half of the current one
    is spent, so a request waits on Prefect only when the ceiling really binds,
    not for the API round trip.
    """

    def __init__(self, name: str, chunk: int):
        self.name, self.chunk = name, chunk
        self.slots = 0
        self._refill: asyncio.Task | None = None

    async def _acquire(self) -> None:
        await rate_limit(self.name, occupy=self.chunk, strict=True)
        self.slots += self.chunk

    def _start_refill(self) -> asyncio.Task:
        if self._refill is None or self._refill.done():
            self._refill = asyncio.ensure_future(self._acquire())
        return self._refill

    async def take(self) -> None:
        while self.slots == 0:
            await asyncio.shield(self._start_refill())
        self.slots -= 1
        if self.slots <= self.chunk // 2:
            self._start_refill()


async def prefect_request_gate(settings: Settings) -> GateFactory | None:
    """A gate for ``Transport``: each Reddit request spends one slot of the Prefect rate limit."""
    if not settings.budget.prefect_limit:
        return None
    reservoir = RateReservoir(await ensure_limit(settings), _chunk(settings))

    @asynccontextmanager
    async def gate() -> AsyncIterator[None]:
        await reservoir.take()
        yield

    return gate


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
    async with concurrency(name, occupy=1, strict=True):
        yield

"""`redditlake health`: is the API reachable and well, the lake readable, Prefect up?

The API's recent health comes from the lake's ``api_requests`` table (every
request of every run, whichever worker made it), so a serverless deployment
can be checked from anywhere that reads the lake.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from redditlake.config import Settings
from redditlake.errors import RedditLakeError
from redditlake.lake import Lake
from redditlake.reddit.client import RedditClient

MIN_SUCCESS_RATE = 0.9


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class HealthReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        return [f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]


def check_lake(lake: Lake) -> Check:
    try:
        tables = lake.tables()
    except Exception as exc:  # any storage failure means the same to the user
        return Check("lake", False, f"{lake.uri} cannot be read: {type(exc).__name__}: {exc}")
    return Check("lake", True, f"{lake.uri} ({', '.join(tables) or 'empty'})")


def recent_requests(lake: Lake, minutes: float) -> pa.Table | None:
    """The request log's rows of the last ``minutes``, every worker's, or None if there are none.
    Only the partitions of those days are listed and read, so the cost follows the window,
    not the age of the lake."""
    if "api_requests" not in lake.tables():
        return None
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    parts = []
    for sub in lake.subreddits("api_requests"):
        days = [d for d in lake.days("api_requests", sub) if d >= since.date()]
        if days:
            rows = lake.read_days("api_requests", sub, days)
            if not rows.num_rows:  # the day's files went between the listing and the read (compaction)
                continue
            parts.append(rows.filter(pc.greater_equal(rows.column("ts"), pa.scalar(since, rows.schema.field("ts").type))))
    parts = [p for p in parts if p.num_rows]
    return pa.concat_tables(parts, promote_options="permissive") if parts else None


def query_requests(requests: pa.Table, sql: str) -> list[tuple]:
    """``sql`` over ``requests`` (as ``api_requests``) on a connection that opens no file."""
    con = duckdb.connect()
    try:
        con.register("api_requests", requests)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_request_history(lake: Lake, minutes: float) -> Check:
    requests = recent_requests(lake, minutes)
    if requests is None:
        return Check("api history", True, f"no requests in the last {minutes:g} min")
    [row] = query_requests(
        requests,
        """
        SELECT count(*),
               avg(CASE WHEN error_class IS NULL AND status < 400 THEN 1 ELSE 0 END),
               quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95),
               count(*) FILTER (WHERE status = 429),
               count(*) FILTER (WHERE attempt > 1),
               arg_max(breaker, ts), min(ratelimit_remaining)
        FROM api_requests
        """,
    )
    n, success, p50, p95, n429, retries, breaker, min_remaining = row
    ok = success >= MIN_SUCCESS_RATE and breaker != "open"
    return Check(
        "api history",
        ok,
        f"last {minutes:g} min: {n} requests, {success:.1%} succeeded, latency p50 {p50:.0f} ms p95 {p95:.0f} ms, "
        f"{n429} × 429, {retries} retries, breaker {breaker}, lowest remaining {min_remaining}",
    )


async def check_reddit(settings: Settings) -> Check:
    # A health check answers within seconds: two tries, short timeouts, no long backoff.
    http = settings.http.model_copy(
        update={"max_attempts": 2, "backoff_base": 0.5, "backoff_max": 1.0, "connect_timeout": 5.0, "read_timeout": 10.0}
    )
    settings = settings.model_copy(update={"http": http})
    started = time.perf_counter()
    try:
        async with RedditClient(settings) as client:
            await client.get("/api/info", {"id": "t5_2qh1i"})  # one cheap authenticated request
            budget = client.transport.budget.snapshot()
    except RedditLakeError as exc:
        return Check("reddit api", False, f"{settings.reddit.oauth_url}: {exc}")
    ms = (time.perf_counter() - started) * 1000
    return Check(
        "reddit api",
        True,
        f"{settings.reddit.oauth_url} answered in {ms:.0f} ms; budget remaining {budget.remaining}, "
        f"reset in {budget.seconds_to_reset:.0f}s" if budget.seconds_to_reset is not None else f"answered in {ms:.0f} ms",
    )


async def check_prefect() -> Check:
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return Check("prefect api", True, "PREFECT_API_URL not set: flows run on an ephemeral server")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
            async with s.get(url.rstrip("/") + "/health") as r:
                ok = r.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return Check("prefect api", False, f"{url} unreachable ({type(exc).__name__})")
    return Check("prefect api", ok, f"{url} {'healthy' if ok else 'unhealthy'}")


async def health(settings: Settings, minutes: float = 60) -> HealthReport:
    lake = Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    report = HealthReport()
    report.checks.append(await check_reddit(settings))
    lake_check = await asyncio.to_thread(check_lake, lake)
    report.checks.append(lake_check)
    if lake_check.ok:
        report.checks.append(await asyncio.to_thread(check_request_history, lake, minutes))
    report.checks.append(await check_prefect())
    return report

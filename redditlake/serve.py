"""`redditlake serve`: ``/healthz`` and ``/metrics`` over HTTP, for load balancers and Prometheus.

Everything comes from what every worker leaves behind: the lake's
``api_requests`` (all workers' requests), the lake's tables (items
collected) and the Prefect API's flow runs (by state, and late ones). A
serverless fleet needs no sidecar: one ``serve`` anywhere that reads the lake
and reaches the Prefect API sees all of it.

A probe costs next to nothing, whatever the lake's size and however often it
comes: ``/healthz`` answers from the last deep check (``redditlake.health``:
one Reddit request, a lake listing, the last hour's request log, the Prefect
API), which runs in the background once a minute, never per probe, and writes
nothing. ``/metrics`` reads only the request log's partitions of the window;
the figures that scan the whole lake (items stored, quality scores) are
recomputed at most every few minutes. ``serve`` only reads the lake.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import aiohttp
import duckdb
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from redditlake.config import Settings
from redditlake.health import Check, HealthReport, health, query_requests, recent_requests
from redditlake.lake import Lake

RUN_STATES = ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED", "CANCELLED")
ITEM_TABLES = ("posts", "comments", "subreddits", "users")
DEEP_CHECK_SECONDS = 60.0
LAKE_FIGURES_SECONDS = 300.0
T = TypeVar("T")


def request_stats(lake: Lake, minutes: float) -> dict:
    """The request log's last ``minutes``, summed over every worker."""
    requests = recent_requests(lake, minutes)
    if requests is None:
        return {}
    [(n, ok, p50, p95, p99, n429, breaker, remaining)] = query_requests(
        requests,
        """
        SELECT count(*), count(*) FILTER (WHERE error_class IS NULL AND status < 400),
               quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95), quantile_cont(latency_ms, 0.99),
               count(*) FILTER (WHERE status = 429), arg_max(breaker, ts), arg_max(ratelimit_remaining, ts)
        FROM api_requests
        """,
    )
    errors = query_requests(
        requests,
        """
        SELECT coalesce(error_class, 'http_' || status::VARCHAR), count(*) FROM api_requests
        WHERE error_class IS NOT NULL OR status >= 400 GROUP BY 1
        """,
    )
    return {
        "requests": n, "ok": ok, "p50": p50, "p95": p95, "p99": p99, "rate_limited": n429,
        "breaker": breaker, "remaining": remaining, "errors": dict(errors),
    }


def item_counts(lake: Lake) -> list[tuple[str, str, int]]:
    tables = [t for t in ITEM_TABLES if t in lake.tables()]
    if not tables:
        return []
    con = lake.duckdb()
    try:
        sql = " UNION ALL ".join(f"SELECT '{t}', subreddit, count(*) FROM {t} GROUP BY ALL" for t in tables)
        return [(t, s, int(c)) for t, s, c in con.execute(sql).fetchall()]
    finally:
        con.close()


def quality_scores(lake: Lake) -> list[tuple[str, str, float]]:
    """The latest validation score per subreddit and table, from the lake's quality results
    (every worker's runs write them there)."""
    from redditlake.quality import results

    runs = results.read(lake, "validation_runs")
    if not runs.num_rows:
        return []
    con = duckdb.connect()
    try:
        con.register("validation_runs", runs)
        rows = con.execute(
            """SELECT subreddit, table_name, score FROM validation_runs WHERE score IS NOT NULL
               QUALIFY row_number() OVER (PARTITION BY subreddit, table_name ORDER BY validated_at DESC) = 1
               ORDER BY 1, 2"""
        ).fetchall()
    finally:
        con.close()
    return [(sub, table, float(score)) for sub, table, score in rows]


async def prefect_run_counts(api_url: str, minutes: float) -> dict[str, int]:
    """Flow runs expected to start in the window, by state type, and runs Late now. Plain
    REST, so this module needs no Prefect import."""
    since = (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()
    out: dict[str, int] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        async def count(body: dict) -> int:
            async with s.post(api_url.rstrip("/") + "/flow_runs/count", json=body) as r:
                r.raise_for_status()
                return int(await r.json())

        for state in RUN_STATES:
            out[state.lower()] = await count(
                {"flow_runs": {"state": {"type": {"any_": [state]}}, "expected_start_time": {"after_": since}}}
            )
        out["late"] = await count({"flow_runs": {"state": {"name": {"any_": ["Late"]}}}})
    return out


@dataclass
class LakeFigures:
    """What ``/metrics`` reads from the lake: the window's request stats and the whole-lake figures."""

    stats: dict
    items: list[tuple[str, str, int]]
    scores: list[tuple[str, str, float]]


class Every(Generic[T]):
    """A value recomputed (in a thread) when asked and at least ``seconds`` old; one computation at a time."""

    def __init__(self, compute: Callable[[], T], seconds: float) -> None:
        self.compute, self.seconds = compute, seconds
        self.value: T | None = None
        self.at: float | None = None
        self.lock = asyncio.Lock()

    async def get(self) -> T:
        async with self.lock:
            if self.at is None or time.monotonic() - self.at >= self.seconds:
                self.value = await asyncio.to_thread(self.compute)
                self.at = time.monotonic()
            return self.value  # type: ignore[return-value]


class DeepCheck:
    """``redditlake.health`` run in the background every ``seconds``; probes read its last report."""

    def __init__(self, settings: Settings, minutes: float, seconds: float) -> None:
        self.settings, self.minutes, self.seconds = settings, minutes, seconds
        self.report: HealthReport | None = None
        self.checked_at: datetime | None = None
        self.done = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                self.report = await health(self.settings, self.minutes)
            except Exception as exc:  # a check that breaks is an unhealthy answer, not a dead loop
                self.report = HealthReport([Check("deep check", False, f"{type(exc).__name__}: {exc}")])
            self.checked_at = datetime.now(UTC)
            self.done.set()
            await asyncio.sleep(self.seconds)

    async def answer(self) -> tuple[int, dict]:
        await self.done.wait()
        assert self.report is not None and self.checked_at is not None
        age = (datetime.now(UTC) - self.checked_at).total_seconds()
        checks = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.report.checks]
        fresh = age <= 3 * self.seconds + 30  # a deep check that hangs must not leave an old "ok" standing
        if not fresh:
            checks.append({"name": "health state", "ok": False, "detail": f"last deep check {age:.0f} s ago"})
        ok = self.report.ok and fresh
        body = {"ok": ok, "checked_at": self.checked_at.isoformat(), "age_seconds": round(age, 1), "checks": checks}
        return (200 if ok else 503), body


class LakeCollector:
    """prometheus-client collector over figures read before the scrape."""

    def __init__(self, figures: LakeFigures, minutes: float, runs: dict[str, int] | None = None) -> None:
        self.figures, self.minutes, self.runs = figures, minutes, runs

    def collect(self) -> Iterator[GaugeMetricFamily]:
        window = f" over the last {self.minutes:g} minutes"
        stats = self.figures.stats
        n = stats.get("requests") or 0
        yield _gauge("redditlake_api_requests_per_minute", "Reddit API requests per minute" + window, n / self.minutes)
        yield _gauge("redditlake_api_requests", "Reddit API requests" + window, n)
        yield _gauge("redditlake_api_success_ratio", "share of requests that succeeded" + window,
                     (stats["ok"] / n) if n else 1.0)
        latency = GaugeMetricFamily("redditlake_api_latency_ms", "request latency percentiles" + window,
                                    labels=["quantile"])
        for q in ("0.5", "0.95", "0.99"):
            value = stats.get({"0.5": "p50", "0.95": "p95", "0.99": "p99"}[q])
            latency.add_metric([q], float(value) if value is not None else float("nan"))
        yield latency
        yield _gauge("redditlake_api_rate_limited_requests", "HTTP 429 answers" + window, stats.get("rate_limited") or 0)
        errors = GaugeMetricFamily("redditlake_api_errors", "failed requests by error class" + window,
                                   labels=["error_class"])
        for cls, count in sorted((stats.get("errors") or {}).items()):
            errors.add_metric([cls], count)
        yield errors
        yield _gauge("redditlake_breaker_open", "1 when the latest request saw the circuit breaker open or half-open",
                     1.0 if stats.get("breaker") not in (None, "closed") else 0.0)
        remaining = stats.get("remaining")
        yield _gauge("redditlake_budget_remaining", "X-Ratelimit-Remaining of the latest request",
                     float(remaining) if remaining is not None else float("nan"))
        items = GaugeMetricFamily("redditlake_items", "rows stored in the lake", labels=["table", "subreddit"])
        for table, sub, count in self.figures.items:
            items.add_metric([table, sub], count)
        yield items
        quality = GaugeMetricFamily("redditlake_quality_score", "latest data quality score (0-1) of a subreddit's table",
                                    labels=["subreddit", "table"])
        for sub, table, score in self.figures.scores:
            quality.add_metric([sub, table], score)
        yield quality
        if self.runs is not None:
            runs = GaugeMetricFamily("redditlake_flow_runs", "flow runs expected to start" + window + ", by state",
                                     labels=["state"])
            for state, count in self.runs.items():
                if state != "late":
                    runs.add_metric([state], count)
            yield runs
            yield _gauge("redditlake_late_runs", "flow runs Late now (queue backlog)", self.runs.get("late", 0))


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def open_lake(settings: Settings) -> Lake:
    return Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)


def whole_lake(settings: Settings) -> Every:
    """The figures that read every file of a table, shared by scrapes for ``LAKE_FIGURES_SECONDS``."""

    def compute() -> tuple[list[tuple[str, str, int]], list[tuple[str, str, float]]]:
        lake = open_lake(settings)
        return item_counts(lake), quality_scores(lake)

    return Every(compute, LAKE_FIGURES_SECONDS)


async def metrics_text(settings: Settings, minutes: float, lake_wide: Every | None = None) -> bytes:
    lake = open_lake(settings)
    items, scores = await (lake_wide or whole_lake(settings)).get()
    figures = LakeFigures(await asyncio.to_thread(request_stats, lake, minutes), items, scores)
    api = os.environ.get("PREFECT_API_URL")
    runs = None
    if api:
        try:
            runs = await prefect_run_counts(api, minutes)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            runs = None  # /healthz reports the Prefect API; metrics still serve the lake's
    registry = CollectorRegistry()
    registry.register(LakeCollector(figures, minutes, runs))
    return generate_latest(registry)


def make_app(settings: Settings, minutes: float = 60, deep_check_seconds: float = DEEP_CHECK_SECONDS) -> web.Application:
    deep = DeepCheck(settings, minutes, deep_check_seconds)
    lake_wide = whole_lake(settings)

    async def healthz(_: web.Request) -> web.Response:
        status, body = await deep.answer()
        return web.json_response(body, status=status, dumps=json.dumps)

    async def metrics(_: web.Request) -> web.Response:
        body = await metrics_text(settings, minutes, lake_wide)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start_deep_check(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(deep.run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.cleanup_ctx.append(start_deep_check)
    return app


async def serve(settings: Settings, host: str = "127.0.0.1", port: int = 9108, minutes: float = 60,
                ready: asyncio.Event | None = None, deep_check_seconds: float = DEEP_CHECK_SECONDS) -> None:
    """Serve until cancelled (Ctrl-C); only on ``host`` (loopback unless told otherwise)."""
    runner = web.AppRunner(make_app(settings, minutes, deep_check_seconds))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

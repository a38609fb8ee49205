"""`redditlake serve`: ``/healthz`` and ``/metrics`` over HTTP, for load balancers and Prometheus.

Everything is computed when asked, from what every worker leaves behind: the
lake's ``api_requests`` (all workers' requests), the lake's tables (items
collected) and the Prefect API's flow runs (by state, and late ones). A
serverless fleet needs no sidecar: one ``serve`` anywhere that reads the lake
and reaches the Prefect API sees all of it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import duckdb
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from redditlake.config import Settings
from redditlake.health import Check, health
from redditlake.lake import Lake

RUN_STATES = ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED", "CANCELLED")
ITEM_TABLES = ("posts", "comments", "subreddits", "users")


def check_lake_writable(lake: Lake) -> Check:
    """Write and delete a probe file where the lake keeps its data."""
    try:
        lake.storage.probe_writable()
    except Exception as exc:  # any storage failure means the same: runs cannot land data
        return Check("lake writable", False, f"{lake.uri}: {type(exc).__name__}: {exc}")
    return Check("lake writable", True, f"{lake.uri} accepts writes")


def request_stats(lake: Lake, minutes: float) -> dict:
    """The request log's last ``minutes``, summed over every worker."""
    if "api_requests" not in lake.tables():
        return {}
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    con = lake.duckdb()
    try:
        n, ok, p50, p95, p99, n429, breaker, remaining = con.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE error_class IS NULL AND status < 400),
                   quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95), quantile_cont(latency_ms, 0.99),
                   count(*) FILTER (WHERE status = 429), arg_max(breaker, ts), arg_max(ratelimit_remaining, ts)
            FROM api_requests WHERE ts >= ?
            """,
            [since],
        ).fetchone()
        errors = con.execute(
            """
            SELECT coalesce(error_class, 'http_' || status::VARCHAR), count(*) FROM api_requests
            WHERE ts >= ? AND (error_class IS NOT NULL OR status >= 400) GROUP BY 1
            """,
            [since],
        ).fetchall()
    finally:
        con.close()
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


class LakeCollector:
    """prometheus-client collector: the metrics are read at scrape time."""

    def __init__(self, lake: Lake, minutes: float, runs: dict[str, int] | None = None) -> None:
        self.lake, self.minutes, self.runs = lake, minutes, runs

    def collect(self) -> Iterator[GaugeMetricFamily]:
        window = f" over the last {self.minutes:g} minutes"
        stats = request_stats(self.lake, self.minutes)
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
        for table, sub, count in item_counts(self.lake):
            items.add_metric([table, sub], count)
        yield items
        quality = GaugeMetricFamily("redditlake_quality_score", "latest data quality score (0-1) of a subreddit's table",
                                    labels=["subreddit", "table"])
        for sub, table, score in quality_scores(self.lake):
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


async def metrics_text(settings: Settings, minutes: float) -> bytes:
    lake = Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    api = os.environ.get("PREFECT_API_URL")
    runs = None
    if api:
        try:
            runs = await prefect_run_counts(api, minutes)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            runs = None  # /healthz reports the Prefect API; metrics still serve the lake's
    registry = CollectorRegistry()
    registry.register(LakeCollector(lake, minutes, runs))
    return await asyncio.to_thread(generate_latest, registry)


def make_app(settings: Settings, minutes: float = 60) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        report = await health(settings, minutes)
        lake = Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
        report.checks.append(await asyncio.to_thread(check_lake_writable, lake))
        body = {"ok": report.ok, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks]}
        return web.json_response(body, status=200 if report.ok else 503, dumps=json.dumps)

    async def metrics(_: web.Request) -> web.Response:
        body = await metrics_text(settings, minutes)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(settings: Settings, host: str = "127.0.0.1", port: int = 9108, minutes: float = 60,
                ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled (Ctrl-C)."""
    runner = web.AppRunner(make_app(settings, minutes))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

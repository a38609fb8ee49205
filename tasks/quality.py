"""Prefect tasks of the quality layer, over ``redditlake.quality`` (in a worker thread: GX and
Parquet must not stall the event loop other subreddits' requests run on). Anomalies and degraded
batches become Prefect events automations can alert on; each flow run gets artifacts."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.runtime import flow_run

from redditlake.config import Settings
from redditlake.lake import Lake
from redditlake.quality import catalog, results
from redditlake.quality.run import QualityReport, check_landed
from redditlake.quality.summary import markdown_summary


def _flow_run_id() -> str | None:
    return str(flow_run.id) if flow_run.id else None


def _emit(report: QualityReport) -> None:
    run_id = _flow_run_id()
    related = [{"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run"}] if run_id else []
    for a in report.anomalies:
        emit_event(
            event="redditlake.quality.anomaly",
            resource={"prefect.resource.id": f"redditlake.subreddit.{a['subreddit']}", "redditlake.metric": a["metric_name"]},
            related=related,
            payload={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in a.items()},
        )
    for b in report.degraded:
        emit_event(
            event="redditlake.quality.degraded",
            resource={"prefect.resource.id": f"redditlake.subreddit.{b.run['subreddit']}", "redditlake.table": b.run["table_name"]},
            related=related,
            payload={
                "score": b.run["score"], "target": report.target, "table": b.run["table_name"], "rows": b.run["rows"],
                "quarantined": b.run["quarantined"], "failed": [o.name for o in b.failed],
            },
        )


@task(name="check-quality", task_run_name="quality {job}", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
async def check_quality(lake: Lake, landed: list[Any], settings: Settings, job: str = "collect") -> QualityReport:
    """Validate the batches a run landed; results to the lake, anomalies and degraded scores as events."""
    report = await asyncio.to_thread(
        check_landed, lake, landed, settings.data_quality, flow_run_id=_flow_run_id(), job=job
    )
    _emit(report)
    logger = get_run_logger()
    for b in report.batches:
        (logger.info if b.run["score"] >= report.target else logger.warning)(
            "quality r/%s %s: %d rows, %d quarantined, score %.3f, failed: %s", b.run["subreddit"], b.run["table_name"],
            b.run["rows"], b.run["quarantined"], b.run["score"], ", ".join(o.name for o in b.failed) or "none",
        )
    return report


@task(name="publish-quality", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
async def publish_quality(
    lake: Lake, settings: Settings, reports: list[QualityReport | None], jobs: list[dict[str, Any]], job: str
) -> None:
    """Collection jobs to the lake, artifacts to the flow run, and the local catalog rebuilt."""
    run_id = _flow_run_id()
    for j in jobs:
        j["flow_run_id"] = run_id
    await asyncio.to_thread(results.write, lake, "collection_jobs", jobs)
    merged = QualityReport(target=settings.data_quality.score_target)
    for r in reports:
        if r is not None:
            merged.batches += r.batches
            merged.anomalies += r.anomalies
    table = merged.per_subreddit()
    if table:
        await acreate_table_artifact(table, key=f"quality-{job}", description="Data quality per subreddit")
    await acreate_markdown_artifact(markdown_summary(merged, jobs), key=f"quality-{job}-summary",
                                    description="Data quality of this run")
    if lake.location.is_local:  # a serverless worker on S3 leaves it to `redditlake quality catalog`
        await asyncio.to_thread(catalog.build, lake, catalog.catalog_path(lake, settings.data_quality.catalog))


async def quietly(step, *args: Any, **kwargs: Any) -> Any:
    """Run a quality task; its failure is logged, never fails the collection it judges."""
    try:
        return await step(*args, **kwargs)
    except Exception as exc:  # the data is landed either way; say what to do next
        get_run_logger().error(
            "quality step %s failed (%s: %s); the data is stored, rerun `redditlake quality check` later",
            step.name, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "",
        )
        return None

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
from prefect.utilities.annotations import quote

from redditlake.config import Settings
from redditlake.lake import Lake
from redditlake.landing import Landing
from redditlake.quality import catalog, gxrun, results
from redditlake.quality import jobs as quality_jobs
from redditlake.quality.recorder import Recorder
from redditlake.quality.run import QualityReport
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


def start_recording(landing: Landing, settings: Settings, job: str) -> Recorder | None:
    """Give the run's landing a recorder: every batch it lands will be validated (None when off)."""
    if not settings.data_quality.enabled:
        return None
    gxrun.preload()  # GX takes seconds to import: overlap it with fetching
    landing.recorder = Recorder(landing.lake, settings.data_quality, job, _flow_run_id())
    return landing.recorder


@task(name="check-quality", task_run_name="quality {job}", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
async def check_quality(recorder: Recorder, batches: list[Any] | None = None, job: str = "collect") -> QualityReport:
    """Validate what the run landed and the recorder has not validated yet (plus ``batches``, e.g.
    the request log); results to the lake, anomalies and degraded scores as events. Returns every
    validation of the recorder, earlier flushes included."""
    for b in batches or ():
        recorder.add(b)
    await asyncio.to_thread(recorder.flush)
    fresh = recorder.unannounced()
    _emit(fresh)
    logger = get_run_logger()
    for b in fresh.batches:
        (logger.info if b.run["score"] >= fresh.target else logger.warning)(
            "quality r/%s %s: %d rows, %d quarantined, score %.3f, failed: %s", b.run["subreddit"], b.run["table_name"],
            b.run["rows"], b.run["quarantined"], b.run["score"], ", ".join(o.name for o in b.failed) or "none",
        )
    return recorder.merged()


@task(name="publish-quality", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
async def publish_quality(
    lake: Lake, settings: Settings, reports: list[QualityReport | None], jobs: list[dict[str, Any]], job: str
) -> None:
    """Collection jobs to the lake, artifacts to the flow run, and the local catalog rebuilt."""
    run_id = _flow_run_id()
    for j in jobs:
        j["flow_run_id"] = run_id
    await asyncio.to_thread(results.write, lake, "collection_jobs", jobs)
    merged = QualityReport.combine(reports, settings.data_quality.score_target)
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


async def record_run(
    settings: Settings,
    lake: Lake,
    job: str,
    jobs: list[dict[str, Any]],
    *,
    recorder: Recorder | None = None,
    reports: list[QualityReport | None] = (),  # type: ignore[assignment]
    requests: list[tuple[str, Any]] = (),  # type: ignore[assignment]
    batches: list[Any] = (),  # type: ignore[assignment]
) -> QualityReport | None:
    """The end of every flow run that lands data (collect, collect-scheduled, collect-subreddit,
    refresh, backfill, stream): validate what ``recorder`` still holds and the landed request log
    (``flows.common.land_request_log``) and ``batches`` landed outside a ``Landing``, then the run's ``collection_jobs`` rows, its artifacts
    and the local catalog. ``reports`` are validations done already (a parent flow's subreddit
    runs). Never fails the run: the data is landed either way. Returns this call's validation."""
    if not settings.data_quality.enabled:
        return None
    recorder = recorder or Recorder(lake, settings.data_quality, job, _flow_run_id())
    batches = [*batches, *quality_jobs.request_batches(list(requests))]
    report = await quietly(check_quality, quote(recorder), quote(batches), job)
    await quietly(publish_quality, lake, settings, quote([*reports, report]), quote(jobs), job)
    return report

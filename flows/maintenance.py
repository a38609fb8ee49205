"""Lake maintenance as a flow: the periodic full stranded-tree sweep, then Delta's compaction
of the partitions past the configured thresholds, checkpoints and vacuum, reported in the run
summary and the quality catalog.

Thin over ``redditlake.lake.maintenance``; deployed from ``deployments/collection.yaml``
(``maintenance:``). Safe to run while collections write (every step is a Delta commit that
conflicts only with a commit rewriting the same files, and is then retried).
"""

from __future__ import annotations

import asyncio
import uuid

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.context import get_run_context
from prefect.states import Completed, Failed, State

from flows.collect import collect
from flows.kernel import prepare_run
from redditlake import depth
from redditlake.config import Settings
from redditlake.lake.maintenance import CompactionPolicy, compact_due
from redditlake.outcome import Outcome
from redditlake.clock import now_utc
from redditlake.subreddit_names import validate_subreddit
from redditlake.quality import catalog, results


@flow(name="maintain-lake", log_prints=False, persist_result=False)
async def maintain(
    tables: list[str] | None = None,
    subreddits: list[str] | None = None,
    min_files: int | None = None,
    after_days: int | None = None,
    settings: Settings | None = None,
    lake: str | None = None,
    sweep: list[str] | None = None,
    reddit_block: str | None = None,
    lake_block: str | None = None,
) -> State:
    """Fill in comment depths that became known (``redditlake.depth.fill_stored``), then
    compact every partition holding ``min_files`` files, or 2+ files once its day is
    ``after_days`` days past (defaults: the settings' ``maintenance`` section), lake-wide
    or for ``subreddits``.

    ``sweep`` names subreddits to collect once with the full stranded-tree sweep first
    (every stored post checked for a comment tree that never landed, not only the recent
    window an hourly run checks). The result is the summary, an ``Outcome`` per table (also
    logged, and a markdown artifact with files per partition); the files-per-partition
    metric (max and mean per table and subreddit) goes to the quality results'
    ``data_quality_metrics``. Failed when a swept subreddit failed (compaction still runs).
    ``reddit_block``/``lake_block`` name saved blocks, as the collect deployments do (the sweep
    asks Reddit; everything works on the block's lake).
    """
    run = await prepare_run("maintain-lake", settings, lake=lake, reddit_block=reddit_block, lake_block=lake_block)
    settings = run.settings
    logger = get_run_logger()
    outcomes: list[Outcome] = []
    if sweep:
        state = await collect(sweep, settings, full_sweep=True, return_state=True)
        summaries = await state.aresult(raise_on_failure=False)
        if isinstance(summaries, list):
            outcomes += [s.outcome().prefixed("full sweep") for s in summaries]
        else:
            outcomes.append(Outcome.failed("full sweep", str(state.message)))

    rules = settings.maintenance
    policy = CompactionPolicy(
        min_files=rules.compact_min_files if min_files is None else min_files,
        after_days=rules.compact_after_days if after_days is None else after_days,
        retention_hours=rules.vacuum_retention_hours,
    )
    store = run.lake
    names = [validate_subreddit(s) for s in subreddits] if subreddits else [None]
    markdown: list[str] = []
    metrics: list[dict[str, object]] = []
    run_id, flow_run_id, now = uuid.uuid4().hex, _flow_run_id(), now_utc()
    if tables is None or "comments" in tables:
        # Before compaction: a fill rewrites the partitions it touches anyway.
        for sub in [n for n in names if n is not None] or store.subreddits("comments"):
            filled = await asyncio.to_thread(depth.fill_stored, store, sub)
            outcomes.append(Outcome(f"r/{sub} comments", items=filled,
                                    detail=f"{filled} unknown depths filled from their stored parents"))
    everything = tables is None and subreddits is None
    for name in names:  # the system areas (quality results, audit: not per subreddit) with the whole lake
        report = await asyncio.to_thread(compact_due, store, policy, tables, name, with_areas=everything)
        outcomes += [Outcome.note(("" if name is None else f"r/{name} ") + line) for line in report.lines()]
        markdown.append(report.markdown())
        metrics += report.metric_rows(run_id, now, flow_run_id)
    for outcome in outcomes:
        (logger.info if outcome.ok else logger.error)(outcome.line())
    await acreate_markdown_artifact("\n\n".join(markdown), key="maintain-lake-summary",
                                    description="Compaction and files per partition")
    if settings.data_quality.enabled and metrics:
        await asyncio.to_thread(results.write, store, "data_quality_metrics", metrics)
        if store.location.is_local:  # as the collect flow does; on S3 `redditlake quality catalog` rebuilds it
            await asyncio.to_thread(catalog.build, store, catalog.catalog_path(store, settings.data_quality.catalog))
    failed = [o.line() for o in outcomes if not o.ok]
    if failed:
        return Failed(data=outcomes, message="; ".join(failed))
    return Completed(data=outcomes, message=f"{len(outcomes)} lines")


def _flow_run_id() -> str | None:
    context = get_run_context()
    run = getattr(context, "flow_run", None)
    return None if run is None else str(run.id)

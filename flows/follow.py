"""The ``follow-archive`` flow: one subreddit kept current from an archive, without a Reddit key.

Thin: ``redditlake.archive.follow`` does the work from the lake's own positions; this flow loads
settings and the lake block, records the run's jobs and quality like every collection, and fails
when a pass failed (a rerun resumes from the positions).
"""

from __future__ import annotations

from datetime import timedelta

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from flows.common import one_line
from flows.kernel import prepare_run
from redditlake.archive.client import ArchiveClient, archive_transport
from redditlake.archive.follow import SETTLE, follow_archive
from redditlake.archive.plan import parse_when
from redditlake.config import Settings
from redditlake.clock import now_utc
from redditlake.subreddit_names import validate_subreddit
from redditlake.quality import jobs as quality_jobs
from tasks.quality import record_run

from redditlake.collection import FOLLOW_FLOW


@flow(name=FOLLOW_FLOW, flow_run_name="r/{subreddit} via {source}", log_prints=False, persist_result=False)
async def follow(
    subreddit: str,
    source: str = "arcticshift",
    comments: bool = True,
    start_days: float = 1.0,
    settle_hours: float = SETTLE.total_seconds() / 3600,
    now: str | None = None,
    lake_block: str | None = None,
    settings: Settings | None = None,
    lake: str | None = None,
) -> State:
    """Follow ``subreddit`` through ``source`` up to ``now`` (default: the clock); a subreddit
    followed for the first time starts ``start_days`` back."""
    logger = get_run_logger()
    run = await prepare_run("follow", settings, lake=lake, lake_block=lake_block)
    settings = run.settings
    subreddit = validate_subreddit(subreddit)
    until = parse_when(now, "now") if now else now_utc().replace(microsecond=0)
    landing, recorder = run.landing, run.start_recording()
    started = now_utc()
    async with ArchiveClient.for_source(source, settings, archive_transport(settings)) as client:
        try:
            result = await follow_archive(
                client, landing, subreddit, until, start=until - timedelta(days=start_days), comments=comments,
                settle=timedelta(hours=settle_hours), policy=settings.compliance,
                window_days=settings.archive.window_days, batch_rows=settings.archive.search_batch_rows)
            passes, error = result.passes, None
        except Exception as exc:  # noqa: BLE001 - reported as the run's state; positions keep what landed
            passes, error = [], one_line(exc)
    jobs = quality_jobs.backfill_rows(passes, [subreddit], started, now_utc())
    await record_run(settings, landing.lake, "follow", jobs, recorder=recorder)
    if error is None and all(p.ok for p in passes):
        lines = result.lines()
        for line in lines:
            logger.info(line)
        return Completed(data=lines, message="\n".join(lines))
    message = error or "; ".join(p.line() for p in passes if not p.ok)
    logger.error("r/%s via %s: FAILED: %s (rerun to resume)", subreddit, source, message)
    return Failed(message=f"r/{subreddit}: {message}")

"""The ``stream`` flow: follow subreddits' new posts and comments until stopped.

Thin: ``redditlake.stream`` does the work. Bounded by ``duration``/``max_items`` (a deployment
restarts it on a schedule; positions carry over in the lake) or stopped by SIGINT/SIGTERM, after
which the buffer is landed and positions written.
"""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger

from redditlake.config import Settings
from redditlake.errors import RedditLakeError
from redditlake.outcome import Outcome
from redditlake.clock import now_utc
from redditlake.subreddit_names import validate_subreddit
from redditlake.quality import jobs as quality_jobs
from redditlake.stream.runner import Stream, StreamSummary
from flows.common import land_request_log
from flows.kernel import prepare_run
from tasks.quality import record_run


@flow(name="stream", log_prints=False, persist_result=False)
async def stream(
    subreddits: list[str],
    duration: float | None = None,
    max_items: int | None = None,
    settings: Settings | None = None,
    lake: str | None = None,
    reddit_block: str | None = None,
    lake_block: str | None = None,
) -> list[Outcome]:
    """Returns an ``Outcome`` per subreddit and kind, the stream's summary and any coverage gap
    (``warn``); not ``ok`` for a subreddit it could not follow.
    ``reddit_block``/``lake_block`` name saved blocks, as the collect deployments do."""
    run = await prepare_run("stream", settings, lake=lake, reddit_block=reddit_block, lake_block=lake_block)
    settings = run.settings
    bad: list[Outcome] = []
    valid: list[str] = []
    for raw in subreddits:
        try:
            valid.append(validate_subreddit(raw))
        except RedditLakeError as exc:
            bad.append(Outcome.failed(f"r/{raw}", str(exc)))
    subs = list({s.lower(): s for s in valid}.values())
    if not subs:
        return bad
    landing, recorder = run.landing, run.start_recording()
    logger = get_run_logger()
    logger.info("streaming %s (duration %s, max items %s)", ", ".join(f"r/{s}" for s in subs), duration, max_items)
    started = now_utc()
    async with await run.client() as client:
        summary: StreamSummary = await Stream(client, landing, subs, settings).run(duration, max_items)
        landed = await asyncio.to_thread(land_request_log, landing.lake, client)
    jobs = quality_jobs.stream_rows(summary, started, now_utc())
    await record_run(settings, landing.lake, "stream", jobs, recorder=recorder, requests=landed)
    outcomes = bad + summary.outcomes()
    for outcome in outcomes:
        (logger.warning if outcome.warn else logger.info)(outcome.line())
    return outcomes

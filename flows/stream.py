"""The ``stream`` flow: follow subreddits' new posts and comments until stopped.

Thin: ``redditlake.stream`` does the work. Bounded by ``duration``/``max_items`` (a deployment
restarts it on a schedule; positions carry over in the lake) or stopped by SIGINT/SIGTERM, after
which the buffer is landed and positions written.
"""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger

from redditlake.config import Settings, load_settings, with_overrides
from redditlake.errors import RedditLakeError
from redditlake.outcome import Outcome
from redditlake.pipeline import now_utc, validate_subreddit
from redditlake.quality import jobs as quality_jobs
from redditlake.stream.runner import Stream, StreamSummary
from blocks.lake import apply_lake_block
from blocks.reddit import apply_reddit_block, with_reddit_block
from flows.common import land_request_log, open_client, open_landing
from tasks.quality import record_run, start_recording


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
    settings = with_reddit_block(with_overrides(settings or load_settings(), lake=lake), reddit_block)
    settings = await apply_reddit_block(await apply_lake_block(settings, lake_block))
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
    landing = open_landing(settings)
    recorder = start_recording(landing, settings, "stream")
    logger = get_run_logger()
    logger.info("streaming %s (duration %s, max items %s)", ", ".join(f"r/{s}" for s in subs), duration, max_items)
    started = now_utc()
    async with await open_client(settings) as client:
        summary: StreamSummary = await Stream(client, landing, subs, settings).run(duration, max_items)
        landed = await asyncio.to_thread(land_request_log, landing.lake, client)
    jobs = quality_jobs.stream_rows(summary, started, now_utc())
    await record_run(settings, landing.lake, "stream", jobs, recorder=recorder, requests=landed)
    outcomes = bad + summary.outcomes()
    for outcome in outcomes:
        (logger.warning if outcome.warn else logger.info)(outcome.line())
    return outcomes

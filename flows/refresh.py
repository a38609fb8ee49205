"""Deletion compliance as a flow: re-check stored items, refresh metrics, redact what users deleted,
keep (and report) what Reddit merely did not show."""

from __future__ import annotations

import asyncio
from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows.common import gc_results, land_request_log, one_line
from flows.kernel import prepare_run
from redditlake import compliance
from redditlake.config import ComplianceSettings, Settings
from redditlake.errors import RedditLakeError
from redditlake.lake import Lake
from redditlake.outcome import Outcome
from redditlake.clock import now_utc
from redditlake.subreddit_names import validate_subreddit
from redditlake.reddit.client import RedditClient
from redditlake.reddit.requestlog import requests_for
from tasks.quality import record_run
from tasks.reddit import retry_if_transient
from redditlake.quality import catalog
from redditlake.quality import jobs as quality_jobs


@task(name="check-stored", task_run_name="check r/{subreddit}", cache_policy=NO_CACHE, persist_result=False, retries=2,
      retry_delay_seconds=[10, 30], retry_condition_fn=retry_if_transient)
async def check_stored(client: RedditClient, lake: Lake, subreddit: str):
    return await compliance.check(client, lake, subreddit)


@task(name="redact", task_run_name="redact r/{subreddit}", cache_policy=NO_CACHE, persist_result=False, retries=2,
      retry_delay_seconds=5)
async def redact(lake: Lake, subreddit: str, seen: compliance.Check, policy: ComplianceSettings,
                 now: datetime) -> compliance.RefreshResult:
    return await asyncio.to_thread(compliance.apply, lake, subreddit, seen, policy, now)


@flow(name="refresh", log_prints=False, persist_result=False)  # see tasks/reddit.py: nothing persisted
async def refresh(subreddits: list[str], settings: Settings | None = None, now: datetime | None = None,
                  reddit_block: str | None = None, lake_block: str | None = None) -> list[Outcome]:
    """For each subreddit: ask Reddit about every stored post and comment (100 per request),
    append fresh post metrics, redact what Reddit shows deleted or removed, record what it did
    not return as unavailable (kept, redacted only by the ``compliance`` policy); then delete
    expired, pickled and redacted-content files from Prefect's result storage. Returns one
    ``Outcome`` each: not ``ok`` when a subreddit failed, ``must_act`` when it could not be read.
    ``now`` is the refresh's clock (default: the current time), for replaying and tests.
    ``reddit_block``/``lake_block`` name saved blocks, as the collect deployments do."""
    run = await prepare_run("refresh", settings, reddit_block=reddit_block, lake_block=lake_block)
    settings, lake = run.settings, run.lake
    logger = get_run_logger()
    outcomes: list[Outcome] = []
    redacted: set[str] = set()
    jobs: list[dict] = []
    accounts = 0  # deleted accounts erased from quarantine and the quality results
    metrics: list = []  # post_metrics batches the refresh appended, validated at the end
    async with await run.client() as client:
        for raw in subreddits:
            started = now_utc()
            try:
                sub = validate_subreddit(raw)
                with requests_for(sub):
                    seen = await check_stored(client, lake, sub)
                at = now or now_utc()
                result = await redact(lake, sub, quote(seen), settings.compliance, at)
                if settings.data_quality.enabled and seen.posts:
                    metrics.append(quality_jobs.metric_batch(sub, seen.posts, at))
                # Everything Reddit no longer shows: redacted now, or possibly by the policy later.
                redacted |= {v.id for v in seen.verdicts} | {i for ids in seen.missing.values() for i in ids}
                outcomes.append(result.outcome())
                accounts += result.accounts
                job = dict(ok=True, items=result.checked)
            except (RedditLakeError, ValueError) as exc:
                outcomes.append(Outcome.failed(f"r/{raw}", one_line(exc)))
                job = dict(ok=False, error=one_line(exc))
            done = now_utc()
            jobs.append(quality_jobs.job_row("refresh", raw, completed_at=done, seconds=(done - started).total_seconds(), **job))
        landed = await asyncio.to_thread(land_request_log, lake, client)
    await record_run(settings, lake, "refresh", jobs, requests=landed, batches=metrics)
    if accounts:  # the catalog holds copies of the quality results and quarantine (S3 lakes)
        path = catalog.catalog_path(lake, settings.data_quality.catalog)
        if path.exists():
            await asyncio.to_thread(catalog.build, lake, path)
    # What the lake forgot must not survive in Prefect's result storage either.
    try:
        outcomes += map(Outcome.note, (await gc_results(lake=lake.location, forget=sorted(redacted))).lines())
    except (OSError, RedditLakeError) as exc:
        outcomes.append(Outcome.failed("result storage", f"{one_line(exc)} (the lake is redacted; rerun `redditlake gc`)"))
    for outcome in outcomes:
        (logger.error if outcome.bad else logger.info)(outcome.line())
    return outcomes

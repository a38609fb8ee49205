"""Prefect tasks over ``redditlake.archive``: one backfill job (subreddit × source × kind) or one dump file.

Retried when the archive was unavailable; a retry resumes from the job's last position in the
lake, so it re-fetches at most one batch of pages. Never cached: positions live in the lake.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from redditlake.archive.client import ArchiveClient
from redditlake.archive.dumps import DumpResult, ingest_dump
from redditlake.archive.search import BackfillResult, backfill_search
from redditlake.archive.threads import backfill_threads
from redditlake.landing import Landing
from tasks.reddit import retry_if_transient


@task(name="backfill-search", task_run_name="{source} r/{subreddit} {kind}", cache_policy=NO_CACHE, persist_result=False, retries=2,
      retry_delay_seconds=[10, 30], retry_condition_fn=retry_if_transient)
async def search_job(client: ArchiveClient, landing: Landing, subreddit: str, kind: str, since: datetime,
                     until: datetime, window_days: float, source: str, batch_rows: int = 5_000) -> BackfillResult:
    return await backfill_search(client, landing, subreddit, kind, since, until, window_days=window_days,
                                 batch_rows=batch_rows)


@task(name="backfill-dump", task_run_name="dump {name}", cache_policy=NO_CACHE, persist_result=False)
async def dump_job(path: str, name: str, landing: Landing, subreddits: list[str], since: datetime, until: datetime,
                   batch_rows: int, max_line_bytes: int = 4 << 20) -> DumpResult:
    return await asyncio.to_thread(ingest_dump, path, landing, subreddits, since, until, batch_rows=batch_rows,
                                   max_line_bytes=max_line_bytes)


@task(name="backfill-threads", task_run_name="{source} r/{subreddit} threads", cache_policy=NO_CACHE, persist_result=False,
      retries=2, retry_delay_seconds=[10, 30], retry_condition_fn=retry_if_transient)
async def threads_job(client: ArchiveClient, landing: Landing, subreddit: str, since: datetime, until: datetime,
                      source: str) -> BackfillResult:
    return await backfill_threads(client, landing, subreddit, since, until)

"""Prefect tasks that land rows in the lake, over ``redditlake.landing.Landing``
(in a worker thread: writing Parquet must not stall the event loop that other
subreddits' requests run on)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from redditlake.landing import Landing
from redditlake.lake import WriteResult
from redditlake.models import MODELS
from redditlake.pipeline import CommentBatch

_landing = dict(cache_policy=NO_CACHE, persist_result=False, retries=2, retry_delay_seconds=5)


@task(name="land", task_run_name="land {table} r/{subreddit}", **_landing)
async def land(
    landing: Landing, table: str, subreddit: str, things: list[dict[str, Any]], collected_at: datetime
) -> WriteResult:
    return await asyncio.to_thread(landing.rows, MODELS[table], subreddit, things, collected_at)


@task(name="land-metrics", task_run_name="land post_metrics r/{subreddit}", **_landing)
async def land_metrics(landing: Landing, subreddit: str, posts: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
    return await asyncio.to_thread(landing.metrics, subreddit, posts, collected_at)


@task(name="land-comments", task_run_name="land comments r/{subreddit}", **_landing)
async def land_comment_batch(
    landing: Landing, subreddit: str, batch: CommentBatch, num_comments: dict[str, int], collected_at: datetime
) -> WriteResult:
    return await asyncio.to_thread(landing.comment_batch, subreddit, batch, num_comments, collected_at)


@task(name="land-users", task_run_name="land users r/{subreddit}", **_landing)
async def land_users(landing: Landing, subreddit: str, users: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
    return await asyncio.to_thread(landing.users, subreddit, users, collected_at)

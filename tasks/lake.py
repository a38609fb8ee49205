"""Prefect tasks that land rows in the lake (in a worker thread: writing
Parquet must not stall the event loop other subreddits' requests run on)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from redditlake import pipeline
from redditlake.lake import Lake, WriteResult
from redditlake.models import MODELS


@task(name="land", task_run_name="land {table} r/{subreddit}", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
async def land(lake: Lake, table: str, subreddit: str, things: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
    return await asyncio.to_thread(pipeline.land, lake, MODELS[table], subreddit, things, collected_at)

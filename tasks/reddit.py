"""Prefect tasks over the Reddit side of ``redditlake.pipeline``.

A task is a unit worth retrying: a listing sweep, the comment trees of a batch
of posts, not one HTTP request (the client retries single requests itself).
The shared ``RedditClient`` is passed in and excluded from cache keys.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from redditlake import pipeline
from redditlake.errors import ApiUnavailable
from redditlake.reddit.client import RedditClient


async def retry_if_transient(task, task_run, state) -> bool:
    """Retry a task only when the API was unavailable, never for a private subreddit or a bug.
    (Async on purpose: Prefect only awaits the result check of async conditions.)"""
    try:
        await state.aresult()
    except ApiUnavailable:
        return True
    except Exception:
        return False
    return False


_retrying = dict(retries=2, retry_delay_seconds=[10, 30], retry_jitter_factor=0.5, retry_condition_fn=retry_if_transient)


@task(name="fetch-about", task_run_name="about r/{subreddit}", cache_policy=NO_CACHE, **_retrying)
async def fetch_about(client: RedditClient, subreddit: str) -> dict[str, Any]:
    return await pipeline.fetch_about(client, subreddit)


@task(name="fetch-posts", task_run_name="r/{subreddit}/{sort}", cache_policy=NO_CACHE, **_retrying)
async def fetch_posts(
    client: RedditClient, subreddit: str, sort: str, limit: int, time_filter: str | None
) -> list[dict[str, Any]]:
    return await pipeline.fetch_posts(client, subreddit, sort, limit, time_filter)


@task(name="fetch-comments", task_run_name="comments r/{subreddit} ({label})", cache_policy=NO_CACHE, **_retrying)
async def fetch_comments(client: RedditClient, subreddit: str, post_ids: list[str], label: str = "") -> pipeline.CommentBatch:
    return await pipeline.fetch_comments(client, subreddit, post_ids)

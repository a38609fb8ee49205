"""Prefect tasks over the Reddit side of ``redditlake.pipeline``.

A task is a unit worth retrying or caching: a listing sweep, the comment trees
of a batch of posts, not one HTTP request (the client retries single requests
itself). The shared ``RedditClient`` is passed in and kept out of cache keys;
``source`` (the API's URL) is in them, so two APIs never share a cache entry.

Caching: results persist to Prefect's result storage — local by default, an S3
bucket on serverless workers (set ``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK`` to
a saved ``S3Bucket`` block, see ``blocks/``). A retried or rerun flow then
does not spend budget again on what it already fetched: a subreddit's ``about``
for a day, a batch of comment trees for ten minutes (its key holds each post's
``num_comments``, so a thread that grew is fetched afresh). Listings are never
cached: ``new`` must see what arrived.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import task
from prefect.cache_policies import INPUTS, NO_CACHE

from redditlake import pipeline
from redditlake.errors import ApiUnavailable
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import TreeOptions

ABOUT_TTL = timedelta(hours=24)
COMMENTS_TTL = timedelta(minutes=10)


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


@task(
    name="fetch-about",
    task_run_name="about r/{subreddit}",
    cache_policy=INPUTS - "client",
    cache_expiration=ABOUT_TTL,
    persist_result=True,
    **_retrying,
)
async def fetch_about(client: RedditClient, subreddit: str, source: str) -> dict[str, Any]:
    return await pipeline.fetch_about(client, subreddit)


@task(name="fetch-posts", task_run_name="r/{subreddit}/{sort}", cache_policy=NO_CACHE, **_retrying)
async def fetch_posts(
    client: RedditClient, subreddit: str, sort: str, limit: int, time_filter: str | None, known: set[str] | None = None
) -> list[dict[str, Any]]:
    return await pipeline.fetch_posts(client, subreddit, sort, limit, time_filter, known)


@task(
    name="fetch-comments",
    task_run_name="comments r/{subreddit} ({label})",
    cache_policy=INPUTS - "client" - "label" - "parallel",
    cache_expiration=COMMENTS_TTL,
    persist_result=True,
    **_retrying,
)
async def fetch_comments(
    client: RedditClient,
    subreddit: str,
    posts: list[tuple[str, int]],
    source: str,
    label: str = "",
    options: TreeOptions = TreeOptions(),
    parallel: int = 1,
) -> pipeline.CommentBatch:
    return await pipeline.fetch_comments(client, subreddit, [pid for pid, _ in posts], options, parallel)


@task(name="fetch-users", task_run_name="users r/{subreddit} ({label})", cache_policy=NO_CACHE, **_retrying)
async def fetch_users(client: RedditClient, subreddit: str, names: list[str], label: str = "") -> list[dict[str, Any]]:
    return await pipeline.fetch_users(client, names)

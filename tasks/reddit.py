"""Prefect tasks over the Reddit side of ``redditlake.pipeline``.

A task is a unit worth retrying, not one HTTP request (the client retries
single requests itself): a listing sweep, the comment trees of a batch of
posts. The shared ``RedditClient`` is passed in and kept out of Prefect's view.

Nothing here is cached or persisted by Prefect (``NO_CACHE``, no result
persistence). Reddit content — posts, comments, profiles, author names —
leaves the process only into the lake, where pseudonymisation and deletion
compliance apply. A Prefect result file is outside both: it would hold raw
JSON with account names in clear, survive its expiry (expiry stops reuse,
not existence), escape ``refresh``'s redactions, and be unpickled by every
worker that reads it. What a cache saved is had from the lake instead, which
already is the watermark: a rerun pages ``new`` only to what is stored,
fetches comment trees only for posts whose ``num_comments`` moved
(``comment_fetches``), and asks for a subreddit's ``about`` only while the
lake holds no row for it (``pipeline.about_is_stored``). A retried task
refetches its own unit; a rerun flow refetches only what never landed.
See SECURITY.md.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from redditlake import pipeline
from redditlake.errors import ApiUnavailable
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import TreeOptions


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
    cache_policy=NO_CACHE,
    persist_result=False,
    **_retrying,
)
async def fetch_about(client: RedditClient, subreddit: str, source: str) -> dict[str, Any]:
    return await pipeline.fetch_about(client, subreddit)


@task(name="fetch-posts", task_run_name="r/{subreddit}/{sort}", cache_policy=NO_CACHE, persist_result=False, **_retrying)
async def fetch_posts(
    client: RedditClient, subreddit: str, sort: str, limit: int, time_filter: str | None, known: set[str] | None = None
) -> list[dict[str, Any]]:
    return await pipeline.fetch_posts(client, subreddit, sort, limit, time_filter, known)


@task(
    name="fetch-comments",
    task_run_name="comments r/{subreddit} ({label})",
    cache_policy=NO_CACHE,
    persist_result=False,
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


@task(name="fetch-users", task_run_name="users r/{subreddit} ({label})", cache_policy=NO_CACHE, persist_result=False, **_retrying)
async def fetch_users(client: RedditClient, subreddit: str, names: list[str], label: str = "") -> list[dict[str, Any]]:
    return await pipeline.fetch_users(client, names)

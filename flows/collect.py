"""Collection flows: one flow run per subreddit, and a parent that fans out.

The flows only orchestrate; every step is a task over ``redditlake.pipeline``.
All subreddits of one run share one ``RedditClient`` and so one request budget.
"""

from __future__ import annotations

import asyncio
import time

from prefect import flow, get_run_logger

from redditlake.config import Settings, load_settings
from redditlake.errors import RedditLakeError
from redditlake.lake import Lake
from redditlake.pipeline import SubredditSummary, now_utc, posts_needing_comments, validate_subreddit
from redditlake.reddit.client import RedditClient, make_transport
from redditlake.reddit.requestlog import requests_for
from tasks.budget import prefect_request_gate
from tasks.lake import land
from tasks.reddit import fetch_about, fetch_comments, fetch_posts


@flow(name="collect-subreddit", flow_run_name="r/{subreddit}", log_prints=False)
async def collect_subreddit(
    subreddit: str,
    settings: Settings | None = None,
    client: RedditClient | None = None,
) -> SubredditSummary:
    """Collect one subreddit: about, posts for each configured sort, complete comment trees."""
    settings = settings or load_settings()
    if client is None:  # run on its own (a deployment): bring a client, land its request log
        async with await _client(settings) as own:
            summary = await collect_subreddit.fn(subreddit, settings, own)
            await asyncio.to_thread(_land_request_log, _lake(settings), own)
            return summary
    logger = get_run_logger()
    opts = settings.collect
    started = time.monotonic()
    subreddit = validate_subreddit(subreddit)
    lake = _lake(settings)
    summary = SubredditSummary(subreddit)
    collected_at = now_utc()
    with requests_for(subreddit):
        about = await fetch_about(client, subreddit)
        await land(lake, "subreddits", subreddit, [about], collected_at)

        listings = await asyncio.gather(
            *(fetch_posts(client, subreddit, sort, opts.limit, opts.time_filter) for sort in opts.sorts)
        )
        posts = list({p["id"]: p for listing in listings for p in listing}.values())  # hot and new overlap
        written = await land(lake, "posts", subreddit, posts, collected_at)
        summary.posts, summary.posts_written = len(posts), written.written
        logger.info("r/%s: %d posts (%d new) from %s", subreddit, len(posts), written.written, ", ".join(opts.sorts))

        ids = posts_needing_comments(posts) if opts.comments else []
        if ids:
            size = opts.posts_per_comment_task
            chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
            for n, chunk in enumerate(chunks, start=1):
                # One chunk at a time: its comments are landed before the next is fetched, so a
                # crash loses at most one chunk's work and memory stays bounded.
                batch = await fetch_comments(client, subreddit, chunk, label=f"{n}/{len(chunks)}")
                result = await land(lake, "comments", subreddit, batch.comments, now_utc())
                summary.comments += len(batch.comments)
                summary.comments_written += result.written
                logger.info(
                    "r/%s: comments of %d/%d posts: %d comments (%d new)",
                    subreddit, min(n * size, len(ids)), len(ids), summary.comments, summary.comments_written,
                )
    summary.requests = sum(1 for r in client.transport.request_log.records if r.subreddit == subreddit.lower())
    summary.seconds = time.monotonic() - started
    return summary


@flow(name="collect", log_prints=False)
async def collect(subreddits: list[str], settings: Settings | None = None) -> list[SubredditSummary]:
    """Collect several subreddits at once under one shared request budget.

    A subreddit that fails (bad name, private, API down) is reported in its
    summary; the others are still collected.
    """
    settings = settings or load_settings()
    logger = get_run_logger()
    summaries: dict[str, SubredditSummary] = {}
    valid: list[str] = []
    for raw in subreddits:
        try:
            valid.append(validate_subreddit(raw))
        except RedditLakeError as exc:
            summaries[raw] = SubredditSummary(raw, ok=False, error=str(exc))
    valid = list(dict.fromkeys(valid))
    if valid:
        async with await _client(settings) as client:
            states = await asyncio.gather(
                *(collect_subreddit(sub, settings, client, return_state=True) for sub in valid)
            )
            for sub, state in zip(valid, states):
                result = await state.aresult(raise_on_failure=False)
                if isinstance(result, SubredditSummary):
                    summaries[sub] = result
                else:
                    summaries[sub] = SubredditSummary(sub, ok=False, error=_one_line(result))
            await asyncio.to_thread(_land_request_log, _lake(settings), client)
    for s in summaries.values():
        (logger.info if s.ok else logger.error)(s.line())
    return [summaries[k] for k in summaries]


async def _client(settings: Settings) -> RedditClient:
    """One client (one budget) per process, gated by the Prefect limits of its client id."""
    return RedditClient(settings, make_transport(settings, gate=await prefect_request_gate(settings)))


def _lake(settings: Settings) -> Lake:
    return Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)


def _land_request_log(lake: Lake, client: RedditClient) -> None:
    from redditlake.reddit.requestlog import RequestLog

    records = client.transport.request_log.drain()
    by_sub: dict[str, list] = {}
    for r in records:
        by_sub.setdefault(r.subreddit or "_all", []).append(r)
    for sub, recs in by_sub.items():
        lake.append("api_requests", sub, RequestLog.to_arrow(recs), dt_column="ts")


def _one_line(exc: object) -> str:
    if isinstance(exc, RedditLakeError):
        return str(exc)
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return str(exc)

"""One subreddit's steps, free of any orchestrator: what to fetch, and fetching it.

Prefect tasks in ``tasks/`` wrap these functions one to one; tests call them
directly. A post's way: ``fetch_posts`` → ``RedditClient.listing`` (raw t3
JSON) → ``landing.Landing.posts`` → ``models.Post.from_api`` →
``Post.to_arrow`` → ``Lake.write``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redditlake.outcome import Outcome
from redditlake.lake import Lake
from redditlake.quality.threads import is_cut
from redditlake.reddit.budget import Priority, request_priority
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import CommentTree, TreeOptions, fetch_comment_tree
from redditlake.watermark import StoredPosts, created_day, marker_days

def about_is_stored(lake: Lake, subreddit: str) -> bool:
    """Whether the lake holds the subreddit's ``about`` already. ``subreddits`` keeps one row
    per id, so a fresh ``about`` would land nothing: the request is worth it only the first
    time (a subreddit gone private or banned since is reported by its listing just the same)."""
    return bool(lake.existing_ids("subreddits", subreddit))


async def fetch_about(client: RedditClient, subreddit: str) -> dict[str, Any]:
    with request_priority(Priority.URGENT):
        return await client.about(subreddit)


async def fetch_posts(
    client: RedditClient,
    subreddit: str,
    sort: str,
    limit: int,
    time_filter: str | None = None,
    known: StoredPosts | None = None,
) -> list[dict[str, Any]]:
    """Posts of one listing, to ``limit`` or the listing's end.

    For ``new`` with ``known`` (the lake's watermark), paging stops after the
    first page whose posts are all stored: everything older is stored. ``known``
    reads only the days the pages' posts were created on. This is
    safe after a crash because the lake publishes a batch oldest day first, so
    what a crash can leave missing is always the newest part of the listing.
    Other sorts are re-read in full: their order and scores change.
    """
    posts: list[dict[str, Any]] = []
    incremental = sort == "new" and known is not None
    with request_priority(Priority.URGENT):
        async for page in client.listing(subreddit, sort, limit, time_filter):
            posts.extend(page)
            if incremental and await asyncio.to_thread(known.all_stored, page):
                break
    return posts[:limit]


def posts_needing_comments(
    posts: Iterable[dict[str, Any]], fetched: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Posts whose comment trees are worth requests.

    ``fetched`` maps post id → ``num_comments`` when its tree was last landed
    (the ``comment_fetches`` markers). A post with no comments, or whose count
    has not moved since its tree was landed, would cost requests to learn nothing.
    """
    fetched = fetched or {}
    return [
        p for p in posts if int(p.get("num_comments") or 0) > 0 and fetched.get(p["id"]) != int(p["num_comments"])
    ]


def fetched_trees(lake: Lake, subreddit: str, since: dt.date | None = None) -> dict[str, int]:
    """The progress markers: post id → num_comments at its last landed tree.

    ``since``: only markers of posts created on or after that day are needed,
    and only the ``comment_fetches`` days that can hold them are read (``None``:
    every marker ever written).
    """
    days = marker_days(lake, subreddit, since)
    latest = lake.latest("comment_fetches", subreddit, ["post_id", "num_comments"], key="post_id", dts=days)
    return dict(zip(latest.column("post_id").to_pylist(), latest.column("num_comments").to_pylist()))


def oldest_day(posts: Iterable[dict[str, Any]], *days: Iterable[dt.date] | None) -> dt.date | None:
    """The oldest of the posts' creation days and the given days (``None`` in ``days`` means "all")."""
    if any(d is None for d in days):
        return None
    found = [created_day(p) for p in posts if p.get("created_utc") is not None]
    found += [day for group in days for day in group]  # type: ignore[union-attr]
    return min(found, default=datetime.now(UTC).date())


def unfetched_stored_posts(
    lake: Lake, subreddit: str, fetched: dict[str, int], days: list[dt.date] | None = None
) -> list[dict[str, Any]]:
    """Stored posts whose trees were never landed (a run that died between its
    posts and their comments): the next run fetches them even if no listing shows them.

    ``days``: the post partitions to check (``watermark.recent_post_days``);
    ``None`` checks every stored post (a full sweep). ``fetched`` must hold the
    markers of those days' posts.
    """
    stored = lake.latest("posts", subreddit, ["id", "num_comments"], dts=days)
    if stored.num_rows == 0:
        return []
    return [r for r in stored.to_pylist() if r["id"] not in fetched and (r["num_comments"] or 0) > 0]


@dataclass
class CommentBatch:
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    trees: dict[str, int] = field(default_factory=dict)  # post id -> comments in its tree
    unexpandable: dict[str, int] = field(default_factory=dict)  # post id -> stubs given up (when any)
    unfinished: set[str] = field(default_factory=set)  # post ids whose fetch ended with stubs left

    def complete(self, post_id: str) -> bool:
        return post_id not in self.unfinished

    def cut_threads(self) -> int:
        """Trees of this batch that landed cut (``quality.threads.is_cut``)."""
        return sum(is_cut(self.unexpandable.get(pid, 0), self.complete(pid)) for pid in self.trees)


async def fetch_comments(
    client: RedditClient, subreddit: str, post_ids: Iterable[str], options: TreeOptions = TreeOptions(),
    parallel: int = 1,
) -> CommentBatch:
    """Complete comment trees of some posts of one subreddit, ``parallel`` trees at a time
    (the client keeps their morechildren calls one at a time)."""
    post_ids = list(post_ids)
    gate = asyncio.Semaphore(parallel)
    trees: dict[str, CommentTree] = {}

    async def one(post_id: str) -> None:
        async with gate:
            trees[post_id] = await fetch_comment_tree(client, post_id, subreddit=subreddit, options=options)

    async with asyncio.TaskGroup() as group:  # one failure cancels the others: the task is retried whole
        for post_id in post_ids:
            group.create_task(one(post_id))
    batch = CommentBatch()
    for post_id in post_ids:
        tree = trees[post_id]
        rows = tree.rows()
        batch.comments.extend(rows)
        batch.requests += tree.requests
        batch.trees[post_id] = len(rows)
        if given_up := len(tree.unexpandable) + len(tree.unexpandable_parents):
            batch.unexpandable[post_id] = given_up
        if not tree.complete:
            batch.unfinished.add(post_id)
    return batch


async def fetch_users(client: RedditClient, names: Iterable[str]) -> list[dict[str, Any]]:
    """Profiles of some authors; deleted accounts (404) are skipped, suspended ones kept with their flag."""
    users = []
    with request_priority(Priority.BACKFILL):
        for name in names:
            data = await client.user_about(name)
            if data is not None:
                users.append(data)
    return users


def authors(things: Iterable[dict[str, Any]]) -> set[str]:
    return {t["author"] for t in things if t.get("author") and t["author"] != "[deleted]"}


@dataclass
class SubredditSummary:
    """What one subreddit's collection did; printed by the CLI, returned by the flow."""

    subreddit: str
    ok: bool = True
    error: str | None = None
    posts: int = 0
    posts_written: int = 0
    comments: int = 0
    comments_written: int = 0
    users: int = 0
    requests: int = 0
    seconds: float = 0.0
    unexpandable: int = 0  # `more` ids and "continue this thread" parents the API never expanded
    cut_threads: int = 0  # trees landed cut (quality.threads.is_cut): comments known to be missing
    quality: Any = field(default=None, repr=False)  # quality.run.QualityReport of this subreddit's batches

    def outcome(self) -> Outcome:
        subject = f"r/{self.subreddit}"
        if not self.ok:
            return Outcome.failed(subject, str(self.error), requests=self.requests)
        detail = (
            f"{self.posts} posts ({self.posts_written} new), "
            f"{self.comments} comments ({self.comments_written} new), "
            + (f"{self.users} users, " if self.users else "")
            + (f"{self.unexpandable} unexpandable stubs, " if self.unexpandable else "")
            + (f"{self.cut_threads} cut threads, " if self.cut_threads else "")
            + f"{self.requests} requests, {self.seconds:.1f}s"
        )
        return Outcome(subject, detail=detail, items=self.posts + self.comments + self.users, requests=self.requests)

    def line(self) -> str:
        return self.outcome().line()

"""One subreddit's steps, free of any orchestrator: fetch → typed rows → lake.

Prefect tasks in ``tasks/`` wrap these functions one to one; tests call them
directly. A post's way: ``RedditClient.listing`` (raw t3 JSON) →
``models.Post.from_api`` → ``Post.to_arrow`` → ``Lake.write``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redditlake.errors import InvalidSubredditName
from redditlake.lake import Lake, WriteResult
from redditlake.lake.names import SUBREDDIT_PATTERN
from redditlake.models import Comment, Post, Row, Subreddit
from redditlake.reddit.budget import Priority, request_priority
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import fetch_comment_tree

def validate_subreddit(name: str) -> str:
    """A subreddit name becomes a path segment in the lake: this is a security boundary."""
    name = name.strip()
    name = name[2:] if name.lower().startswith("r/") else name
    if not SUBREDDIT_PATTERN.fullmatch(name):
        raise InvalidSubredditName(name)
    return name


def now_utc() -> datetime:
    return datetime.now(UTC)


async def fetch_about(client: RedditClient, subreddit: str) -> dict[str, Any]:
    with request_priority(Priority.URGENT):
        return await client.about(subreddit)


async def fetch_posts(
    client: RedditClient, subreddit: str, sort: str, limit: int, time_filter: str | None = None
) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = []
    with request_priority(Priority.URGENT):
        async for page in client.listing(subreddit, sort, limit, time_filter):
            posts.extend(page)
    return posts[:limit]


@dataclass
class CommentBatch:
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0


def posts_needing_comments(posts: Iterable[dict[str, Any]]) -> list[str]:
    """Posts whose comment trees are worth a request: a post the listing says has
    no comments would cost one ``/comments`` call to learn nothing."""
    return [p["id"] for p in posts if int(p.get("num_comments") or 0) > 0]


async def fetch_comments(client: RedditClient, subreddit: str, post_ids: Iterable[str]) -> CommentBatch:
    """Complete comment trees of some posts of one subreddit."""
    batch = CommentBatch()
    for post_id in post_ids:
        tree = await fetch_comment_tree(client, post_id, subreddit=subreddit)
        batch.comments.extend(tree.rows())
        batch.requests += tree.requests
    return batch


def to_table(model: type[Row], things: Iterable[dict[str, Any]], collected_at: datetime):
    return model.to_arrow(model.from_api(t, collected_at) for t in things)


def land(lake: Lake, model: type[Row], subreddit: str, things: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
    return lake.write(model.table, subreddit, to_table(model, things, collected_at))


def land_posts(lake: Lake, subreddit: str, posts: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
    return land(lake, Post, subreddit, posts, collected_at)


def land_comments(lake: Lake, subreddit: str, comments: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
    return land(lake, Comment, subreddit, comments, collected_at)


def land_about(lake: Lake, subreddit: str, about: dict[str, Any], collected_at: datetime) -> WriteResult:
    return land(lake, Subreddit, subreddit, [about], collected_at)


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
    requests: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        if not self.ok:
            return f"r/{self.subreddit}: FAILED: {self.error}"
        return (
            f"r/{self.subreddit}: {self.posts} posts ({self.posts_written} new), "
            f"{self.comments} comments ({self.comments_written} new), "
            f"{self.requests} requests, {self.seconds:.1f}s"
        )

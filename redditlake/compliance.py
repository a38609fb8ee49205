"""Deletion compliance: what users deleted on Reddit is deleted from the lake.

Reddit's terms require removing content its authors deleted (title, body,
URLs) and the identity of deleted accounts. ``/api/info`` answers for 100
fullnames a request, so re-checking what the lake holds is cheap enough to run
on a schedule. Rows are redacted in place, not dropped: the id stays, so the
next collection does not store the post again, and ``deletions`` records what
was done and why. Ids already redacted are not asked about again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redditlake.lake import Lake
from redditlake.models import AUTHOR_REDACTIONS, CONTENT_REDACTIONS, Deletion, PostMetric
from redditlake.reddit.budget import Priority, request_priority
from redditlake.reddit.client import RedditClient

GONE_TEXT = ("[deleted]", "[removed]")
PREFIX = {"posts": "t3_", "comments": "t1_"}


@dataclass
class Verdict:
    id: str
    kind: str
    reason: str
    scope: str  # "content": redact the text; "author": only who wrote it


@dataclass
class RefreshResult:
    subreddit: str
    checked: int = 0
    metrics: int = 0
    redacted: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        red = ", ".join(f"{n} {k}" for k, n in self.redacted.items() if n) or "nothing"
        return f"r/{self.subreddit}: {self.checked} items checked, {self.metrics} post metrics, redacted {red}"


def judge(kind: str, data: dict[str, Any]) -> Verdict | None:
    """Is this thing, as Reddit shows it now, deleted or removed?"""
    text = data.get("selftext" if kind == "posts" else "body")
    if text in GONE_TEXT or data.get("removed_by_category"):
        reason = data.get("removed_by_category") or ("removed" if text == "[removed]" else "deleted")
        return Verdict(data["id"], kind, f"{reason} on reddit", "content")
    if data.get("author") == "[deleted]":
        return Verdict(data["id"], kind, "author account deleted", "author")
    return None


async def check(client: RedditClient, lake: Lake, subreddit: str) -> tuple[list[dict[str, Any]], list[Verdict], int]:
    """Ask Reddit about every stored post and comment not yet redacted."""
    done = set(lake.latest(Deletion.table, subreddit, ["id"], key="id").column("id").to_pylist())
    stored = {kind: sorted(lake.existing_ids(kind, subreddit) - done) for kind in PREFIX}
    fullnames = [PREFIX[kind] + i for kind, ids in stored.items() for i in ids]
    with request_priority(Priority.BACKFILL):
        things = await client.info(fullnames)
    seen: dict[str, dict[str, Any]] = {t["data"]["name"]: t["data"] for t in things if t.get("data", {}).get("name")}
    posts, verdicts = [], []
    for kind, ids in stored.items():
        for i in ids:
            data = seen.get(PREFIX[kind] + i)
            if data is None:  # Reddit no longer knows it: treat as removed
                verdicts.append(Verdict(i, kind, "missing from /api/info", "content"))
                continue
            if kind == "posts":
                posts.append(data)
            verdict = judge(kind, data)
            if verdict:
                verdicts.append(verdict)
    return posts, verdicts, len(fullnames)


def apply(lake: Lake, subreddit: str, posts: list[dict[str, Any]], verdicts: list[Verdict], now: datetime) -> RefreshResult:
    """Land fresh metrics, redact, then record the redactions (after the data they describe)."""
    result = RefreshResult(subreddit)
    if posts:
        lake.append(PostMetric.table, subreddit, PostMetric.to_arrow(PostMetric.from_api(p, now) for p in posts))
        result.metrics = len(posts)
    for kind in PREFIX:
        for scope, values in (("content", CONTENT_REDACTIONS[kind]), ("author", AUTHOR_REDACTIONS)):
            ids = {v.id for v in verdicts if v.kind == kind and v.scope == scope}
            if ids:
                lake.redact(kind, subreddit, ids, values)
        result.redacted[kind] = sum(1 for v in verdicts if v.kind == kind)
    if verdicts:
        rows = Deletion.to_arrow(
            Deletion(id=v.id, kind=v.kind, reason=v.reason, scope=v.scope, collected_at=now) for v in verdicts
        )
        lake.append(Deletion.table, subreddit, rows)
    return result

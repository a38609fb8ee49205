"""Backfill comments thread by thread: Arctic Shift's ``/api/comments/tree``, one request per post.

The window search (``search``) returns the comments *created* in a range, 100 per request,
whichever post they belong to. A thread backfill returns the whole tree of each post created in
the range (replies written after ``until`` included), in one request per post, whatever its
size. So it saves requests where threads average more than a page (100 comments), and it is the
way to complete threads: the posts it reads are the lake's, from any source.

Which posts: those of the subreddit created in ``[since, until)`` with ``num_comments > 0`` whose
tree is not landed at that count yet (the ``comment_fetches`` markers live collection writes too),
so a rerun skips every thread already landed. Per chunk of posts: comments land, then their
markers (never the other way round), so a killed run refetches at most one chunk.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from redditlake.archive.client import ArchiveClient
from redditlake.archive.progress import Progress
from redditlake.archive.search import BackfillResult
from redditlake.clock import now_utc
from redditlake.landing import Landing
from redditlake.models import Comment, CommentFetch
from redditlake.pipeline import fetched_trees, posts_needing_comments
from redditlake.reddit.requestlog import requests_for

THREADS = "threads"  # the ``kind`` of these results (comments, by thread)
log = logging.getLogger("redditlake.backfill")


def posts_in_range(landing: Landing, subreddit: str, since: datetime, until: datetime) -> list[dict]:
    """Stored posts created in ``[since, until)``: only their ``dt`` days are read."""
    lake = landing.lake
    days = [d for d in lake.days("posts", subreddit) if since.date() <= d <= until.date()]
    if not days:
        return []
    rows = lake.latest("posts", subreddit, ["id", "num_comments", "created_utc"], dts=days).to_pylist()
    return sorted((r for r in rows if since <= r["created_utc"] < until), key=lambda r: r["created_utc"])


async def backfill_threads(
    client: ArchiveClient, landing: Landing, subreddit: str, since: datetime, until: datetime, *, chunk: int = 50,
) -> BackfillResult:
    result = BackfillResult(subreddit, client.source, THREADS)
    stored = await asyncio.to_thread(posts_in_range, landing, subreddit, since, until)
    fetched = await asyncio.to_thread(fetched_trees, landing.lake, subreddit, since.date())
    todo = posts_needing_comments(stored, fetched)
    progress = Progress(f"r/{subreddit} {client.source} threads")
    log.info("r/%s: %d posts in range, %d threads to fetch (the others have none or are landed)",
             subreddit, len(stored), len(todo))
    with requests_for(subreddit):
        for start in range(0, len(todo), chunk):
            posts = todo[start:start + chunk]
            trees = await asyncio.gather(*(client.comment_tree(p["id"]) for p in posts))  # paced by the archive budget
            result.requests += len(posts)
            written = await asyncio.to_thread(_land, landing, subreddit, client.source, posts, trees)
            rows = sum(len(t) for t in trees)
            result.rows += rows
            result.written += written
            progress.update((start + len(posts)) / len(todo), rows, written, force=start + chunk >= len(todo))
    return result


def _land(landing: Landing, subreddit: str, source: str, posts: list[dict], trees: list[list[dict]]) -> int:
    """Comments first, then the markers that say their trees are landed."""
    collected = now_utc()
    comments = [c for tree in trees for c in tree]
    written = landing.rows(Comment, subreddit, comments, collected, source=source).written if comments else 0
    markers = [
        # An archive tree comes whole, no stubs: its fetch is complete (to what the archive holds).
        CommentFetch(post_id=p["id"], num_comments=int(p["num_comments"]), comments=len(tree), collected_at=collected,
                     complete=True)
        for p, tree in zip(posts, trees)
    ]
    landing.lake.append(CommentFetch.table, subreddit, CommentFetch.to_arrow(markers))
    return written

"""Against the real Reddit API: skipped unless REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET are set.

Small on purpose (a handful of requests): they check that what the simulator
taught the client still holds on the live service.
"""

from __future__ import annotations

import asyncio

import pytest

from conftest import LIVE_CREDENTIALS
from redditlake.config import load_settings
from redditlake.errors import SubredditUnavailable
from redditlake.models import Comment, Post
from redditlake.clock import now_utc
from redditlake.pipeline import fetch_posts
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import fetch_comment_tree

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not {"REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"} <= LIVE_CREDENTIALS.keys(),
        reason="set REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET to run against the live API",
    ),
]


def settings():
    return load_settings(env=LIVE_CREDENTIALS)


def test_live_listing_and_a_comment_tree_parse_into_rows():
    async def main():
        async with RedditClient(settings()) as client:
            posts = await fetch_posts(client, "python", "new", 5)
            post = max(posts, key=lambda p: p["num_comments"])
            tree = await fetch_comment_tree(client, post["id"], subreddit="python")
            return posts, tree, client.transport.budget.snapshot()

    posts, tree, budget = asyncio.run(main())
    assert len(posts) == 5
    table = Post.to_arrow(Post.from_api(p, now_utc()) for p in posts)
    assert table.num_rows == 5
    comments = Comment.to_arrow(Comment.from_api(c, now_utc()) for c in tree.rows())
    assert comments.num_rows == len({c["id"] for c in tree.rows()})
    assert budget.remaining is not None  # the live service still sends X-Ratelimit-* headers


def test_live_unknown_subreddit_is_reported_not_empty():
    async def main():
        async with RedditClient(settings()) as client:
            return await fetch_posts(client, "thissubredditdoesnotexist1234", "new", 5)

    with pytest.raises(SubredditUnavailable):
        asyncio.run(main())

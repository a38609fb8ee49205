"""Complete comment trees with as few requests as Reddit allows.

Reddit cuts a thread into the comments it shows and ``more`` stubs for the
rest. asyncpraw's ``replace_more`` spends one request per stub, even a stub of
two ids. ``/api/morechildren`` takes up to 100 ids of the same post, so we pool
the ids of every stub of a post and expand them 100 at a time; only the
"continue this thread" stubs (``id == "_"``) need a request of their own.
Each comment is kept once, with ``depth`` recomputed from its parent chain
(Reddit's own depth field is relative in "continue this thread" answers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redditlake.reddit.budget import Priority, request_priority
from redditlake.reddit.client import RedditClient

MORECHILDREN_MAX = 100  # ids per /api/morechildren call
COMMENTS_LIMIT = 500  # Reddit's cap for /comments/{id}


@dataclass
class CommentTree:
    post: dict[str, Any] | None = None
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> t1 data (without replies)
    pending: list[str] = field(default_factory=list)  # ids from `more` stubs, not yet fetched
    continue_parents: list[str] = field(default_factory=list)  # comment ids behind "continue this thread"
    requested: set[str] = field(default_factory=set)
    requests: int = 0

    def add_things(self, things: Iterable[dict[str, Any]]) -> None:
        """Take t1 and more things, nested (``replies``) or flat."""
        stack = list(things)
        while stack:
            thing = stack.pop()
            kind, data = thing.get("kind"), thing.get("data") or {}
            if kind == "t1":
                replies = data.get("replies")
                if data["id"] not in self.comments:
                    self.comments[data["id"]] = {k: v for k, v in data.items() if k != "replies"}
                if isinstance(replies, dict):
                    stack.extend(replies.get("data", {}).get("children", []))
            elif kind == "more":
                if data.get("id") == "_" or (not data.get("children") and data.get("count", 0) == 0):
                    parent = (data.get("parent_id") or "").removeprefix("t1_")
                    if parent and parent not in self.requested:
                        self.continue_parents.append(parent)
                else:
                    self.pending.extend(
                        c for c in data.get("children", []) if c not in self.comments and c not in self.requested
                    )

    def next_batch(self) -> list[str]:
        batch: list[str] = []
        seen: set[str] = set()
        while self.pending and len(batch) < MORECHILDREN_MAX:
            cid = self.pending.pop(0)
            if cid in self.comments or cid in self.requested or cid in seen:
                continue
            seen.add(cid)
            batch.append(cid)
        return batch

    def rows(self) -> list[dict[str, Any]]:
        """Comments with ``depth`` recomputed from the parent chain."""
        depth: dict[str, int] = {}
        for cid in self.comments:
            path: list[str] = []
            cur = cid
            while cur not in depth:
                c = self.comments.get(cur)
                if c is None:  # the chain leaves what we hold: trust Reddit's depth below it
                    depth[cur] = int(self.comments[path[-1]].get("depth") or 0) - 1
                    break
                path.append(cur)
                parent = c["parent_id"]
                if not parent.startswith("t1_"):
                    depth[cur] = 0
                    path.pop()
                    break
                cur = parent.removeprefix("t1_")
            base = depth[cur]
            for i, node in enumerate(reversed(path), start=1):
                depth[node] = base + i
        return [{**c, "depth": depth[cid]} for cid, c in self.comments.items()]


async def fetch_comment_tree(client: RedditClient, post_id: str, *, subreddit: str, sort: str = "confidence") -> CommentTree:
    """Fetch every comment of one post."""
    tree = CommentTree()
    with request_priority(Priority.BACKFILL):
        first = await client.get(f"/comments/{post_id}", {"limit": COMMENTS_LIMIT, "sort": sort}, subreddit=subreddit)
        tree.requests += 1
        post_listing, comment_listing = first
        children = post_listing["data"]["children"]
        tree.post = children[0]["data"] if children else None
        tree.add_things(comment_listing["data"]["children"])
        while tree.pending or tree.continue_parents:
            batch = tree.next_batch()
            if batch:
                tree.requested.update(batch)
                async with client.morechildren_lock:
                    answer = await client.post(
                        "/api/morechildren",
                        {
                            "link_id": f"t3_{post_id}",
                            "children": ",".join(batch),
                            "sort": sort,
                            "limit_children": False,
                        },
                        subreddit=subreddit,
                    )
                tree.requests += 1
                tree.add_things(answer.get("json", {}).get("data", {}).get("things", []))
                continue
            if not tree.continue_parents:
                break
            parent = tree.continue_parents.pop(0)
            if parent in tree.requested:
                continue
            tree.requested.add(parent)
            _, listing = await client.get(
                f"/comments/{post_id}/_/{parent}", {"limit": COMMENTS_LIMIT, "sort": sort}, subreddit=subreddit
            )
            tree.requests += 1
            tree.add_things(listing["data"]["children"])
    return tree

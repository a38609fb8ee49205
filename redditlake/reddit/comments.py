"""Complete comment trees with as few requests as Reddit allows.

Reddit cuts a thread into the comments it shows and ``more`` stubs for the
rest. asyncpraw's ``replace_more`` spends one request per stub, even a stub of
two ids. ``/api/morechildren`` takes up to 100 ids of the same post, so we pool
the ids of every stub of a post and expand them 100 at a time; only the
"continue this thread" stubs (``id == "_"``) need a request of their own.

A morechildren answer is bounded (about 100 comments, replies included): what
does not fit comes back inside new ``more`` objects, including ids asked in that
very call. So every ``more`` received is work still to do, whatever was asked
before. Progress is guaranteed by counting, per id, the calls in a row that
delivered none of the ids asked: after ``max_misses`` such calls an id is given
up and recorded as unexpandable (counted, never silent). A call that delivers
some ids resets the count of the others — they were only crowded out. The same
rule holds for "continue this thread" parents whose view never shows a reply.

Each comment is kept once, with ``depth`` recomputed from its parent chain
(Reddit's own depth field is relative in "continue this thread" answers).

Huge threads (tens of thousands of comments): Reddit refuses big requests on
them (413, or an error body). A refused morechildren call is asked again with
half the ids, a refused tree request with half the ``limit`` and then a lower
``depth``; what a smaller answer leaves out comes back as ``more`` stubs, which
the loop above expands like any other. The smaller sizes stick for the rest of
the thread. What is refused even at its smallest is given up and counted as
unexpandable; a thread whose first request is refused so fails with one line.

morechildren calls run one at a time per client (``client.morechildren_lock``):
Reddit throttles concurrent ones of one client separately.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redditlake.errors import AnswerTooLarge
from redditlake.reddit.budget import Priority, request_priority
from redditlake.reddit.client import RedditClient

MORECHILDREN_MAX = 100  # ids per /api/morechildren call
COMMENTS_LIMIT = 500  # Reddit's cap for /comments/{id}
TREE_LIMIT_FLOOR = 10  # a refused tree request halves its limit down to this, then its depth
TREE_DEPTH = 10  # the depth Reddit shows when none is asked


@dataclass(frozen=True)
class TreeOptions:
    """How deep to collect and when to give up on an id (``collect`` settings)."""

    depth: int | None = None  # levels kept: 1 = top-level comments only; None = all
    max_misses: int = 3  # calls in a row delivering nothing asked before an id is given up
    sort: str = "confidence"


@dataclass
class CommentTree:
    depth_limit: int | None = None
    max_misses: int = 3
    post: dict[str, Any] | None = None
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> t1 data (without replies)
    # Ordered sets (dicts): ids from `more` stubs to ask, parents behind "continue this thread".
    pending: dict[str, None] = field(default_factory=dict)
    continue_parents: dict[str, None] = field(default_factory=dict)
    misses: Counter[str] = field(default_factory=Counter)
    unexpandable: set[str] = field(default_factory=set)  # ids morechildren never delivered
    unexpandable_parents: set[str] = field(default_factory=set)  # "continue this thread" never shown
    expanded_parents: set[str] = field(default_factory=set)
    has_replies: set[str] = field(default_factory=set)  # ids of held comments' parents
    levels: dict[str, int] = field(default_factory=dict)  # depth of held and pending comments
    requests: int = 0
    # Request sizes, lowered when Reddit refuses a request as too large (huge threads).
    batch_size: int = MORECHILDREN_MAX
    tree_limit: int = COMMENTS_LIMIT
    tree_depth: int | None = None  # None: Reddit's default
    refused: int = 0  # requests refused as too large

    def _keep(self, level: int) -> bool:
        return self.depth_limit is None or level < self.depth_limit

    def _level(self, parent_fullname: str, fallback: int) -> int:
        if parent_fullname.startswith("t3_"):
            return 0
        parent = self.levels.get(parent_fullname.removeprefix("t1_"))
        return fallback if parent is None else parent + 1

    def add_things(self, things: Iterable[dict[str, Any]]) -> None:
        """Take t1 and more things, nested (``replies``) or flat; parents before replies."""
        stack = list(things)[::-1]
        while stack:
            thing = stack.pop()
            kind, data = thing.get("kind"), thing.get("data") or {}
            if kind == "t1":
                cid = data["id"]
                level = self.levels.get(cid) if cid in self.comments else None
                if level is None:
                    level = self._level(data.get("parent_id") or "", self.levels.get(cid, int(data.get("depth") or 0)))
                if not self._keep(level):
                    continue
                self.levels[cid] = level
                if cid not in self.comments:
                    self.comments[cid] = {k: v for k, v in data.items() if k != "replies"}
                    self.has_replies.add((data.get("parent_id") or "").removeprefix("t1_"))
                self.pending.pop(cid, None)
                replies = data.get("replies")
                if isinstance(replies, dict):
                    stack.extend(replies.get("data", {}).get("children", [])[::-1])
            elif kind == "more":
                parent = data.get("parent_id") or ""
                children = data.get("children") or []
                if data.get("id") == "_" or (not children and data.get("count", 0) == 0):
                    pid = parent.removeprefix("t1_")
                    if (
                        pid
                        and pid not in self.expanded_parents
                        and pid not in self.unexpandable_parents
                        and self._keep(self.levels.get(pid, 0) + 1)
                    ):
                        self.continue_parents[pid] = None
                    continue
                for cid in children:
                    if cid in self.comments or cid in self.unexpandable:
                        continue
                    # A stub under the post may hand back deep ids asked before: keep what we knew.
                    level = self.levels.get(cid) if parent.startswith("t3_") else None
                    if level is None:
                        level = self._level(parent, int(data.get("depth") or 0))
                    if self._keep(level):
                        self.levels[cid] = level
                        self.pending[cid] = None

    def next_batch(self) -> list[str]:
        """Up to ``batch_size`` pending ids, taken off the queue (``settle`` puts back what did not arrive)."""
        batch: list[str] = []
        for cid in list(self.pending):
            if len(batch) == self.batch_size:
                break
            del self.pending[cid]
            if cid not in self.comments and cid not in self.unexpandable:
                batch.append(cid)
        return batch

    def settle(self, batch: list[str]) -> None:
        """After a morechildren answer: ids that did not arrive are asked again, or given up."""
        missing = [cid for cid in batch if cid not in self.comments]
        progress = len(missing) < len(batch)
        for cid in missing:
            self.misses[cid] = 0 if progress else self.misses[cid] + 1
            if self.misses[cid] >= self.max_misses:
                self.unexpandable.add(cid)
                self.pending.pop(cid, None)
            else:
                self.pending.setdefault(cid, None)
        for cid in batch:
            if cid in self.comments:
                self.misses.pop(cid, None)

    def refuse_batch(self, batch: list[str]) -> None:
        """A morechildren call refused as too large: its ids go back, asked half as many at a time.
        A single id refused is given up (unexpandable)."""
        self.refused += 1
        if len(batch) == 1:
            self.unexpandable.add(batch[0])
            return
        self.batch_size = max(1, len(batch) // 2)
        self.pending = {**dict.fromkeys(batch), **self.pending}

    def shrink_tree_request(self) -> bool:
        """A tree request refused as too large: lower ``limit``, then ``depth``. False: nothing left to lower."""
        self.refused += 1
        if self.tree_limit > TREE_LIMIT_FLOOR:
            self.tree_limit = max(TREE_LIMIT_FLOOR, self.tree_limit // 2)
            return True
        depth = self.tree_depth or TREE_DEPTH
        if depth > 1:
            self.tree_depth = depth // 2
            return True
        return False

    def tree_params(self, sort: str, levels: Iterable[int]) -> dict[str, Any]:
        """``limit``, ``sort`` and ``depth`` of a tree request starting at ``levels``."""
        params: dict[str, Any] = {"limit": self.tree_limit, "sort": sort, **self.depth_param(levels)}
        if self.tree_depth is not None:
            params["depth"] = min(params.get("depth", self.tree_depth), self.tree_depth)
        return params

    def settle_parent(self, parent: str) -> None:
        """After a "continue this thread" answer: done if it showed a reply, else again or given up."""
        if parent in self.has_replies:
            self.expanded_parents.add(parent)
            self.continue_parents.pop(parent, None)
            return
        key = "_" + parent  # parents and ids share one counter without colliding
        self.misses[key] += 1
        if self.misses[key] >= self.max_misses:
            self.unexpandable_parents.add(parent)
            self.continue_parents.pop(parent, None)
        else:
            self.continue_parents.setdefault(parent, None)

    @property
    def complete(self) -> bool:
        """Nothing left to ask: every stub expanded or given up, every "continue this thread" followed."""
        return not self.pending and not self.continue_parents

    def depth_param(self, levels: Iterable[int]) -> dict[str, int]:
        """Reddit's ``depth``, relative to where an answer starts, so it stops at our limit."""
        if self.depth_limit is None:
            return {}
        return {"depth": max(1, self.depth_limit - min(levels, default=0))}

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
        return [{**c, "depth": depth[cid]} for cid, c in self.comments.items() if self._keep(depth[cid])]


async def fetch_comment_tree(
    client: RedditClient, post_id: str, *, subreddit: str, options: TreeOptions = TreeOptions()
) -> CommentTree:
    """Fetch every comment of one post (to ``options.depth`` levels)."""
    tree = CommentTree(depth_limit=options.depth, max_misses=options.max_misses)
    sort = options.sort
    with request_priority(Priority.BACKFILL):
        first = await _tree_request(client, tree, f"/comments/{post_id}", sort, 0, subreddit)
        if first is None:
            raise AnswerTooLarge(f"/comments/{post_id}")
        post_listing, comment_listing = first
        children = post_listing["data"]["children"]
        tree.post = children[0]["data"] if children else None
        tree.add_things(comment_listing["data"]["children"])
        while tree.pending or tree.continue_parents:
            batch = tree.next_batch()
            if batch:
                # Under a depth limit, ask for the requested comments only (their replies come back
                # as stubs): expanded replies past the limit would fill the capped answer with
                # comments we drop.
                limited = tree.depth_limit is not None
                params = {"link_id": f"t3_{post_id}", "children": ",".join(batch), "sort": sort, "limit_children": limited}
                try:
                    async with client.morechildren_lock:
                        tree.requests += 1
                        answer = await client.post("/api/morechildren", params, subreddit=subreddit)
                except AnswerTooLarge:
                    tree.refuse_batch(batch)
                    continue
                tree.add_things(answer.get("json", {}).get("data", {}).get("things", []))
                tree.settle(batch)
                continue
            if not tree.continue_parents:
                break
            parent = next(iter(tree.continue_parents))
            del tree.continue_parents[parent]
            answer = await _tree_request(client, tree, f"/comments/{post_id}/_/{parent}", sort,
                                         tree.levels.get(parent, 0), subreddit)
            if answer is None:
                tree.unexpandable_parents.add(parent)
                continue
            tree.add_things(answer[1]["data"]["children"])
            tree.settle_parent(parent)
    return tree


async def _tree_request(client: RedditClient, tree: CommentTree, path: str, sort: str, level: int,
                        subreddit: str) -> Any:
    """A tree answer, asked smaller until Reddit accepts it; None if refused even at its smallest."""
    while True:
        tree.requests += 1
        try:
            return await client.get(path, tree.tree_params(sort, [level]), subreddit=subreddit)
        except AnswerTooLarge:
            if not tree.shrink_tree_request():
                return None

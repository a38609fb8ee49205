"""An aiohttp client for Pushshift-compatible archives: PullPush and Arctic Shift.

Both search by ``created_utc`` (``after``/``before``, exclusive, epoch seconds); they differ in
paths, in the page-size parameter and in how they wrap answers. Requests go through the same
``Transport`` as Reddit's (retries with backoff, breaker per host, request log) but with a
budget of their own: the archives rate limit separately, and their ``X-RateLimit-*`` headers and
429s pace this budget only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from redditlake.config import ArchiveSettings, Settings
from redditlake.errors import ApiUnavailable, RedditLakeError
from redditlake.reddit.budget import RequestBudget
from redditlake.reddit.transport import Transport

POSTS, COMMENTS = "posts", "comments"
TREE_LIMIT = 25_000


@dataclass(frozen=True)
class Flavour:
    name: str  # the `source` its rows record
    paths: dict[str, str]
    size_param: str


PULLPUSH = Flavour("pullpush", {POSTS: "/reddit/search/submission/", COMMENTS: "/reddit/search/comment/"}, "size")
ARCTICSHIFT = Flavour("arcticshift", {POSTS: "/api/posts/search", COMMENTS: "/api/comments/search"}, "limit")
FLAVOURS = {f.name: f for f in (PULLPUSH, ARCTICSHIFT)}


def archive_transport(settings: Settings) -> Transport:
    """A transport with the archive's own budget (Reddit's budget is not spent on archives)."""
    a: ArchiveSettings = settings.archive
    return Transport(
        budget=RequestBudget(requests_per_window=a.requests_per_minute, window_seconds=60, burst=5,
                             safety_margin=2, max_in_flight=2),
        http=settings.http,
        breaker_settings=settings.breaker,
    )


class ArchiveClient:
    """One archive API. Use as ``async with``; share the transport between clients of one run."""

    def __init__(self, flavour: Flavour, base_url: str, transport: Transport, page_size: int = 100) -> None:
        self.flavour = flavour
        self.base_url = base_url.rstrip("/")
        self.transport = transport
        self.page_size = page_size
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def for_source(cls, source: str, settings: Settings, transport: Transport | None = None) -> ArchiveClient:
        flavour = FLAVOURS[source]
        url = settings.archive.pullpush_url if flavour is PULLPUSH else settings.archive.arcticshift_url
        return cls(flavour, url, transport or archive_transport(settings), settings.archive.page_size)

    @property
    def source(self) -> str:
        return self.flavour.name

    async def __aenter__(self) -> ArchiveClient:
        self._session = aiohttp.ClientSession(headers={"User-Agent": "redditlake-backfill/0.1"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        assert self._session is not None, "use `async with ArchiveClient(...)`"
        url = self.base_url + path
        response = await self.transport.send(self._session, "GET", url, params=params)
        if response.status != 200:
            detail = (await response.text())[:200].replace("\n", " ")
            raise RedditLakeError(f"{self.source} answered HTTP {response.status} for {path} ({detail}); check its URL "
                                  f"({self.base_url}) and the parameters")
        body = await response.json(content_type=None)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ApiUnavailable(f"{self.source} answered without a data list for {path}; is {self.base_url} the right API?")
        if body.get("error"):
            raise RedditLakeError(f"{self.source} error for {path}: {body['error']}")
        return body["data"]

    async def search(self, kind: str, subreddit: str, after: int, before: int, *, size: int | None = None) -> list[dict]:
        """Items of ``subreddit`` created in ``(after, before)``, oldest first, at most one page."""
        params = {
            "subreddit": subreddit,
            "after": int(after),
            "before": int(before),
            "sort": "asc",
            self.flavour.size_param: size or self.page_size,
        }
        if self.flavour is PULLPUSH:
            params["sort_type"] = "created_utc"
        return await self._get(self.flavour.paths[kind], params)

    async def comment_tree(self, link_id: str) -> list[dict]:
        """A post's archived comments, flattened (Arctic Shift only), with ``depth`` filled in."""
        if self.flavour is not ARCTICSHIFT:
            raise RedditLakeError("comment trees are an Arctic Shift endpoint; use --source arcticshift")
        # Arctic Shift's tree answers at most ``limit`` comments (25,000 is its largest).
        things = await self._get("/api/comments/tree", {"link_id": link_id if link_id.startswith("t3_") else f"t3_{link_id}",
                                                        "limit": TREE_LIMIT})
        out: list[dict] = []
        # (thing, the depth of its place in the tree or None, the fullname its parent_id must name)
        stack: list[tuple[dict, int | None, str | None]] = [(t, 0, None) for t in reversed(things)]
        while stack:
            thing, depth, parent = stack.pop()
            if thing.get("kind") != "t1":
                continue
            data = dict(thing["data"])
            replies = data.pop("replies", "") or {}
            # A node hung under something other than its parent (an archive that lost the parent puts
            # the reply at the top) has no depth we know, nor has its subtree: the landing derives
            # it from the stored thread, or leaves it unknown.
            placed = data.get("parent_id") == parent if parent else str(data.get("parent_id", "")).startswith("t3_")
            if data.get("depth") is None:
                data["depth"] = depth if placed else None
            out.append(data)
            children = (replies.get("data") or {}).get("children") or [] if isinstance(replies, dict) else []
            name = data.get("name") or f"t1_{data.get('id')}"
            below = data["depth"] + 1 if isinstance(data["depth"], int) else None
            stack.extend((c, below, name) for c in reversed(children))
        return out

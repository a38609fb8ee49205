"""Following one listing (``/r/{sub}/new`` or ``/r/{sub}/comments``) without gaps or duplicates.

The position is the newest ``created_utc`` landed and the ids landed at that second. A poll reads
the listing newest first and stops at the first item strictly older than the position: everything
newer is in hand. A full page that does not reach it means more arrived than one page holds, so
the poll pages back (``after``) until it does. If the listing ends first (Reddit cuts listings at
about 1,000 items, e.g. after a long stop) the items between the position and the oldest item
still listed cannot be had from Reddit: that range is a coverage gap, recorded with its time range
for a backfill to fill.

Comment ids are not ordered by time (they are per thread), so the position is a time, never an id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redditlake.archive.client import COMMENTS, POSTS
from redditlake.reddit.budget import Priority, request_priority
from redditlake.reddit.client import LISTING_PAGE, RedditClient
from redditlake.reddit.requestlog import requests_for

PATHS = {POSTS: "new", COMMENTS: "comments"}
MAX_PAGES = 12  # past Reddit's 1,000-item cap: a listing that still goes on is not Reddit's


@dataclass
class Gap:
    kind: str
    start: float  # epoch seconds, inclusive
    end: float  # exclusive


@dataclass
class Poll:
    items: list[dict[str, Any]]
    requests: int
    paged_back: bool
    gap: Gap | None = None


@dataclass
class Follower:
    subreddit: str
    kind: str
    newest: float | None = None  # position: newest created_utc landed
    newest_ids: set[str] = field(default_factory=set)
    interval: float = 5.0
    due: float = 0.0

    @property
    def path(self) -> str:
        return f"/r/{self.subreddit}/{PATHS[self.kind]}"

    def _known(self, item: dict[str, Any]) -> bool:
        return float(item["created_utc"]) == self.newest and item["id"] in self.newest_ids

    async def poll(self, client: RedditClient) -> Poll:
        items: list[dict[str, Any]] = []
        requests, after, reached, oldest = 0, None, False, None
        with requests_for(self.subreddit), request_priority(Priority.NORMAL):
            while True:
                params: dict[str, Any] = {"limit": LISTING_PAGE}
                if after:
                    params["after"] = after
                listing = await client.get(self.path, params, subreddit=self.subreddit)
                requests += 1
                data = listing.get("data") or {} if isinstance(listing, dict) else {}
                page = [c["data"] for c in data.get("children", []) if c.get("kind") in ("t1", "t3")]
                for item in page:
                    created = float(item["created_utc"])
                    oldest = created if oldest is None else min(oldest, created)
                    if self.newest is not None and created < self.newest:
                        reached = True
                        break
                    if not self._known(item):
                        items.append(item)
                after = data.get("after")
                # First poll ever: the stream starts now, history is a backfill's job.
                if reached or self.newest is None or not after or requests >= MAX_PAGES:
                    break
        gap = None
        if self.newest is not None and not reached and oldest is not None and oldest > self.newest:
            # The listing ran out above our position: (newest, oldest listed] is lost to Reddit.
            gap = Gap(self.kind, self.newest, int(oldest) + 1)
        self._advance(items)
        return Poll(items, requests, requests > 1, gap)

    def _advance(self, items: list[dict[str, Any]]) -> None:
        """Move the read position past items handed to the buffer (persisted when it is landed)."""
        for item in items:
            created = float(item["created_utc"])
            if self.newest is None or created > self.newest:
                self.newest, self.newest_ids = created, {item["id"]}
            elif created == self.newest:
                self.newest_ids.add(item["id"])

    def pace(self, poll: Poll, floor: float, ceiling: float) -> None:
        """Busy listings are polled faster, quiet ones slower; never faster than the budget allows."""
        if poll.paged_back:
            self.interval = floor
        elif poll.items:
            self.interval = max(floor, self.interval / 2)
        else:
            self.interval = min(ceiling, self.interval * 1.5)
        self.interval = min(max(self.interval, floor), max(ceiling, floor))

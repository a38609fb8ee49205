"""Listing coverage: a ``new`` sweep that reached Reddit's 1,000-item cap could not see further
back, so posts between the oldest it saw and the newest stored before it may be unreachable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow.compute as pc

from redditlake.lake import Lake

LISTING_CAP = 1000


def coverage_gap(lake: Lake, subreddit: str, sort: str, listing: list[dict[str, Any]], now: datetime,
                 cap: int = LISTING_CAP) -> dict[str, Any] | None:
    """An ``integrity_findings`` row when this sweep hit the cap, with the gap's time range."""
    if sort != "new" or len(listing) < cap:
        return None
    oldest = min(float(p["created_utc"]) for p in listing)
    gap_end = datetime.fromtimestamp(oldest, tz=UTC)
    stored = lake.latest("posts", subreddit, ["created_utc"])
    before = None
    if stored.num_rows and stored.schema.field("created_utc").type != "null":
        older = stored.filter(pc.less(stored.column("created_utc"), gap_end))
        if older.num_rows:
            before = pc.max(older.column("created_utc")).as_py()
    since = "the subreddit's start" if before is None else before.isoformat()
    return {
        "check_id": f"coverage-{subreddit.lower()}-{now.timestamp():.0f}", "check": "coverage_gap",
        "subreddit": subreddit.lower(), "post_id": listing[-1].get("id"), "item_id": None,
        "detail": f"new sweep hit the {cap}-item cap: posts from {since} to {gap_end.isoformat()} may be unreachable",
        "value": float(len(listing)), "checked_at": now,
    }

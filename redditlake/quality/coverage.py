"""Listing coverage as an integrity finding: a ``new`` sweep that reached Reddit's 1,000-item
cap could not see further back, so posts between the newest stored before it and the oldest it
saw may be unreachable. ``redditlake.coverage_report.listing_cap_gap`` finds the cut and its range
(recorded in ``coverage_gaps``); this turns it into the quality catalog's row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redditlake.positions import CoverageGap

LISTING_CAP = 1000


def coverage_finding(gap: CoverageGap, subreddit: str, listing: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``integrity_findings`` row of a listing cut by the cap."""
    since = "the subreddit's start" if gap.gap_start <= datetime.fromtimestamp(0, UTC) else gap.gap_start.isoformat()
    return {
        "check_id": f"coverage-{subreddit.lower()}-{gap.collected_at.timestamp():.0f}", "check": "coverage_gap",
        "subreddit": subreddit.lower(), "post_id": listing[-1].get("id"), "item_id": None,
        "detail": f"new sweep hit the {len(listing)}-item cap: posts from {since} to {gap.gap_end.isoformat()} "
                  "may be unreachable",
        "value": float(len(listing)), "checked_at": gap.collected_at,
    }

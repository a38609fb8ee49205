"""What a run must read to know where it stands, bounded by what it can touch.

The lake is the watermark (serverless workers keep no state), but reading a
subreddit's whole history on every run makes a run's cost grow with the lake.
Posts are partitioned by the UTC day of ``created_utc``, and every post in a
listing carries its ``created_utc``, so whether a listed post is stored is
answered by its own day's partition alone; comment-fetch markers are written
at or after their post's creation, so a post's marker lies in a ``dt`` at or
after its post's day. Both give reads bounded by the days a run sees, not by
the days the lake holds.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from typing import Any

from redditlake.clock import utc
from redditlake.lake import Lake

# A marker's collected_at comes from the collector's clock, a post's
# created_utc from Reddit's: a day of slack keeps skew from hiding markers.
CLOCK_SLACK = dt.timedelta(days=1)


def created_day(thing: dict[str, Any]) -> dt.date:
    """The ``dt`` partition a post or comment lands in: the day ``clock.utc`` gives its ``created_utc``."""
    return utc(thing["created_utc"]).date()


class StoredPosts:
    """The ``new`` watermark: are these listed posts all stored?

    Reads the ``id`` column of a day's partition the first time a listed post
    of that day is asked about, and keeps it for the run: a ``new`` sweep
    reads the few days its pages span, however long the history. Safe to share
    between the concurrent listings of one run.
    """

    def __init__(self, lake: Lake, subreddit: str, table: str = "posts") -> None:
        self.lake, self.subreddit, self.table = lake, subreddit, table
        self._by_day: dict[dt.date, set[str]] = {}
        self._lock = threading.Lock()

    @property
    def days_read(self) -> list[dt.date]:
        return sorted(self._by_day)

    def _ids(self, day: dt.date) -> set[str]:
        with self._lock:
            if day not in self._by_day:
                self._by_day[day] = self.lake.existing_ids(self.table, self.subreddit, [day])
            return self._by_day[day]

    def all_stored(self, posts: Iterable[dict[str, Any]]) -> bool:
        """True if every post is stored (a post without ``created_utc`` counts as not stored)."""
        for post in posts:
            if post.get("created_utc") is None or post["id"] not in self._ids(created_day(post)):
                return False
        return True


def marker_days(lake: Lake, subreddit: str, since: dt.date | None) -> list[dt.date] | None:
    """The ``comment_fetches`` days that can hold markers of posts created on or after ``since``
    (``None``: all of them)."""
    if since is None:
        return None
    start = since - CLOCK_SLACK
    return [day for day in lake.days("comment_fetches", subreddit) if day >= start]


def recent_post_days(lake: Lake, subreddit: str, days: int | None) -> list[dt.date] | None:
    """The post days within ``days`` days of the newest stored post's day (``None``: all of them).

    Counted from the lake's newest day, not the wall clock's, so a subreddit
    collected rarely still gets its newest posts checked.
    """
    if days is None:
        return None
    stored = lake.days("posts", subreddit)
    if not stored or days <= 0:
        return []
    return [day for day in stored if day > stored[-1] - dt.timedelta(days=days)]

"""What a backfill is asked to do, checked before anything runs: dates, sources, subreddits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime

from redditlake.archive.client import FLAVOURS
from redditlake.clock import now_utc
from redditlake.errors import RedditLakeError
from redditlake.subreddit_names import validate_subreddit


def parse_when(value: str, flag: str) -> datetime:
    """``2024-01-01`` (midnight UTC), an ISO date-time, or epoch seconds."""
    text = value.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RedditLakeError(f"{flag} {value!r} is not a date: use YYYY-MM-DD, an ISO date-time or epoch seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class BackfillPlan:
    subreddits: list[str]
    since: datetime
    until: datetime
    apis: list[str]  # pullpush | arcticshift
    dumps: list[str]  # paths of .zst files
    invalid: dict[str, str]  # name -> why it is skipped (one bad subreddit never stops the others)
    threads: bool = False  # comments as whole threads (Arctic Shift's tree endpoint), not by time window


def make_plan(subreddits: list[str], since: str, until: str | None, sources: list[str] | None,
              threads: bool = False) -> BackfillPlan:
    valid, invalid = [], {}
    for raw in subreddits:
        try:
            valid.append(validate_subreddit(raw))
        except RedditLakeError as exc:
            invalid[raw] = str(exc)
    if not valid:
        raise RedditLakeError(next(iter(invalid.values()), "no subreddit given"))
    subs = list({s.lower(): s for s in valid}.values())
    start = parse_when(since, "--since")
    end = parse_when(until, "--until") if until else now_utc().replace(microsecond=0)
    if start >= end:
        raise RedditLakeError(f"--since {start:%Y-%m-%d %H:%M:%S} is not before --until {end:%Y-%m-%d %H:%M:%S}")
    apis, dumps = [], []
    for source in sources or ["pullpush"]:
        if source.lower() in FLAVOURS:
            apis.append(source.lower())
        elif source.endswith(".zst"):
            if not os.path.isfile(source):
                raise RedditLakeError(f"dump file {source} does not exist; pass an existing .zst file to --source")
            dumps.append(source)
        else:
            raise RedditLakeError(f"unknown --source {source!r}: use pullpush, arcticshift or a FILE.zst dump")
    if threads and "arcticshift" not in apis:
        raise RedditLakeError("--threads reads Arctic Shift's /api/comments/tree: add --source arcticshift")
    return BackfillPlan(subs, start, end, list(dict.fromkeys(apis)), list(dict.fromkeys(dumps)), invalid, threads)

"""The stream: followers for each subreddit's new posts and new comments, a micro-batch buffer,
positions in the lake, and a clean stop.

Polls go one at a time through the shared ``RedditClient`` (its budget is the client id's:
other flows keep their share), and each listing is polled no faster than
``budget_share`` of the client's requests per minute allows across all listings. The buffer is
landed when it holds ``batch_rows`` rows or its oldest row waited ``batch_seconds``, and on stop
(duration, max items, SIGINT/SIGTERM): data first, then positions, then any gaps found.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redditlake.archive.client import COMMENTS, POSTS
from redditlake.archive.search import MODELS
from redditlake.clock import now_utc, utc
from redditlake.config import Settings
from redditlake.errors import ApiUnavailable, SubredditUnavailable
from redditlake.landing import Landing
from redditlake.outcome import Outcome
from redditlake.positions import CoverageGap, StreamPosition, append, latest
from redditlake.reddit.client import RedditClient
from redditlake.stream.follower import Follower, Gap

log = logging.getLogger("redditlake.stream")


@dataclass
class StreamSummary:
    subreddits: list[str]
    items: dict[str, int] = field(default_factory=dict)  # "sub kind" -> items buffered
    written: int = 0
    polls: int = 0
    requests: int = 0
    flushes: int = 0
    gaps: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # content clock: created -> landed, seconds
    stopped_by: str = ""
    failed: dict[str, str] = field(default_factory=dict)  # subreddit -> why it was dropped

    @property
    def total(self) -> int:
        return sum(self.items.values())

    def outcomes(self) -> list[Outcome]:
        out = [Outcome(f"r/{k}", detail=f"{n} new", items=n) for k, n in sorted(self.items.items())]
        out += [Outcome.failed(f"r/{sub}", why) for sub, why in sorted(self.failed.items())]
        out.append(Outcome("stream", items=self.total, requests=self.requests,
                           detail=f"{self.total} items, {self.written} written, {self.polls} polls "
                           f"({self.requests} requests), {self.flushes} batches landed, stopped by {self.stopped_by}"))
        for sub, kind, start, end in self.gaps:  # not a failure: the stream goes on; a backfill fills it
            out.append(Outcome(f"r/{sub} {kind}", warn=True,
                               detail=f"GAP {start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S} (listing cap); fill it with "
                               f"`redditlake backfill {sub} --since {start:%Y-%m-%dT%H:%M:%S} --until {end:%Y-%m-%dT%H:%M:%S}`"))
        return out

    def lines(self) -> list[str]:
        return [o.line() for o in self.outcomes()]


class Stream:
    def __init__(
        self, client: RedditClient, landing: Landing, subreddits: list[str], settings: Settings,
        *, content_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.landing, self.settings = client, landing, settings
        self.subreddits = subreddits
        self.opts = settings.stream
        self.content_clock = content_clock  # epoch now; the simulator's clock in tests and benchmarks
        self.stop_event = asyncio.Event()
        self.summary = StreamSummary(subreddits)
        self.followers = [Follower(sub, kind) for sub in subreddits for kind in (POSTS, COMMENTS)]
        self._buffer: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._buffered = 0
        self._buffer_since: float | None = None
        self._gaps: list[tuple[str, Gap]] = []
        budget = settings.budget
        per_second = budget.requests_per_minute / 60 * self.opts.budget_share
        self.floor = max(self.opts.min_interval, len(self.followers) / per_second)

    def stop(self, reason: str = "signal") -> None:
        if not self.stop_event.is_set():
            self.summary.stopped_by = reason
            self.stop_event.set()

    def _load_positions(self) -> None:
        for sub in self.subreddits:
            stored = latest(self.landing.lake, StreamPosition, sub, "kind")
            for f in self.followers:
                if f.subreddit == sub and f.kind in stored:
                    row = stored[f.kind]
                    f.newest = row["newest_utc"].timestamp()
                    f.newest_ids = set(filter(None, row["newest_ids"].split(",")))

    async def run(self, duration: float | None = None, max_items: int | None = None) -> StreamSummary:
        await asyncio.to_thread(self._load_positions)
        started = time.monotonic()
        for f in self.followers:
            f.interval, f.due = self.floor, started
        with _signals(self.stop):
            try:
                while not self.stop_event.is_set():
                    now = time.monotonic()
                    if duration is not None and now - started >= duration:
                        self.stop("duration")
                        break
                    follower = min(self.followers, key=lambda f: f.due)
                    wait = follower.due - now
                    if self._buffer_since is not None:
                        wait = min(wait, self._buffer_since + self.opts.batch_seconds - now)
                    if duration is not None:
                        wait = min(wait, started + duration - now)
                    if wait > 0:
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(self.stop_event.wait(), wait)
                        await self._maybe_flush()
                        continue
                    await self._poll(follower)
                    await self._maybe_flush()
                    if max_items is not None and self.summary.total >= max_items:
                        self.stop("max-items")
            finally:
                if not self.summary.stopped_by:
                    self.summary.stopped_by = "error"
                await self.flush()
        return self.summary

    async def _poll(self, follower: Follower) -> None:
        try:
            poll = await follower.poll(self.client)
        except SubredditUnavailable as exc:
            # One bad subreddit never stops the others.
            self.followers = [f for f in self.followers if f.subreddit != follower.subreddit]
            self.summary.failed[follower.subreddit] = str(exc)
            log.error("%s", exc)
            if not self.followers:
                self.stop("error")
            return
        except ApiUnavailable as exc:
            # A long-running stream outlives outages: try this listing again later.
            follower.interval = max(self.opts.max_interval, self.floor)
            follower.due = time.monotonic() + follower.interval
            log.warning("r/%s %s: %s; next poll in %.0fs", follower.subreddit, follower.kind, exc, follower.interval)
            return
        self.summary.polls += 1
        self.summary.requests += poll.requests
        follower.pace(poll, self.floor, max(self.opts.max_interval, self.floor))
        follower.due = time.monotonic() + (0 if poll.paged_back else follower.interval)
        if poll.gap is not None:
            self._gaps.append((follower.subreddit, poll.gap))
            log.warning("r/%s %s: the listing ended %s after our last position: gap recorded",
                        follower.subreddit, follower.kind, utc(poll.gap.end))
        if poll.items:
            key = (follower.subreddit, follower.kind)
            self._buffer.setdefault(key, []).extend(poll.items)
            self._buffered += len(poll.items)
            self.summary.items[f"{follower.subreddit} {follower.kind}"] = (
                self.summary.items.get(f"{follower.subreddit} {follower.kind}", 0) + len(poll.items))
            if self._buffer_since is None:
                self._buffer_since = time.monotonic()

    async def _maybe_flush(self) -> None:
        if self._buffered >= self.opts.batch_rows or (
            self._buffer_since is not None and time.monotonic() - self._buffer_since >= self.opts.batch_seconds
        ):
            await self.flush()

    async def flush(self) -> None:
        """Land the buffer, then the positions it reached, then the gaps seen (in that order)."""
        buffer, gaps = self._buffer, self._gaps
        positions = {(f.subreddit, f.kind): (f.newest, set(f.newest_ids)) for f in self.followers}
        self._buffer, self._gaps, self._buffered, self._buffer_since = {}, [], 0, None
        if not buffer and not gaps:
            return
        written = await asyncio.to_thread(self._land, buffer, positions, gaps)
        self.summary.written += written
        if buffer:
            self.summary.flushes += 1
            landed_at = self.content_clock()
            self.summary.latencies.extend(landed_at - float(i["created_utc"]) for items in buffer.values() for i in items)

    def _land(self, buffer, positions, gaps) -> int:
        lake, collected = self.landing.lake, now_utc()
        written = 0
        for (sub, kind), items in sorted(buffer.items()):
            written += self.landing.rows(MODELS[kind], sub, items, collected).written
            if kind == POSTS:
                self.landing.metrics(sub, items, collected)
        for sub in self.subreddits:
            rows = [
                StreamPosition(kind=kind, newest_utc=utc(newest), newest_ids=",".join(sorted(ids)), collected_at=collected)
                for (s, kind), (newest, ids) in positions.items()
                if s == sub and newest is not None and (s, kind) in buffer
            ]
            append(lake, StreamPosition, sub, rows)
        for sub, gap in gaps:
            append(lake, CoverageGap, sub, [CoverageGap(kind=gap.kind, source="stream", reason="listing_cap",
                                                        gap_start=utc(gap.start), gap_end=utc(gap.end),
                                                        collected_at=collected)])
            self.summary.gaps.append((sub, gap.kind, utc(gap.start), utc(gap.end)))
        return written


@contextlib.contextmanager
def _signals(stop: Callable[[str], None]):
    """SIGINT/SIGTERM stop the stream cleanly (flush + positions) instead of killing it mid-batch."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)

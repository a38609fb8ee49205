"""Backfill one subreddit and kind from an archive API, window by ``created_utc`` window.

A window ``[pos, hi)`` is asked for oldest first. A page with room to spare covers the whole
window: the position moves to ``hi`` and the next window doubles. A full page covers only
``[pos, last)`` (``last`` = its newest second, which may continue on the next page): the position
moves to ``last`` and the next window shrinks to the span the page really held. A full page whose
items all share one second cannot be split further by time: that second is recorded as a
coverage gap and skipped. Pages are gathered until ``batch_rows`` rows are pending, then landed
together (dedup by id) and only then is their position appended: a killed backfill repeats at
most one batch of pages, a rerun resumes from the last position, and the lake gets one file per
day per batch instead of one per page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from redditlake.archive.client import COMMENTS, POSTS, ArchiveClient
from redditlake.archive.progress import Progress
from redditlake.clock import now_utc, utc
from redditlake.landing import Landing
from redditlake.models import Comment, Post
from redditlake.outcome import Outcome
from redditlake.positions import BackfillProgress, CoverageGap, append, latest
from redditlake.reddit.requestlog import requests_for

MODELS = {POSTS: Post, COMMENTS: Comment}


def epoch(value: datetime) -> int:
    return int(value.timestamp())


@dataclass
class BackfillResult:
    subreddit: str
    source: str
    kind: str
    rows: int = 0
    written: int = 0
    requests: int = 0
    resumed_from: datetime | None = None
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)
    ok: bool = True
    error: str | None = None

    def outcome(self) -> Outcome:
        subject = f"r/{self.subreddit} {self.source} {self.kind}"
        if not self.ok:
            return Outcome.failed(subject, str(self.error), items=self.rows, requests=self.requests)
        resumed = f", resumed from {self.resumed_from:%Y-%m-%d %H:%M:%S}" if self.resumed_from else ""
        gaps = f", {len(self.gaps)} uncoverable second(s) recorded as gaps" if self.gaps else ""
        return Outcome(subject, detail=f"{self.rows} rows, {self.written} new, {self.requests} requests{resumed}{gaps}",
                       items=self.rows, requests=self.requests)

    def line(self) -> str:
        return self.outcome().line()


def job_key(source: str, kind: str, since: datetime) -> str:
    # Not keyed on `until`: a rerun without --until (until = now) still resumes.
    return f"{source}:{kind}:{epoch(since)}"


@dataclass
class _Pending:
    """Pages fetched but not landed yet: their rows, gaps, and the position they reach."""

    items: list[dict] = field(default_factory=list)
    gaps: list[CoverageGap] = field(default_factory=list)
    position: int | None = None


async def backfill_search(
    client: ArchiveClient, landing: Landing, subreddit: str, kind: str, since: datetime, until: datetime,
    *, window_days: float = 7.0, batch_rows: int = 5_000, job: str | None = None,
    on_landed: Callable[[list[dict]], None] | None = None, trailing: bool = False,
) -> BackfillResult:
    """Pages are landed together once ``batch_rows`` rows are pending, at the end, and when the
    run stops on an error (what was fetched is kept): one file per day per batch, not per page.

    ``job``: the position's key (default: source, kind and ``since``); ``on_landed`` sees each
    batch's items after they landed and before their position is written. ``trailing``: ``until``
    is now, and an archive lags behind now, so the position stops at the newest item seen, not at
    ``until`` nor at the end of an empty window after it (the next run reads from that second
    again; the lake keeps one row per id)."""
    lake, source = landing.lake, client.source
    result = BackfillResult(subreddit, source, kind)
    job = job or job_key(source, kind, since)
    start, end = epoch(since), epoch(until)
    stored = latest(lake, BackfillProgress, subreddit, "job").get(job)
    # The position also commits with each batch's rows (a Delta app transaction): a run killed
    # after the rows landed but before its progress row resumes after them, not before.
    app_id = f"backfill:{subreddit}:{job}"
    landed = lake.app_version(MODELS[kind].table, app_id)
    pos = max(start, epoch(stored["position_utc"]) if stored is not None else start, landed or start)
    if pos > start:
        result.resumed_from = utc(pos)
    width = max(1, int(window_days * 86400))
    progress = Progress(f"r/{subreddit} {source} {kind}")
    pending = _Pending()
    resumed = pos
    newest: int | None = None  # the newest second seen this run (``trailing``)

    def confirmed(position: int) -> int:
        """``trailing``: a window past the newest item seen this run may hold what the archive has
        not taken in yet (it lags behind now), so its end proves nothing: hold at that item (at
        the run's start when none). Otherwise a window answered with room to spare is covered."""
        if not trailing:
            return position
        return min(position, newest if newest is not None else resumed)

    def flush() -> None:
        """Rows first, then the gaps, then the position: a position never names rows that did not land."""
        nonlocal pending
        if pending.position is None:
            return
        collected = now_utc()
        items = pending.items
        position = confirmed(pending.position)
        written = landing.rows(MODELS[kind], subreddit, items, collected, source=source,
                               app=(app_id, position)).written if items else 0
        if on_landed is not None and items:
            on_landed(items)
        append(lake, CoverageGap, subreddit, pending.gaps)
        append(lake, BackfillProgress, subreddit, [BackfillProgress(
            job=job, source=source, kind=kind, since_utc=since, until_utc=until, position_utc=utc(position),
            position_line=None, rows=len(items), done=position >= end, collected_at=collected,
        )])
        result.rows += len(items)
        result.written += written
        progress.add(written=written)
        if position >= end:
            progress.update(1.0, 0, 0, force=True)
        pending = _Pending()

    with requests_for(subreddit):
        try:
            while pos < end:
                hi = min(end, pos + width)
                items = await client.search(kind, subreddit, after=pos - 1, before=hi)
                result.requests += 1
                full = len(items) >= client.page_size
                items = [i for i in items if pos <= float(i["created_utc"]) < hi]
                if items:
                    newest = max(newest or 0, int(max(float(i["created_utc"]) for i in items)))
                if not full and trailing and hi >= end:
                    # What the archive has not got yet lies after its newest item: hold there.
                    pending.items.extend(items)
                    pending.position = max(pos, newest or pos)
                    progress.add(rows=len(items))
                    break
                if not full:
                    new_pos, width = hi, width * 2
                else:
                    last = int(max(float(i["created_utc"]) for i in items))
                    if last > pos:
                        new_pos, width = last, max(1, last - pos)
                    else:
                        new_pos = pos + 1
                        pending.gaps.append(CoverageGap(kind=kind, source=source, reason="page_cut", gap_start=utc(pos),
                                                        gap_end=utc(pos + 1), collected_at=now_utc()))
                        result.gaps.append((utc(pos), utc(pos + 1)))
                pending.items.extend(items)
                pending.position = pos = new_pos
                progress.add(rows=len(items))
                if pos < end:  # a line every few seconds while pages come in (the last one: after it landed)
                    progress.update((pos - start) / max(end - start, 1), 0, 0)
                if len(pending.items) >= batch_rows:
                    flush()
        finally:
            flush()
    return result

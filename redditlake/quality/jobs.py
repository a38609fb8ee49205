"""Rows of the catalog's ``collection_jobs``: what each flow run did per subreddit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from redditlake.models import PostMetric, parse_batch
from redditlake.quality.batch import Batch


def job_row(
    job_type: str,
    subreddit: str,
    *,
    ok: bool,
    completed_at: datetime,
    seconds: float = 0.0,
    items: int = 0,
    error: str | None = None,
    config: str | None = None,
    requests: int | None = None,
) -> dict[str, Any]:
    return {
        "job_id": uuid.uuid4().hex,
        "job_type": job_type,
        "subreddit": subreddit.lower(),
        "status": "completed" if ok else "failed",
        "started_at": completed_at - timedelta(seconds=seconds),
        "completed_at": completed_at,
        "items_collected": items,
        "error_message": error,
        "config": config,
        "flow_run_id": None,  # set by the task that publishes them
        "requests": requests,
    }


def summary_rows(job_type: str, summaries: Iterable[Any], completed_at: datetime, config: str | None) -> list[dict[str, Any]]:
    """``collection_jobs`` rows of collection summaries (``pipeline.SubredditSummary``)."""
    return [
        job_row(job_type, s.subreddit, ok=s.ok, completed_at=completed_at, seconds=s.seconds, error=s.error,
                config=config, items=s.posts + s.comments + s.users, requests=s.requests)
        for s in summaries
    ]


def request_batches(landed: list[tuple[str, pa.Table]]) -> list[Batch]:
    """The request log as landed (per subreddit) → batches for the api_requests suite."""
    return [Batch("api_requests", sub, rows) for sub, rows in landed if sub != "_all" and rows.num_rows]


def metric_batch(subreddit: str, posts: list[dict[str, Any]], collected_at: datetime) -> Batch:
    """The ``post_metrics`` rows a refresh appends for ``posts`` (``compliance.apply``), as a batch to validate."""
    return Batch(PostMetric.table, subreddit, parse_batch(PostMetric, posts, collected_at).rows)


def stream_rows(summary: Any, started: datetime, completed_at: datetime) -> list[dict[str, Any]]:
    """``collection_jobs`` rows of a stream run (``stream.runner.StreamSummary``): one per subreddit."""
    seconds = (completed_at - started).total_seconds()
    rows = []
    for sub in summary.subreddits:
        items = sum(n for key, n in summary.items.items() if key.split(" ")[0].lower() == sub.lower())
        error = summary.failed.get(sub)
        rows.append(job_row("stream", sub, ok=error is None, completed_at=completed_at, seconds=seconds,
                            items=items, error=error))
    return rows


def backfill_rows(
    results: Iterable[Any], subreddits: list[str], started: datetime, completed_at: datetime
) -> list[dict[str, Any]]:
    """``collection_jobs`` rows of a backfill: one per search job (subreddit × source × kind) and one per
    subreddit of each dump file; a dump that failed (an exception) fails every subreddit it was for."""
    seconds = (completed_at - started).total_seconds()
    rows = []
    for r in results:
        if hasattr(r, "kind"):  # archive.search.BackfillResult
            rows.append(job_row("backfill", r.subreddit, ok=r.ok, completed_at=completed_at, seconds=seconds,
                                items=r.written, error=r.error, requests=r.requests,
                                config=json.dumps({"source": r.source, "kind": r.kind})))
        elif hasattr(r, "written"):  # archive.dumps.DumpResult
            for sub in sorted(r.rows):
                rows.append(job_row("backfill", sub, ok=True, completed_at=completed_at, seconds=seconds,
                                    items=r.written.get(sub, 0), config=json.dumps({"source": "dump", "path": r.path})))
        else:
            error = f"{type(r).__name__}: {r}"
            rows += [job_row("backfill", sub, ok=False, completed_at=completed_at, seconds=seconds, error=error)
                     for sub in subreddits]
    return rows

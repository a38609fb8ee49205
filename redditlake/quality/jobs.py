"""Rows of the catalog's ``collection_jobs``: what each flow run did per subreddit."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

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


def request_batches(landed: list[tuple[str, pa.Table]]) -> list[Batch]:
    """The request log as landed (per subreddit) → batches for the api_requests suite."""
    return [Batch("api_requests", sub, rows) for sub, rows in landed if sub != "_all" and rows.num_rows]

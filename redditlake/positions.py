"""Where backfills and streams stand, and what they could not cover: three lake tables.

The lake is the only state (serverless workers have no disk), so positions are append-only rows,
written *after* the data they describe; the latest row per key is the position. A crash between
data and position costs a re-fetch that the lake's per-id dedup absorbs: nothing is lost or
doubled.

* ``backfill_progress``: one row per landed page/batch of a backfill job
  (``job`` = source, kind and start of its range; ``position_utc`` = everything before it, from
  ``since_utc``, is landed).
* ``stream_positions``: per subreddit and kind, the newest ``created_utc`` landed and the ids
  landed at that second (the next poll's "last seen").
* ``coverage_gaps``: time ranges a source knows it could not cover (a listing cut by its cap
  after a long stop, an archive page of one second that overflowed). A backfill over the range
  fills them; ``redditlake coverage`` lists them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import pyarrow as pa

from redditlake.lake import Lake
from redditlake.models import Record


class BackfillProgress(Record):
    table: ClassVar[str] = "backfill_progress"

    job: str
    source: str
    kind: str  # posts | comments
    since_utc: datetime
    until_utc: datetime
    position_utc: datetime
    position_line: int | None  # dumps: lines consumed
    rows: int  # rows landed by this step
    done: bool
    collected_at: datetime


class StreamPosition(Record):
    table: ClassVar[str] = "stream_positions"

    kind: str  # posts | comments
    newest_utc: datetime
    newest_ids: str  # comma-separated ids created at newest_utc (ties of the same second)
    collected_at: datetime


class CoverageGap(Record):
    table: ClassVar[str] = "coverage_gaps"

    kind: str
    source: str  # stream | pullpush | arcticshift
    reason: str  # listing_cap | page_cut
    gap_start: datetime
    gap_end: datetime
    collected_at: datetime


def append(lake: Lake, model: type[Record], subreddit: str, rows: list[Record]) -> None:
    if rows:
        lake.append(model.table, subreddit, model.to_arrow(rows))


def latest(lake: Lake, model: type[Record], subreddit: str, key: str) -> dict[Any, dict[str, Any]]:
    """The latest row per ``key`` of a position table, as dicts."""
    columns = [n for n in model.model_fields if n != "collected_at"]
    try:
        table = lake.latest(model.table, subreddit, columns, key=key)
    except ValueError:  # no files yet (or none with these columns)
        return {}
    if table.num_rows == 0 or pa.types.is_null(table.schema.field(key).type):
        return {}
    return {row[key]: row for row in table.to_pylist()}


def gaps(lake: Lake, subreddit: str) -> list[dict[str, Any]]:
    table = lake.read(CoverageGap.table, subreddit)
    return table.to_pylist() if table.num_columns else []

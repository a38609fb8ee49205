"""Preparing a batch of rows for the lake: check, dedup, split by day.

Pure functions on Arrow tables; nothing here touches storage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

ID_COLUMN = "id"
CREATED_COLUMN = "created_utc"
COLLECTED_COLUMN = "collected_at"
_ROW_INDEX = "__redditlake_row"
_HAS_COLLECTED = "__redditlake_has_collected"


def check_partition_columns(rows: pa.Table, subreddit: str) -> pa.Table:
    """Drop the Hive partition columns from the data, after checking them.

    ``subreddit`` and ``dt`` come from the path (see the package docstring).
    A ``subreddit`` column whose values disagree with the target partition
    means rows of another subreddit were routed here: refuse the batch rather
    than store them under the wrong name.
    """
    if "subreddit" in rows.column_names:
        values = pc.utf8_lower(rows.column("subreddit").cast(pa.string()))
        wrong = pc.fill_null(pc.not_equal(values, pa.scalar(subreddit)), False)
        if pc.any(wrong).as_py():
            others = sorted(set(pc.filter(values, wrong).to_pylist()))[:5]
            raise ValueError(f"rows for subreddit(s) {others} cannot be written to partition {subreddit!r}")
        rows = rows.drop_columns(["subreddit"])
    if "dt" in rows.column_names:
        rows = rows.drop_columns(["dt"])
    return rows


def require_ids(rows: pa.Table, key: str = ID_COLUMN) -> None:
    if key not in rows.column_names:
        raise ValueError(f"rows need an {key!r} column")
    if rows.column(key).null_count:
        raise ValueError(f"{rows.column(key).null_count} rows have a null {key!r}")


def dedup_by_id(rows: pa.Table, key: str = ID_COLUMN) -> pa.Table:
    """One row per ``key`` (``id``): the latest ``collected_at`` if present, else the last.

    Ties on ``collected_at`` (and null ``collected_at``) fall back to the
    later row in the batch. The survivors keep their original order.
    """
    require_ids(rows, key)
    if rows.num_rows < 2:
        return rows
    indexed = rows.append_column(_ROW_INDEX, pa.array(range(rows.num_rows), pa.int64()))
    keys = [(key, "ascending")]
    if COLLECTED_COLUMN in rows.column_names:
        # Rows without collected_at sort before those with one, so any
        # timestamped row wins (portable stand-in for null_placement).
        has_time = pc.is_valid(rows.column(COLLECTED_COLUMN))
        indexed = indexed.append_column(_HAS_COLLECTED, has_time)
        keys += [(_HAS_COLLECTED, "ascending"), (COLLECTED_COLUMN, "ascending")]
    keys.append((_ROW_INDEX, "ascending"))
    ordered = indexed.sort_by(keys)
    ids = ordered.column(key).combine_chunks()
    # The last row of each run of equal ids is the one to keep.
    is_last = pc.not_equal(ids.slice(0, len(ids) - 1), ids.slice(1))
    keep = pa.concat_arrays([is_last, pa.array([True])])
    kept = pc.filter(ordered.column(_ROW_INDEX), keep)
    return rows.take(pc.take(kept, pc.sort_indices(kept)))


def drop_known_ids(rows: pa.Table, known: Iterable[str]) -> pa.Table:
    """Rows whose id is not in ``known``."""
    known_ids = pa.array(list(known), pa.string())
    if len(known_ids) == 0:
        return rows
    stored = pc.is_in(rows.column(ID_COLUMN).cast(pa.string()), value_set=known_ids)
    return rows.filter(pc.invert(stored))


def utc_dates(rows: pa.Table, column: str) -> pa.ChunkedArray:
    """The UTC calendar date of each value of a timestamp column."""
    if column not in rows.column_names:
        raise ValueError(f"rows need a {column!r} column to choose their dt partition")
    values = rows.column(column)
    if not pa.types.is_timestamp(values.type):
        raise ValueError(f"column {column!r} must be a timestamp, not {values.type}")
    if values.type.tz is None:
        # A naive timestamp could be in any zone; guessing would misfile rows.
        raise ValueError(f"column {column!r} must be timezone-aware (timestamp[us, tz=UTC])")
    if values.null_count:
        raise ValueError(f"{values.null_count} rows have a null {column!r}")
    # Re-labelling the zone as UTC keeps the instants; the date cast then
    # yields the UTC day rather than a local one.
    return pc.cast(pc.cast(values, pa.timestamp(values.type.unit, tz="UTC")), pa.date32())


def split_by_day(rows: pa.Table, column: str) -> dict[dt.date, pa.Table]:
    """Group the rows by the UTC date of ``column`` (sorted by date)."""
    days = utc_dates(rows, column)
    result: dict[dt.date, pa.Table] = {}
    for day in sorted(pc.unique(days).to_pylist()):
        result[day] = rows.filter(pc.equal(days, pa.scalar(day, pa.date32())))
    return result


def with_partitions(rows: pa.Table, subreddit: str, dt_column: str) -> pa.Table:
    """The rows with their partition columns: ``subreddit`` (the lower-cased name) and ``dt``
    (the UTC day of ``dt_column``). Delta keeps them in the path, not in the files. Zoned
    timestamps are stored as UTC."""
    days = utc_dates(rows, dt_column)
    return to_utc(rows).append_column("subreddit", pa.array([subreddit] * rows.num_rows, pa.string())).append_column("dt", days)


def to_utc(rows: pa.Table) -> pa.Table:
    """Zoned timestamp columns relabelled as UTC (Delta's one zone; the instants are kept)."""
    for index, column in enumerate(rows.schema):
        if pa.types.is_timestamp(column.type) and column.type.tz not in (None, "UTC"):
            utc = pa.timestamp(column.type.unit, tz="UTC")
            rows = rows.set_column(index, pa.field(column.name, utc, column.nullable), rows.column(index).cast(utc))
    return rows

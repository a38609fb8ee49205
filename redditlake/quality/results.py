"""Quality results as Parquet inside the lake: ``{lake}/_quality/{kind}/dt=YYYY-MM-DD/part-….parquet``.

The lake is the source of truth (serverless workers have no disk, the lake may
be on S3): each flow run writes its own files with the lake's atomic
publication (temp file + rename, or one PUT), named after their content, so
concurrent writers never touch the same file and need no lock, and a retried
write replaces its file with an identical one. ``_quality`` starts with an
underscore: it is not a table of the lake (``Lake.tables`` and pyarrow skip
it). The DuckDB catalog (``catalog``) is built from these files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from redditlake.lake import Lake
from redditlake.lake.files import content_file_name, write_parquet

ROOT = "_quality"
TS = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "validation_runs": pa.schema([
        ("run_id", pa.string()), ("suite", pa.string()), ("table_name", pa.string()), ("subreddit", pa.string()),
        ("job", pa.string()), ("partition_from", pa.date32()), ("partition_to", pa.date32()),
        ("rows", pa.int64()), ("quarantined", pa.int64()), ("expectations", pa.int64()),
        ("failed_expectations", pa.int64()), ("success", pa.bool_()), ("score", pa.float64()),
        ("flow_run_id", pa.string()), ("validated_at", TS),
    ]),
    "expectation_results": pa.schema([
        ("run_id", pa.string()), ("table_name", pa.string()), ("subreddit", pa.string()),
        ("expectation", pa.string()), ("expectation_type", pa.string()), ("severity", pa.string()),
        ("kwargs", pa.string()), ("success", pa.bool_()), ("observed_value", pa.string()),
        ("element_count", pa.int64()), ("unexpected_count", pa.int64()), ("unexpected_percent", pa.float64()),
        ("unexpected_ids", pa.list_(pa.string())), ("validated_at", TS),
    ]),
    "data_quality_metrics": pa.schema([
        ("run_id", pa.string()), ("metric_name", pa.string()), ("metric_value", pa.float64()),
        ("subreddit_name", pa.string()), ("table_name", pa.string()), ("calculated_at", TS), ("flow_run_id", pa.string()),
    ]),
    "collection_jobs": pa.schema([
        ("job_id", pa.string()), ("job_type", pa.string()), ("subreddit", pa.string()), ("status", pa.string()),
        ("started_at", TS), ("completed_at", TS), ("items_collected", pa.int64()), ("error_message", pa.string()),
        ("config", pa.string()), ("flow_run_id", pa.string()), ("requests", pa.int64()),
    ]),
    "anomalies": pa.schema([
        ("run_id", pa.string()), ("subreddit", pa.string()), ("metric_name", pa.string()), ("table_name", pa.string()),
        ("value", pa.float64()), ("median", pa.float64()), ("mad", pa.float64()), ("robust_z", pa.float64()),
        ("history_runs", pa.int64()), ("detected_at", TS), ("flow_run_id", pa.string()),
    ]),
    "integrity_findings": pa.schema([
        ("check_id", pa.string()), ("check", pa.string()), ("subreddit", pa.string()), ("post_id", pa.string()),
        ("item_id", pa.string()), ("detail", pa.string()), ("value", pa.float64()), ("checked_at", TS),
    ]),
}
# When each kind's row happened: its file goes to that day's folder.
TIME_COLUMN = {
    "validation_runs": "validated_at", "expectation_results": "validated_at", "data_quality_metrics": "calculated_at",
    "collection_jobs": "started_at", "anomalies": "detected_at", "integrity_findings": "checked_at",
}


def write(lake: Lake, kind: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Publish result rows of one kind; returns the files' URIs (one per day)."""
    if not rows:
        return []
    table = pa.Table.from_pylist(list(rows), schema=SCHEMAS[kind])
    by_day: dict[dt.date, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        when = row[TIME_COLUMN[kind]]
        by_day.setdefault(when.astimezone(dt.UTC).date(), []).append(row)
    files = []
    for day, day_rows in sorted(by_day.items()):
        part = pa.Table.from_pylist(day_rows, schema=SCHEMAS[kind])
        path = lake.location.path(f"{ROOT}/{kind}/dt={day.isoformat()}", content_file_name(part))
        with lake.storage.open_atomic(path) as sink:
            write_parquet(part, sink, lake.parquet)
        files.append(lake.location.uri_of(path))
    return files


def read(lake: Lake, kind: str) -> pa.Table:
    """Every result row of one kind (an empty table with the schema when there are none)."""
    schema = SCHEMAS[kind]
    infos = lake.storage.data_file_infos(lake.location.path(f"{ROOT}/{kind}"), recursive=True)
    if not infos:
        return schema.empty_table()
    dataset = ds.dataset(infos, schema=schema, filesystem=lake.storage.fs, format="parquet")
    return dataset.to_table()

"""Quality results inside the lake: one Delta table per kind, ``{lake}/_quality/{kind}``, by ``dt``.

The lake is the source of truth (serverless workers have no disk, the lake may
be on S3): each flow run appends its rows in one commit through the lake's
writer (blind appends never conflict). ``_quality`` starts with an underscore:
it is not a table of the lake (``Lake.tables`` skips it); maintenance compacts
and vacuums it with the tables. The DuckDB catalog (``catalog``) is built from it.

The failing-row samples (``expectation_results.unexpected_ids``) of a ``users``
suite are account names (as stored: pseudonyms when pseudonymised);
``forget_ids`` replaces a forgotten one in the days that hold it (one commit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from redditlake.lake import Lake

ROOT = "_quality"
FORGOTTEN = "[deleted]"  # what stands in a failing-row sample for an id that was forgotten
# The anomaly baseline reads this many days at a time, newest first, until it has enough runs.
_BASELINE_DAYS_PER_READ = 7
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


def area(kind: str) -> str:
    return f"{ROOT}/{kind}"


def write(lake: Lake, kind: str, rows: Sequence[dict[str, Any]]) -> int:
    """Append result rows of one kind in one commit; returns how many."""
    if not rows:
        return 0
    lake.append_area(area(kind), pa.Table.from_pylist(list(rows), schema=SCHEMAS[kind]), TIME_COLUMN[kind])
    return len(rows)


def days(lake: Lake, kind: str) -> list[dt.date]:
    """The days a result kind has rows for, oldest first (from the log)."""
    return lake.area_days(area(kind))


def read(lake: Lake, kind: str, on_days: Iterable[dt.date] | None = None, filter: ds.Expression | None = None) -> pa.Table:
    """Result rows of one kind: every day's, or those of ``on_days``, optionally filtered; an
    empty table with the schema when there are none."""
    return lake.read_area(area(kind), SCHEMAS[kind], on_days, filter)


def recent_metrics(
    lake: Lake, wanted: Iterable[tuple[str, str]], runs: int, lookback_days: int, today: dt.date
) -> pa.Table:
    """``data_quality_metrics`` of the (subreddit, table) pairs ``wanted``, newest days first, until each
    has ``runs`` runs or ``lookback_days`` are read: the anomaly baseline, whatever the history's length."""
    wanted = set(wanted)
    subs = pa.array(sorted({s for s, _ in wanted}), pa.string())
    recent = [d for d in reversed(days(lake, "data_quality_metrics")) if d >= today - dt.timedelta(days=lookback_days)]
    parts: list[pa.Table] = []
    seen: dict[tuple[str, str], set[str]] = {}
    for i in range(0, len(recent), _BASELINE_DAYS_PER_READ):
        part = read(lake, "data_quality_metrics", recent[i : i + _BASELINE_DAYS_PER_READ],
                    filter=ds.field("subreddit_name").isin(subs))
        parts.append(part)
        for run_id, sub, table in zip(*(part.column(c).to_pylist() for c in ("run_id", "subreddit_name", "table_name"))):
            seen.setdefault((sub, table), set()).add(run_id)
        if all(len(seen.get(k, ())) >= runs for k in wanted):
            break
    return pa.concat_tables(parts) if parts else SCHEMAS["data_quality_metrics"].empty_table()


def forget_ids(lake: Lake, values: Iterable[str]) -> int:
    """Replace ``values`` (case-insensitively) by ``[deleted]`` in every ``unexpected_ids`` sample
    of the stored expectation results; returns how many were replaced. The days holding one are
    rewritten in one commit (``Lake.replace_area_days``); ``Lake.purge_area`` then deletes the
    files that held the old samples."""
    wanted = {v.lower() for v in values if v}
    kind = "expectation_results"
    if not wanted:
        return 0
    held: dict[dt.date, pa.Table] = {}
    for day in days(lake, kind):  # each day read once; only the days naming one are kept
        rows = read(lake, kind, [day])
        if any(i and i.lower() in wanted for ids in rows.column("unexpected_ids").to_pylist() if ids for i in ids):
            held[day] = rows
    if not held:
        return 0
    rows = pa.concat_tables(list(held.values()))
    samples = rows.column("unexpected_ids").to_pylist()
    out = [None if ids is None else [FORGOTTEN if i and i.lower() in wanted else i for i in ids] for ids in samples]
    replaced = sum(a != b for ids, new in zip(samples, out) if ids for a, b in zip(ids, new))
    at = rows.schema.get_field_index("unexpected_ids")
    rows = rows.set_column(at, rows.schema.field(at), pa.array(out, rows.schema.field(at).type))
    lake.replace_area_days(area(kind), list(held), rows, TIME_COLUMN[kind])
    return replaced



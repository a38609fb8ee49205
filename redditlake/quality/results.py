"""Quality results as Parquet inside the lake: ``{lake}/_quality/{kind}/dt=YYYY-MM-DD/part-….parquet``.

The lake is the source of truth (serverless workers have no disk, the lake may
be on S3): each flow run writes its own files with the lake's atomic
publication (temp file + rename, or one PUT), named after their content, so
concurrent writers never touch the same file and need no lock, and a retried
write replaces its file with an identical one. ``_quality`` starts with an
underscore: it is not a table of the lake (``Lake.tables`` and pyarrow skip
it). The DuckDB catalog (``catalog``) is built from these files.

The failing-row samples (``expectation_results.unexpected_ids``) of a ``users``
suite are account names (as stored: pseudonyms when pseudonymised);
``forget_ids`` rewrites the files that hold a forgotten one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from redditlake.lake import Lake
from redditlake.lake.compact import CompactResult, compact_partition, rewrite_partition
from redditlake.lake.files import content_file_name, write_parquet
from redditlake.lake.maintenance import CompactionPolicy, MaintenanceReport, PartitionFiles, TableCompaction

ROOT = "_quality"
FORGOTTEN = "[deleted]"  # what stands in a failing-row sample for an id that was forgotten
_READ_ATTEMPTS = 3
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


def days(lake: Lake, kind: str) -> list[dt.date]:
    """The days a result kind has files for, oldest first (one delimited listing)."""
    out = []
    for name in lake.storage.subfolders(lake.location.path(f"{ROOT}/{kind}")):
        try:
            out.append(dt.date.fromisoformat(name.removeprefix("dt=")))
        except ValueError:
            continue
    return sorted(out)


def read(lake: Lake, kind: str, on_days: Iterable[dt.date] | None = None, filter: ds.Expression | None = None) -> pa.Table:
    """Result rows of one kind: every day's, or those of ``on_days`` (one listing each), optionally
    filtered; an empty table with the schema when there are none."""
    schema = SCHEMAS[kind]
    root = lake.location.path(f"{ROOT}/{kind}")
    for attempt in range(_READ_ATTEMPTS):
        if on_days is None:
            infos = lake.storage.data_file_infos(root, recursive=True)
        else:
            infos = [i for d in sorted(set(on_days)) for i in lake.storage.data_file_infos(f"{root}/dt={d.isoformat()}")]
        if not infos:
            return schema.empty_table()
        try:
            return ds.dataset(infos, schema=schema, filesystem=lake.storage.fs, format="parquet").to_table(filter=filter)
        except OSError:  # a compaction replaced a listed file: list again
            if attempt == _READ_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


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
    of the stored expectation results; returns how many were replaced. A day's folder holding
    one is rewritten with the lake's partition rewrite (published, then the old files deleted),
    under the lock compaction of the results takes."""
    wanted = {v.lower() for v in values if v}
    kind = "expectation_results"
    root = lake.location.path(f"{ROOT}/{kind}")
    replaced = 0

    def edit(table: pa.Table) -> pa.Table:
        nonlocal replaced
        samples = table.column("unexpected_ids").to_pylist()
        out = [None if ids is None else [FORGOTTEN if i and i.lower() in wanted else i for i in ids] for ids in samples]
        replaced += sum(a != b for ids, new in zip(samples, out) if ids for a, b in zip(ids, new))
        at = table.schema.get_field_index("unexpected_ids")
        return table.set_column(at, table.schema.field(at), pa.array(out, table.schema.field(at).type))

    for day in days(lake, kind) if wanted else []:
        held = read(lake, kind, [day]).column("unexpected_ids").to_pylist()
        if any(i and i.lower() in wanted for ids in held if ids for i in ids):
            with lake.locker.lock(ROOT, kind):
                rewrite_partition(lake.storage, f"{root}/dt={day.isoformat()}", lake.parquet, edit=edit)
    return replaced


def compact_due(lake: Lake, policy: CompactionPolicy, today: dt.date | None = None) -> MaintenanceReport:
    """Compact the result folders (``_quality/{kind}/dt=…``) the policy says are due, with the lake's
    machinery: every run adds a file per kind and day, readers pay per file. Under the lake's lock
    for (``_quality``, kind), so two maintenance runs never merge one folder twice; writers need no
    lock (their files are new names, a compaction takes only the files it listed)."""
    today = today or dt.datetime.now(dt.UTC).date()
    report = MaintenanceReport()
    for kind in SCHEMAS:
        root = lake.location.path(f"{ROOT}/{kind}")
        before = {d: lake.storage.data_file_infos(f"{root}/dt={d.isoformat()}") for d in days(lake, kind)}
        parts = [PartitionFiles(f"{ROOT}/{kind}", "", d, len(i), sum(f.size or 0 for f in i)) for d, i in before.items()]
        due = [p for p in parts if policy.due(p, today)]
        entry = TableCompaction(f"{ROOT}/{kind}", partitions=len(parts), due=len(due), files_before=sum(p.files for p in parts))
        done = CompactResult(kind)
        for p in due:
            with lake.locker.lock(ROOT, kind):
                compact_partition(lake.storage, f"{root}/dt={p.day.isoformat()}", lake.parquet, done)
        entry.compacted, entry.rows_before, entry.rows_after = done.partitions_compacted, done.rows_before, done.rows_after
        entry.files_after = entry.files_before - done.files_removed + done.partitions_compacted
        if parts:
            report.tables.append(entry)
    return report

"""The DuckDB quality catalog: one file (``quality.duckdb``) a user opens with any DuckDB.

Built from the results under ``{lake}/_quality`` (the source of truth; the
file can always be rebuilt): each result kind becomes a table
(``validation_runs``, ``expectation_results``, ``data_quality_metrics``,
``collection_jobs``, ``anomalies``, ``integrity_findings``), copied in so that
the file answers without the lake. The lake's own ``api_requests``,
``quarantine``, ``deletions`` and ``unavailable`` tables are copied in from
their current Delta snapshots (rebuild to refresh). Derived views:
``quality_scores`` (per subreddit, table and day), ``daily_quality`` (per
subreddit and day), ``latest_scores``, ``failing_expectations`` and
``deletion_counts``.

The file is written under a temporary name and renamed into place, so a
reader never sees a half-built catalog and two builders cannot corrupt it
(the later one wins; both read every published result).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from redditlake.lake import Lake
from redditlake.lake.storage import FILE_MODE
from redditlake.models import QUARANTINE_SCHEMA
from redditlake.quality import results
from redditlake.sandbox import lake_directories, locked

TS = pa.timestamp("us", tz="UTC")
# Lake tables the catalog exposes, with the schema to use when the lake has none yet
# (``unavailable`` comes from the unavailability tracker and may not exist).
LAKE_TABLES: dict[str, pa.Schema] = {
    "api_requests": pa.schema([("ts", TS), ("endpoint", pa.string()), ("status", pa.int32()), ("latency_ms", pa.float64())]),
    "quarantine": QUARANTINE_SCHEMA,
    "deletions": pa.schema([("id", pa.string()), ("kind", pa.string()), ("reason", pa.string()), ("scope", pa.string()), ("collected_at", TS)]),
    "unavailable": pa.schema([("id", pa.string()), ("kind", pa.string()), ("reason", pa.string()), ("seen_at", TS)]),
}

DERIVED_VIEWS = {
    # Row-weighted mean of batch scores (see quality.batch for the batch formula).
    "quality_scores": """
        SELECT subreddit, table_name, CAST(validated_at AS DATE) AS day,
               round(sum(score * greatest(rows + quarantined, 1)) / sum(greatest(rows + quarantined, 1)), 6) AS score,
               count(*) AS runs, sum(rows) AS rows, sum(quarantined) AS quarantined,
               sum(failed_expectations) AS failed_expectations
        FROM validation_runs GROUP BY ALL""",
    "daily_quality": """
        SELECT subreddit, CAST(validated_at AS DATE) AS day,
               round(sum(score * greatest(rows + quarantined, 1)) / sum(greatest(rows + quarantined, 1)), 6) AS score,
               sum(rows) AS rows, sum(quarantined) AS quarantined
        FROM validation_runs GROUP BY ALL""",
    "latest_scores": """
        SELECT * FROM validation_runs
        QUALIFY row_number() OVER (PARTITION BY subreddit, table_name ORDER BY validated_at DESC) = 1""",
    "failing_expectations": """
        SELECT e.* FROM expectation_results e JOIN latest_scores l USING (run_id) WHERE NOT e.success""",
    "deletion_counts": """
        WITH d AS (
            SELECT subreddit, CAST(collected_at AS DATE) AS day,
                   CASE WHEN reason ILIKE '%deleted%' THEN 'deleted'
                        WHEN regexp_matches(lower(reason), 'policy|legal|copyright|anti_evil') THEN 'policy'
                        ELSE 'removed' END AS what
            FROM deletions
            UNION ALL
            SELECT subreddit, CAST(seen_at AS DATE), 'unavailable' FROM unavailable
        )
        SELECT subreddit, day,
               count(*) FILTER (what = 'deleted') AS deleted,
               count(*) FILTER (what = 'removed') AS removed,
               count(*) FILTER (what = 'policy') AS policy,
               count(*) FILTER (what = 'unavailable') AS unavailable
        FROM d GROUP BY ALL""",
}


def catalog_path(lake: Lake, configured: str | os.PathLike[str]) -> Path:
    """Where the catalog goes: a relative path sits next to a local lake's folder (``./lake`` →
    ``./quality.duckdb``); for an S3 lake it is relative to the working directory."""
    path = Path(configured)
    if path.is_absolute() or not lake.location.is_local:
        return path
    return Path(lake.location.root).parent / path


def _copy(con: duckdb.DuckDBPyConnection, name: str, data: pa.Table | object) -> None:
    source = f"__src_{name}"
    con.register(source, data)
    con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM "{source}"')
    con.unregister(source)


def _lake_table(con: duckdb.DuckDBPyConnection, lake: Lake, name: str, empty: pa.Schema) -> None:
    if name in lake.tables():
        _copy(con, name, lake.read(name))
        return
    schema = pa.schema([*empty, ("subreddit", pa.string()), ("dt", pa.date32())])
    _copy(con, name, schema.empty_table())


def build(lake: Lake, path: str | os.PathLike[str]) -> Path:
    """(Re)build the catalog file from the lake; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        # Fixed SQL only, but over the lake's files: it reads them and writes this file, nothing else.
        with locked(duckdb.connect(str(temp)), lake_directories(lake)) as con:
            for kind in results.SCHEMAS:
                _copy(con, kind, results.read(lake, kind))
            for name, schema in LAKE_TABLES.items():
                _lake_table(con, lake, name, schema)
            for name, sql in DERIVED_VIEWS.items():
                con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
            con.execute("CHECKPOINT")
        os.chmod(temp, FILE_MODE)  # it copies the lake's quality results: no more readable than the lake
        os.replace(temp, path)
    finally:
        for leftover in (temp, Path(f"{temp}.wal")):
            leftover.unlink(missing_ok=True)
    return path

"""The lake: Delta Lake tables (delta-rs), one per entity, plus system areas.

Layout::

    {lake}/{table}/_delta_log/…                                   (the commits)
    {lake}/{table}/subreddit={name}/dt={YYYY-MM-DD}/part-….parquet
    {lake}/_quality/{kind}/dt=…/ and {lake}/_audit/dt=…/           (system areas, Delta too)

``name`` is the lower-cased subreddit name, validated against
``^[A-Za-z0-9_]{2,21}$``; ``dt`` is the UTC date of ``created_utc`` (of
``collected_at`` for append-only tables). Partition values live in the paths and
the log, not in the data files; every Delta reader adds them back (``subreddit``
string, ``dt`` date).

A table's content is its current snapshot in ``_delta_log``, never a folder of
files: files replaced by compaction or redaction, and files of a writer that died
before its commit, sit in the folders until vacuum. Read it with a Delta reader
(``Lake.duckdb()``, DuckDB's ``delta_scan``, Polars, Spark, Trino), not a
``read_parquet`` glob. All writes go through ``delta``; see it for how one row per id
holds under concurrent writers.
"""

from redditlake.lake.delta import ParquetOptions
from redditlake.lake.lake import Lake, WriteResult
from redditlake.lake.redact import RedactResult

__all__ = ["Lake", "ParquetOptions", "RedactResult", "WriteResult"]

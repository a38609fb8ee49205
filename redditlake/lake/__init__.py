"""The Parquet lake: layout, dedup against what is stored, atomic writes.

Layout::

    {lake}/{table}/subreddit={name}/dt={YYYY-MM-DD}/part-{content hash}.parquet
    {lake}/_locks/{table}/{name}.lock        (write locks, outside every table)

``name`` is the lower-cased subreddit name, validated against
``^[A-Za-z0-9_]{2,21}$`` (it becomes a path segment); ``dt`` is the UTC date of
``created_utc`` (of ``collected_at`` for append-only tables).

Partition columns are NOT stored in the files. Measured with DuckDB 2.0.1 and
pyarrow 26: when a file holds a column named like a Hive key, DuckDB's
``read_parquet(..., hive_partitioning=true)`` silently replaces the file's
values with the path's (a stored ``"Python"`` reads back as ``"python"``),
and ``pyarrow.dataset`` with typed partitions fails outright
(``Unable to merge: Field dt has incompatible types: string vs date32``).
So the lake drops ``subreddit`` and ``dt`` from the data before writing (after
checking that a ``subreddit`` column names the target partition, case
aside), and both readers add them back from the path: ``subreddit`` VARCHAR
(lower-case), ``dt`` DATE. Keep a subreddit's display casing in a column of
another name if it matters. A file read without Hive partitioning has
neither column.

Visibility: a file appears only complete (temp file + fsync + rename
locally, one PUT on S3); see ``storage``. Dedup and locking: see ``lake`` and
``locks``. Every file records in its Parquet metadata whether it belongs to a
dedup or an append table (``redditlake.mode``), which compaction relies on.

Crash safety across files: ``Lake.write`` publishes a batch's days oldest
first (only the newest days can be missing after a crash); compaction and
redaction (``compact``, ``redact``) publish the rewritten file before deleting
the files it replaces and record their names in it, so the next rewrite
removes what a crash left behind.
"""

from redditlake.lake.compact import CompactResult
from redditlake.lake.files import ParquetOptions
from redditlake.lake.lake import Lake, WriteResult
from redditlake.lake.locks import LockTimeout
from redditlake.lake.redact import RedactResult

__all__ = ["CompactResult", "Lake", "LockTimeout", "ParquetOptions", "RedactResult", "WriteResult"]

"""The ``Lake`` facade: the only object the collector needs."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from redditlake.lake import batch, views
from redditlake.lake.compact import CompactResult, compact_partition
from redditlake.lake.files import (
    MODE_APPEND,
    MODE_DEDUP,
    ParquetOptions,
    content_file_name,
    read_ids,
    with_lake_metadata,
    write_parquet,
)
from redditlake.lake.location import Location, open_location
from redditlake.lake.locks import DEFAULT_TIMEOUT_S, PartitionLocker, locker_for
from redditlake.lake.names import TABLE_PATTERN, subreddit_partition, table_name
from redditlake.lake.reading import layout_files, table_dataset
from redditlake.lake.storage import Storage

# A file can vanish between listing and reading when a compaction replaces
# it; listing again then finds its replacement.
_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class WriteResult:
    """What one ``write``/``append`` call did."""

    table: str
    subreddit: str  # the partition value (lower-cased)
    rows_in: int
    written: int
    duplicates_skipped: int
    files: list[str] = field(default_factory=list)  # URIs of the new files


class Lake:
    """A Hive-partitioned Parquet lake on local disk or S3."""

    def __init__(
        self,
        location: Location,
        *,
        parquet: ParquetOptions | None = None,
        locker: PartitionLocker | None = None,
    ) -> None:
        self.location = location
        self.storage = Storage(location)
        self.parquet = parquet or ParquetOptions()
        self.locker = locker or locker_for(location)

    @classmethod
    def open(
        cls,
        uri: str | os.PathLike[str],
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        row_group_size: int = ParquetOptions.row_group_size,
        compression: str = ParquetOptions.compression,
        lock_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Lake:
        """Open a lake at a folder (created on demand) or ``s3://bucket/prefix``."""
        location = open_location(uri, endpoint_url=endpoint_url, region=region)
        return cls(
            location,
            parquet=ParquetOptions(row_group_size=row_group_size, compression=compression),
            locker=locker_for(location, timeout_s=lock_timeout_s),
        )

    @property
    def uri(self) -> str:
        return self.location.uri

    def __repr__(self) -> str:
        return f"Lake({self.uri!r})"

    # -- writing -----------------------------------------------------------

    def write(self, table: str, subreddit: str, rows: pa.Table) -> WriteResult:
        """Store rows whose id is not stored yet; one row per id, ever.

        Rows are deduplicated within the batch (latest ``collected_at``, else
        the last row) and against the ids already stored in each target
        ``dt`` partition, under the (table, subreddit) lock.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        if rows.num_rows == 0:
            return WriteResult(table, part, 0, 0, 0, [])
        prepared = batch.dedup_by_id(batch.check_partition_columns(rows, part))
        by_day = batch.split_by_day(prepared, batch.CREATED_COLUMN)
        files: list[str] = []
        written = 0
        with self.locker.lock(table, part):
            for day, day_rows in by_day.items():
                fresh = batch.drop_known_ids(day_rows, self._stored_ids(table, part, [day]))
                if fresh.num_rows:
                    files.append(self._publish(table, part, day, fresh, MODE_DEDUP))
                    written += fresh.num_rows
        return WriteResult(table, part, rows.num_rows, written, rows.num_rows - written, files)

    def append(
        self, table: str, subreddit: str, rows: pa.Table, *, dt_column: str = batch.COLLECTED_COLUMN
    ) -> WriteResult:
        """Store every row (snapshot tables): no id dedup, same layout.

        ``dt`` is the UTC date of ``dt_column`` (``collected_at`` by default).
        No lock is needed: nothing is read before writing, and file names are
        unique per content.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        if rows.num_rows == 0:
            return WriteResult(table, part, 0, 0, 0, [])
        prepared = batch.check_partition_columns(rows, part)
        files = [
            self._publish(table, part, day, day_rows, MODE_APPEND)
            for day, day_rows in batch.split_by_day(prepared, dt_column).items()
        ]
        return WriteResult(table, part, rows.num_rows, rows.num_rows, 0, files)

    def _publish(self, table: str, part: str, day: dt.date, rows: pa.Table, mode: str) -> str:
        rows = with_lake_metadata(rows, mode)
        path = self.location.path(self._partition(table, part, day), content_file_name(rows))
        with self.storage.open_atomic(path) as sink:
            write_parquet(rows, sink, self.parquet)
        return self.location.uri_of(path)

    @staticmethod
    def _partition(table: str, part: str, day: dt.date) -> str:
        return f"{table}/subreddit={part}/dt={day.isoformat()}"

    # -- reading -----------------------------------------------------------

    def existing_ids(self, table: str, subreddit: str, dts: Iterable[dt.date] | None = None) -> set[str]:
        """Ids stored for a subreddit, in the given days or in all of them."""
        table, part = table_name(table), subreddit_partition(subreddit)
        return self._stored_ids(table, part, None if dts is None else list(dts))

    def _stored_ids(self, table: str, part: str, days: list[dt.date] | None) -> set[str]:
        for attempt in range(_READ_ATTEMPTS):
            if days is None:
                files = layout_files(self.storage, self.location.path(table), part)
            else:
                files = [
                    path
                    for day in sorted(set(days))
                    for path in self.storage.data_files(self.location.path(self._partition(table, part, day)))
                ]
            try:
                return read_ids(self.location.filesystem, files)
            except FileNotFoundError:
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def tables(self) -> list[str]:
        """Names of the tables in the lake (folders with a valid table name)."""
        return [name for name in self.storage.subfolders(self.location.root) if TABLE_PATTERN.fullmatch(name)]

    def read(self, table: str, subreddit: str | None = None) -> pa.Table:
        """A whole table (or one subreddit of it) in memory; for tests and small tools."""
        table = table_name(table)
        part = None if subreddit is None else subreddit_partition(subreddit)
        dataset = table_dataset(self.storage, table, part)
        if dataset is None:
            return pa.table({})
        data = dataset.to_table()
        # Same column order as the DuckDB views: data, then subreddit, dt.
        partition_columns = ["subreddit", "dt"]
        return data.select([c for c in data.column_names if c not in partition_columns] + partition_columns)

    def duckdb(self, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per table that has data."""
        return views.connect(self.storage, self.tables(), database)

    def query(self, sql: str) -> pa.Table:
        """Run one SQL statement over the views; the result as an Arrow table."""
        with self.duckdb() as con:
            relation = con.sql(sql)
            return pa.table({}) if relation is None else relation.to_arrow_table()

    # -- maintenance -------------------------------------------------------

    def compact(self, table: str, subreddit: str | None = None) -> CompactResult:
        """Merge each partition's files into one (per subreddit, per day)."""
        table = table_name(table)
        result = CompactResult(table)
        table_path = self.location.path(table)
        if subreddit is not None:
            parts = [subreddit_partition(subreddit)]
        else:
            parts = [
                name.removeprefix("subreddit=")
                for name in self.storage.subfolders(table_path)
                if name.startswith("subreddit=")
            ]
        for part in parts:
            partition_path = f"{table_path}/subreddit={part}"
            with self.locker.lock(table, part):
                for day_folder in self.storage.subfolders(partition_path):
                    if day_folder.startswith("dt="):
                        compact_partition(self.storage, f"{partition_path}/{day_folder}", self.parquet, result)
        return result

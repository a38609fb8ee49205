"""The ``Lake`` facade: the only object the collector needs."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import fs as pafs

from redditlake.lake import batch, views
from redditlake.lake.batch import ID_COLUMN
from redditlake.lake.compact import CompactResult, compact_partition, rewrite_partition
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
from redditlake.lake.reading import layout_file_infos, table_dataset
from redditlake.lake.redact import PROTECTED_COLUMNS, PerIdValues, RedactResult, ValueReplacer, check_values
from redditlake.lake.storage import Storage

# A file can vanish between listing and reading when a compaction replaces
# it; listing again then finds its replacement.
_READ_ATTEMPTS = 3

T = TypeVar("T")


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

        Write order: one file per ``dt`` day, published in ascending ``dt``
        order (oldest day first), each atomically; ``WriteResult.files`` is in
        that order. A batch spanning several days is therefore not atomic as
        a whole, but a crash (or an error, which stops the loop) can only
        leave its *newest* days unwritten, never a gap below a newer day. The
        collector relies on this: it pages Reddit's ``new`` listing (newest
        first) and stops at the first page whose posts are all stored, so
        missing newest days are fetched again by the next run's first pages,
        whereas a missing older day under stored newer ones would never be.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        if rows.num_rows == 0:
            return WriteResult(table, part, 0, 0, 0, [])
        prepared = batch.dedup_by_id(batch.check_partition_columns(rows, part))
        by_day = batch.split_by_day(prepared, batch.CREATED_COLUMN)
        files: list[str] = []
        written = 0
        with self.locker.lock(table, part):
            # sorted(): oldest day first, see the docstring (split_by_day
            # sorts too; this loop must not depend on it).
            for day, day_rows in sorted(by_day.items()):
                fresh = batch.drop_known_ids(day_rows, self._stored_ids(table, part, [day]))
                if fresh.num_rows:
                    files.append(self._publish(table, part, day, fresh, MODE_DEDUP))
                    written += fresh.num_rows
        return WriteResult(table, part, rows.num_rows, written, rows.num_rows - written, files)

    def append(
        self, table: str, subreddit: str, rows: pa.Table, *, dt_column: str = batch.COLLECTED_COLUMN
    ) -> WriteResult:
        """Store every row (snapshot tables): no id dedup, same layout.

        ``dt`` is the UTC date of ``dt_column`` (``collected_at`` by default);
        days are published oldest first, as in ``write``. No lock is needed:
        nothing is read before writing, and file names are unique per content.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        if rows.num_rows == 0:
            return WriteResult(table, part, 0, 0, 0, [])
        prepared = batch.check_partition_columns(rows, part)
        files = [
            self._publish(table, part, day, day_rows, MODE_APPEND)
            for day, day_rows in sorted(batch.split_by_day(prepared, dt_column).items())
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
        """Ids stored for a subreddit, in the given days or (``dts=None``) in all of them.

        ``existing_ids(table, subreddit)`` is the subreddit's whole stored-id
        set, e.g. for the collector's "is this page all stored already?"
        check. Cost: one listing of the subreddit's files, then only the
        ``id`` column of each file (on S3 about two ranged GETs per file,
        read in parallel; no HEADs, the sizes come from the listing), so it
        grows with the number of files, which ``compact`` keeps at one per
        day. Taken without the write lock: a concurrent writer's new file may
        or may not be included, a file replaced by a concurrent compaction or
        redaction is retried.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        return self._stored_ids(table, part, None if dts is None else list(dts))

    def days(self, table: str, subreddit: str) -> list[dt.date]:
        """The ``dt`` days a subreddit has partitions for, oldest first.

        One delimited listing (on S3 one request per 1000 days), whatever the
        number of files: the way to find "the newest days" without reading them.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        days = []
        for name in self.storage.subfolders(self.location.path(table, f"subreddit={part}")):
            try:
                days.append(dt.date.fromisoformat(name.removeprefix("dt=")))
            except ValueError:
                continue  # not a partition folder
        return sorted(days)

    def _day_file_infos(self, table: str, part: str, days: list[dt.date] | None) -> list[pafs.FileInfo]:
        """The files of some ``dt`` partitions (all of them for ``None``): one listing per day."""
        if days is None:
            return layout_file_infos(self.storage, self.location.path(table), part)
        return [
            info
            for day in sorted(set(days))
            for info in self.storage.data_file_infos(self.location.path(self._partition(table, part, day)))
        ]

    def _stored_ids(self, table: str, part: str, days: list[dt.date] | None) -> set[str]:
        return self._read_listed(
            lambda: self._day_file_infos(table, part, days), lambda files: read_ids(self.location.filesystem, files)
        )

    def _read_listed(
        self, list_files: Callable[[], list[pafs.FileInfo]], read: Callable[[list[pafs.FileInfo]], T]
    ) -> T:
        """``read(list_files())``, listing again if a listed file vanished meanwhile.

        A compaction or redaction may delete a file between our listing and
        our reading it; listing again then finds its replacement. How the
        vanished file shows differs (FileNotFoundError locally or when pyarrow
        stats the path; a plain OSError when it opens an S3 object of known
        size), so any OSError is retried if a listed file is gone.
        """
        for attempt in range(_READ_ATTEMPTS):
            files = list_files()
            try:
                return read(files)
            except OSError:
                if attempt == _READ_ATTEMPTS - 1 or not self.storage.any_missing([f.path for f in files]):
                    raise
        raise AssertionError("unreachable")

    def latest(
        self,
        table: str,
        subreddit: str,
        columns: list[str],
        key: str = ID_COLUMN,
        dts: Iterable[dt.date] | None = None,
    ) -> pa.Table:
        """The latest row per ``key`` by ``collected_at``, of an append-only table.

        For snapshot tables such as ``comment_fetches`` (``post_id``,
        ``num_comments``, ``collected_at``, …): ``latest("comment_fetches",
        sub, ["post_id", "num_comments"], key="post_id")`` says which posts'
        trees were landed and at what size. Returns exactly ``columns``, in
        that order (``key`` and ``collected_at`` are read either way), one row
        per non-null ``key``, in no particular order. Rows with a
        ``collected_at`` beat rows without; equal ``collected_at`` values are
        settled arbitrarily. ``subreddit`` and ``dt`` may be asked for.

        ``dts`` limits the read to those ``dt`` partitions (one listing per
        day instead of one of the subreddit's whole history); "latest" is
        then the latest within them.

        A table or subreddit with no files gives an empty table with the
        requested columns (typed ``null``: there is no schema to take types
        from). A column missing from every file is a ValueError; one missing
        from some files (added later) reads as null in their rows.

        Reads only the needed columns of the subreddit's files with pyarrow
        (a fresh file listing on every call, so unlike an S3 DuckDB
        connection it sees files published since); ~100k rows take well
        under a second. Rows are in memory, so for very large tables prefer
        DuckDB over the views.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        wanted = list(columns)
        if isinstance(columns, str) or not wanted:
            raise ValueError("columns must be a non-empty list of column names")
        if len(set(wanted)) != len(wanted):
            raise ValueError(f"columns {wanted} name a column twice")
        needed = list(dict.fromkeys([key, batch.COLLECTED_COLUMN, *wanted]))
        days = None if dts is None else list(dts)

        def read(files: list[pafs.FileInfo]) -> pa.Table | None:
            dataset = table_dataset(self.storage, table, part, files=files)
            if dataset is None:
                return None
            unknown = [name for name in needed if name not in dataset.schema.names]
            if unknown:
                raise ValueError(f"{table} (r/{part}) has no column(s) {unknown}")
            return dataset.to_table(columns=needed)

        rows = self._read_listed(lambda: self._day_file_infos(table, part, days), read)
        if rows is None:
            return pa.table({name: pa.array([], pa.null()) for name in wanted})
        rows = rows.filter(pc.is_valid(rows.column(key)))
        return batch.dedup_by_id(rows, key).select(wanted)

    def read_days(self, table: str, subreddit: str, days: Iterable[dt.date]) -> pa.Table:
        """Rows of some ``dt`` partitions of a subreddit (one listing per day, never the whole
        history): e.g. the request log of the last hour, however old the lake is."""
        table, part = table_name(table), subreddit_partition(subreddit)
        wanted = sorted(set(days))

        def read(files: list[pafs.FileInfo]) -> pa.Table:
            dataset = table_dataset(self.storage, table, part, files=files)
            return pa.table({}) if dataset is None else dataset.to_table()

        return self._read_listed(lambda: self._day_file_infos(table, part, wanted), read)

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

    def subreddits(self, table: str) -> list[str]:
        """The subreddit partitions of a table (lower-case names)."""
        return [
            name.removeprefix("subreddit=")
            for name in self.storage.subfolders(self.location.path(table_name(table)))
            if name.startswith("subreddit=")
        ]

    def compact(
        self, table: str, subreddit: str | None = None, dts: Iterable[dt.date] | None = None
    ) -> CompactResult:
        """Merge each partition's files into one (per subreddit, per day).

        ``dts`` limits it to those days. The (table, subreddit) write lock is
        taken per day, not for the whole subreddit: compacting a year of
        partitions must not hold a running collection's writes for minutes.
        """
        table = table_name(table)
        result = CompactResult(table)
        parts = [subreddit_partition(subreddit)] if subreddit is not None else self.subreddits(table)
        wanted = None if dts is None else set(dts)
        for part in parts:
            for day in self.days(table, part):
                if wanted is None or day in wanted:
                    with self.locker.lock(table, part):
                        folder = self.location.path(self._partition(table, part, day))
                        compact_partition(self.storage, folder, self.parquet, result)
        return result

    def redact(
        self, table: str, subreddit: str, ids: Iterable[str], values: Mapping[str, object], *, key: str = ID_COLUMN
    ) -> RedactResult:
        """Replace column values in the stored rows of ``ids`` (deletion compliance).

        For every ``dt`` partition of (table, subreddit) holding any of
        ``ids``, rewrites the partition with those rows' ``values`` replaced,
        e.g. ``{"title": "[deleted]", "selftext": None, "author":
        "[deleted]"}``. Every other row and column stays as it is; the schema
        and one row per id are kept. Publication is compaction's (see
        ``compact``): the rewritten file is published atomically, then the
        files it replaces are deleted, and the new file records their names,
        so a crash in between leaves the old rows visible only until the
        next ``redact`` or ``compact`` of the partition, and loses nothing.
        A partition already showing the values in one file is left as is,
        so redacting twice is cheap.

        Holds the (table, subreddit) write lock throughout. Raises
        ValueError for an empty ``values``, a column the subreddit's files
        do not have, ``id``/``subreddit``/``dt``, or a value that does not
        fit its column's type; nothing is rewritten then. With nothing
        stored for the subreddit there is nothing to check against: every
        id is reported ``not_found``. ``key`` names the column rows are found
        by, for tables without an ``id`` (``users`` is keyed by ``author``).
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        if isinstance(ids, str):
            raise TypeError("ids must be a collection of ids, not one string")
        wanted = frozenset(ids)
        if not all(isinstance(i, str) for i in wanted):
            raise TypeError("ids must be strings")
        if not values:
            raise ValueError("redact needs at least one column value to set")
        return self._rewrite_rows(
            table, part, wanted, key, lambda schema: ValueReplacer(pa.array(sorted(wanted), pa.string()),
                                                                 check_values(schema, values), key)
        )

    def update_column(self, table: str, subreddit: str, column: str, values: Mapping[str, object]) -> RedactResult:
        """Set ``column`` of the stored row of each id in ``values`` to that id's value.

        For values learnt after a row was written once (a comment's depth, unknown until its
        parent landed): the partitions holding those ids are rewritten exactly as ``redact``
        rewrites them (same lock, publication and crash safety), every other row and column
        kept. The ids found are in the result's ``redacted``. Raises ValueError for a protected
        or unknown column, or a value that does not fit it; nothing is rewritten then.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        wanted = frozenset(values)
        ordered = sorted(wanted)

        def edit(schema: pa.Schema) -> PerIdValues:
            if column in PROTECTED_COLUMNS:
                raise ValueError(f"update_column cannot set {column!r}: the id and the partition columns identify a row")
            if column not in schema.names:
                raise ValueError(f"{table} has no column {column!r}")
            try:
                array = pa.array([values[i] for i in ordered], schema.field(column).type)
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as error:
                raise ValueError(f"values do not fit column {column!r}: {error}") from None
            return PerIdValues(pa.array(ordered, pa.string()), column, array)

        return self._rewrite_rows(table, part, wanted, ID_COLUMN, edit)

    def _rewrite_rows(
        self, table: str, part: str, wanted: frozenset[str], key: str,
        make_edit: Callable[[pa.Schema], ValueReplacer | PerIdValues],
    ) -> RedactResult:
        """Rewrite the ``dt`` partitions holding any of ``wanted`` through the edit ``make_edit``
        builds from the partition's schema (it raises ValueError before anything is rewritten)."""
        table_path = self.location.path(table)
        with self.locker.lock(table, part):
            dataset = table_dataset(self.storage, table, part)
            if dataset is None:
                return RedactResult(table, part, frozenset(), wanted)
            replacer = make_edit(dataset.schema)
            if not wanted:
                return RedactResult(table, part, frozenset(), frozenset())
            if key not in dataset.schema.names:
                raise ValueError(f"{table} has no {key!r} column to find rows by")
            id_set = pa.array(sorted(wanted), pa.string())
            hits = dataset.to_table(columns=[key, "dt"], filter=pc.field(key).isin(id_set))
            found = frozenset(hits.column(key).to_pylist())
            replaced: list[str] = []
            written: list[str] = []
            for day in sorted(set(hits.column("dt").to_pylist())):
                done = rewrite_partition(
                    self.storage, f"{table_path}/subreddit={part}/dt={day.isoformat()}", self.parquet, edit=replacer
                )
                replaced += [self.location.uri_of(p) for p in done.leftovers + done.replaced]
                if done.written is not None:
                    written.append(self.location.uri_of(done.written))
        return RedactResult(table, part, found, wanted - found, replacer.rows, replaced, written)

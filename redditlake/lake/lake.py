"""The ``Lake`` facade: the only object the collector needs."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from redditlake.lake import batch, delta, views
from redditlake.lake.batch import ID_COLUMN
from redditlake.lake.delta import PARTITIONS, ParquetOptions, partition_predicate
from redditlake.lake.location import Location, open_location
from redditlake.lake.names import TABLE_PATTERN, subreddit_partition, table_name
from redditlake.lake.redact import PROTECTED_COLUMNS, RedactResult, check_values
from redditlake.lake.storage import Storage


@dataclass(frozen=True)
class WriteResult:
    """What one ``write``/``append`` call did."""

    table: str
    subreddit: str  # the partition value (lower-cased)
    rows_in: int
    written: int
    duplicates_skipped: int


class Lake:
    """A lake of Delta tables, partitioned by (subreddit, dt), on local disk or S3."""

    def __init__(self, location: Location, *, parquet: ParquetOptions | None = None) -> None:
        self.location = location
        self.storage = Storage(location)
        self.parquet = parquet or ParquetOptions()
        self.snapshots = delta.Snapshots(location)

    @classmethod
    def open(
        cls,
        uri: str | os.PathLike[str],
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        row_group_size: int = ParquetOptions.row_group_size,
        compression: str = ParquetOptions.compression,
    ) -> Lake:
        """Open a lake at a folder (created on demand) or ``s3://bucket/prefix``."""
        location = open_location(uri, endpoint_url=endpoint_url, region=region)
        return cls(location, parquet=ParquetOptions(row_group_size=row_group_size, compression=compression))

    @property
    def uri(self) -> str:
        return self.location.uri

    def __repr__(self) -> str:
        return f"Lake({self.uri!r})"

    # -- writing -----------------------------------------------------------

    def write(
        self, table: str, subreddit: str, rows: pa.Table, *, app: tuple[str, int] | None = None
    ) -> WriteResult:
        """Store rows whose id is not stored yet; one row per id, ever.

        Rows are deduplicated within the batch (latest ``collected_at``, else the last
        row), then inserted by one MERGE on ``id`` whose read set is the batch's
        (subreddit, dt) partitions: the batch lands as one commit or not at all, and a
        concurrent writer of the same partitions makes one of the two commits fail and
        run again (see ``delta``). ``app`` commits an app transaction id with the rows.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        if rows.num_rows == 0:
            return WriteResult(table, part, 0, 0, 0)
        prepared = batch.dedup_by_id(batch.check_partition_columns(rows, part))
        data = batch.with_partitions(prepared, part, batch.CREATED_COLUMN)
        days = pc.unique(data.column("dt")).to_pylist()
        written = delta.insert_new(
            self.snapshots, table, data, f"t.{ID_COLUMN} = s.{ID_COLUMN}", partition_predicate(part, days),
            PARTITIONS, self.parquet, app=app,
        )
        return WriteResult(table, part, rows.num_rows, written, rows.num_rows - written)

    def append(
        self,
        table: str,
        subreddit: str,
        rows: pa.Table,
        *,
        dt_column: str = batch.COLLECTED_COLUMN,
        app: tuple[str, int] | None = None,
    ) -> WriteResult:
        """Store every row (snapshot tables): no id dedup, same layout, one commit.

        ``dt`` is the UTC date of ``dt_column`` (``collected_at`` by default).
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        if rows.num_rows == 0:
            return WriteResult(table, part, 0, 0, 0)
        data = batch.with_partitions(batch.check_partition_columns(rows, part), part, dt_column)
        delta.append(self.snapshots, table, data, PARTITIONS, self.parquet, app=app)
        return WriteResult(table, part, rows.num_rows, rows.num_rows, 0)

    def insert_missing(
        self, table: str, subreddit: str, rows: pa.Table, match: str, *, dt_column: str, look_in: Sequence[dt.date]
    ) -> WriteResult:
        """Append the rows no stored row of the subreddit's ``look_in`` days matches (``match``,
        a condition on ``t`` (stored) and ``s`` (new)), in one conflict-checked commit."""
        table, part = table_name(table), subreddit_partition(subreddit)
        if rows.num_rows == 0:
            return WriteResult(table, part, 0, 0, 0)
        data = batch.with_partitions(batch.check_partition_columns(rows, part), part, dt_column)
        days = set(look_in) | set(pc.unique(data.column("dt")).to_pylist())
        written = delta.insert_new(
            self.snapshots, table, data, match, partition_predicate(part, days), PARTITIONS, self.parquet
        )
        return WriteResult(table, part, rows.num_rows, written, rows.num_rows - written)

    def app_version(self, table: str, app_id: str) -> int | None:
        """The last version of app transaction ``app_id`` committed with rows of ``table``."""
        return delta.app_version(self.snapshots, table_name(table), app_id)

    # -- system areas (quality results, audit trail) -----------------------

    def append_area(self, area: str, rows: pa.Table, dt_column: str) -> None:
        """Append rows to a system area (``_quality/…``, ``_audit``): a Delta table partitioned by
        ``dt`` only, outside the tables ``tables()`` lists."""
        data = rows.append_column("dt", batch.utc_dates(rows, dt_column))
        delta.append(self.snapshots, area, data, ["dt"], self.parquet)

    def replace_area_days(self, area: str, days: Sequence[dt.date], rows: pa.Table, dt_column: str) -> None:
        """Replace the rows of some ``dt`` days of a system area by ``rows`` (of those days), in one
        commit: for an edit of stored results (a forgotten account's name in a sample). Only the
        days are in the logged predicate, never a value."""
        data = rows.append_column("dt", batch.utc_dates(rows, dt_column))
        delta.replace(self.snapshots, area, data, partition_predicate(None, days, alias=None), ["dt"], self.parquet)

    def purge_area(self, area: str) -> list[str]:
        """``purge`` for a system area."""
        return delta.vacuum(self.location, area, 0, full=False)

    def read_area(
        self, area: str, schema: pa.Schema, days: Iterable[dt.date] | None = None, filter: ds.Expression | None = None
    ) -> pa.Table:
        """A system area's rows in ``schema`` (of some days), or an empty table."""
        data = self.snapshots.dataset(area)
        if data is None:
            return schema.empty_table()
        where = filter
        if days is not None:
            within = pc.field("dt").isin(pa.array(sorted(set(days)), pa.date32()))
            where = within if where is None else where & within
        return data.to_table(columns=schema.names, filter=where).cast(schema)

    def area_days(self, area: str) -> list[dt.date]:
        return sorted({day for _, day in self._partitions(area)})

    # -- reading -----------------------------------------------------------

    def _dataset(self, table: str) -> ds.Dataset | None:
        return self.snapshots.dataset(table)

    def _partitions(self, path: str) -> set[tuple[str | None, dt.date]]:
        """(subreddit, dt) of every live file of a table, from its log (no data file is read)."""
        actions = self.snapshots.add_actions(path)
        if actions is None:
            return set()
        subs = (
            actions.column("partition.subreddit").to_pylist()
            if "partition.subreddit" in actions.column_names else [None] * actions.num_rows
        )
        days = actions.column("partition.dt").to_pylist() if "partition.dt" in actions.column_names else []
        return set(zip(subs, days))

    @staticmethod
    def _where(part: str | None, days: Iterable[dt.date] | None) -> ds.Expression | None:
        where = None if part is None else pc.field("subreddit") == part
        if days is not None:
            within = pc.field("dt").isin(pa.array(sorted(set(days)), pa.date32()))
            where = within if where is None else where & within
        return where

    def existing_ids(self, table: str, subreddit: str, dts: Iterable[dt.date] | None = None) -> set[str]:
        """Ids stored for a subreddit, in the given days or (``dts=None``) in all of them.

        Reads the current snapshot's ``id`` column of the files of those partitions only
        (the log says which files they are).
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        data = self._dataset(table)
        if data is None:
            return set()
        ids = data.to_table(columns=[ID_COLUMN], filter=self._where(part, dts)).column(ID_COLUMN)
        return set(pc.unique(ids).to_pylist())

    def days(self, table: str, subreddit: str) -> list[dt.date]:
        """The ``dt`` days a subreddit has rows in, oldest first (from the log, no file read)."""
        table, part = table_name(table), subreddit_partition(subreddit)
        return sorted(day for sub, day in self._partitions(table) if sub == part)

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

        ``dts`` limits the read to those ``dt`` partitions; "latest" is then the
        latest within them.

        A table that does not exist gives an empty table with the requested columns
        (typed ``null``: there is no schema to take types from). A column the table
        does not have is a ValueError; one added later reads as null in older rows.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        wanted = list(columns)
        if isinstance(columns, str) or not wanted:
            raise ValueError("columns must be a non-empty list of column names")
        if len(set(wanted)) != len(wanted):
            raise ValueError(f"columns {wanted} name a column twice")
        needed = list(dict.fromkeys([key, batch.COLLECTED_COLUMN, *wanted]))
        data = self._dataset(table)
        if data is None:
            return pa.table({name: pa.array([], pa.null()) for name in wanted})
        unknown = [name for name in needed if name not in data.schema.names]
        if unknown:
            raise ValueError(f"{table} (r/{part}) has no column(s) {unknown}")
        rows = data.to_table(columns=needed, filter=self._where(part, dts))
        rows = rows.filter(pc.is_valid(rows.column(key)))
        return batch.dedup_by_id(rows, key).select(wanted)

    def read_days(self, table: str, subreddit: str, days: Iterable[dt.date]) -> pa.Table:
        """Rows of some ``dt`` partitions of a subreddit: e.g. the request log of the last hour,
        however old the lake is (the log names the files of those days; no other is read)."""
        table, part = table_name(table), subreddit_partition(subreddit)
        data = self._dataset(table)
        return pa.table({}) if data is None else data.to_table(filter=self._where(part, days))

    def tables(self) -> list[str]:
        """Names of the tables in the lake (Delta tables with a valid table name)."""
        return [
            name for name in self.storage.subfolders(self.location.root)
            if TABLE_PATTERN.fullmatch(name) and self.storage.exists(self.location.path(name, delta.LOG_FOLDER))
        ]

    def read(self, table: str, subreddit: str | None = None) -> pa.Table:
        """A whole table (or one subreddit of it) in memory; for tests and small tools."""
        table = table_name(table)
        part = None if subreddit is None else subreddit_partition(subreddit)
        data = self._dataset(table)
        if data is None:
            return pa.table({})
        rows = data.to_table(filter=self._where(part, None))
        # Same column order as the DuckDB views: data, then subreddit, dt.
        return rows.select([c for c in rows.column_names if c not in PARTITIONS] + PARTITIONS)

    def duckdb(self, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per table: the current snapshot of each, as a
        registered Arrow dataset (no file access of DuckDB's own)."""
        return views.connect({t: d for t in self.tables() if (d := self._dataset(t)) is not None}, database)

    def query(self, sql: str) -> pa.Table:
        """Run one SQL statement over the views; the result as an Arrow table."""
        with self.duckdb() as con:
            relation = con.sql(sql)
            return pa.table({}) if relation is None else relation.to_arrow_table()

    def subreddits(self, table: str) -> list[str]:
        """The subreddits a table has rows of (lower-case names)."""
        return sorted({sub for sub, _ in self._partitions(table_name(table)) if sub is not None})

    # -- changing stored rows ----------------------------------------------

    def redact(
        self, table: str, subreddit: str, ids: Iterable[str], values: Mapping[str, object], *, key: str = ID_COLUMN
    ) -> RedactResult:
        """Replace column values in the stored rows of ``ids`` (deletion compliance).

        One MERGE per call, the ids in its source (never in the logged predicate), over
        the subreddit's days holding any of them: each stored row of those ids (every
        snapshot, in append tables) gets ``values``, e.g. ``{"title": "[deleted]",
        "selftext": None}``; rows already holding them are not rewritten. The old
        files stay in older snapshots until ``purge`` (or maintenance's vacuum)
        removes them. ``key`` names the column rows are found by (``users`` is keyed
        by ``author``). Raises ValueError for an empty ``values``, an unknown or
        protected column, or a value that does not fit its column's type.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        if isinstance(ids, str):
            raise TypeError("ids must be a collection of ids, not one string")
        wanted = frozenset(ids)
        if not all(isinstance(i, str) for i in wanted):
            raise TypeError("ids must be strings")
        if not values:
            raise ValueError("redact needs at least one column value to set")
        data = self._dataset(table)
        if data is None:
            return RedactResult(table, part, frozenset(), wanted)
        scalars = check_values(data.schema, values)
        if not wanted:
            return RedactResult(table, part, frozenset(), frozenset())
        if key not in data.schema.names:
            raise ValueError(f"{table} has no {key!r} column to find rows by")
        id_set = pa.array(sorted(wanted), pa.string())
        hits = data.to_table(columns=[key, "dt"], filter=self._where(part, None) & pc.field(key).isin(id_set))
        found = frozenset(hits.column(key).to_pylist())
        if not found:
            return RedactResult(table, part, found, wanted)
        # The key under its own name: a redaction may set the key column itself (users' author).
        keys = pa.table({delta.MATCH_KEY: pa.array(sorted(found), pa.string()),
                         **{c: pa.array([s.as_py()] * len(found), s.type) for c, s in scalars.items()}})
        delta.set_values(
            self.snapshots, table, keys, key, list(scalars), partition_predicate(part, hits.column("dt").to_pylist()),
            self.parquet,
        )
        return RedactResult(table, part, found, wanted - found, hits.num_rows)

    def purge(self, table: str) -> list[str]:
        """Physically delete the files earlier commits (a redaction, a delete) removed from the
        table, at once: older snapshots stop being readable, the old bytes are gone. Only
        files the log removed are touched, so a concurrent writer is never harmed. Returns
        the files deleted."""
        return delta.vacuum(self.location, table_name(table), 0, full=False)

    def update_column(self, table: str, subreddit: str, column: str, values: Mapping[str, object]) -> RedactResult:
        """Set ``column`` of the stored row of each id in ``values`` to that id's value.

        For values learnt after a row was written once (a comment's depth, unknown until its
        parent landed): one MERGE, as ``redact``, over the subreddit's days holding those ids;
        every other row and column kept. The ids found are in the result's ``redacted``.
        Raises ValueError for a protected or unknown column, or a value that does not fit
        it; nothing is written then.
        """
        table, part = table_name(table), subreddit_partition(subreddit)
        wanted = frozenset(values)
        if column in PROTECTED_COLUMNS:
            raise ValueError(f"update_column cannot set {column!r}: the id and the partition columns identify a row")
        data = self._dataset(table)
        if data is None:
            return RedactResult(table, part, frozenset(), wanted)
        if column not in data.schema.names:
            raise ValueError(f"{table} has no column {column!r}")
        ordered = sorted(wanted)
        try:
            array = pa.array([values[i] for i in ordered], data.schema.field(column).type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"values do not fit column {column!r}: {error}") from None
        if not wanted:
            return RedactResult(table, part, frozenset(), frozenset())
        hits = data.to_table(
            columns=[ID_COLUMN, "dt"],
            filter=self._where(part, None) & pc.field(ID_COLUMN).isin(pa.array(ordered, pa.string())),
        )
        found = frozenset(hits.column(ID_COLUMN).to_pylist())
        if not found:
            return RedactResult(table, part, found, wanted)
        keep = pc.is_in(pa.array(ordered, pa.string()), value_set=pa.array(sorted(found), pa.string()))
        keys = pa.table({delta.MATCH_KEY: pa.array(ordered, pa.string()), column: array}).filter(keep)
        delta.set_values(
            self.snapshots, table, keys, ID_COLUMN, [column], partition_predicate(part, hits.column("dt").to_pylist()),
            self.parquet,
        )
        return RedactResult(table, part, found, wanted - found, hits.num_rows)

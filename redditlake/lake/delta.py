"""The one writer: every table and system area of the lake is a Delta table written here.

Nothing else in redditlake writes files into the lake. Rows exist for readers once
their commit lands in ``_delta_log`` (locally an atomic rename, on S3 a conditional
PUT ``If-None-Match: *`` of the next log version); a data file without a commit is
invisible and ``vacuum`` removes it.

One row per key comes from the commit protocol, not from a lock: ``insert_new`` is
a MERGE that inserts only source rows whose key is not in the target partitions.
Two such MERGEs into the same partitions conflict (the loser's read set gained
files) and the loser raises ``CommitFailedError``; it is then run again against the
new snapshot, where the winner's rows are matched and skipped. A writer that
stalls for any time and wakes up late cannot commit over a newer version: its
commit is the next version number or nothing.

Personal columns never reach the transaction log: tables are created with
``delta.dataSkippingStatsColumns`` limited to ``STATS_COLUMNS`` (min/max of
``author`` or ``title`` would otherwise sit in every commit), and row lookups go
through a MERGE with the keys in the source, so no id list or name is recorded as
an operation's predicate.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import ColumnProperties, CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from redditlake.lake.location import Location
from redditlake.lake.storage import make_private_dirs

PARTITIONS = ["subreddit", "dt"]
LOG_FOLDER = "_delta_log"
MATCH_KEY = "match_key"  # the source column ``set_values`` finds rows by
# Columns whose min/max the log and the Parquet footers hold: times only, never text a person
# wrote or is named by (nor strings at all: see ``ParquetOptions.writer``).
STATS_COLUMNS = ("created_utc", "collected_at", "seen_at", "ts", "validated_at", "calculated_at", "started_at",
                 "detected_at", "checked_at")
# A conflict is lost to a commit that landed meanwhile; with N writers on one partition
# a writer loses at most N-1 times in a row, so this is generous.
COMMIT_ATTEMPTS = 30
_BACKOFF_S = 0.05

T = TypeVar("T")


@dataclass(frozen=True)
class ParquetOptions:
    """How data files are encoded: large row groups (the unit readers skip and parallelise),
    zstd."""

    row_group_size: int = 128 * 1024
    compression: str = "zstd"
    compression_level: int | None = None

    def __post_init__(self) -> None:
        if self.row_group_size < 1:
            raise ValueError("row_group_size must be positive")

    def writer(self) -> WriterProperties:
        # Parquet statistics only for the time columns: delta-rs's MERGE writes strings as
        # string_view, and pyarrow (26) fails to prune a string_view column's row groups by
        # string bounds ("no kernel matching input types (string, string_view)"), which
        # broke any filter on such a column, DuckDB's pushed-down ones included.
        return WriterProperties(
            compression=self.compression.upper(),  # type: ignore[arg-type]
            compression_level=self.compression_level,
            max_row_group_size=self.row_group_size,
            default_column_properties=ColumnProperties(statistics_enabled="NONE"),
            column_properties={name: ColumnProperties(statistics_enabled="CHUNK") for name in STATS_COLUMNS},
        )


def storage_options(location: Location) -> dict[str, str] | None:
    """delta-rs's object store settings for an S3 lake (None locally)."""
    s3 = location.s3
    if s3 is None:
        return None
    options = {"AWS_REGION": s3.region}
    if s3.endpoint_url:
        options["AWS_ENDPOINT_URL"] = s3.endpoint_url
        if s3.endpoint_url.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    if s3.access_key and s3.secret_key:
        options["AWS_ACCESS_KEY_ID"] = s3.access_key
        options["AWS_SECRET_ACCESS_KEY"] = s3.secret_key
        if s3.session_token:
            options["AWS_SESSION_TOKEN"] = s3.session_token
    return options


def table_uri(location: Location, path: str) -> str:
    return location.uri_of(location.path(path))


def _make_root(location: Location) -> None:
    """A local lake's folder, made by its first write (opening a lake to read writes nothing):
    closed to other users, so no file the writer puts in it is readable by them."""
    if location.is_local:
        make_private_dirs(location.root)


def open_table(location: Location, path: str) -> DeltaTable | None:
    """The table's current snapshot, or None where no table exists yet."""
    try:
        return DeltaTable(table_uri(location, path), storage_options=storage_options(location))
    except TableNotFoundError:
        return None


class Snapshots:
    """The process's copies of the tables it has read or written, each brought up to date when
    taken. Opening a table reads its log from the last checkpoint: a listing, the checkpoint
    (on S3 a dozen ranged GETs) and the commits since it; catching a copy up costs a listing
    and the commits since its version. A copy is used by one thread at a time: ``take`` hands
    it out (or opens the table), ``give`` puts it back for the next user, whatever its thread.

    Writers take their table from here too. A commit is checked against every commit after the
    version its copy was read at, whether that copy was opened just now or caught up, so reuse
    changes no guarantee. A copy that raised is never given back: a failed attempt's retry
    takes another copy caught up past the winner's commit, or opens the table afresh."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self._idle: dict[str, list[DeltaTable]] = {}
        self._lock = threading.Lock()

    def take(self, path: str) -> DeltaTable | None:
        """A copy of the table at its current version, this caller's alone until ``give``
        (None where no table exists yet)."""
        with self._lock:
            idle = self._idle.get(path)
            table = idle.pop() if idle else None
        if table is not None:
            try:
                table.update_incremental()
                return table
            except DeltaError:  # e.g. the log it would catch up from was cleaned up: read afresh
                pass
        return open_table(self.location, path)

    def give(self, path: str, table: DeltaTable) -> None:
        """Put a copy back once its use succeeded."""
        with self._lock:
            self._idle.setdefault(path, []).append(table)

    def dataset(self, path: str) -> ds.Dataset | None:
        """The current snapshot as a pyarrow dataset (partition columns typed, files fixed at
        this version: a later commit is not seen, a vacuum of older files does not hurt)."""
        table = self.take(path)
        if table is None:
            return None
        data = table.to_pyarrow_dataset()
        self.give(path, table)
        return data

    def add_actions(self, path: str) -> pa.Table | None:
        """The current snapshot's live files (``get_add_actions(flatten=True)``), from the log."""
        table = self.take(path)
        if table is None:
            return None
        actions = pa.table(table.get_add_actions(flatten=True))
        self.give(path, table)
        return actions

    def __getstate__(self) -> dict[str, object]:
        return {"location": self.location}  # a copy in another process reads afresh

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["location"])  # type: ignore[misc,arg-type]


def retrying(attempt: Callable[[], T]) -> T:
    """Run a commit until it lands: a conflict means another writer committed first; the next
    attempt reads the table anew and decides again."""
    for n in range(COMMIT_ATTEMPTS):
        try:
            return attempt()
        except (CommitFailedError, DeltaError) as error:
            if not _is_conflict(error) or n == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, _BACKOFF_S * (2 ** min(n, 5))))
    raise AssertionError("unreachable")


def _is_conflict(error: Exception) -> bool:
    if isinstance(error, CommitFailedError):
        return True
    text = str(error).lower()
    # Two writers creating one table: the loser finds version 0 taken.
    return "already exists" in text or "version 0" in text or "conflict" in text


# A reader loads the last checkpoint plus the commits after it: a checkpoint every 10 commits
# keeps that to at most 10 small JSON reads, whatever the table's history.
CHECKPOINT_INTERVAL = 10


def _config(schema: pa.Schema, partition_by: Sequence[str]) -> dict[str, str]:
    config = {"delta.checkpointInterval": str(CHECKPOINT_INTERVAL)}
    stats = [name for name in STATS_COLUMNS if name in schema.names and name not in partition_by]
    if not stats:
        return {**config, "delta.dataSkippingNumIndexedCols": "0"}
    return {**config, "delta.dataSkippingStatsColumns": ",".join(stats)}


def append(
    snapshots: Snapshots,
    path: str,
    rows: pa.Table,
    partition_by: Sequence[str],
    options: ParquetOptions,
    *,
    app: tuple[str, int] | None = None,
) -> int:
    """Add every row in one commit (a blind append: it conflicts with nothing but a schema
    change). ``app`` = (app id, version) commits that transaction id with the rows, so a
    replayed batch can be recognised by ``app_version``."""
    commit = CommitProperties(app_transactions=[Transaction(*app)]) if app else None
    location = snapshots.location
    _make_root(location)

    def attempt() -> int:
        target = snapshots.take(path)
        write_deltalake(
            target if target is not None else table_uri(location, path),
            rows,
            partition_by=list(partition_by) or None,
            mode="append",
            schema_mode="merge",
            configuration=None if target is not None else _config(rows.schema, partition_by),
            storage_options=storage_options(location),
            writer_properties=options.writer(),
            commit_properties=commit,
        )
        if target is not None:
            snapshots.give(path, target)  # at the version it just committed
        return rows.num_rows

    return retrying(attempt)


def create(snapshots: Snapshots, path: str, schema: pa.Schema, partition_by: Sequence[str]) -> DeltaTable:
    """The table, created empty if it does not exist. Never created with rows: two writers
    creating one table at once would both land their rows (delta-rs turns the loser's
    create into an append); an empty create is harmless twice, and rows then go through
    the MERGE that sees the other's."""
    location = snapshots.location
    _make_root(location)
    try:
        return DeltaTable.create(
            table_uri(location, path), schema, mode="ignore", partition_by=list(partition_by) or None,
            configuration=_config(schema, partition_by), storage_options=storage_options(location),
        )
    except (CommitFailedError, DeltaError) as error:
        if not _is_conflict(error):
            raise
    table = snapshots.take(path)  # another writer created it first
    assert table is not None
    return table


def app_version(snapshots: Snapshots, path: str, app_id: str) -> int | None:
    """The last version committed for this app transaction id (None: never), as of now."""
    table = snapshots.take(path)
    if table is None:
        return None
    version = table.transaction_version(app_id)
    snapshots.give(path, table)
    return version


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def partition_predicate(subreddit: str | None, days: Sequence[dt.date] | None, alias: str | None = "t") -> str:
    """The partitions a MERGE may touch: its read set, which keeps both its memory and its
    conflicts to those partitions. ``subreddit`` was validated as ``[a-z0-9_]``."""
    terms = []
    prefix = f"{alias}." if alias else ""
    if subreddit is not None:
        terms.append(f"{prefix}subreddit = {sql_text(subreddit)}")
    if days is not None:
        terms.append(f"{prefix}dt IN ({', '.join(f'DATE {sql_text(d.isoformat())}' for d in sorted(set(days)))})")
    return " AND ".join(terms) or "true"


def insert_new(
    snapshots: Snapshots,
    path: str,
    rows: pa.Table,
    match: str,
    within: str,
    partition_by: Sequence[str],
    options: ParquetOptions,
    *,
    app: tuple[str, int] | None = None,
) -> int:
    """Insert the rows no stored row matches (``match``: a join condition on ``t``/``s``),
    looking only in the partitions ``within`` names; returns how many were inserted."""
    commit = CommitProperties(app_transactions=[Transaction(*app)]) if app else None

    def attempt() -> int:
        target = snapshots.take(path) or create(snapshots, path, rows.schema, partition_by)
        metrics = (
            target.merge(
                rows, predicate=f"{within} AND {match}", source_alias="s", target_alias="t", merge_schema=True,
                writer_properties=options.writer(), commit_properties=commit,
            )
            .when_not_matched_insert_all()
            .execute()
        )
        snapshots.give(path, target)
        return int(metrics.get("num_target_rows_inserted", 0))

    return retrying(attempt)


def set_values(
    snapshots: Snapshots,
    path: str,
    keys: pa.Table,
    key: str,
    columns: Sequence[str],
    within: str,
    options: ParquetOptions,
) -> int:
    """Set ``columns`` to the values in ``keys`` (one row per ``MATCH_KEY`` value, matched against
    the stored ``key`` column) in every stored row of those keys inside ``within``; rows already
    holding them are left alone. Returns the rows changed."""
    changed = " OR ".join(f"(t.{c} IS DISTINCT FROM s.{c})" for c in columns)

    def attempt() -> int:
        target = snapshots.take(path)
        if target is None:
            return 0
        metrics = (
            target.merge(
                keys, predicate=f"{within} AND t.{key} = s.{MATCH_KEY}", source_alias="s", target_alias="t",
                writer_properties=options.writer(),
            )
            .when_matched_update(updates={c: f"s.{c}" for c in columns}, predicate=changed)
            .execute()
        )
        snapshots.give(path, target)
        return int(metrics.get("num_target_rows_updated", 0))

    return retrying(attempt)


def replace(
    snapshots: Snapshots, path: str, rows: pa.Table, where: str, partition_by: Sequence[str], options: ParquetOptions
) -> None:
    """Replace the rows ``where`` selects (partition columns only) by ``rows``, in one commit
    (an overwrite with a predicate: a concurrent commit to those partitions makes one retry)."""

    def attempt() -> None:
        target = snapshots.take(path)
        if target is None:
            raise ValueError(f"no table at {path} to replace rows of")
        write_deltalake(
            target, rows, partition_by=list(partition_by) or None, mode="overwrite", predicate=where,
            storage_options=storage_options(snapshots.location), writer_properties=options.writer(),
        )
        snapshots.give(path, target)

    retrying(attempt)


def vacuum(location: Location, path: str, retention_hours: int, *, full: bool) -> list[str]:
    """Checkpoint, then delete the files no snapshot of the last ``retention_hours`` uses, then
    the log entries past the table's ``delta.logRetentionDuration``. ``full=False`` deletes
    only files the log says were removed (never a file an in-flight writer is about to
    commit); ``full`` also deletes files no commit names (a writer killed before its commit)
    once they are older than the retention."""
    target = open_table(location, path)
    if target is None:
        return []
    target.create_checkpoint()
    removed = target.vacuum(retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False,
                            full=full)
    target.cleanup_metadata()
    return list(removed)

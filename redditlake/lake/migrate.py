"""`redditlake lake migrate`: turn a lake of plain Parquet folders into Delta tables, in place.

The old layout is the same Hive tree without ``_delta_log``: ``{table}/subreddit=…/dt=…/
part-<hash>.parquet`` plus ``_quality/{kind}/dt=…/`` and ``_audit/dt=…/``. Each table is
migrated one subreddit at a time: its files are read, deduplicated (one row per id in tables
whose files say they were written with dedup, ``redditlake.mode``; a crash of the old
compaction could leave a row twice), appended in one commit through the lake's writer, and
only then deleted. ``convert_to_deltalake`` would adopt the files as they are, duplicates
included, which is why the rows are rewritten instead.

Safe to run again after a crash: a subreddit whose rows are committed but whose old files
remain only has them deleted; one that was not committed is migrated again (files of an
uncommitted attempt are never read and maintenance's vacuum removes them). The old lock
folder ``_locks`` goes last.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow import fs as pafs

from redditlake.errors import RedditLakeError
from redditlake.lake import batch, delta
from redditlake.lake.lake import Lake
from redditlake.lake.names import TABLE_PATTERN

# What the old writer named its files: part-<32 hex of the content hash>.parquet.
OLD_FILE = re.compile(r"part-[0-9a-f]{32}\.parquet")
OLD_LOCKS = "_locks"
AREAS = ("_quality", "_audit")
_MODE_KEY = b"redditlake.mode"


@dataclass
class MigrationReport:
    tables: dict[str, int] = field(default_factory=dict)  # table or area -> rows committed
    duplicates: dict[str, int] = field(default_factory=dict)  # table -> rows dropped as repeated ids
    files_removed: int = 0

    def lines(self) -> list[str]:
        if not self.tables and not self.files_removed:
            return ["nothing to migrate: the lake is already made of Delta tables"]
        out = [f"{t}: {n} rows in Delta, {self.duplicates.get(t, 0)} duplicate rows dropped"
               for t, n in sorted(self.tables.items())]
        return out + [f"{self.files_removed} old Parquet files removed"]


def old_files(lake: Lake, path: str) -> list[pafs.FileInfo]:
    """The old writer's files under a table or area folder (never a Delta file: other names)."""
    return [info for info in lake.storage.files(lake.location.path(path)) if OLD_FILE.fullmatch(info.base_name)]


def needs_migration(lake: Lake) -> list[str]:
    """Tables and areas that still hold files of the old Parquet-folder layout."""
    found = []
    for name in lake.storage.subfolders(lake.location.root):
        if TABLE_PATTERN.fullmatch(name) or name in AREAS:
            if old_files(lake, name):
                found.append(name)
    return found


def old_format_folders(lake: Lake) -> list[str]:
    """Folders that are not Delta tables yet, cheaply (one listing of the lake's root and one
    per folder, no walk of the data): what a run checks before it writes."""
    found = []
    for name in lake.storage.subfolders(lake.location.root):
        folders = [name] if TABLE_PATTERN.fullmatch(name) or name == "_audit" else []
        if name == "_quality":
            folders = [f"{name}/{kind}" for kind in lake.storage.subfolders(lake.location.path(name))]
        found += [f for f in folders if not lake.storage.exists(lake.location.path(f, delta.LOG_FOLDER))]
    return found


def require_delta(lake: Lake) -> None:
    """Refuse to write Delta tables next to old Parquet folders: one line that says what to run."""
    old = old_format_folders(lake)
    if old:
        raise RedditLakeError(
            f"{lake.uri} holds tables in the old Parquet-folder format ({', '.join(old[:5])}"
            f"{', …' if len(old) > 5 else ''}): run `redditlake lake migrate --lake {lake.uri}` once"
        )


def _group(lake: Lake, path: str, infos: list[pafs.FileInfo]) -> dict[str, list[pafs.FileInfo]]:
    """Old files by the folder right under ``path`` that partitions them (``subreddit=…``, or for
    the system areas the area folder itself)."""
    base = lake.location.path(path)
    groups: dict[str, list[pafs.FileInfo]] = defaultdict(list)
    for info in infos:
        parts = info.path[len(base) + 1 :].split("/")
        groups["/".join(parts[:-2]) if len(parts) > 2 else ""].append(info)
    return groups


def _read(lake: Lake, files: list[pafs.FileInfo]) -> tuple[pa.Table, bool]:
    """The rows of old files, each with the ``dt`` of its folder (the old layout's only record of
    it), and whether they were written as one-row-per-id."""
    fs = lake.location.filesystem
    fragments = list(ds.dataset(files, filesystem=fs, format="parquet").get_fragments())
    schemas = [f.physical_schema for f in fragments]
    dedup = any((s.metadata or {}).get(_MODE_KEY) == b"dedup" for s in schemas)
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive").remove_metadata()
    except pa.ArrowInvalid as error:
        raise ValueError(f"old files disagree on a column's type ({error}); fix them before migrating") from None
    schema = pa.schema([f for f in unified if f.name not in delta.PARTITIONS])
    parts = []
    for info in files:
        rows = ds.dataset([info], schema=schema, filesystem=fs, format="parquet").to_table()
        day = dt.date.fromisoformat(info.path.rsplit("/", 2)[-2].removeprefix("dt="))
        parts.append(rows.append_column("dt", pa.array([day] * rows.num_rows, pa.date32())))
    return pa.concat_tables(parts), dedup


def migrate_table(lake: Lake, table: str, report: MigrationReport) -> None:
    infos = old_files(lake, table)
    existing = set(lake.subreddits(table))
    for group, files in sorted(_group(lake, table, infos).items()):
        sub = group.removeprefix("subreddit=")
        if sub not in existing:
            data, dedup = _read(lake, files)
            before = data.num_rows
            if dedup and batch.ID_COLUMN in data.column_names:
                data = batch.dedup_by_id(data)
            report.duplicates[table] = report.duplicates.get(table, 0) + before - data.num_rows
            data = data.append_column("subreddit", pa.array([sub] * data.num_rows, pa.string()))
            delta.append(lake.snapshots, table, batch.to_utc(data), delta.PARTITIONS, lake.parquet)
            report.tables[table] = report.tables.get(table, 0) + data.num_rows
        _remove(lake, files, report)


def migrate_area(lake: Lake, area: str, report: MigrationReport) -> None:
    """``_audit`` (dt folders right under it) or ``_quality`` (a folder per kind, dt under each)."""
    for group, files in sorted(_group(lake, area, old_files(lake, area)).items()):
        path = f"{area}/{group}" if group else area
        if delta.open_table(lake.location, path) is None:
            data, _ = _read(lake, files)
            delta.append(lake.snapshots, path, batch.to_utc(data), ["dt"], lake.parquet)
            report.tables[path] = data.num_rows
        _remove(lake, files, report)


def _remove(lake: Lake, files: list[pafs.FileInfo], report: MigrationReport) -> None:
    for info in files:
        lake.location.filesystem.delete_file(info.path)
    report.files_removed += len(files)


def migrate(lake: Lake) -> MigrationReport:
    """Migrate every table and area still in the old layout; a no-op on a migrated lake."""
    report = MigrationReport()
    for name in needs_migration(lake):
        if name in AREAS:
            migrate_area(lake, name, report)
        else:
            migrate_table(lake, name, report)
    locks = lake.location.path(OLD_LOCKS)
    if lake.location.is_local and lake.storage.exists(locks):
        lake.location.filesystem.delete_dir(locks)
    return report

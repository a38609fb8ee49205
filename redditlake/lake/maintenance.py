"""Keeping the lake a few-files lake: files per partition, and compacting what is due.

Every run adds a file per table and day it touches (snapshot tables one per
run), so a subreddit collected hourly gains ~24 files a day in each table.
Readers pay per file (on S3 a couple of ranged GETs each), so the maintenance
flow compacts partitions that crossed a threshold. Compaction is safe
alongside running collections: it takes the (table, subreddit) write lock one
day at a time, publishes the merged file before deleting the ones it replaces,
and readers list again when a file vanishes under them (see ``compact``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from redditlake.lake.lake import Lake
from redditlake.lake.names import subreddit_partition, table_name
from redditlake.lake.reading import layout_file_infos


@dataclass(frozen=True)
class PartitionFiles:
    """How many files one (table, subreddit, day) partition holds: the small-files metric."""

    table: str
    subreddit: str
    day: dt.date
    files: int
    bytes: int


def files_per_partition(
    lake: Lake, tables: Iterable[str] | None = None, subreddit: str | None = None
) -> list[PartitionFiles]:
    """Files and bytes of every partition (of some tables, of one subreddit), sorted.

    One recursive listing per table (per subreddit if given), no file is
    opened: cheap enough for a catalog or a health check to call every run.
    """
    part = None if subreddit is None else subreddit_partition(subreddit)
    result: list[PartitionFiles] = []
    for table in tables if tables is not None else lake.tables():
        table = table_name(table)
        table_path = lake.location.path(table)
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for info in layout_file_infos(lake.storage, table_path, part):
            sub_folder, day_folder, _ = info.path[len(table_path) + 1 :].split("/")
            entry = counts[(sub_folder.removeprefix("subreddit="), day_folder.removeprefix("dt="))]
            entry[0] += 1
            entry[1] += info.size or 0
        for (sub, day), (files, size) in counts.items():
            try:
                result.append(PartitionFiles(table, sub, dt.date.fromisoformat(day), files, size))
            except ValueError:
                continue  # a dt= folder that is not a date is not a partition
    return sorted(result, key=lambda p: (p.table, p.subreddit, p.day))


@dataclass(frozen=True)
class CompactionPolicy:
    """A partition is due when it holds ``min_files`` files, or 2+ files and its day
    is ``after_days`` days past (days stop receiving writes soon after they end)."""

    min_files: int = 24
    after_days: int = 1

    def due(self, partition: PartitionFiles, today: dt.date) -> bool:
        if partition.files < 2:
            return False
        return partition.files >= self.min_files or (today - partition.day).days >= self.after_days


@dataclass
class TableCompaction:
    table: str
    partitions: int = 0  # partitions in the table (of the subreddit, if one was given)
    due: int = 0
    compacted: int = 0
    files_before: int = 0
    files_after: int = 0
    rows_before: int = 0
    rows_after: int = 0

    def line(self) -> str:
        return (
            f"{self.table}: {self.compacted}/{self.due} due partitions compacted (of {self.partitions}), "
            f"files {self.files_before} → {self.files_after}, rows {self.rows_before} → {self.rows_after}"
        )


@dataclass
class MaintenanceReport:
    tables: list[TableCompaction] = field(default_factory=list)

    @property
    def files_removed(self) -> int:
        return sum(t.files_before - t.files_after for t in self.tables)

    def lines(self) -> list[str]:
        return [t.line() for t in self.tables] or ["nothing to compact: the lake has no tables"]


def compact_due(
    lake: Lake,
    policy: CompactionPolicy,
    tables: Iterable[str] | None = None,
    subreddit: str | None = None,
    today: dt.date | None = None,
) -> MaintenanceReport:
    """Compact every partition the policy says is due; report files before and after.

    Append tables (post_metrics, api_requests, comment_fetches, ...) are
    concatenated, dedup tables keep one row per id: ``compact`` knows which
    is which from the files.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    report = MaintenanceReport()
    for table in tables if tables is not None else lake.tables():
        before = files_per_partition(lake, [table], subreddit)
        due = [p for p in before if policy.due(p, today)]
        entry = TableCompaction(table_name(table), partitions=len(before), due=len(due))
        entry.files_before = sum(p.files for p in before)
        by_sub: dict[str, list[dt.date]] = defaultdict(list)
        for p in due:
            by_sub[p.subreddit].append(p.day)
        for sub, days in sorted(by_sub.items()):
            result = lake.compact(table, sub, days)
            entry.compacted += result.partitions_compacted
            entry.rows_before += result.rows_before
            entry.rows_after += result.rows_after
        entry.files_after = sum(p.files for p in files_per_partition(lake, [table], subreddit))
        report.tables.append(entry)
    return report

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from redditlake.lake.compact import CompactResult
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
    parallel: int = 4  # (table, subreddit) pairs compacted at once

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


@dataclass(frozen=True)
class FileSpread:
    """Files per partition of one table's subreddit: the small-files metric, summed up."""

    table: str
    subreddit: str
    partitions: int
    max_files: int
    mean_files: float


def file_spread(partitions: Iterable[PartitionFiles]) -> list[FileSpread]:
    """Max and mean files per partition, per (table, subreddit), sorted."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for p in partitions:
        counts[(p.table, p.subreddit)].append(p.files)
    return [
        FileSpread(table, sub, len(files), max(files), round(sum(files) / len(files), 3))
        for (table, sub), files in sorted(counts.items())
    ]


@dataclass
class MaintenanceReport:
    tables: list[TableCompaction] = field(default_factory=list)
    after: list[PartitionFiles] = field(default_factory=list)  # every partition, once compaction was done

    @property
    def files_removed(self) -> int:
        return sum(t.files_before - t.files_after for t in self.tables)

    def lines(self) -> list[str]:
        return [t.line() for t in self.tables] or ["nothing to compact: the lake has no tables"]

    def spread(self) -> list[FileSpread]:
        return file_spread(self.after)

    def metric_rows(self, run_id: str, now: dt.datetime, flow_run_id: str | None) -> list[dict[str, object]]:
        """``files_per_partition_max``/``_mean`` per table and subreddit, as rows of the
        quality results' ``data_quality_metrics`` (the catalog shows them next to the scores)."""
        rows: list[dict[str, object]] = []
        for s in self.spread():
            for name, value in (("files_per_partition_max", s.max_files), ("files_per_partition_mean", s.mean_files)):
                rows.append({
                    "run_id": run_id, "metric_name": name, "metric_value": float(value), "subreddit_name": s.subreddit,
                    "table_name": s.table, "calculated_at": now, "flow_run_id": flow_run_id,
                })
        return rows

    def markdown(self) -> str:
        """The maintenance run's summary: what was compacted, then files per partition left."""
        out = ["## Compaction", "", "| table | due | compacted | partitions | files before | files after | rows before | rows after |",
               "|---|---|---|---|---|---|---|---|"]
        out += [f"| {t.table} | {t.due} | {t.compacted} | {t.partitions} | {t.files_before} | {t.files_after} "
                f"| {t.rows_before} | {t.rows_after} |" for t in self.tables]
        out += ["", "## Files per partition (after)", "", "| table | subreddit | partitions | max | mean |",
                "|---|---|---|---|---|"]
        out += [f"| {s.table} | {s.subreddit} | {s.partitions} | {s.max_files} | {s.mean_files:g} |" for s in self.spread()]
        return "\n".join(out)


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
    is which from the files. Each (table, subreddit) has its own write lock,
    so ``policy.parallel`` of them are compacted at once (on S3 a partition's
    rewrite waits on round trips, not on the CPU).
    """
    today = today or dt.datetime.now(dt.UTC).date()
    names = [table_name(t) for t in (tables if tables is not None else lake.tables())]
    entries = {table: TableCompaction(table) for table in names}
    work: list[tuple[str, str, list[dt.date]]] = []
    for table in names:
        before = files_per_partition(lake, [table], subreddit)
        due = [p for p in before if policy.due(p, today)]
        entry = entries[table]
        entry.partitions, entry.due, entry.files_before = len(before), len(due), sum(p.files for p in before)
        by_sub: dict[str, list[dt.date]] = defaultdict(list)
        for p in due:
            by_sub[p.subreddit].append(p.day)
        work += [(table, sub, days) for sub, days in sorted(by_sub.items())]

    def compact(job: tuple[str, str, list[dt.date]]) -> tuple[str, CompactResult]:
        table, sub, days = job
        return table, lake.compact(table, sub, days)

    with ThreadPoolExecutor(max_workers=max(1, min(policy.parallel, len(work) or 1))) as pool:
        for table, result in pool.map(compact, work):
            entry = entries[table]
            entry.compacted += result.partitions_compacted
            entry.rows_before += result.rows_before
            entry.rows_after += result.rows_after
    report = MaintenanceReport([entries[t] for t in names])
    for table in names:
        after = files_per_partition(lake, [table], subreddit)
        entries[table].files_after = sum(p.files for p in after)
        report.after += after
    return report

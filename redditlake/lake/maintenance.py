"""Keeping the lake's tables lean: compaction, checkpoints, vacuum (all Delta's own).

Every run adds a file per table and day it touches, so a subreddit collected hourly
gains ~24 files a day in each table; readers pay per file. ``maintain`` runs, per
table: ``optimize.compact`` of the partitions the policy says are due (a commit like
any other: concurrent writers are unaffected, a concurrent redaction of the same
files makes one of the two retry), a checkpoint (readers then read one Parquet file
instead of every JSON commit), ``vacuum`` of the files no snapshot younger than
``retention_hours`` needs (replaced by compaction or redaction, or written by a
writer that died before its commit), and ``cleanup_metadata`` of log entries older
than the table's ``delta.logRetentionDuration``.

The retention is what readers of old snapshots may rely on: a query that started on a
snapshot, or a time-travel read of a version, fails once vacuum removed its files.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from redditlake.lake import delta
from redditlake.lake.lake import Lake
from redditlake.lake.names import subreddit_partition, table_name

# Vacuum keeps a week by default, Delta's own default: long enough for any query or
# time-travel read in practice; redactions purge their own old files at once (``purge``).
DEFAULT_RETENTION_HOURS = 168


@dataclass(frozen=True)
class PartitionFiles:
    """How many files one (table, subreddit, day) partition holds: the small-files metric."""

    table: str
    subreddit: str
    day: dt.date
    files: int
    bytes: int


def partition_files(lake: Lake, path: str, subreddit: str | None = None) -> list[PartitionFiles]:
    """Files and bytes of each partition of one table (or system area), from its log."""
    target = delta.open_table(lake.location, path)
    if target is None:
        return []
    actions = pa.table(target.get_add_actions(flatten=True))
    names = actions.column_names
    subs = actions.column("partition.subreddit").to_pylist() if "partition.subreddit" in names else [""] * actions.num_rows
    counts: dict[tuple[str, dt.date], list[int]] = defaultdict(lambda: [0, 0])
    for sub, day, size in zip(subs, actions.column("partition.dt").to_pylist(), actions.column("size_bytes").to_pylist()):
        if subreddit is None or sub == subreddit:
            entry = counts[(sub or "", day)]
            entry[0] += 1
            entry[1] += size or 0
    return sorted((PartitionFiles(path, s, d, n, b) for (s, d), (n, b) in counts.items()), key=lambda p: (p.subreddit, p.day))


def files_per_partition(
    lake: Lake, tables: Iterable[str] | None = None, subreddit: str | None = None
) -> list[PartitionFiles]:
    """Files and bytes of every partition (of some tables, of one subreddit), sorted; read
    from the logs, no data file is opened."""
    part = None if subreddit is None else subreddit_partition(subreddit)
    result: list[PartitionFiles] = []
    for table in tables if tables is not None else lake.tables():
        result += partition_files(lake, table_name(table), part)
    return sorted(result, key=lambda p: (p.table, p.subreddit, p.day))


@dataclass(frozen=True)
class CompactionPolicy:
    """A partition is due when it holds ``min_files`` files, or 2+ files and its day is
    ``after_days`` days past (days stop receiving writes soon after they end). Vacuum keeps
    what snapshots of the last ``retention_hours`` need."""

    min_files: int = 24
    after_days: int = 1
    retention_hours: int = DEFAULT_RETENTION_HOURS

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
    vacuumed: int = 0  # files deleted from storage

    def line(self) -> str:
        return (
            f"{self.table}: {self.compacted}/{self.due} due partitions compacted (of {self.partitions}), "
            f"files {self.files_before} → {self.files_after}, {self.vacuumed} old files vacuumed"
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
        return file_spread(p for p in self.after if not p.table.startswith("_"))

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
        """The maintenance run's summary: what was compacted and vacuumed, then files per partition left."""
        out = ["## Compaction", "", "| table | due | compacted | partitions | files before | files after | vacuumed |",
               "|---|---|---|---|---|---|---|"]
        out += [f"| {t.table} | {t.due} | {t.compacted} | {t.partitions} | {t.files_before} | {t.files_after} "
                f"| {t.vacuumed} |" for t in self.tables]
        out += ["", "## Files per partition (after)", "", "| table | subreddit | partitions | max | mean |",
                "|---|---|---|---|---|"]
        out += [f"| {s.table} | {s.subreddit} | {s.partitions} | {s.max_files} | {s.mean_files:g} |" for s in self.spread()]
        return "\n".join(out)


def _filters(subreddit: str, days: list[dt.date]) -> list[tuple[str, str, object]]:
    filters: list[tuple[str, str, object]] = [("dt", "in", [d.isoformat() for d in days])]
    return [("subreddit", "=", subreddit), *filters] if subreddit else filters


def maintain_table(
    lake: Lake, path: str, policy: CompactionPolicy, subreddit: str | None = None, today: dt.date | None = None
) -> tuple[TableCompaction, list[PartitionFiles]]:
    """Compact the due partitions of one table (or system area): one ``optimize.compact`` commit
    per subreddit (its due days in one filter); then checkpoint, vacuum, clean the log."""
    today = today or dt.datetime.now(dt.UTC).date()
    before = partition_files(lake, path, subreddit)
    entry = TableCompaction(path, partitions=len(before), files_before=sum(p.files for p in before))
    due: dict[str, list[dt.date]] = defaultdict(list)
    for p in before:
        if policy.due(p, today):
            due[p.subreddit].append(p.day)
    entry.due = sum(len(days) for days in due.values())
    for sub, days in sorted(due.items()):
        def compact(sub: str = sub, days: list[dt.date] = days) -> dict:
            target = delta.open_table(lake.location, path)
            assert target is not None
            return target.optimize.compact(partition_filters=_filters(sub, days),
                                           writer_properties=lake.parquet.writer())

        delta.retrying(compact)
    entry.vacuumed = len(delta.vacuum(lake.location, path, policy.retention_hours, full=True))
    after = partition_files(lake, path, subreddit)
    files_after = {(p.subreddit, p.day): p.files for p in after}
    entry.compacted = sum(1 for p in before if policy.due(p, today) and files_after.get((p.subreddit, p.day), 0) < p.files)
    entry.files_after = sum(p.files for p in after)
    return entry, after


def areas(lake: Lake) -> list[str]:
    """The system areas (``_audit``, ``_quality/<kind>``) that are Delta tables."""
    found = []
    for top in lake.storage.subfolders(lake.location.root):
        if not top.startswith("_"):
            continue
        if lake.storage.exists(lake.location.path(top, delta.LOG_FOLDER)):
            found.append(top)
            continue
        found += [f"{top}/{sub}" for sub in lake.storage.subfolders(lake.location.path(top))
                  if lake.storage.exists(lake.location.path(top, sub, delta.LOG_FOLDER))]
    return found


def compact_due(
    lake: Lake,
    policy: CompactionPolicy,
    tables: Iterable[str] | None = None,
    subreddit: str | None = None,
    today: dt.date | None = None,
    *,
    with_areas: bool = False,
) -> MaintenanceReport:
    """Maintain every table (and, ``with_areas``, the system areas): compact what the policy
    says is due, checkpoint, vacuum; report files before and after."""
    part = None if subreddit is None else subreddit_partition(subreddit)
    names = [table_name(t) for t in (tables if tables is not None else lake.tables())]
    report = MaintenanceReport()
    for path in names + (areas(lake) if with_areas else []):
        entry, after = maintain_table(lake, path, policy, part, today)
        report.tables.append(entry)
        report.after += after
    return report


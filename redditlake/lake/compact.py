"""Merging the many small files of a partition into one.

Each write adds a file per (subreddit, day), so a busy partition collects
hundreds. Compaction rewrites a partition as one file and then deletes the
files it replaced. Between those two steps both are visible; a crash there
leaves rows twice. Two things keep that harmless:

* the new file lists the names of the files it contains in its metadata
  (``redditlake.compacted_from``); the next compaction deletes those files
  instead of reading them again, so nothing is ever counted twice for good;
* in dedup tables compaction also keeps one row per id, and ``existing_ids``
  is a set, so the dedup of later writes is unaffected meanwhile.

Append tables (snapshots) are concatenated as they are: their ids repeat by
design. A file's mode is read from its metadata, so compaction needs no
outside knowledge of which table is which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redditlake.lake.batch import dedup_by_id
from redditlake.lake.files import (
    MODE_APPEND,
    MODE_DEDUP,
    ParquetOptions,
    content_file_name,
    read_files,
    read_lake_metadata,
    with_lake_metadata,
    write_parquet,
)
from redditlake.lake.storage import Storage

# Temp files older than this are leftovers of a crashed writer, not a write in
# progress (a write takes seconds).
STALE_TEMP_AGE_S = 3600.0


@dataclass
class CompactResult:
    table: str
    partitions_compacted: int = 0
    files_removed: int = 0
    rows_before: int = 0
    rows_after: int = 0
    files: list[str] = field(default_factory=list)


def compact_partition(storage: Storage, folder: str, options: ParquetOptions, result: CompactResult) -> None:
    """Rewrite the data files of one ``dt=`` folder as a single file.

    The caller holds the partition's write lock.
    """
    storage.remove_stale_temp_files(folder, older_than_s=STALE_TEMP_AGE_S)
    files = storage.data_files(folder)
    if len(files) < 2:
        return
    fs = storage.fs
    metadata = {path: read_lake_metadata(fs, path) for path in files}
    already_merged = {name for _, sources in metadata.values() for name in sources}
    # A file listed in another file's compacted_from was merged by a
    # compaction that crashed before deleting it: drop it, don't re-read it.
    # The file that lists it is present (we just read it) and holds its rows.
    leftovers = [p for p in files if _name(p) in already_merged]
    remaining = [p for p in files if p not in leftovers]
    for path in leftovers:
        storage.delete(path)
    result.files_removed += len(leftovers)
    if len(remaining) < 2:
        return
    modes = {metadata[p][0] or MODE_APPEND for p in remaining}
    if len(modes) > 1:
        raise ValueError(f"{folder} mixes dedup and append files; refusing to compact it")
    rows = read_files(fs, remaining)
    merged = dedup_by_id(rows) if modes == {MODE_DEDUP} else rows
    merged = with_lake_metadata(merged, modes.pop(), compacted_from=[_name(p) for p in remaining])
    target = f"{folder}/{content_file_name(merged)}"
    with storage.open_atomic(target) as sink:
        write_parquet(merged, sink, options)
    for path in remaining:
        if path != target:
            storage.delete(path)
    result.partitions_compacted += 1
    result.files_removed += len([p for p in remaining if p != target])
    result.rows_before += rows.num_rows
    result.rows_after += merged.num_rows
    result.files.append(storage.location.uri_of(target))


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]

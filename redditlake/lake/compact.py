"""Rewriting a partition: compaction, and redaction on top of it.

Each write adds a file per (subreddit, day), so a busy partition collects
hundreds. Compaction rewrites a partition as one file and then deletes the
files it replaced. Redaction (``Lake.redact``) is the same rewrite with some
rows' values replaced on the way, so both share ``rewrite_partition`` and
its crash safety.

Between publishing the new file and deleting the old ones both are visible;
a crash there leaves rows twice (for a redaction: the old, unredacted row
next to the redacted one). Two things keep that harmless:

* the new file lists the names of the files it contains in its metadata
  (``redditlake.compacted_from``); the next rewrite of the partition (a
  compaction or a redaction) deletes those files instead of reading them
  again, so nothing is ever counted twice for good and the unredacted copy
  is gone after it;
* in dedup tables a rewrite also keeps one row per id, and ``existing_ids``
  is a set, so the dedup of later writes is unaffected meanwhile.

No row is lost at any point: a file is deleted only once a published file
that holds its rows exists.

Append tables (snapshots) are concatenated as they are: their ids repeat by
design. A file's mode is read from its metadata, so compaction needs no
outside knowledge of which table is which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from redditlake.lake.batch import dedup_by_id
from redditlake.lake.files import (
    MODE_APPEND,
    MODE_DEDUP,
    ParquetOptions,
    content_file_name,
    PartitionFiles,
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


@dataclass
class Rewrite:
    """What ``rewrite_partition`` did to one ``dt=`` folder (paths, not URIs)."""

    leftovers: list[str] = field(default_factory=list)  # deleted: already merged into a file present
    replaced: list[str] = field(default_factory=list)  # deleted: merged into ``written``
    written: str | None = None
    rows_before: int = 0
    rows_after: int = 0


def rewrite_partition(
    storage: Storage,
    folder: str,
    options: ParquetOptions,
    *,
    edit: Callable[[pa.Table], pa.Table] | None = None,
) -> Rewrite:
    """Rewrite the data files of one ``dt=`` folder as a single file.

    Without ``edit`` (compaction) a folder of fewer than two files is left as
    it is. With ``edit`` (redaction) the merged rows pass through it and the
    folder is rewritten even when it holds one file, unless the edit changed
    nothing there. ``edit`` must keep the rows (and, for dedup files, their
    ids); it may change values.

    The caller holds the partition's write lock.
    """
    done = Rewrite()
    storage.remove_stale_temp_files(folder, older_than_s=STALE_TEMP_AGE_S)
    infos = storage.data_file_infos(folder)
    files = [info.path for info in infos]
    if not files or (edit is None and len(files) < 2):
        return done
    partition = PartitionFiles(storage.fs, infos)
    metadata = {path: partition.lake_metadata(path) for path in files}
    # A file listed in another file's compacted_from was merged by a rewrite
    # that crashed before deleting it: drop it, don't re-read it. The file
    # that lists it is present (we just read it) and holds its rows. (A file
    # never stands in for itself, whatever its metadata says.)
    already_merged = {name for path, (_, sources) in metadata.items() for name in sources if name != _name(path)}
    done.leftovers = [p for p in files if _name(p) in already_merged]
    remaining = [p for p in files if p not in done.leftovers]
    if done.leftovers:
        storage.delete_all(done.leftovers)
    if not remaining or (edit is None and len(remaining) < 2):
        return done
    modes = {metadata[p][0] or MODE_APPEND for p in remaining}
    if len(modes) > 1:
        raise ValueError(f"{folder} mixes dedup and append files; refusing to rewrite it")
    mode = modes.pop()
    rows = partition.read(remaining)
    merged = dedup_by_id(rows) if mode == MODE_DEDUP else rows
    if edit is not None:
        edited = edit(merged)
        if len(remaining) == 1 and edited.equals(merged) and merged.num_rows == rows.num_rows:
            return done  # one file, nothing to change: leave it alone
        merged = edited
    merged = with_lake_metadata(merged, mode, compacted_from=[_name(p) for p in remaining])
    target = f"{folder}/{content_file_name(merged)}"
    with storage.open_atomic(target) as sink:
        write_parquet(merged, sink, options)
    # Only now, with the new file published, may its sources go.
    done.replaced = [p for p in remaining if p != target]
    storage.delete_all(done.replaced)
    done.written = target
    done.rows_before = rows.num_rows
    done.rows_after = merged.num_rows
    return done


def compact_partition(storage: Storage, folder: str, options: ParquetOptions, result: CompactResult) -> None:
    """Compact one ``dt=`` folder into one file; add what was done to ``result``.

    The caller holds the partition's write lock.
    """
    done = rewrite_partition(storage, folder, options)
    result.files_removed += len(done.leftovers) + len(done.replaced)
    if done.written is None:
        return
    result.partitions_compacted += 1
    result.rows_before += done.rows_before
    result.rows_after += done.rows_after
    result.files.append(storage.location.uri_of(done.written))


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]

"""Reading a table back as a pyarrow dataset (Hive partitions, unified schema)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow import fs as pafs

from redditlake.lake.storage import Storage

# Explicit partition types: inferred ones would make a subreddit named
# "1234" an integer and leave dt a string.
PARTITION_SCHEMA = pa.schema([("subreddit", pa.string()), ("dt", pa.date32())])


def hive_partitioning() -> ds.Partitioning:
    return ds.partitioning(PARTITION_SCHEMA, flavor="hive")


def layout_files(storage: Storage, table_path: str, subreddit: str | None = None) -> list[str]:
    """Published files at exactly ``subreddit=*/dt=*/file`` under a table.

    Anything else in the tree (a stray file, a tool's ``_staging/`` folder) is
    not part of the table, matching the depth-exact glob of the DuckDB views.
    """
    return [info.path for info in layout_file_infos(storage, table_path, subreddit)]


def layout_file_infos(storage: Storage, table_path: str, subreddit: str | None = None) -> list[pafs.FileInfo]:
    """``layout_files`` as FileInfos (with sizes: no HEAD per file on S3)."""
    folder = table_path if subreddit is None else f"{table_path}/subreddit={subreddit}"
    result = []
    for info in storage.data_file_infos(folder, recursive=True):
        parts = info.path[len(table_path) + 1 :].split("/")
        if len(parts) == 3 and parts[0].startswith("subreddit=") and parts[1].startswith("dt="):
            result.append(info)
    return result


def table_dataset(
    storage: Storage, table: str, subreddit: str | None = None, *, files: list[pafs.FileInfo] | None = None
) -> ds.Dataset | None:
    """A dataset over the table's published files, or None if it has none.

    The file list is fixed when the dataset is made: files published later
    are not seen by it. Each file's footer is read once so that columns added
    over time (schema evolution) are all present, null where missing.
    ``files`` is the ``layout_file_infos`` listing if the caller has it.
    """
    base = storage.location.path(table)
    if files is None:
        files = layout_file_infos(storage, base, subreddit)
    if not files:
        return None
    discovered = ds.dataset(
        files,
        filesystem=storage.fs,
        format="parquet",
        partitioning=hive_partitioning(),
        partition_base_dir=base,
    )
    file_schemas = [fragment.physical_schema for fragment in discovered.get_fragments()]
    # Partition values come from the paths; a same-named column in an old
    # file would conflict in type, so the path wins (see the package doc).
    data_fields = [
        field
        for field in pa.unify_schemas(file_schemas, promote_options="permissive").remove_metadata()
        if field.name not in PARTITION_SCHEMA.names
    ]
    schema = pa.schema([*data_fields, *PARTITION_SCHEMA])
    return ds.dataset(
        files,
        schema=schema,
        filesystem=storage.fs,
        format="parquet",
        partitioning=hive_partitioning(),
        partition_base_dir=base,
    )

"""Parquet files of the lake: how they are written, named and read back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from redditlake.lake.batch import ID_COLUMN

# Footers read at once when a partition is rewritten: on S3 each is a ranged GET
# whose latency, not bandwidth, is the cost.
FOOTER_READERS = 8

# Schema metadata keys the lake adds to each file it writes, so a file says
# how it was written without a separate catalog that could drift.
MODE_KEY = b"redditlake.mode"  # b"dedup" (one row per id) or b"append"
COMPACTED_FROM_KEY = b"redditlake.compacted_from"  # JSON list of file names
MODE_DEDUP = "dedup"
MODE_APPEND = "append"


@dataclass(frozen=True)
class ParquetOptions:
    """How data files are encoded.

    Row groups are the unit DuckDB and pyarrow skip by statistics and read in
    parallel; 128k rows keeps them large (pyarrow's dataset writer would make
    ~800-row groups otherwise) while a batch of a few thousand rows is simply
    one group.
    """

    row_group_size: int = 128 * 1024
    compression: str = "zstd"
    compression_level: int | None = None
    use_dictionary: bool = True

    def __post_init__(self) -> None:
        if self.row_group_size < 1:
            raise ValueError("row_group_size must be positive")


def content_file_name(rows: pa.Table) -> str:
    """``part-<hash>.parquet`` named after the rows' content.

    Writing the same rows twice (a retried task) then lands on the same name
    and replaces the file with an identical one instead of adding a copy.
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows)
    digest = hashlib.sha256(sink.getvalue()).hexdigest()[:32]
    return f"part-{digest}.parquet"


def with_lake_metadata(rows: pa.Table, mode: str, compacted_from: list[str] | None = None) -> pa.Table:
    metadata = dict(rows.schema.metadata or {})
    metadata[MODE_KEY] = mode.encode()
    if compacted_from:
        metadata[COMPACTED_FROM_KEY] = json.dumps(sorted(compacted_from)).encode()
    return rows.replace_schema_metadata(metadata)


def write_parquet(rows: pa.Table, sink: pa.NativeFile, options: ParquetOptions) -> None:
    pq.write_table(
        rows,
        sink,
        row_group_size=options.row_group_size,
        compression=options.compression,
        compression_level=options.compression_level,
        use_dictionary=options.use_dictionary,
    )


def read_ids(filesystem: pafs.FileSystem, files: Sequence[str | pafs.FileInfo]) -> set[str]:
    """The ``id`` values stored in these files (reads only that column).

    Files are read in parallel by pyarrow's dataset scanner; pass FileInfos
    from a listing to save a HEAD request per file on S3.
    """
    if not files:
        return set()
    dataset = ds.dataset(list(files), filesystem=filesystem, format="parquet")
    ids = dataset.to_table(columns=[ID_COLUMN]).column(ID_COLUMN)
    return set(pc.unique(ids).to_pylist())


def read_lake_metadata(filesystem: pafs.FileSystem, path: str) -> tuple[str | None, list[str]]:
    """(mode, compacted_from) recorded in a file's schema metadata."""
    with filesystem.open_input_file(path) as source:
        return lake_metadata_of(pq.read_schema(source))


def lake_metadata_of(schema: pa.Schema) -> tuple[str | None, list[str]]:
    """(mode, compacted_from) of a file, from its schema as read from its footer."""
    metadata = schema.metadata or {}
    mode = metadata.get(MODE_KEY)
    sources = json.loads(metadata[COMPACTED_FROM_KEY]) if COMPACTED_FROM_KEY in metadata else []
    return (mode.decode() if mode else None), list(sources)


def read_files(filesystem: pafs.FileSystem, paths: list[str]) -> pa.Table:
    """All rows of these files under one schema (columns unioned by name)."""
    schemas = []
    for path in paths:
        with filesystem.open_input_file(path) as source:
            schemas.append(pq.read_schema(source))
    schema = pa.unify_schemas(schemas).remove_metadata()
    return ds.dataset(paths, schema=schema, filesystem=filesystem, format="parquet").to_table()


class PartitionFiles:
    """The files of one partition, each footer read once (in parallel), for a rewrite.

    A rewrite needs every file's lake metadata, then the rows of some of them
    under one schema. Reading the footers through dataset fragments keeps
    them: the rows are then read without fetching a footer again, and with
    the listing's sizes no HEAD is sent either. On S3 that is about two GETs
    per file instead of six requests.
    """

    def __init__(self, filesystem: pafs.FileSystem, infos: Sequence[pafs.FileInfo]) -> None:
        self.filesystem = filesystem
        self.format = ds.ParquetFileFormat()
        fragments = list(ds.dataset(list(infos), filesystem=filesystem, format=self.format).get_fragments())
        with ThreadPoolExecutor(max_workers=min(FOOTER_READERS, max(len(fragments), 1))) as pool:
            schemas = list(pool.map(lambda fragment: fragment.physical_schema, fragments))
        self.fragments = {fragment.path: fragment for fragment in fragments}
        self.schemas = {fragment.path: schema for fragment, schema in zip(fragments, schemas)}

    def lake_metadata(self, path: str) -> tuple[str | None, list[str]]:
        return lake_metadata_of(self.schemas[path])

    def read(self, paths: list[str]) -> pa.Table:
        """All rows of these files under one schema (columns unioned by name)."""
        schema = pa.unify_schemas([self.schemas[p] for p in paths]).remove_metadata()
        dataset = ds.FileSystemDataset([self.fragments[p] for p in paths], schema, self.format, self.filesystem)
        return dataset.to_table()

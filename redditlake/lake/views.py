"""DuckDB over the lake: one view per table, named after it.

Each view reads the table's current Delta snapshot through a registered pyarrow
dataset (``DeltaTable.to_pyarrow_dataset()``): projection and filter push-down work
through DuckDB's Arrow scan, DuckDB itself opens no file (so it runs with
``enable_external_access=false``), and no extension is needed, locally or on S3. A
view is the snapshot at ``Lake.duckdb()`` time: ask for a new connection to see newer
commits. A bare ``read_parquet`` glob over a table folder is not a reader of the lake:
it also sees files that were replaced (compaction, redaction) or never committed.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import pyarrow.dataset as ds

# Data columns, then the partition columns.
_REORDER = "* EXCLUDE (subreddit, dt), subreddit, dt"


def register(con: duckdb.DuckDBPyConnection, name: str, dataset: ds.Dataset) -> None:
    """``name`` as a view over ``dataset`` (table names were validated: ^[a-z][a-z_]*$)."""
    source = f"__arrow_{name}"
    con.register(source, dataset)
    columns = _REORDER if {"subreddit", "dt"} <= set(dataset.schema.names) else "*"
    con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT {columns} FROM "{source}"')


def connect(datasets: Mapping[str, ds.Dataset], database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view for each table."""
    con = duckdb.connect(database)
    for name, dataset in datasets.items():
        register(con, name, dataset)
    return con

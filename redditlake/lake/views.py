"""DuckDB over the lake: one view per table, named after it.

Local lake: each view is a ``read_parquet`` glob over the table folder, so it
sees files published after the connection was made, exactly like anyone's
own ``read_parquet('lake/posts/*/*/*.parquet', hive_partitioning=true)``.
The glob names the depth (``subreddit=*/dt=*/*.parquet``) rather than ``**``
so stray files elsewhere in the tree cannot break it.

S3 lake: DuckDB's httpfs extension cannot be installed here, so each view
reads a registered pyarrow dataset (projection and filter push-down work
through DuckDB's Arrow scan). Such a view is a snapshot of the file list at
``Lake.duckdb()`` time: ask for a new connection to see newer files.

Tables without files get no view (their schema is unknown), so a fresh lake
gives a connection with no views rather than an error.
"""

from __future__ import annotations

import glob

import duckdb

from redditlake.lake.reading import table_dataset
from redditlake.lake.storage import Storage

# Same column order in both kinds of view: data columns, then partitions.
_REORDER = "* EXCLUDE (subreddit, dt), subreddit, dt"


def local_view_sql(root: str, table: str) -> str:
    pattern = f"{root}/{table}/subreddit=*/dt=*/*.parquet".replace("'", "''")
    return (
        f'CREATE OR REPLACE VIEW "{table}" AS SELECT {_REORDER} FROM read_parquet('
        f"'{pattern}', hive_partitioning = true, union_by_name = true, "
        "hive_types = {'subreddit': 'VARCHAR', 'dt': 'DATE'})"
    )


def _has_local_files(root: str, table: str) -> bool:
    # The view's own glob, stopping at the first match: read_parquet fails
    # on a glob that matches nothing.
    return next(glob.iglob(f"{glob.escape(root)}/{table}/subreddit=*/dt=*/*.parquet"), None) is not None


def connect(storage: Storage, tables: list[str], database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view for each table that has data."""
    con = duckdb.connect(database)
    for table in tables:
        # Table names were validated (^[a-z][a-z_]*$), so quoting them is safe.
        if storage.location.is_local:
            if _has_local_files(storage.location.root, table):
                con.execute(local_view_sql(storage.location.root, table))
            continue
        dataset = table_dataset(storage, table)
        if dataset is None:
            continue
        source = f"__arrow_{table}"
        con.register(source, dataset)
        con.execute(f'CREATE OR REPLACE VIEW "{table}" AS SELECT {_REORDER} FROM "{source}"')
    return con

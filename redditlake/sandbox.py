"""A DuckDB connection that can read the lake and nothing else, for SQL a user wrote.

Two locks, because neither is enough alone:

* DuckDB's own controls (``lock_down``): no file access outside the allowed
  folders (the lake's root for a local lake; none for an S3 lake, whose views
  read registered Arrow datasets), no extension installed or loaded, and the
  configuration locked so a statement cannot undo any of it. They stop
  ``read_text('/etc/passwd')``, ``read_csv('/proc/self/environ')``, ``glob``,
  ``ATTACH`` and ``COPY … TO`` anywhere outside the lake, ``INSTALL``/``LOAD``
  and ``SET``.
* The statement's type, from DuckDB's own parser (``check_read_only``): only
  one ``SELECT``-like statement (``SELECT``, ``WITH … SELECT``, ``FROM …``,
  ``VALUES``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``) passes. The allowed folder
  is the lake itself, so without this ``COPY … TO 'lake/…'`` could still write
  there, and ``CREATE``/``PRAGMA``/``EXPLAIN ANALYZE COPY`` would run.

How the views are made (globs over local files, registered datasets) is left to
``Lake.duckdb``: the lock goes on after them, and holds for any kind of view.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from redditlake.errors import RedditLakeError
from redditlake.lake import Lake

READ_ONLY_TYPES = {duckdb.StatementType.SELECT}


class QueryRefused(RedditLakeError):
    """A statement that is not a single read."""


def parse_read_only(sql: str) -> str:
    """The one read-only statement in ``sql``, as DuckDB will run it; ``QueryRefused`` otherwise.
    A statement DuckDB cannot parse raises its ``duckdb.ParserException``."""
    try:
        statements = duckdb.extract_statements(sql)
    except ValueError:  # a statement type the Python binding has no name for (e.g. UPDATE EXTENSIONS)
        raise QueryRefused("statements other than SELECT are not allowed: query only reads the lake") from None
    if not statements:
        raise QueryRefused("no SQL statement given")
    for statement in statements:
        if statement.type not in READ_ONLY_TYPES:
            raise QueryRefused(
                f"{statement.type.name} statements are not allowed: query only reads the lake "
                "(SELECT, WITH … SELECT, FROM, DESCRIBE, SHOW, SUMMARIZE)"
            )
    if len(statements) > 1:
        raise QueryRefused(f"one statement per query, got {len(statements)}")
    return statements[0].query


def lock_down(con: duckdb.DuckDBPyConnection, allowed_directories: list[str], temp_directory: str) -> None:
    """Limit ``con`` to reading files under ``allowed_directories`` (and spilling to
    ``temp_directory``), with no extension loading, and lock its configuration."""
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    # DuckDB allows its temp folder too: a private one, not ./.tmp in whatever the working directory is.
    con.execute("SET temp_directory = ?", [temp_directory])
    con.execute("SET allowed_directories = ?", [[d.rstrip("/") + "/" for d in allowed_directories]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def lake_directories(lake: Lake) -> list[str]:
    """The folders a connection over ``lake`` needs to read: the root of a local lake."""
    return [lake.location.root] if lake.location.is_local else []


@contextmanager
def locked(con: duckdb.DuckDBPyConnection, allowed_directories: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """``con`` under ``lock_down`` with a private temp folder (mode 0700), closed afterwards."""
    temp = tempfile.mkdtemp(prefix="redditlake-duckdb-")
    try:
        try:
            lock_down(con, allowed_directories, temp)
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(temp, ignore_errors=True)  # the folder made above, nothing else


@contextmanager
def read_only_connection(lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """The lake's views, locked to reading the lake."""
    with locked(lake.duckdb(), lake_directories(lake)) as con:
        yield con

"""`redditlake query`: SQL over the lake with DuckDB, printed for a terminal.

The SQL only reads the lake (``redditlake.sandbox``): one SELECT-like
statement, on a connection that can open no file outside the lake. Every query
is recorded in the lake's audit trail (``redditlake.audit``) before it runs:
who ran it, the SQL (credentials masked), the tables it names. A refused or
unparsable statement gets one entry saying so and never runs; one that runs
gets a second entry with how many rows came back, or its error.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from typing import Any

import duckdb

from redditlake import audit
from redditlake.errors import RedditLakeError
from redditlake.lake import Lake
from redditlake.sandbox import QueryRefused, locked, parse_read_only, read_only_connection

STARTED = "started"


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(lake: Lake, sql: str, *, action: str = "query") -> QueryResult:
    """Run ``sql`` over the lake's views and record it in the audit trail as ``action``."""
    tables = tables_read(sql)
    try:
        statement = parse_read_only(sql)
    except QueryRefused as exc:
        raise _refused(lake, action, sql, tables, str(exc)) from None
    except duckdb.Error as exc:
        raise _failed(lake, action, sql, tables, exc) from None
    audit.record(lake, action, sql=sql, tables=tables, detail=STARTED)
    with read_only_connection(lake) as con:
        try:
            cur = con.execute(statement)
            columns = [d[0] for d in cur.description or []]
            result = QueryResult(columns, cur.fetchall())
        except duckdb.PermissionException as exc:  # a file outside the lake, an extension, a setting
            raise _refused(lake, action, sql, tables, f"{_first_line(exc)}: query reads the lake and nothing else") from None
        except duckdb.Error as exc:
            raise _failed(lake, action, sql, tables, exc) from None
    audit.record(lake, action, sql=sql, tables=tables, rows=len(result.rows), detail=f"returned {len(result.rows)} rows")
    return result


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]


def _refused(lake: Lake, action: str, sql: str, tables: list[str], why: str) -> QueryRefused:
    audit.record(lake, action, sql=sql, tables=tables, detail=f"refused: {why}")
    return QueryRefused(f"query refused: {why}")


def _failed(lake: Lake, action: str, sql: str, tables: list[str], exc: duckdb.Error) -> RedditLakeError:
    first = _first_line(exc)
    audit.record(lake, action, sql=sql, tables=tables, rows=None, detail=f"failed: {first}")
    views = ", ".join(lake.tables()) or "none yet: collect something first"
    return RedditLakeError(f"query failed: {first} (tables: {views})")


def tables_read(sql: str) -> list[str]:
    """The tables and views a statement names, as DuckDB's parser sees them ([] if it cannot parse).
    On an empty connection: with the lake's views in place DuckDB would bind them too, and fail.
    Locked like the query's own: binding some statements touches files (EXPORT makes its folder)."""
    with locked(duckdb.connect(), []) as con:
        try:
            return sorted(con.get_table_names(sql))
        except duckdb.Error:
            return []


def _cell(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_result(result: QueryResult, fmt: str = "table", out=None) -> None:
    out = sys.stdout if out is None else out  # looked up per call: a default binds the stream at import
    if fmt == "csv":
        w = csv.writer(out)
        w.writerow(result.columns)
        w.writerows(result.rows)
        return
    if fmt == "json":
        for row in result.rows:
            out.write(json.dumps(dict(zip(result.columns, row)), default=str, ensure_ascii=False) + "\n")
        return
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(result.columns, widths)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    out.write(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})\n")

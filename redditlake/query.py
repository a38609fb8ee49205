"""`redditlake query`: SQL over the lake with DuckDB, printed for a terminal.

Every query is recorded in the lake's audit trail (``redditlake.audit``):
who ran it, the SQL (credentials masked), the tables it read, how many rows
came back — failed queries too, with the error.
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


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(lake: Lake, sql: str, *, action: str = "query") -> QueryResult:
    """Run ``sql`` over the lake's views and record it in the audit trail as ``action``."""
    tables = tables_read(sql)
    con = lake.duckdb()
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description or []]
        result = QueryResult(columns, cur.fetchall())
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        audit.record(lake, action, sql=sql, tables=tables, rows=None, detail=f"failed: {first}")
        views = ", ".join(lake.tables()) or "none yet: collect something first"
        raise RedditLakeError(f"query failed: {first} (tables: {views})") from None
    finally:
        con.close()
    audit.record(lake, action, sql=sql, tables=tables, rows=len(result.rows))
    return result


def tables_read(sql: str) -> list[str]:
    """The tables and views a statement names, as DuckDB's parser sees them ([] if it cannot parse).
    On an empty connection: with the lake's views in place DuckDB would bind them too, and fail."""
    with duckdb.connect() as con:
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

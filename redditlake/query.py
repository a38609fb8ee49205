"""`redditlake query`: SQL over the lake with DuckDB, printed for a terminal."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from typing import Any

import duckdb

from redditlake.errors import RedditLakeError
from redditlake.lake import Lake


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(lake: Lake, sql: str) -> QueryResult:
    con = lake.duckdb()
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description or []]
        return QueryResult(columns, cur.fetchall())
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        views = ", ".join(lake.tables()) or "none yet: collect something first"
        raise RedditLakeError(f"query failed: {first} (tables: {views})") from None
    finally:
        con.close()


def _cell(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_result(result: QueryResult, fmt: str = "table", out=sys.stdout) -> None:
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

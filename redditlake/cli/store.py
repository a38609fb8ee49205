"""The commands on what the lake stores: ``query`` (SQL with DuckDB), ``audit`` (who read or
exported what), ``compact`` (merge small files) and ``lake migrate`` (an old Parquet-folder
lake to Delta tables)."""

from __future__ import annotations

import argparse

from redditlake.cli.common import settings_from
from redditlake.errors import RedditLakeError


def add_compact(sub) -> None:
    k = sub.add_parser("compact", help="merge each partition's small files into one (runs add a file per batch)")
    k.add_argument("tables", nargs="*", metavar="TABLE", help="tables to compact (default: all)")
    k.add_argument("--subreddit", help="only this subreddit's partitions")
    k.add_argument("--lake", help="lake location (default: ./lake)")


def add_lake(sub) -> None:
    m = sub.add_parser("lake", help="lake format: `lake migrate` turns an old Parquet-folder lake into Delta tables")
    m.add_argument("action", choices=["migrate"])
    m.add_argument("--lake", help="lake location (default: ./lake)")


def add_audit(sub) -> None:
    a = sub.add_parser("audit", help="list the audit trail: who queried or exported what, when, how many rows")
    a.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    a.add_argument("--action", help="only this action (query, export, quality-report, forget-user, ...)")
    a.add_argument("--limit", type=int, default=50, help="newest N entries (default: 50; 0 for all)")
    a.add_argument("--format", choices=["table", "csv", "json"], default="table")


def add_query(sub) -> None:
    q = sub.add_parser("query", help="run SQL on the lake with DuckDB (views: posts, comments, subreddits, ...)")
    q.add_argument("sql")
    q.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")


def cmd_compact(args: argparse.Namespace) -> int:
    from redditlake.lake import Lake
    from redditlake.lake.maintenance import CompactionPolicy, compact_due

    settings = settings_from(args)
    lake = Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    policy = CompactionPolicy(min_files=2, after_days=0, retention_hours=settings.maintenance.vacuum_retention_hours)
    try:
        report = compact_due(lake, policy, args.tables or None, args.subreddit)
    except ValueError as exc:
        raise RedditLakeError(str(exc)) from None
    for line in report.lines():
        print(line)
    return 0


def cmd_lake(args: argparse.Namespace) -> int:
    from redditlake.lake import Lake
    from redditlake.lake.migrate import migrate

    settings = settings_from(args)
    lake = Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    try:
        report = migrate(lake)
    except ValueError as exc:
        raise RedditLakeError(str(exc)) from None
    for line in report.lines():
        print(line)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from redditlake.config import load_settings
    from redditlake.lake import Lake
    from redditlake.query import print_result, run_query

    settings = load_settings(args.config)
    lake = Lake.open(args.lake or settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    print_result(run_query(lake, args.sql), args.format)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from redditlake import audit
    from redditlake.config import load_settings
    from redditlake.lake import Lake
    from redditlake.query import QueryResult, print_result

    settings = load_settings(args.config)
    lake = Lake.open(args.lake or settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    table = audit.read(lake, action=args.action, limit=args.limit or None)
    columns = ["ts", "action", "user", "flow_run", "rows", "tables", "sql", "detail"]
    rows = [tuple(", ".join(v) if c == "tables" else v for c, v in zip(columns, r.values())) for r in table.select(columns).to_pylist()]
    print_result(QueryResult(columns, rows), args.format)
    return 0


COMMANDS = {"compact": cmd_compact, "lake": cmd_lake, "query": cmd_query, "audit": cmd_audit}

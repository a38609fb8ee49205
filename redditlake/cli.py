"""The ``redditlake`` command.

Every expected failure prints one line (``redditlake: error: …``) and exits
non-zero; tracebacks are for bugs only. Prefect is imported lazily so that
``--help`` and ``query`` answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from redditlake.cli_common import quiet_prefect_env, settings_from
from redditlake.cli_history import COMMANDS as HISTORY_COMMANDS
from redditlake.cli_history import add_parsers as add_history_parsers
from redditlake.cli_ops import COMMANDS as OPS_COMMANDS
from redditlake.cli_ops import add_parsers as add_ops_parsers
from redditlake.cli_quality import COMMANDS as QUALITY_COMMANDS
from redditlake.cli_quality import add_parsers as add_quality_parsers
from redditlake.errors import RedditLakeError
from redditlake.logs import setup_logging

DEMO_SUBREDDITS = ["python", "datascience", "aww"]

SORTS = ["hot", "new", "top", "rising", "controversial"]
TIME_FILTERS = ["hour", "day", "week", "month", "year", "all"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="redditlake",
        description="Collect subreddits through Reddit's API into a Parquet lake, within the rate limit, "
        "and query it with DuckDB.",
        epilog="Credentials come from REDDIT_CLIENT_ID / REDDIT_CLIENT_SECRET of a Reddit app (new keys need "
        "Reddit's approval since November 2025; existing ones keep working). Without a key: `redditlake demo` "
        "(the built-in simulator), `redditlake backfill` from archives or dump files, `redditlake follow` to keep "
        "current from an archive (`redditlake demo --archive` shows it).",
    )
    p.add_argument("--config", help="YAML settings file (default: $REDDITLAKE_CONFIG, else built-in defaults)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs, with tracebacks")
    p.add_argument("--log-format", choices=["text", "json"], default="text", help="console log format (default: text)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    c = sub.add_parser("collect", help="collect subreddits now (runs the Prefect `collect` flow)")
    c.add_argument("subreddits", nargs="+", metavar="SUB", help="subreddit names, without r/")
    c.add_argument("--sort", action="append", choices=SORTS, help="listing(s) to collect; repeat for several (default: new)")
    c.add_argument("--limit", type=int, help="posts per listing, at most 1000 (default: 100)")
    c.add_argument("--time-filter", choices=TIME_FILTERS, help="window for top/controversial (default: week)")
    c.add_argument("--comments", dest="comments", action="store_true", default=None, help="collect complete comment trees (default)")
    c.add_argument("--no-comments", dest="comments", action="store_false", help="posts only")
    c.add_argument("--comment-depth", type=int, metavar="N",
                   help="keep N levels of comments (1 = top-level only), with fewer requests (default: the whole tree)")
    c.add_argument("--users", action="store_true", default=None, help="also collect authors' profiles (a request each)")
    c.add_argument("--lake", help="lake location: a folder or s3://bucket/prefix (default: ./lake)")

    r = sub.add_parser(
        "refresh",
        help="deletion compliance: re-check stored posts and comments, refresh metrics, redact what users deleted",
    )
    r.add_argument("subreddits", nargs="+", metavar="SUB")
    r.add_argument("--lake", help="lake location (default: ./lake)")

    k = sub.add_parser("compact", help="merge each partition's small files into one (runs add a file per batch)")
    k.add_argument("tables", nargs="*", metavar="TABLE", help="tables to compact (default: all)")
    k.add_argument("--subreddit", help="only this subreddit's partitions")
    k.add_argument("--lake", help="lake location (default: ./lake)")

    m = sub.add_parser("lake", help="lake format: `lake migrate` turns an old Parquet-folder lake into Delta tables")
    m.add_argument("action", choices=["migrate"])
    m.add_argument("--lake", help="lake location (default: ./lake)")

    d = sub.add_parser("demo", help="run the built-in Reddit simulator and collect from it into ./lake (no credentials); "
                                    "with --archive, the no-key mode: follow the built-in archive simulator")
    d.add_argument("--lake", default="./lake", help="lake folder (default: ./lake)")
    d.add_argument("--limit", type=int, default=100, help="posts per listing (default: 100; not with --archive)")
    d.add_argument("--archive", action="store_true",
                   help="no Reddit key: start the built-in archive simulator (Arctic Shift's API) on 127.0.0.1 and run "
                        "what `redditlake follow` runs (a day back) into the lake, then stop it")
    d.add_argument("subreddits", nargs="*", default=DEMO_SUBREDDITS, metavar="SUB")

    g = sub.add_parser(
        "gc", help="delete expired and pickled (never loaded) Prefect result records; nothing else, never in the lake"
    )
    g.add_argument(
        "--results",
        help="result storage: a folder or s3://bucket/prefix (default: Prefect's own, "
        "the PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK bucket or PREFECT_HOME/storage)",
    )
    g.add_argument("--lake", help="the lake gc must stay out of (default: ./lake or $REDDITLAKE_LAKE)")
    g.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")

    f = sub.add_parser(
        "forget-user",
        help="delete a user's data on request: redact their posts, comments and profiles everywhere in the lake",
    )
    f.add_argument("name", metavar="NAME", help="the Reddit account name (the real one, also when pseudonymising)")
    f.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    f.add_argument("--results", help="Prefect result storage to clean too (default: Prefect's own)")

    a = sub.add_parser("audit", help="list the audit trail: who queried or exported what, when, how many rows")
    a.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    a.add_argument("--action", help="only this action (query, export, quality-report, forget-user, ...)")
    a.add_argument("--limit", type=int, default=50, help="newest N entries (default: 50; 0 for all)")
    a.add_argument("--format", choices=["table", "csv", "json"], default="table")
    add_ops_parsers(sub)
    add_history_parsers(sub)
    add_quality_parsers(sub)

    q = sub.add_parser("query", help="run SQL on the lake with DuckDB (views: posts, comments, subreddits, ...)")
    q.add_argument("sql")
    q.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(verbose=args.verbose, json_format=args.log_format == "json")
    try:
        commands = {
            "collect": cmd_collect, "demo": cmd_demo, "query": cmd_query, "refresh": cmd_refresh,
            "compact": cmd_compact, "lake": cmd_lake, "gc": cmd_gc, "audit": cmd_audit, "forget-user": cmd_forget_user,
            **OPS_COMMANDS, **QUALITY_COMMANDS,
        }
        if args.command in HISTORY_COMMANDS:
            return HISTORY_COMMANDS[args.command](args, settings_from(args))
        return commands[args.command](args)
    except RedditLakeError as exc:
        print(f"redditlake: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("redditlake: interrupted; rerun to resume (nothing written is lost or doubled)", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an unexpected failure: one line, the traceback on request
        if args.verbose:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"redditlake: unexpected error: {type(exc).__name__}: {first} (rerun with --verbose for details)", file=sys.stderr)
        return 2


def run_collect(subreddits: list[str], settings) -> int:
    from redditlake.lake import Lake
    from redditlake.lake.migrate import require_delta
    from redditlake.prefect_server import api_for_run

    require_delta(Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url))
    with api_for_run() as prefect_ready:  # a server, if one is needed, starts now, in the background
        return _collect(subreddits, settings, prefect_ready)


def _collect(subreddits: list[str], settings, prefect_ready) -> int:
    from redditlake.reddit.auth import verify_credentials

    if not settings.reddit.block:  # with a block, the flow loads them from Prefect
        verify_credentials(settings)  # one token request: fail before any wait on Prefect
    quiet_prefect_env()
    from flows.collect import collect

    prefect_ready()
    print(f"collecting {', '.join(subreddits)} into {settings.lake.uri} ...", file=sys.stderr, flush=True)
    try:
        state = asyncio.run(collect(subreddits, settings, return_state=True))
    except RuntimeError as exc:
        if "Prefect API" not in str(exc):
            raise
        raise RedditLakeError(
            f"{exc} Start one with `redditlake server` (later runs find it), or retry"
        ) from None
    summaries = state.result(raise_on_failure=False)  # the run is Failed when a subreddit failed
    if isinstance(summaries, BaseException):  # the flow itself broke, before any summary
        raise summaries
    for s in summaries:
        print(s.line())
    failed = [s for s in summaries if not s.ok]
    return 1 if failed else 0


def cmd_collect(args: argparse.Namespace) -> int:
    return run_collect(args.subreddits, settings_from(args))


def cmd_refresh(args: argparse.Namespace) -> int:
    from redditlake.prefect_server import api_for_run

    settings = settings_from(args)
    with api_for_run() as prefect_ready:
        if not settings.reddit.block:
            from redditlake.reddit.auth import verify_credentials

            verify_credentials(settings)
        quiet_prefect_env()
        from flows.refresh import refresh

        prefect_ready()
        outcomes = asyncio.run(refresh(args.subreddits, settings))
    for outcome in outcomes:
        print(outcome.line())
    from redditlake.outcome import exit_code

    return exit_code(outcomes)  # a subreddit that failed, or that could not be read


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


def cmd_gc(args: argparse.Namespace) -> int:
    quiet_prefect_env()
    from flows.common import gc_results
    from redditlake.lake.location import open_location

    settings = settings_from(args)
    lake = open_location(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    result = gc_results(args.results, lake=lake, endpoint_url=settings.lake.endpoint_url, dry_run=args.dry_run)
    for line in asyncio.run(result).lines():
        print(line)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from redditlake.cli_history import run_follow
    from redditlake.demo import run_archive_demo, run_demo
    from redditlake.subreddit_names import validate_subreddit

    if args.archive:
        subs = [validate_subreddit(s) for s in args.subreddits]
        return run_archive_demo(subs, lake_uri=args.lake, run_follow=run_follow, config_path=args.config)
    return run_demo(args.subreddits, lake_uri=args.lake, limit=args.limit, run_collect=run_collect,
                    config_path=args.config)


def cmd_query(args: argparse.Namespace) -> int:
    from redditlake.config import load_settings
    from redditlake.lake import Lake
    from redditlake.query import print_result, run_query

    settings = load_settings(args.config)
    lake = Lake.open(args.lake or settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    print_result(run_query(lake, args.sql), args.format)
    return 0


def cmd_forget_user(args: argparse.Namespace) -> int:
    from redditlake import audit
    from redditlake.forget import forget_user, request_reference, stored_name
    from redditlake.quality.catalog import catalog_path

    quiet_prefect_env()
    settings = settings_from(args)
    from flows.common import open_landing  # the lake and the pseudonymiser, as collect configures them

    landing = open_landing(settings)
    catalog = catalog_path(landing.lake, settings.data_quality.catalog)
    result = forget_user(landing.lake, args.name, landing.pseudonymiser, catalog_file=catalog)
    print(result.line())
    from flows.common import gc_results

    forget = sorted({args.name, stored_name(args.name, landing.pseudonymiser)})
    gc = gc_results(args.results, lake=landing.lake.location, forget=forget, endpoint_url=settings.lake.endpoint_url)
    for line in asyncio.run(gc).lines():
        print(line)
    # Accountable without re-recording the name the request asked to delete.
    reference = request_reference(args.name, settings.privacy.pseudonym_key)
    audit.record(landing.lake, "forget-user", rows=sum(result.redacted.values()), detail=f"{reference}: {result.line()}")
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


if __name__ == "__main__":
    sys.exit(main())

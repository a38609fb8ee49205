"""The history and real-time commands: ``backfill``, ``follow``, ``stream``, ``coverage``.

Arguments are checked before Prefect starts, so a bad date or a missing dump file costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from redditlake.outcome import exit_code


def add_parsers(sub) -> None:
    b = sub.add_parser("backfill", help="history beyond the 1,000-item listings, from archive APIs or dump files")
    b.add_argument("subreddits", nargs="+", metavar="SUB")
    b.add_argument("--since", required=True, help="start (UTC): YYYY-MM-DD, ISO date-time or epoch seconds")
    b.add_argument("--until", help="end, exclusive (default: now)")
    b.add_argument("--source", action="append", metavar="SOURCE",
                   help="pullpush (default), arcticshift, or a FILE.zst dump; repeat for several")
    b.add_argument("--threads", action="store_true",
                   help="comments as whole threads of the posts in the range (Arctic Shift's tree: one request per "
                        "post, fewer than by time window where threads average over 100 comments)")
    b.add_argument("--lake", help="lake location (default: ./lake)")

    f = sub.add_parser("follow", help="keep subreddits current from an archive, no Reddit key: one run of what a "
                                      "`source: arcticshift` deployment does")
    f.add_argument("subreddits", nargs="+", metavar="SUB")
    f.add_argument("--source", default="arcticshift", choices=["arcticshift"])
    f.add_argument("--now", help="follow up to this moment (default: now): YYYY-MM-DD, ISO date-time or epoch seconds")
    f.add_argument("--start-days", type=float, default=1.0, help="how far back a subreddit's first run starts")
    f.add_argument("--no-comments", dest="comments", action="store_false", help="posts only")
    f.add_argument("--lake", help="lake location (default: ./lake)")

    s = sub.add_parser("stream", help="follow new posts and comments in near real time until stopped (Ctrl-C)")
    s.add_argument("subreddits", nargs="+", metavar="SUB")
    s.add_argument("--duration", type=float, help="stop after this many seconds")
    s.add_argument("--max-items", type=int, help="stop once at least this many new posts and comments are in (checked after each poll)")
    s.add_argument("--lake", help="lake location (default: ./lake)")

    c = sub.add_parser("coverage", help="per day: rows per source, cut threads, stream gaps; for a subreddit followed "
                                        "through an archive, its position, lag behind now and gaps")
    c.add_argument("subreddit", metavar="SUB")
    c.add_argument("--since", help="first day to show (YYYY-MM-DD)")
    c.add_argument("--lake", help="lake location (default: ./lake)")
    c.add_argument("--format", choices=["table", "csv", "json"], default="table")


def cmd_backfill(args: argparse.Namespace, settings) -> int:
    from redditlake.archive.plan import make_plan
    from redditlake.prefect_server import api_for_run

    plan = make_plan(args.subreddits, args.since, args.until, args.source, args.threads)  # fails before Prefect starts
    with api_for_run() as prefect_ready:  # a server, if one is needed, starts now, in the background
        from redditlake.cli.common import quiet_prefect_env

        quiet_prefect_env()
        from flows.backfill import backfill

        prefect_ready()
        print(f"backfilling {', '.join(plan.subreddits)} from {plan.since:%Y-%m-%d %H:%M} to "
              f"{plan.until:%Y-%m-%d %H:%M} into {settings.lake.uri} ...", file=sys.stderr, flush=True)
        outcomes = asyncio.run(backfill(args.subreddits, args.since, args.until, args.source, settings,
                                        threads=args.threads))
    for outcome in outcomes:
        print(outcome.line())
    return exit_code(outcomes)


def cmd_follow(args: argparse.Namespace, settings) -> int:
    from redditlake.archive.plan import parse_when
    from redditlake.errors import RedditLakeError
    from redditlake.subreddit_names import validate_subreddit

    subs = [validate_subreddit(s) for s in args.subreddits]  # fails before Prefect starts
    if args.now:
        parse_when(args.now, "--now")
    if args.start_days <= 0:
        raise RedditLakeError("--start-days must be positive")
    return run_follow(subs, settings, source=args.source, comments=args.comments, start_days=args.start_days,
                      now=args.now)


def run_follow(subs: list[str], settings, *, source: str = "arcticshift", comments: bool = True,
               start_days: float = 1.0, now: str | None = None) -> int:
    """One run of the ``follow-archive`` flow per subreddit, its summary printed; 1 when one failed.

    Shared by ``follow`` and ``demo --archive`` (the demo sits below the CLI: it gets this passed in)."""
    from redditlake.prefect_server import api_for_run

    failed = False
    with api_for_run() as prefect_ready:
        from redditlake.cli.common import quiet_prefect_env

        quiet_prefect_env()
        from flows.follow import follow

        prefect_ready()
        for sub in subs:
            state = asyncio.run(follow(sub, source, comments, start_days, now=now, settings=settings,
                                       return_state=True))
            failed |= not state.is_completed()
            print(state.message if state.is_completed() else f"r/{sub}: FAILED: {state.message}", flush=True)
    return 1 if failed else 0


def cmd_stream(args: argparse.Namespace, settings) -> int:
    from redditlake.errors import RedditLakeError
    from redditlake.prefect_server import api_for_run
    from redditlake.reddit.auth import verify_credentials

    if args.duration is not None and args.duration <= 0 or args.max_items is not None and args.max_items <= 0:
        raise RedditLakeError("--duration and --max-items must be positive")
    with api_for_run() as prefect_ready:
        if not settings.reddit.block:
            verify_credentials(settings)
        from redditlake.cli.common import quiet_prefect_env

        quiet_prefect_env()
        from flows.stream import stream

        prefect_ready()
        print(f"streaming {', '.join(args.subreddits)} into {settings.lake.uri} (Ctrl-C or SIGTERM stops cleanly) ...",
              file=sys.stderr, flush=True)
        outcomes = asyncio.run(stream(args.subreddits, args.duration, args.max_items, settings))
    for outcome in outcomes:
        print(outcome.line(), flush=True)
    return exit_code(outcomes)


def cmd_coverage(args: argparse.Namespace, settings) -> int:
    from redditlake.archive.plan import parse_when
    from redditlake.coverage_report import coverage, followed
    from redditlake.lake import Lake
    from redditlake.clock import now_utc
    from redditlake.subreddit_names import validate_subreddit
    from redditlake.query import print_result

    sub = validate_subreddit(args.subreddit)
    since = parse_when(args.since, "--since") if args.since else None
    lake = Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    per_day, gaps = coverage(lake, sub, since)
    print_result(per_day, args.format)
    follow = followed(lake, sub, now_utc())
    if follow is not None:  # only for a subreddit kept current from an archive
        if args.format == "table":
            print(f"\nr/{sub} is followed through an archive (no Reddit key): the positions (follow: the newest "
                  "archived item landed), how far behind they were at the last run and are now, gaps behind them:")
        print_result(follow, args.format)
    if args.format == "table":
        print(f"\ncoverage gaps of r/{sub}:" if gaps.rows else f"\nno coverage gaps recorded for r/{sub}")
    if gaps.rows:
        print_result(gaps, args.format)
    return 0


COMMANDS = {"backfill": cmd_backfill, "follow": cmd_follow, "stream": cmd_stream, "coverage": cmd_coverage}

"""The collection commands: ``collect`` (real Reddit, through the Prefect ``collect`` flow) and
``demo`` (the built-in simulators, no credentials)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from redditlake.cli.common import quiet_prefect_env, settings_from
from redditlake.errors import RedditLakeError

DEMO_SUBREDDITS = ["python", "datascience", "aww"]

SORTS = ["hot", "new", "top", "rising", "controversial"]
TIME_FILTERS = ["hour", "day", "week", "month", "year", "all"]


def add_collect(sub) -> None:
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


def add_demo(sub) -> None:
    d = sub.add_parser("demo", help="run the built-in Reddit simulator and collect from it into ./lake (no credentials); "
                                    "with --archive, the no-key mode: follow the built-in archive simulator")
    d.add_argument("--lake", default="./lake", help="lake folder (default: ./lake)")
    d.add_argument("--limit", type=int, default=100, help="posts per listing (default: 100; not with --archive)")
    d.add_argument("--archive", action="store_true",
                   help="no Reddit key: start the built-in archive simulator (Arctic Shift's API) on 127.0.0.1 and run "
                        "what `redditlake follow` runs (a day back) into the lake, then stop it")
    d.add_argument("subreddits", nargs="*", default=DEMO_SUBREDDITS, metavar="SUB")


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


def cmd_demo(args: argparse.Namespace) -> int:
    from redditlake.cli.history import run_follow
    from redditlake.demo import run_archive_demo, run_demo
    from redditlake.subreddit_names import validate_subreddit

    if args.archive:
        subs = [validate_subreddit(s) for s in args.subreddits]
        return run_archive_demo(subs, lake_uri=args.lake, run_follow=run_follow, config_path=args.config)
    return run_demo(args.subreddits, lake_uri=args.lake, limit=args.limit, run_collect=run_collect,
                    config_path=args.config)


COMMANDS = {"collect": cmd_collect, "demo": cmd_demo}

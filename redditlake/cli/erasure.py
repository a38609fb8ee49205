"""The commands that delete what must go: ``refresh`` (deletion compliance: re-check what is
stored, redact what users deleted), ``forget-user`` (one user's data on request) and ``gc``
(expired or pickled Prefect result records, never the lake)."""

from __future__ import annotations

import argparse
import asyncio

from redditlake.cli.common import quiet_prefect_env, settings_from


def add_refresh(sub) -> None:
    r = sub.add_parser(
        "refresh",
        help="deletion compliance: re-check stored posts and comments, refresh metrics, redact what users deleted",
    )
    r.add_argument("subreddits", nargs="+", metavar="SUB")
    r.add_argument("--lake", help="lake location (default: ./lake)")


def add_gc(sub) -> None:
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


def add_forget_user(sub) -> None:
    f = sub.add_parser(
        "forget-user",
        help="delete a user's data on request: redact their posts, comments and profiles everywhere in the lake",
    )
    f.add_argument("name", metavar="NAME", help="the Reddit account name (the real one, also when pseudonymising)")
    f.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    f.add_argument("--results", help="Prefect result storage to clean too (default: Prefect's own)")


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


COMMANDS = {"refresh": cmd_refresh, "gc": cmd_gc, "forget-user": cmd_forget_user}

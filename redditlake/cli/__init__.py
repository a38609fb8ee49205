"""The ``redditlake`` command: the root parser, and how a command fails.

Each command family is a module that brings its parsers and handlers: ``collect``
(collect, demo), ``store`` (query, audit, compact, lake migrate), ``erasure`` (refresh,
forget-user, gc), ``history`` (backfill, follow, stream, coverage), ``ops`` (sim, server,
health, deploy, alerts, serve) and ``quality``; ``common`` is what they share.

Every expected failure prints one line (``redditlake: error: …``) and exits
non-zero; tracebacks are for bugs only. Prefect is imported lazily so that
``--help`` and ``query`` answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from redditlake.cli import collect, erasure, history, ops, quality, store
from redditlake.cli.common import settings_from
from redditlake.errors import RedditLakeError
from redditlake.logs import setup_logging


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

    # In the order `redditlake --help` lists them.
    collect.add_collect(sub)
    erasure.add_refresh(sub)
    store.add_compact(sub)
    store.add_lake(sub)
    collect.add_demo(sub)
    erasure.add_gc(sub)
    erasure.add_forget_user(sub)
    store.add_audit(sub)
    ops.add_parsers(sub)
    history.add_parsers(sub)
    quality.add_parsers(sub)
    store.add_query(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(verbose=args.verbose, json_format=args.log_format == "json")
    try:
        commands = {**collect.COMMANDS, **store.COMMANDS, **erasure.COMMANDS, **ops.COMMANDS, **quality.COMMANDS}
        if args.command in history.COMMANDS:
            return history.COMMANDS[args.command](args, settings_from(args))
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

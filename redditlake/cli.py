"""The ``redditlake`` command.

Every expected failure prints one line (``redditlake: error: …``) and exits
non-zero; tracebacks are for bugs only. Prefect is imported lazily so that
``--help`` and ``query`` answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from redditlake.cli_history import COMMANDS as HISTORY_COMMANDS
from redditlake.cli_history import add_parsers as add_history_parsers
from redditlake.errors import RedditLakeError, first_problem
from redditlake.logs import setup_logging

DEMO_SUBREDDITS = ["python", "datascience", "aww"]

SORTS = ["hot", "new", "top", "rising", "controversial"]
TIME_FILTERS = ["hour", "day", "week", "month", "year", "all"]


def _quiet_prefect_env() -> None:
    # Before Prefect is imported: a running `redditlake server` if there is one (saves the
    # temporary server's start-up), no telemetry, and no per-task chatter on the console.
    from redditlake.prefect_server import use_running_server

    use_running_server()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    # Without PREFECT_API_URL each run starts a server of its own: 10-15 s on a quiet 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="redditlake",
        description="Collect subreddits through Reddit's API into a Parquet lake, within the rate limit, "
        "and query it with DuckDB.",
        epilog="Credentials come from REDDIT_CLIENT_ID / REDDIT_CLIENT_SECRET (a 'script' app at "
        "https://www.reddit.com/prefs/apps). Try `redditlake demo` first: it needs none.",
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

    d = sub.add_parser("demo", help="run the built-in Reddit simulator and collect from it into ./lake (no credentials)")
    d.add_argument("--lake", default="./lake", help="lake folder (default: ./lake)")
    d.add_argument("--limit", type=int, default=100, help="posts per listing (default: 100)")
    d.add_argument("subreddits", nargs="*", default=DEMO_SUBREDDITS, metavar="SUB")

    s = sub.add_parser("sim", help="serve the Reddit API simulator on 127.0.0.1 until interrupted")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--requests-per-window", type=int, default=100, help="rate budget per client id (default: 100)")
    s.add_argument("--window-seconds", type=float, default=60.0)
    s.add_argument("--big-thread-share", type=float, default=0.0,
                   help="share of posts with a thread of 1,000-5,000 comments (default: 0)")

    v = sub.add_parser(
        "server", help="run a local Prefect server until interrupted; later runs use it and skip Prefect's start-up"
    )
    v.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: 4210)")

    h = sub.add_parser("health", help="check the API, the lake and Prefect; exit 1 when anything is unhealthy")
    h.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    h.add_argument("--minutes", type=float, default=60, help="window of request history to judge (default: 60)")

    g = sub.add_parser(
        "gc", help="delete expired, pickled (never loaded) and forgotten files from Prefect's result storage"
    )
    g.add_argument(
        "--results",
        help="result storage: a folder or s3://bucket/prefix (default: Prefect's own, "
        "the PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK bucket or PREFECT_HOME/storage)",
    )

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
    dp = sub.add_parser("deploy", help="create or update the Prefect deployments described in deployments/collection.yaml")
    dp.add_argument("--file", default="deployments/collection.yaml", help="the collection file (default: deployments/collection.yaml)")
    dp.add_argument("--check", action="store_true", help="change nothing; exit 1 when the server drifted from the file")

    al = sub.add_parser("alerts", help="Prefect automations that call a webhook when collection breaks")
    al_sub = al.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    al_setup = al_sub.add_parser("setup", help="save a webhook block and create the automations (rerun to update)")
    al_setup.add_argument("--webhook", required=True, help="URL that receives one JSON POST per alert")
    al_setup.add_argument("--late-minutes", type=float, default=15, help="alert when a late run has not started this long after (default: 15)")
    al_setup.add_argument("--zombie-seconds", type=float, default=90,
                          help="mark a deployed run Crashed after this long without a heartbeat; keep it 3x "
                          "work_pool.heartbeat_seconds (default: 90)")

    sv = sub.add_parser("serve", help="serve /healthz and /metrics (Prometheus) over HTTP until interrupted")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sv.add_argument("--port", type=int, default=9108)
    sv.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    sv.add_argument("--minutes", type=float, default=60, help="window of request history the figures cover (default: 60)")

    add_history_parsers(sub)

    _quality_parser(sub)

    q = sub.add_parser("query", help="run SQL on the lake with DuckDB (views: posts, comments, subreddits, ...)")
    q.add_argument("sql")
    q.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    return p


def _quality_parser(sub) -> None:
    qa = sub.add_parser("quality", help="data quality: latest scores and failing expectations; check, catalog, report")
    qa.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    qs = qa.add_subparsers(dest="quality_command", metavar="ACTION")
    qc = qs.add_parser("check", help="integrity and completeness over the stored lake; exit 1 naming posts with "
                       "incomplete threads, orphan comments or duplicate ids")
    qc.add_argument("subreddits", nargs="*", metavar="SUB", help="only these subreddits (default: all)")
    qc.add_argument("--since", help="only items created within this long, e.g. 7d, 12h")
    qc.add_argument("--no-suites", dest="suites", action="store_false", help="skip the GX suites over stored partitions")
    qc.add_argument("--lake", dest="quality_lake", help="lake location")
    qk = qs.add_parser("catalog", help="rebuild the DuckDB quality catalog (quality.duckdb) from the lake")
    qk.add_argument("--output", help="catalog file (default: data_quality.catalog, next to a local lake)")
    qk.add_argument("--lake", dest="quality_lake", help="lake location")
    qr = qs.add_parser("report", help="write a static HTML report (scores, volume, failing expectations, completeness)")
    qr.add_argument("--html", required=True, metavar="FILE", help="the page to write")
    qr.add_argument("--lake", dest="quality_lake", help="lake location")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(verbose=args.verbose, json_format=args.log_format == "json")
    try:
        commands = {
            "collect": cmd_collect, "demo": cmd_demo, "sim": cmd_sim, "query": cmd_query, "health": cmd_health,
            "refresh": cmd_refresh, "compact": cmd_compact, "gc": cmd_gc, "audit": cmd_audit,
            "forget-user": cmd_forget_user, "deploy": cmd_deploy, "alerts": cmd_alerts, "serve": cmd_serve,
            "server": cmd_server,
            "quality": cmd_quality,
        }
        if args.command in HISTORY_COMMANDS:
            return HISTORY_COMMANDS[args.command](args, _settings(args))
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


def _settings(args: argparse.Namespace):
    from redditlake.config import load_settings, with_overrides

    return with_overrides(
        load_settings(args.config),
        sorts=getattr(args, "sort", None),
        limit=getattr(args, "limit", None),
        time_filter=getattr(args, "time_filter", None),
        comments=getattr(args, "comments", None),
        users=getattr(args, "users", None),
        comment_depth=getattr(args, "comment_depth", None),
        lake=getattr(args, "lake", None),
    )


def run_collect(subreddits: list[str], settings) -> int:
    from redditlake.prefect_server import api_for_run

    with api_for_run() as prefect_ready:  # a server, if one is needed, starts now, in the background
        return _collect(subreddits, settings, prefect_ready)


def _collect(subreddits: list[str], settings, prefect_ready) -> int:
    from redditlake.reddit.auth import verify_credentials

    if not settings.reddit.block:  # with a block, the flow loads them from Prefect
        verify_credentials(settings)  # one token request: fail before any wait on Prefect
    _quiet_prefect_env()
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
    return run_collect(args.subreddits, _settings(args))


def cmd_refresh(args: argparse.Namespace) -> int:
    from redditlake.prefect_server import api_for_run

    settings = _settings(args)
    with api_for_run() as prefect_ready:
        if not settings.reddit.block:
            from redditlake.reddit.auth import verify_credentials

            verify_credentials(settings)
        _quiet_prefect_env()
        from flows.refresh import refresh

        prefect_ready()
        lines = asyncio.run(refresh(args.subreddits, settings))
    for line in lines:
        print(line)
    from redditlake.compliance import operator_must_act

    return 1 if any("FAILED" in line or operator_must_act(line) for line in lines) else 0


def cmd_compact(args: argparse.Namespace) -> int:
    from redditlake.lake import Lake

    settings = _settings(args)
    lake = Lake.open(settings.lake.uri, endpoint_url=settings.lake.endpoint_url)
    for table in args.tables or lake.tables():
        try:
            r = lake.compact(table, args.subreddit)
        except ValueError as exc:
            raise RedditLakeError(str(exc)) from None
        print(f"{table}: {r.partitions_compacted} partitions, {r.files_removed} files merged, {r.rows_before} → {r.rows_after} rows")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    _quiet_prefect_env()
    from flows.common import gc_results

    settings = _settings(args)
    for line in asyncio.run(gc_results(args.results, endpoint_url=settings.lake.endpoint_url)).lines():
        print(line)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from redditlake.demo import run_demo

    return run_demo(args.subreddits, lake_uri=args.lake, limit=args.limit, config_path=args.config)


def cmd_sim(args: argparse.Namespace) -> int:
    from redditlake.simulator import SimulatorConfig, serve_forever

    from pydantic import ValidationError

    try:
        config = SimulatorConfig(
            seed=args.seed, requests_per_window=args.requests_per_window, window_seconds=args.window_seconds,
            big_thread_share=args.big_thread_share,
        )
    except ValidationError as exc:
        where, problem = first_problem(exc)
        raise RedditLakeError(f"invalid --{where.replace('_', '-')}: {problem}") from None
    try:
        asyncio.run(serve_forever(config, port=args.port))
    except OSError as exc:
        raise RedditLakeError(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); pick another --port") from None
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    from redditlake.prefect_server import DEFAULT_PORT, serve

    return serve(args.port or DEFAULT_PORT)


def cmd_health(args: argparse.Namespace) -> int:
    from redditlake.health import health

    report = asyncio.run(health(_settings(args), args.minutes))
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _prefect_api_required() -> None:
    if not os.environ.get("PREFECT_API_URL"):
        raise RedditLakeError(
            "PREFECT_API_URL is not set: deployments and automations live on a Prefect server; "
            "start one (`prefect server start`) and export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )


def cmd_deploy(args: argparse.Namespace) -> int:
    from redditlake.collection import load_collection

    config = load_collection(args.file)  # a bad file fails here, before Prefect is imported
    _prefect_api_required()
    _quiet_prefect_env()
    from deployments.apply import deploy, drift

    if args.check:
        differences = asyncio.run(drift(config))
        for line in differences:
            print(f"drift: {line}")
        print(f"{args.file}: {'drifted, run `redditlake deploy`' if differences else 'deployed as written'}")
        return 1 if differences else 0
    for line in asyncio.run(deploy(config)):
        print(line)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    if not args.webhook.startswith(("http://", "https://")):
        raise RedditLakeError(f"--webhook must be an http(s) URL, not {args.webhook!r}")
    _prefect_api_required()
    _quiet_prefect_env()
    from deployments.automations import setup_alerts

    if args.zombie_seconds < 45:
        raise RedditLakeError(f"--zombie-seconds {args.zombie_seconds:g} is under 45: runs beat every 30 s at best, "
                              "live ones would be marked Crashed")
    for line in asyncio.run(setup_alerts(args.webhook, args.late_minutes, args.zombie_seconds)):
        print(line)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from redditlake.serve import serve

    print(f"serving http://{args.host}:{args.port}/healthz and /metrics", file=sys.stderr, flush=True)
    try:
        asyncio.run(serve(_settings(args), args.host, args.port, args.minutes))
    except OSError as exc:
        raise RedditLakeError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); pick another --port") from None
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    from redditlake.config import load_settings
    from redditlake.lake import Lake
    from redditlake.quality import commands

    settings = load_settings(args.config)
    uri = getattr(args, "quality_lake", None) or args.lake or settings.lake.uri
    lake = Lake.open(uri, endpoint_url=settings.lake.endpoint_url)
    action = args.quality_command
    if action == "check":
        code, lines = commands.check(settings, lake, args.subreddits, args.since, suites=args.suites)
        print("\n".join(lines))
        return code
    if action == "catalog":
        print(f"catalog written: {commands.build_catalog(settings, lake, args.output)}")
        return 0
    if action == "report":
        from redditlake.quality.report import write_report

        print(f"report written: {write_report(lake, settings.data_quality, args.html)}")
        return 0
    print("\n".join(commands.status_lines(lake, settings.data_quality.score_target)))
    return 0


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
    from redditlake.forget import forget_user, stored_name

    _quiet_prefect_env()
    settings = _settings(args)
    from flows.common import open_landing  # the lake and the pseudonymiser, as collect configures them

    landing = open_landing(settings)
    result = forget_user(landing.lake, args.name, landing.pseudonymiser)
    print(result.line())
    from flows.common import gc_results

    forget = sorted({args.name, stored_name(args.name, landing.pseudonymiser)})
    for line in asyncio.run(gc_results(args.results, forget, endpoint_url=settings.lake.endpoint_url)).lines():
        print(line)
    # Accountable without re-recording the name the request asked to delete.
    audit.record(landing.lake, "forget-user", rows=sum(result.redacted.values()), detail=result.line())
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

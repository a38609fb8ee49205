"""The operations commands: ``sim``, ``server``, ``health``, ``deploy``, ``alerts``, ``serve``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from redditlake.cli.common import prefect_api_required, quiet_prefect_env, settings_from
from redditlake.errors import RedditLakeError, first_problem


def add_parsers(sub) -> None:
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
    sv.add_argument("--deep-check-seconds", type=float, default=60,
                    help="how often /healthz's state is refreshed (one Reddit request, a lake listing); "
                    "probes never trigger it (default and minimum: 60)")


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

    report = asyncio.run(health(settings_from(args), args.minutes))
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def cmd_deploy(args: argparse.Namespace) -> int:
    from redditlake.collection import load_collection

    config = load_collection(args.file)  # a bad file fails here, before Prefect is imported
    prefect_api_required()
    quiet_prefect_env()
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
    prefect_api_required()
    quiet_prefect_env()
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
        asyncio.run(serve(settings_from(args), args.host, args.port, args.minutes,
                          deep_check_seconds=max(args.deep_check_seconds, 60.0)))
    except OSError as exc:
        raise RedditLakeError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); pick another --port") from None
    return 0


COMMANDS = {"sim": cmd_sim, "server": cmd_server, "health": cmd_health, "deploy": cmd_deploy, "alerts": cmd_alerts,
            "serve": cmd_serve}

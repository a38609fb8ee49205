"""What the command modules share: Prefect's environment (set before Prefect is imported),
the settings of one run, the Prefect API a command needs."""

from __future__ import annotations

import argparse
import os

from redditlake.errors import RedditLakeError


def quiet_prefect_env() -> None:
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


def settings_from(args: argparse.Namespace):
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


def prefect_api_required() -> None:
    if not os.environ.get("PREFECT_API_URL"):
        raise RedditLakeError(
            "PREFECT_API_URL is not set: deployments and automations live on a Prefect server; "
            "start one (`prefect server start`) and export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )

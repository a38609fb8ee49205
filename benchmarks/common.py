"""Shared pieces of the benchmarks: environment, simulator settings, the plain asyncpraw script.

Import this module before anything imports Prefect: it sets Prefect's environment.
"""

from __future__ import annotations

import os
import tempfile

# Before Prefect is imported: no telemetry, a throwaway Prefect home, quiet run loggers.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="redditlake-bench-prefect-"))
os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")

import asyncio  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from redditlake.config import Settings, load_settings  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
USER_AGENT = "python:redditlake-benchmark:0.1 (by /u/redditlake)"


def sim_settings(url: str, client_id: str, secret: str, lake: str, *, requests_per_window: float | None = None,
                 window_seconds: float | None = None, **collect: Any) -> Settings:
    """Settings pointed at a simulator. The budget is left at its defaults (as a new user runs
    it: paced on the simulator's headers) unless ``requests_per_window`` is given."""
    env = {
        "REDDIT_OAUTH_URL": url,
        "REDDIT_URL": url,
        "REDDIT_CLIENT_ID": client_id,
        "REDDIT_CLIENT_SECRET": secret,
        "REDDIT_USER_AGENT": USER_AGENT,
        "REDDITLAKE_LAKE": lake,
    }
    settings = load_settings(env=env)
    if requests_per_window is None:
        return settings.model_copy(update={"collect": settings.collect.model_copy(update=collect)})
    budget = settings.budget.model_copy(
        update={"requests_per_minute": requests_per_window * 60 / window_seconds, "window_seconds": window_seconds}
    )
    return settings.model_copy(
        update={"collect": settings.collect.model_copy(update=collect), "budget": budget}
    )


def sim_stats(url: str) -> dict[str, Any]:
    """The simulator's counters over HTTP (``/_sim/stats`` is neither authenticated nor counted)."""
    with urllib.request.urlopen(f"{url}/_sim/stats", timeout=10) as r:
        return json.load(r)


def api_requests(stats: dict[str, Any]) -> int:
    """Requests charged to the budget: everything but the token endpoint."""
    return stats["requests"] - stats["by_family"].get("token", 0)


def machine() -> dict[str, Any]:
    import subprocess

    def git(*args: str) -> str:  # read-only
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                                  cwd=Path(__file__).resolve().parent.parent).stdout.strip()
        except OSError:
            return ""

    return {
        "git_head": git("rev-parse", "--short", "HEAD"),
        # Product files with uncommitted changes (benchmarks/ itself left out): what ran is HEAD plus these.
        "git_uncommitted_product_files": [
            path for path in (line.split(maxsplit=1)[-1] for line in git("status", "--porcelain").splitlines())
            if not path.startswith("benchmarks/")
        ],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_json(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


# -- the plain asyncpraw script ------------------------------------------------------------


@dataclass
class PlainResult:
    comments: dict[str, set[str]] = field(default_factory=dict)  # post id -> comment ids
    posts: dict[str, list[str]] = field(default_factory=dict)  # subreddit -> post ids
    errors: Counter = field(default_factory=Counter)  # exception class -> count
    gave_up: int = 0  # steps abandoned after MAX_TRIES


MAX_TRIES = 20


async def _retrying(step, result: PlainResult):
    """What a careful script does around asyncpraw: catch, count, try again.

    asyncprawcore raises ``TooManyRequests`` on a 429 without retrying; its rate limiter
    has already read the 429's headers (remaining 0) and sleeps until the reset before
    the next request, so an immediate retry waits for the new window by itself.
    ``replace_more`` resumes where it failed (an unexpanded stub stays in the forest).
    """
    for _ in range(MAX_TRIES):
        try:
            return await step()
        except Exception as exc:  # noqa: BLE001 - counted, then retried
            result.errors[type(exc).__name__] += 1
            await asyncio.sleep(0)
    result.gave_up += 1
    return None


async def plain_collect_subreddit(reddit, name: str, limit: int, result: PlainResult, *,
                                  stop_at: float | None = None) -> None:
    subreddit = await reddit.subreddit(name)

    async def listing():
        return [s async for s in subreddit.new(limit=limit)]

    submissions = await _retrying(listing, result) or []
    result.posts[name] = [s.id for s in submissions]
    for s in submissions:
        if stop_at is not None and time.monotonic() >= stop_at:
            return
        async def load(s=s):
            await s.load()
            return True

        if not await _retrying(load, result):
            continue

        async def expand(s=s):
            await s.comments.replace_more(limit=None)
            return True

        if await _retrying(expand, result):
            result.comments[s.id] = {c.id for c in s.comments.list()}


async def plain_collect(url: str, client_id: str, secret: str, subreddits: list[str], limit: int,
                        window_seconds: float, *, stop_at: float | None = None,
                        result: PlainResult | None = None) -> PlainResult:
    """asyncpraw as documented: one Reddit instance, the subreddits concurrently.

    ``window_size`` is asyncprawcore's pacing window (600 s for Reddit's 10-minute window);
    it is set to the simulator's window so asyncpraw's own limiter is scaled like the budget.
    """
    import asyncpraw

    result = result or PlainResult()
    reddit = asyncpraw.Reddit(
        client_id=client_id,
        client_secret=secret,
        user_agent=USER_AGENT,
        oauth_url=url,
        reddit_url=url,
        check_for_updates=False,
        window_size=int(window_seconds),
    )
    try:
        await asyncio.gather(*(plain_collect_subreddit(reddit, s, limit, result, stop_at=stop_at) for s in subreddits))
    finally:
        await reddit.close()
    return result

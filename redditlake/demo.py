"""`redditlake demo`: the whole pipeline on the built-in simulator, no credentials.

The simulator runs with a faster budget than Reddit's 100 requests a minute so
the demo takes about a minute; the client paces on its headers all the same.

`redditlake demo --archive` shows the no-key mode instead: the built-in archive simulator (Arctic
Shift's API, over the same simulated world) and one run of what `redditlake follow` runs. Its
world's clock is set to the wall clock and runs with it, so the follow position and its lag
behind now are what a real follow would show.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from redditlake.config import load_settings
from redditlake.lake import Lake
from redditlake.query import print_result, run_query

DEMO_BUDGET = {"requests_per_window": 600, "window_seconds": 10.0}
ARCHIVE_SOURCE = "arcticshift"
# A first follow starts this far back, as `redditlake follow`'s does. (Two days would show the
# settle pass too, but its rows and the follow pass's overlap in one run, which the run's
# quality check reports as duplicate ids.)
ARCHIVE_START_DAYS = 1.0
ARCHIVE_LAG_SECONDS = 900.0  # Arctic Shift retrieves items minutes after creation
ARCHIVE_SETTLED_AFTER = 36 * 3600.0

SAMPLE_QUERY = """\
SELECT p.subreddit, p.title, p.score, count(c.id) AS comments
FROM posts p LEFT JOIN comments c ON c.link_id = 't3_' || p.id
GROUP BY ALL ORDER BY comments DESC LIMIT 5"""


def run_demo(subreddits: list[str], *, lake_uri: str, limit: int, run_collect: Callable[[list[str], object], int],
             config_path: str | None = None) -> int:
    """``run_collect`` is the CLI's own collect (passed in: the demo sits below the CLI)."""
    from redditlake.simulator import SimulatorConfig, SimulatorThread

    sim_config = SimulatorConfig(**DEMO_BUDGET)
    client_id, secret = next(iter(sim_config.clients.items()))
    with SimulatorThread(sim_config) as sim:
        print(f"simulator listening on {sim.url}", file=sys.stderr)
        env = {
            "REDDIT_OAUTH_URL": sim.url,
            "REDDIT_URL": sim.url,
            "REDDIT_CLIENT_ID": client_id,
            "REDDIT_CLIENT_SECRET": secret,
            "REDDIT_USER_AGENT": "python:redditlake-demo:0.1.0 (by /u/redditlake-demo)",
        }
        settings = load_settings(config_path, env=env)
        settings = settings.model_copy(
            update={
                "lake": settings.lake.model_copy(update={"uri": lake_uri}),
                "collect": settings.collect.model_copy(update={"sorts": ["new", "hot"], "limit": limit}),
                "budget": settings.budget.model_copy(
                    update={
                        "requests_per_minute": DEMO_BUDGET["requests_per_window"] * 60 / DEMO_BUDGET["window_seconds"],
                        "window_seconds": DEMO_BUDGET["window_seconds"],
                    }
                ),
            }
        )
        code = run_collect(subreddits, settings)
    print_sample(lake_uri)
    return code


def run_archive_demo(subreddits: list[str], *, lake_uri: str, run_follow: Callable[..., int],
                     config_path: str | None = None) -> int:
    """``run_follow`` is the CLI's own ``follow`` (passed in: the demo sits below the CLI).

    No Reddit settings at all: the follow flow talks to the archive only."""
    from redditlake.simulator import SimulatorConfig, World
    from redditlake.simulator.archive import ArchiveConfig, ArchiveThread

    world = World(SimulatorConfig(clock_speed=1.0))
    world.advance(max(0.0, time.time() - world.now))  # content up to now, and on with the wall clock
    config = ArchiveConfig(**DEMO_BUDGET, lag_seconds=ARCHIVE_LAG_SECONDS, snapshot_after=ARCHIVE_LAG_SECONDS,
                           settled_after=ARCHIVE_SETTLED_AFTER)
    with ArchiveThread(world, config) as archive:
        print(f"archive simulator (Arctic Shift's API) listening on {archive.url}", file=sys.stderr)
        settings = load_settings(config_path, env={"REDDITLAKE_ARCTICSHIFT_URL": archive.url})
        settings = settings.model_copy(update={
            "lake": settings.lake.model_copy(update={"uri": lake_uri}),
            "archive": settings.archive.model_copy(update={
                "requests_per_minute": DEMO_BUDGET["requests_per_window"] * 60 / DEMO_BUDGET["window_seconds"]}),
        })
        print(f"following {', '.join(subreddits)} through the archive into {lake_uri} (no Reddit key) ...",
              file=sys.stderr, flush=True)
        code = run_follow(subreddits, settings, source=ARCHIVE_SOURCE, start_days=ARCHIVE_START_DAYS,
                          now=str(int(world.now)))
    if code == 0:  # a failed run's lines said what failed; a query over what it did not land says nothing
        print_sample(lake_uri)
        print(f"\nWhere the follow stands (position, lag behind now, gaps): redditlake coverage "
              f"{subreddits[0]} --lake {lake_uri}. A later `redditlake follow` goes on from there.")
    return code


def print_sample(lake_uri: str) -> None:
    lake = Lake.open(lake_uri)
    print(f"\nThe lake is in {lake.uri}. A sample query:\n\n  redditlake query --lake {lake_uri} \"{' '.join(SAMPLE_QUERY.split())}\"\n")
    print_result(run_query(lake, SAMPLE_QUERY))
    print(
        f"\nEach table is a Delta table: with DuckDB's delta extension, SELECT count(*) FROM "
        f"delta_scan('{lake_uri.rstrip('/')}/posts'); or Polars' pl.read_delta, Spark, Trino."
    )

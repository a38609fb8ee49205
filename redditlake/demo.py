"""`redditlake demo`: the whole pipeline on the built-in simulator, no credentials.

The simulator runs with a faster budget than Reddit's 100 requests a minute so
the demo takes about a minute; the client paces on its headers all the same.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from redditlake.config import load_settings
from redditlake.lake import Lake
from redditlake.query import print_result, run_query

DEMO_BUDGET = {"requests_per_window": 600, "window_seconds": 10.0}

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
    lake = Lake.open(lake_uri)
    print(f"\nThe lake is in {lake.uri}. A sample query:\n\n  redditlake query --lake {lake_uri} \"{' '.join(SAMPLE_QUERY.split())}\"\n")
    print_result(run_query(lake, SAMPLE_QUERY))
    print(
        f"\nEach table is a Delta table: with DuckDB's delta extension, SELECT count(*) FROM "
        f"delta_scan('{lake_uri.rstrip('/')}/posts'); or Polars' pl.read_delta, Spark, Trino."
    )
    return code

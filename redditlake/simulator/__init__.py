"""A Reddit API simulator that real asyncpraw talks to unchanged, for tests and benchmarks.

Point asyncpraw at it with ``oauth_url=url, reddit_url=url, check_for_updates=False`` and a
client id/secret from ``SimulatorConfig.clients`` (``RunningSimulator.reddit_kwargs()`` builds
them). It serves the token endpoint, subreddit listings, about pages, comment trees cut into
``more`` stubs, morechildren and /api/info, with Reddit's per-client rate limit headers and
configurable faults. ``/_sim/*`` (no auth, not counted) lets other processes read stats, move
the content clock, delete things (posts, comments, accounts), switch a subreddit
private/banned/quarantined and back (``/_sim/access``), make /api/info leave chosen things out
(``/_sim/info_drop``), swap faults and read the ground truth.

Modules: config (pydantic settings), content (the world and its clock), textgen, ranking
(scores and orders), things (JSON shapes), trees (tree cutting), ratelimit, faults, stats,
server (routes), runner (start/stop helpers).
"""

from .config import FaultConfig, SimulatorConfig
from .content import World
from .runner import RunningSimulator, SimulatorThread, running_simulator, serve_forever
from .server import build_app
from .stats import Stats

__all__ = [
    "FaultConfig",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorThread",
    "Stats",
    "World",
    "build_app",
    "running_simulator",
    "serve_forever",
]

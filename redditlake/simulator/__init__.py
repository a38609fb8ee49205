"""A Reddit API simulator that real asyncpraw talks to unchanged, for tests and benchmarks."""

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

"""Start and stop the simulator: in the current event loop, in a thread, or as a CLI server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .config import FaultConfig, SimulatorConfig
from .content import World
from .server import Simulator, build_app
from .serving import HOST, SHUTDOWN_TIMEOUT, AppThread
from .stats import Stats



@dataclass
class RunningSimulator:
    url: str
    app: web.Application

    @property
    def sim(self) -> Simulator:
        return self.app["sim"]

    @property
    def world(self) -> World:
        return self.app["world"]

    @property
    def stats(self) -> Stats:
        return self.app["stats"]

    @property
    def config(self) -> SimulatorConfig:
        return self.app["config"]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def set_faults(self, faults: FaultConfig) -> None:
        self.sim.faults.replace(faults)

    def credentials(self) -> tuple[str, str]:
        """One (client_id, client_secret) pair the token endpoint accepts."""
        return next(iter(self.config.clients.items()))

    def reddit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that point ``asyncpraw.Reddit`` at this simulator."""
        client_id, client_secret = self.credentials()
        return {
            "client_id": client_id,
            "client_secret": client_secret,
            "user_agent": "python:redditlake-simulator-client:0.1 (by /u/redditlake)",
            "oauth_url": self.url,
            "reddit_url": self.url,
            "check_for_updates": False,
        }


async def _start(config: SimulatorConfig | None, host: str, port: int) -> tuple[web.AppRunner, RunningSimulator]:
    app = build_app(config or SimulatorConfig())
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    return runner, RunningSimulator(url=f"http://{host}:{bound_port}", app=app)


@asynccontextmanager
async def running_simulator(config: SimulatorConfig | None = None, port: int = 0) -> AsyncIterator[RunningSimulator]:
    """Serve the simulator in the current event loop for the duration of the block."""
    runner, running = await _start(config, HOST, port)
    try:
        yield running
    finally:
        await runner.cleanup()


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread, for synchronous callers.

    World and Stats are lock-protected, so the calling thread may use ``world`` directly.
    """

    def __init__(self, config: SimulatorConfig | None = None, port: int = 0) -> None:
        self.config = config or SimulatorConfig()
        self.port = port
        self._serving: AppThread | None = None
        self._running: RunningSimulator | None = None

    def start(self) -> SimulatorThread:
        if self._serving is None:
            app = build_app(self.config)
            self._serving = AppThread(app, "reddit-simulator", self.port).start()
            self._running = RunningSimulator(url=self._serving.url, app=app)
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> RunningSimulator:
        if self._running is None:
            raise RuntimeError("simulator not started")
        return self._running

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def world(self) -> World:
        return self.running.world

    def stats(self) -> dict[str, Any]:
        return self.running.stats.snapshot()

    def reset_stats(self) -> None:
        self.running.stats.reset()

    def set_faults(self, faults: FaultConfig) -> None:
        self.running.set_faults(faults)

    def reddit_kwargs(self) -> dict[str, Any]:
        return self.running.reddit_kwargs()


async def serve_forever(config: SimulatorConfig | None = None, host: str = HOST, port: int = 8765) -> None:
    """Run until cancelled; used by ``redditlake sim``."""
    config = config or SimulatorConfig()
    runner, running = await _start(config, host, port)
    try:
        print(f"Reddit simulator listening on {running.url}", flush=True)
        for client_id, secret in config.clients.items():
            print(f"  client_id={client_id} client_secret={secret}", flush=True)
        print(f"  subreddits: {', '.join(config.subreddits)}", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

"""Start and stop the simulator: in the current event loop, in a thread, or as a CLI server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .config import FaultConfig, SimulatorConfig
from .content import World
from .server import Simulator, build_app
from .stats import Stats

HOST = "127.0.0.1"
# Slow-fault handlers may sleep for a long time; do not let them hold up shutdown.
SHUTDOWN_TIMEOUT = 0.5


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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._running: RunningSimulator | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> SimulatorThread:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="reddit-simulator", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError("simulator failed to start") from self._error
        if self._running is None:
            raise RuntimeError("simulator did not start within 30 s")
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._runner, self._running = loop.run_until_complete(_start(self.config, HOST, self.port))
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            # Handlers still sleeping (slow-response faults) are cancelled, not left to be destroyed.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

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

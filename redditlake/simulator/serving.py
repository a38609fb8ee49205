"""Serve an aiohttp app on 127.0.0.1 from its own event loop in a daemon thread.

Tests and benchmarks are synchronous callers (pytest, Prefect's engine, subprocesses)
and need the simulator and its archive running beside them; both use this.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

HOST = "127.0.0.1"
# Slow-fault handlers may sleep for a long time; do not let them hold up shutdown.
SHUTDOWN_TIMEOUT = 0.5


class AppThread:
    def __init__(self, app: web.Application, name: str, port: int = 0) -> None:
        self.app, self.name, self.port = app, name, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> AppThread:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError(f"{self.name} did not start within 30 s")
        if self._error is not None:
            raise RuntimeError(f"{self.name} failed to start") from self._error
        return self

    async def _serve(self) -> web.AppRunner:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, HOST, self.port).start()
        self.port = runner.addresses[0][1]
        return runner

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._runner = loop.run_until_complete(self._serve())
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

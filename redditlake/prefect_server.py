"""A local Prefect server that later CLI runs find and use.

Without ``PREFECT_API_URL`` every Prefect process starts a temporary server of
its own, which is most of an ad-hoc run's fixed cost. ``redditlake server`` runs
``prefect server start`` on 127.0.0.1 and leaves a note (URL and its own PID) in
the Prefect home; a CLI run that has no ``PREFECT_API_URL`` checks the note and
the server's health (well under a second) before Prefect is imported, and uses it.
Nothing here imports Prefect.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from redditlake import orphans, tether
from redditlake.errors import RedditLakeError

DEFAULT_PORT = 4210  # not Prefect's 4200, which a user's own `prefect server start` takes


def note_path() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser() / "redditlake-server.json"


def healthy(api_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def running_server() -> str | None:
    """The API URL of a healthy server started by ``redditlake server``, if any."""
    try:
        note = json.loads(note_path().read_text())
        url = note["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if healthy(url) else None


def use_running_server() -> str | None:
    """Point this process's Prefect at a running ``redditlake server`` unless told otherwise."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    url = running_server()
    if url:
        os.environ["PREFECT_API_URL"] = url
    return url


def _port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now, as uvicorn binds (``SO_REUSEADDR``).

    Without the option, the connections a server just stopped left in TIME_WAIT (a
    minute) would count as taken; with it, Linux still refuses a port something listens on.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class ServerProcess:
    """A Prefect API server in its own process group, on 127.0.0.1: start, wait, stop."""

    def __init__(self, module: str, args: list[str], port: int, env: dict[str, str], log: Path | None = None):
        """Run ``python -m module args``, tied to this process: it dies with it, however it ends."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}/api"
        self.ui_url = f"http://127.0.0.1:{port}"
        self.log = log  # None: its errors go to our stderr
        env = {**env, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
        env.pop("PREFECT_API_URL", None)
        if not (env.get("PREFECT_SERVER_UI_API_URL") or env.get("PREFECT_UI_API_URL")):  # a proxy's URL wins
            # Else the UI's pages call the API on Prefect's default port, 4200, not this one.
            env["PREFECT_SERVER_UI_API_URL"] = self.url
        out = open(log, "ab") if log else None
        try:
            self.proc = subprocess.Popen(
                tether.argv(module, *args), env=env, stdin=subprocess.DEVNULL, stdout=out or subprocess.DEVNULL,
                stderr=out, start_new_session=True,
            )
        finally:
            if out:
                out.close()
        self.note = orphans.record(self.proc.pid, self.url)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not healthy(self.url, timeout=2.0):
            if self.proc.poll() is not None:
                if self.proc.returncode == 3:  # uvicorn: the port was taken meanwhile
                    raise RedditLakeError(f"port {self.port} was taken while Prefect started; retry")
                raise RedditLakeError(
                    f"Prefect's server exited with code {self.proc.returncode} before answering: {self._last_line()}"
                )
            if time.monotonic() > deadline:
                raise RedditLakeError(
                    f"Prefect's server did not answer on {self.url} within {timeout:.0f} s (a loaded machine?); "
                    "retry, or raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
                )
            time.sleep(0.1)

    def _last_line(self) -> str:
        if self.log is None:
            return "see its output above"
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no output"
        return lines[-1] if lines else "no output"

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the workers it started
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.note:
            self.note.unlink(missing_ok=True)


def serve(port: int = DEFAULT_PORT, startup_timeout: float = 600.0) -> int:
    """Run a Prefect server (``prefect server start``, with its UI and services) on
    127.0.0.1:``port`` until interrupted (Ctrl-C or SIGTERM)."""
    url = f"http://127.0.0.1:{port}/api"
    orphans.reap()  # a server left by a crashed run or `redditlake server` would answer here
    if healthy(url):
        raise RedditLakeError(f"a Prefect server already answers on {url}: use it (export PREFECT_API_URL={url})")
    if not _port_free(port):
        raise RedditLakeError(f"port {port} on 127.0.0.1 is taken; pick another with --port")
    server = ServerProcess("prefect", ["server", "start", "--host", "127.0.0.1", "--port", str(port)], port,
                           dict(os.environ))

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    note = note_path()
    try:
        server.wait_ready(startup_timeout)
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(json.dumps({"url": url, "pid": os.getpid()}))
        print(f"Prefect server on {url}, its UI on {server.ui_url}; later redditlake runs use it. "
              "Ctrl-C stops it.", file=sys.stderr, flush=True)
        server.proc.wait()
        raise RedditLakeError(f"the Prefect server exited with code {server.proc.returncode}")
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        try:
            if json.loads(note.read_text()).get("pid") == os.getpid():
                note.unlink()
        except (OSError, ValueError):
            pass
        server.stop()


def run_server(log_dir: Path) -> ServerProcess:
    """A Prefect API server for one CLI run, started before the run needs it.

    Without ``PREFECT_API_URL`` Prefect would start a temporary server itself, but only
    when the flow starts: after this process has imported Prefect's whole server app (to
    start it) and everything else. Starting the same server (what Prefect's
    ``SubprocessASGIServer`` runs: only the services that record runs) as the first thing
    lets its start-up overlap the credential check and the imports, and keeps the server
    app out of this process. Unlike Prefect's, it serves the UI, so the run's links work.
    """
    port = _free_port()
    return ServerProcess(
        "uvicorn", ["--factory", "redditlake.prefect_app:create_app", "--host", "127.0.0.1", "--port", str(port),
                    "--log-level", "error", "--lifespan", "on"],
        port, dict(os.environ), log=log_dir / "prefect-server.log",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def api_for_run():
    """Point this process at a Prefect API for the length of one CLI run; yields a readiness wait.

    ``PREFECT_API_URL`` when set, else a running ``redditlake server``, else a server started
    now for this run only (stopped when the run ends). Call the yielded function before the
    first flow starts; until then the server starts in the background.
    """
    orphans.reap()  # before looking for a running server: a crashed one's orphan would be found
    if use_running_server():
        yield lambda: None
        return
    with tempfile.TemporaryDirectory(prefix="redditlake-run-") as tmp:
        server = run_server(Path(tmp))
        os.environ["PREFECT_API_URL"] = server.url
        timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 120)
        used = False

        def ready() -> None:
            nonlocal used
            server.wait_ready(timeout)
            used = True

        try:
            yield ready
        finally:
            _drain_prefect_workers()
            server.stop(timeout=10)
            os.environ.pop("PREFECT_API_URL", None)
            if used:  # the "View at" links Prefect printed lead to a server that is gone now
                print(f"(the Prefect server at {server.ui_url} stopped with this run; its runs stay in the "
                      f"Prefect home: `redditlake server` shows them at http://127.0.0.1:{DEFAULT_PORT})",
                      file=sys.stderr, flush=True)


def _drain_prefect_workers() -> None:
    """Send the logs and events Prefect still holds while the server can take them.

    (Prefect drains them at interpreter exit, after this run's server is gone: 'Error
    logging to API'.) Nothing to do when Prefect was never imported.
    """
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=10)
        except Exception:  # noqa: BLE001 - a worker that never started, or a server already gone
            pass

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
import time
import urllib.error
import urllib.request
from pathlib import Path

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
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serve(port: int = DEFAULT_PORT, startup_timeout: float = 600.0) -> int:
    """Run a Prefect server on 127.0.0.1:``port`` until interrupted (Ctrl-C or SIGTERM)."""
    url = f"http://127.0.0.1:{port}/api"
    if healthy(url):
        raise RedditLakeError(f"a Prefect server already answers on {url}: use it (export PREFECT_API_URL={url})")
    if not _port_free(port):
        raise RedditLakeError(f"port {port} on 127.0.0.1 is taken; pick another with --port")
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
    )

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    note = note_path()
    try:
        deadline = time.monotonic() + startup_timeout
        while not healthy(url):
            if proc.poll() is not None:
                raise RedditLakeError(f"`prefect server start` exited with code {proc.returncode}; see its output above")
            if time.monotonic() > deadline:
                raise RedditLakeError(f"the Prefect server did not answer on {url} within {startup_timeout:.0f} s")
            time.sleep(0.3)
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(json.dumps({"url": url, "pid": os.getpid()}))
        print(f"Prefect server on {url} (UI: http://127.0.0.1:{port}); later redditlake runs use it. "
              "Ctrl-C stops it.", file=sys.stderr, flush=True)
        proc.wait()
        raise RedditLakeError(f"the Prefect server exited with code {proc.returncode}")
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        try:
            if json.loads(note.read_text()).get("pid") == os.getpid():
                note.unlink()
        except (OSError, ValueError):
            pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

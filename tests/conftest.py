"""Fixtures build real servers: the Reddit simulator over HTTP on 127.0.0.1, a
Prefect test server (one per session), moto's S3 server."""

from __future__ import annotations

import itertools
import os
import tempfile

# Before anything imports Prefect: no telemetry, and a throwaway Prefect home.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="redditlake-prefect-")
os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")
# Live credentials are kept for tests/test_live.py only; every other test talks to the simulator.
LIVE_CREDENTIALS = {k: os.environ[k] for k in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USER_AGENT") if os.environ.get(k)}
for var in (
    "REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USER_AGENT", "REDDIT_OAUTH_URL", "REDDIT_URL",
    "REDDITLAKE_LAKE", "REDDITLAKE_CONFIG", "REDDITLAKE_REDDIT_BLOCK", "REDDITLAKE_PSEUDONYM_KEY",
):
    os.environ.pop(var, None)

import pytest  # noqa: E402

from redditlake.config import Settings, load_settings  # noqa: E402
from redditlake.simulator import SimulatorConfig, SimulatorThread  # noqa: E402


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API server for the whole session (~15 s to start, once)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    # Startup takes ~15 s on a quiet machine; a loaded shared one can take minutes.
    with prefect_test_harness(server_startup_timeout=int(os.environ.get("REDDITLAKE_TEST_PREFECT_STARTUP_S", "300"))):
        yield PREFECT_API_URL.value()


def sim_env(sim: SimulatorThread, lake: str | None = None, **extra: str) -> dict[str, str]:
    """The environment a user sets to point redditlake at this simulator."""
    client_id, secret = next(iter(sim.config.clients.items()))
    env = {"REDDIT_OAUTH_URL": sim.url, "REDDIT_URL": sim.url, "REDDIT_CLIENT_ID": client_id, "REDDIT_CLIENT_SECRET": secret}
    if lake:
        env["REDDITLAKE_LAKE"] = lake
    return {**env, **extra}


def query_rows(lake, sql: str) -> list[tuple]:
    """Rows of a DuckDB query over the lake's views."""
    con = lake.duckdb()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def sim_settings(sim: SimulatorThread, lake: str, **collect) -> Settings:
    settings = load_settings(env=sim_env(sim, lake))
    budget = settings.budget.model_copy(
        update={
            "requests_per_minute": sim.config.requests_per_window * 60 / sim.config.window_seconds,
            "window_seconds": sim.config.window_seconds,
        }
    )
    http = settings.http.model_copy(update={"backoff_base": 0.05, "backoff_max": 0.5})
    return settings.model_copy(
        update={"collect": settings.collect.model_copy(update=collect), "budget": budget, "http": http}
    )


def archive_settings(sim, archive, lake_uri: str, **archive_opts):
    """``sim_settings`` with both archive sources pointed at the archive simulator, unthrottled."""
    s = sim_settings(sim, lake_uri)
    opts = {"pullpush_url": archive.url, "arcticshift_url": archive.url, "requests_per_minute": 60_000, **archive_opts}
    return s.model_copy(update={"archive": s.archive.model_copy(update=opts)})

@pytest.fixture
def make_sim():
    """Start simulators with a given config; all are stopped after the test."""
    started: list[SimulatorThread] = []

    def start(**config) -> SimulatorThread:
        config.setdefault("requests_per_window", 1000)
        config.setdefault("window_seconds", 10)
        # Post and comment ids random: nothing may lean on id order (Reddit's comment ids are random).
        config.setdefault("random_ids", "all")
        sim = SimulatorThread(SimulatorConfig(**config)).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim):
    return make_sim(posts_per_subreddit=60, comments_per_post_mean=15)


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server over HTTP on 127.0.0.1, one per test module."""
    from s3server import moto_s3_server

    with moto_s3_server() as endpoint:
        yield endpoint


_buckets = itertools.count()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the S3 server, with the test credentials and no other AWS settings."""
    from s3server import TEST_CREDENTIALS, make_bucket

    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    name = f"lake-{next(_buckets)}"
    make_bucket(s3_endpoint, name)
    return name


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with(env_entry: str) -> list[int]:
    """PIDs of live processes whose environment holds ``env_entry`` (e.g. one test's PREFECT_HOME)."""
    found = []
    for proc in os.listdir("/proc"):
        if proc.isdigit():
            try:
                with open(f"/proc/{proc}/environ", "rb") as f:
                    if env_entry.encode() in f.read().split(b"\0"):
                        found.append(int(proc))
            except OSError:
                continue
    return found


def chromium() -> str:
    """Headless Chromium's path. Under CI (CI=true) it is required, as .ci/run installs it."""
    path = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no /usr/bin/chromium: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no /usr/bin/chromium on this machine (apt-get install chromium; required under CI=true)")
    return path


def rendered_dom(url: str, profile_dir, budget_ms: int = 20000) -> str:
    """The DOM of ``url`` after its scripts ran (JS apps such as Prefect's UI), in headless Chromium."""
    import subprocess

    out = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile_dir}", "--window-size=1400,3000", f"--virtual-time-budget={budget_ms}",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout

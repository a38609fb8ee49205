"""End to end, as production runs it: a real `prefect server start` (on PostgreSQL when
127.0.0.1:5432 answers, else SQLite), moto's S3 server, the simulator, blocks registered,
`redditlake deploy` from a collection.yaml, `redditlake alerts setup` with a local webhook
receiver, runs triggered with `prefect deployment run` and by a cron schedule, and two
process workers on prioritised queues. Every process started here is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import query_rows
from redditlake.lake import Lake
from s3server import TEST_CREDENTIALS, make_bucket, moto_s3_server

# A few minutes on a quiet 2-core machine; the ceiling leaves room for a loaded one.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG = ("127.0.0.1", 5432)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _postgres_database() -> tuple[str, str] | None:
    """A fresh database on the local PostgreSQL (trust auth, user postgres): (url, name)."""
    if not _answers(*PG):
        return None
    import asyncio

    import asyncpg

    name = f"redditlake_e2e_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        con = await asyncpg.connect(user="postgres", host=PG[0], port=PG[1], database="postgres", timeout=10)
        try:
            await con.execute(f'CREATE DATABASE "{name}"')
        finally:
            await con.close()

    try:
        asyncio.run(create())
    except Exception:  # reachable but not usable as documented: fall back to SQLite
        return None
    return f"postgresql+asyncpg://postgres@{PG[0]}:{PG[1]}/{name}", name


def _drop_database(name: str) -> None:
    import asyncio

    import asyncpg

    async def drop() -> None:
        con = await asyncpg.connect(user="postgres", host=PG[0], port=PG[1], database="postgres", timeout=10)
        try:
            await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await con.close()

    asyncio.run(drop())


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    received.append(json.loads(raw))
                except ValueError:
                    received.append({"unparsed": raw.decode(errors="replace")})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class Processes:
    """Subprocesses of this test, stopped by PID (terminate, then kill) at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs, self.procs = logs, []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "wb")
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((proc, out))
        return proc

    def stop(self, api: str | None = None) -> None:
        """Workers first (their own process groups), then the flow runs they started, which
        Prefect runs in sessions of their own: their PIDs come from the API."""
        runs = _run_pids(api) if api else []
        for proc, _ in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)  # its own session: the worker and the flow runs it started
        deadline = time.monotonic() + 20
        for proc, out in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
            out.close()
        self.procs = []
        for pid in runs:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass


def run(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def e2e_dir(tmp_path: Path) -> Path:
    """Logs of every process stay here (pytest keeps the last runs' tmp_path) for a failure's post-mortem."""
    return tmp_path


def wait_for(what: str, check, timeout: float, interval: float = 2.0, logs: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    tails = ""
    if logs:
        for log in sorted(logs.glob("*.log")):
            tails += f"\n--- {log.name} ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
    raise AssertionError(f"timed out waiting for {what}{tails}")


def test_deployed_collection_runs_on_workers_lands_on_s3_once_and_alerts_on_failure(make_sim, e2e_dir, monkeypatch):
    sim = make_sim(posts_per_subreddit=40, comments_per_post_mean=4, requests_per_window=200, window_seconds=10)
    client_id, secret = next(iter(sim.config.clients.items()))
    pg = _postgres_database()
    procs = Processes(e2e_dir)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REDDIT", "AWS_"))}
    base_env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PREFECT_HOME=str(e2e_dir / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_API_URL=api,
        PREFECT_LOGGING_LEVEL="INFO",
        PREFECT_WORKER_QUERY_SECONDS="3",
    )
    server_env = {
        **base_env,
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_API_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_API_SERVICES_LATE_RUNS_LOOP_SECONDS": "5",
        "PREFECT_API_DATABASE_CONNECTION_URL": pg[0] if pg else f"sqlite+aiosqlite:///{e2e_dir / 'prefect.db'}",
    }
    try:
        with moto_s3_server() as s3, Receiver() as receiver:
            bucket = f"e2e-{uuid.uuid4().hex[:8]}"
            for k, v in TEST_CREDENTIALS.items():  # for reading the lake from here
                monkeypatch.setenv(k, v)
            make_bucket(s3, bucket)

            procs.start("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                        server_env)
            wait_for("the Prefect server", lambda: _healthy(api), 240, 1.0, e2e_dir)

            # blocks: types registered, then a Reddit app and a lake (keys only in blocks)
            env = {**base_env, "REDDIT_OAUTH_URL": sim.url, "REDDIT_URL": sim.url}
            run([str(BIN / "prefect"), "block", "register", "-m", "blocks"], env)
            save_blocks = (
                "import os; from blocks.reddit import RedditApp; from blocks.lake import save_lake_block; "
                "RedditApp(client_id=os.environ['REDDIT_CLIENT_ID'], client_secret=os.environ['REDDIT_CLIENT_SECRET'])"
                ".save('e2e-app', overwrite=True); "
                f"save_lake_block('e2e-lake', 's3://{bucket}/lake', '{s3}')"
            )  # what `python -m blocks.reddit` and `python -m blocks.lake` do, in one process
            run([sys.executable, "-c", save_blocks],
                {**env, **TEST_CREDENTIALS, "REDDIT_CLIENT_ID": client_id, "REDDIT_CLIENT_SECRET": secret})

            collection = {
                "collection": {
                    "subreddits": [
                        # triggered by hand; high priority
                        {"name": "python", "collection_frequency": "0 0 1 1 *", "post_limit": 30,
                         "sorting": ["new", "hot"], "priority": "high", "time_limit": "5m"},
                        # its cron fires within the minute
                        {"name": "datascience", "collection_frequency": "* * * * *", "post_limit": 20,
                         "priority": "medium", "time_limit": "5m"},
                        # private in the simulator: the injected failure
                        {"name": "secretclub", "collection_frequency": "0 0 1 1 *", "post_limit": 10,
                         "priority": "low", "time_limit": "2m"},
                    ]
                },
                "rate_limiting": {"requests_per_minute": 1200, "window_seconds": 10, "safety_margin": 3},
                "refresh": None,
                "work_pool": {"name": "e2e-pool", "type": "process"},
                "blocks": {"reddit": "e2e-app", "lake": "e2e-lake"},
            }
            file = e2e_dir / "collection.yaml"
            file.write_text(yaml.safe_dump(collection))
            redditlake = str(BIN / "redditlake")
            run([redditlake, "deploy", "--file", str(file)], env)
            assert "deployed as written" in run([redditlake, "deploy", "--file", str(file), "--check"], env).stdout
            run([redditlake, "alerts", "setup", "--webhook", receiver.url, "--late-minutes", "10"], env)

            run([str(BIN / "prefect"), "deployment", "run", "collect-scheduled/python"], env)
            _run_deployment(api, "collect-scheduled/secretclub")  # the same request, without another Prefect start-up

            health_port = _free_port()
            # two workers: one on the high-priority queue only, one on the whole pool (by priority)
            procs.start("worker-high", [str(BIN / "prefect"), "worker", "start", "--pool", "e2e-pool",
                                        "--work-queue", "high", "--type", "process", "--limit", "1"], env)
            procs.start("worker-all", [str(BIN / "prefect"), "worker", "start", "--pool", "e2e-pool",
                                       "--type", "process", "--limit", "2", "--with-healthcheck"],
                        {**env, "PREFECT_WORKER_WEBSERVER_HOST": "127.0.0.1",
                         "PREFECT_WORKER_WEBSERVER_PORT": str(health_port)})

            def finished() -> dict[str, list[str]] | None:
                states = _run_states(api)
                done = {k: v for k, v in states.items() if any(s in ("COMPLETED", "FAILED", "CRASHED") for s in v)}
                return states if {"r/python", "r/datascience", "r/secretclub"} <= set(done) else None

            states = wait_for("runs of python, datascience (cron) and secretclub", finished, 300, 3.0, e2e_dir)
            assert "COMPLETED" in states["r/python"] and "COMPLETED" in states["r/datascience"], states
            assert states["r/secretclub"] == ["FAILED"], states

            def alerted() -> list[dict] | None:
                got = [b for b in receiver.bodies if "secretclub" in json.dumps(b)]
                kinds = {b.get("alert") for b in got}
                return got if "run Failed" in kinds and "redditlake.run.error-rate-high" in kinds else None

            assert httpx.get(f"http://127.0.0.1:{health_port}/health", timeout=5).status_code == 200  # --with-healthcheck
            bodies = wait_for("webhook alerts for r/secretclub", alerted, 60, 1.0, e2e_dir)
            failed = next(b for b in bodies if b.get("alert") == "run Failed")
            assert failed["subreddit"] == "r/secretclub" and "private" in failed["reason"], failed
            event = next(b for b in bodies if b.get("alert") == "redditlake.run.error-rate-high")
            assert event["subreddit"] == "secretclub" and "requests failed" in event["reason"], event

            procs.stop(api)
            lake = Lake.open(f"s3://{bucket}/lake", endpoint_url=s3)
            subs = dict(query_rows(lake, "SELECT subreddit, count(*) FROM posts GROUP BY ALL"))
            assert subs["python"] >= 30 and subs["datascience"] >= 20, subs
            for table in ("posts", "comments", "subreddits"):
                dupes = query_rows(lake, f"SELECT count(*) - count(DISTINCT id) FROM {table}")[0][0]
                assert dupes == 0, f"{table}: {dupes} duplicates"
            stored = {r[0] for r in query_rows(lake, "SELECT id FROM comments WHERE subreddit = 'python'")}
            posts = {r[0] for r in query_rows(lake, "SELECT id FROM posts WHERE subreddit = 'python'")}
            assert stored == {c for p in posts for c in sim.world.comment_ids(p)}
            assert query_rows(lake, "SELECT count(*) FROM api_requests WHERE status = 429")[0][0] == 0
            assert sim.stats()["rate_limited"] == 0  # one budget held across both workers
            assert "secretclub" not in subs
    finally:
        procs.stop(api)
        if pg:
            _drop_database(pg[1])


def _run_pids(api: str) -> list[int]:
    """PIDs of this machine's flow runs that have not finished (``infrastructure_pid`` is host:pid)."""
    try:
        body = {"flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}}, "limit": 200}
        runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    except httpx.HTTPError:
        return []
    host = socket.gethostname()
    pids = []
    for r in runs:
        where, _, pid = (r.get("infrastructure_pid") or "").rpartition(":")
        if pid.isdigit() and where == host:
            pids.append(int(pid))
    return pids


def _run_deployment(api: str, name: str) -> None:
    deployment = httpx.get(f"{api}/deployments/name/{name}", timeout=10).json()
    httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json={}, timeout=10).raise_for_status()


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _run_states(api: str) -> dict[str, list[str]]:
    """Top-level runs of the scheduled flow, by run name (r/NAME): their state types."""
    body = {"flows": {"name": {"any_": ["collect-scheduled"]}}, "flow_runs": {"parent_task_run_id": {"is_null_": True}},
            "limit": 200}
    runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    out: dict[str, list[str]] = {}
    for r in runs:
        if r["state_type"] != "SCHEDULED":
            out.setdefault(r["name"], []).append(r["state_type"])
    return out

"""End to end, as production runs it: a real `prefect server start` on PostgreSQL
(127.0.0.1:5432; required under CI, else SQLite with a warning), moto's S3 server, the simulator, blocks registered,
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
import warnings
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import query_rows
from redditlake.lake import Lake
from s3server import TEST_CREDENTIALS, list_keys, make_bucket, moto_s3_server

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


def _postgres_admin(sql: str, database: str = "postgres") -> list[tuple]:
    """One statement on the local PostgreSQL (trust auth, user postgres): its rows."""
    import asyncio

    import asyncpg

    async def run() -> list[tuple]:
        con = await asyncpg.connect(user="postgres", host=PG[0], port=PG[1], database=database, timeout=10)
        try:
            return [tuple(r) for r in await con.fetch(sql)]
        finally:
            await con.close()

    return asyncio.run(run())


def _postgres_database() -> tuple[str, str] | None:
    """A fresh database on the local PostgreSQL: (url, name).

    Production's Prefect servers run on PostgreSQL, so under CI (``CI`` set) it is
    required and its absence fails the test; elsewhere the test says it falls back
    to SQLite."""
    required = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    name = f"redditlake_e2e_{uuid.uuid4().hex[:10]}"
    try:
        if not _answers(*PG):
            raise OSError(f"nothing answers on {PG[0]}:{PG[1]}")
        _postgres_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if required:
            pytest.fail(f"PostgreSQL on {PG[0]}:{PG[1]} is required under CI and is not usable: {exc}")
        warnings.warn(f"PostgreSQL not usable ({exc}): the end-to-end test runs Prefect on SQLite", stacklevel=2)
        return None
    return f"postgresql+asyncpg://postgres@{PG[0]}:{PG[1]}/{name}", name


def _drop_database(name: str) -> None:
    if not name.startswith("redditlake_e2e_"):  # only a database _postgres_database made
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


# What the test sets so waits stay short; production keeps the defaults (docs/operations.md).
SLOT_LEASE_S = 60  # rate_limiting.slot_lease_seconds: the default, the shortest Prefect accepts
ZOMBIE_S = 60  # redditlake alerts setup --zombie-seconds (default 90); runs beat every 30 s
REPOSSESSOR_S = 5  # the server's expired-lease loop (default 15)


class Hog(threading.Thread):
    """Another process on a client id: spends its rate-limit window as soon as it opens, so a
    run on that id sees the window nearly spent early (rate limit approaching) and gets 429s."""

    def __init__(self, url: str, client_id: str, secret: str) -> None:
        super().__init__(daemon=True)
        self.url, self.auth = url, (client_id, secret)
        self.halt = threading.Event()
        self.rate_limited = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            token = http.post("/api/v1/access_token", auth=self.auth, data={"grant_type": "client_credentials"})
            headers = {"Authorization": f"bearer {token.json()['access_token']}"}
            while not self.halt.is_set():
                if http.get("/r/worldnews/about", headers=headers).status_code == 429:
                    self.rate_limited += 1
                    self.halt.wait(0.3)


def image_worker_command(env: dict[str, str], pool: str, health_port: int) -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's CMD and ENV, to run here as the image would run them (no docker): the
    final stage's variables, the pool's name and type, and this checkout for /app."""
    final = (ROOT / "Dockerfile").read_text().split("\nFROM ")[-1].replace("\\\n", " ")
    image_env: dict[str, str] = {}
    cmd: list[str] = []
    for line in final.splitlines():
        if line.startswith("ENV "):
            for pair in line[4:].split():
                key, _, value = pair.partition("=")
                image_env[key] = value
        elif line.startswith("CMD "):
            cmd = json.loads(line[4:])
    assert cmd and "REDDITLAKE_WORK_POOL" in image_env, "Dockerfile lost its CMD or its pool variables"
    image_env.pop("PATH")  # /app/.venv/bin there; this checkout's environment here
    image_env["PREFECT_HOME"] = env["PREFECT_HOME"]
    return cmd, {**env, **image_env, "REDDITLAKE_WORK_POOL": pool, "REDDITLAKE_WORKER_TYPE": "process",
                 "PREFECT_WORKER_WEBSERVER_HOST": "127.0.0.1", "PREFECT_WORKER_WEBSERVER_PORT": str(health_port)}


def test_deployed_collection_runs_on_workers_lands_on_s3_once_and_alerts_on_failure(make_sim, e2e_dir, monkeypatch):
    sim = make_sim(posts_per_subreddit=40, comments_per_post_mean=4, requests_per_window=200, window_seconds=10,
                   clients={"sim-client": "sim-secret", "noisy-client": "noisy-secret"})
    client_id, secret = "sim-client", "sim-secret"
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
        "PREFECT_API_SERVICES_LATE_RUNS_AFTER_SECONDS": "5",
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": str(REPOSSESSOR_S),
        "PREFECT_API_DATABASE_CONNECTION_URL": pg[0] if pg else f"sqlite+aiosqlite:///{e2e_dir / 'prefect.db'}",
    }
    hog = Hog(sim.url, "noisy-client", "noisy-secret")
    try:
        with moto_s3_server() as s3, Receiver() as receiver:
            bucket = f"e2e-{uuid.uuid4().hex[:8]}"
            for k, v in TEST_CREDENTIALS.items():  # for reading the lake from here
                monkeypatch.setenv(k, v)
            make_bucket(s3, bucket)

            procs.start("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                        server_env)
            wait_for("the Prefect server", lambda: _healthy(api), 240, 1.0, e2e_dir)
            metrics_port = _free_port()  # /healthz and /metrics, started now so its start-up overlaps
            procs.start("serve", [str(BIN / "redditlake"), "serve", "--port", str(metrics_port),
                                  "--lake", f"s3://{bucket}/lake"],
                        {**base_env, **TEST_CREDENTIALS, "AWS_ENDPOINT_URL_S3": s3})

            # blocks: types registered, then two Reddit apps and a lake (keys only in blocks)
            env = {**base_env, "REDDIT_OAUTH_URL": sim.url, "REDDIT_URL": sim.url}
            run([str(BIN / "prefect"), "block", "register", "-m", "blocks"], env)
            save_blocks = (
                "import os; from blocks.reddit import RedditApp; from blocks.lake import save_lake_block; "
                "RedditApp(client_id=os.environ['REDDIT_CLIENT_ID'], client_secret=os.environ['REDDIT_CLIENT_SECRET'])"
                ".save('e2e-app', overwrite=True); "
                "RedditApp(client_id='noisy-client', client_secret='noisy-secret').save('e2e-noisy-app', overwrite=True); "
                f"save_lake_block('e2e-lake', 's3://{bucket}/lake', '{s3}')"
            )  # what `python -m blocks.reddit` and `python -m blocks.lake` do, in one process
            run([sys.executable, "-c", save_blocks],
                {**env, **TEST_CREDENTIALS, "REDDIT_CLIENT_ID": client_id, "REDDIT_CLIENT_SECRET": secret})

            yearly = "0 0 1 1 *"  # runs only when triggered here
            collection = {
                "collection": {
                    "subreddits": [
                        # triggered by hand; high priority
                        {"name": "python", "collection_frequency": yearly, "post_limit": 30,
                         "sorting": ["new", "hot"], "priority": "high", "time_limit": "5m"},
                        # its cron fires within the minute
                        {"name": "datascience", "collection_frequency": "* * * * *", "post_limit": 20,
                         "priority": "medium", "time_limit": "5m"},
                        # private in the simulator: the injected failure
                        {"name": "secretclub", "collection_frequency": yearly, "post_limit": 10,
                         "priority": "medium", "time_limit": "2m"},
                        # its worker is killed mid-run; the next run completes it
                        {"name": "worldnews", "collection_frequency": yearly, "post_limit": 40,
                         "priority": "high", "time_limit": "5m"},
                        # run on a second app whose window another process spends: 429s
                        {"name": "askscience", "collection_frequency": yearly, "post_limit": 10,
                         "priority": "medium", "time_limit": "5m"},
                        # on the low queue, paused: its run goes Late and is alerted
                        {"name": "aww", "collection_frequency": yearly, "post_limit": 10,
                         "priority": "low", "time_limit": "5m"},
                    ]
                },
                "rate_limiting": {"requests_per_minute": 1200, "window_seconds": 10, "safety_margin": 3,
                                  "slot_lease_seconds": SLOT_LEASE_S},
                "refresh": None,
                "work_pool": {"name": "e2e-pool", "type": "process"},
                "blocks": {"reddit": "e2e-app", "lake": "e2e-lake"},
            }
            file = e2e_dir / "collection.yaml"
            file.write_text(yaml.safe_dump(collection))
            redditlake = str(BIN / "redditlake")
            run([redditlake, "deploy", "--file", str(file)], env)
            assert "deployed as written" in run([redditlake, "deploy", "--file", str(file), "--check"], env).stdout
            run([redditlake, "alerts", "setup", "--webhook", receiver.url, "--late-minutes", "0.2",
                 "--zombie-seconds", str(ZOMBIE_S)], env)
            httpx.patch(f"{api}/work_pools/e2e-pool/queues/low", json={"is_paused": True}, timeout=10).raise_for_status()

            # -- a worker killed mid-run: worldnews, alone on a worker, slowed so it is caught mid-run
            _sim_faults(sim, {"slow_rate": 1.0, "slow_seconds": 1.5})
            doomed_run = _run_deployment(api, "collect-scheduled/worldnews")
            late_run = _run_deployment(api, "collect-scheduled/aww")  # its queue is paused: nobody takes it
            doomed = procs.start("worker-doomed", [str(BIN / "prefect"), "worker", "start", "--pool", "e2e-pool",
                                                   "--work-queue", "high", "--type", "process", "--limit", "1"], env)

            def caught_mid_run() -> int | None:
                fr = _flow_run(api, doomed_run)
                where, _, pid = (fr.get("infrastructure_pid") or "").rpartition(":")
                landed = list_keys(s3, bucket, "lake/posts/subreddit=worldnews/")
                if fr["state_type"] == "RUNNING" and pid.isdigit() and landed:
                    return int(pid)
                assert fr["state_type"] in ("SCHEDULED", "PENDING", "RUNNING"), fr["state"].get("message")
                return None

            run_pid = wait_for("worldnews running with its posts landed", caught_mid_run, 240, 0.3, e2e_dir)
            assert _parent_pid(run_pid) == doomed.pid  # the run is the doomed worker's child
            os.kill(doomed.pid, 9)  # the host goes: the worker and the run it started
            os.kill(run_pid, 9)
            killed_at = time.monotonic()
            _sim_faults(sim, {})

            # -- the rest runs on two workers: one on the high queue, one started by the image's command
            run([str(BIN / "prefect"), "deployment", "run", "collect-scheduled/python"], env)
            _run_deployment(api, "collect-scheduled/secretclub")  # the same request, without another Prefect start-up
            _run_deployment(api, "collect-scheduled/askscience", {"reddit_block": "e2e-noisy-app"})
            hog.start()
            health_port = _free_port()
            procs.start("worker-high", [str(BIN / "prefect"), "worker", "start", "--pool", "e2e-pool",
                                        "--work-queue", "high", "--type", "process", "--limit", "1"], env)
            procs.start("worker-image", *image_worker_command(env, "e2e-pool", health_port))

            # the killed run's subreddit slot frees within its lease (not Prefect's default 300 s)
            def slot_free() -> bool:
                limit = httpx.get(f"{api}/v2/concurrency_limits/collect-r-worldnews", timeout=10).json()
                return limit["active_slots"] == 0

            wait_for("the killed run's slot to be freed", slot_free, SLOT_LEASE_S + REPOSSESSOR_S + 60, 1.0, e2e_dir)
            freed_after = time.monotonic() - killed_at
            assert freed_after < SLOT_LEASE_S + REPOSSESSOR_S + 45, freed_after

            def got(alert: str, subreddit: str) -> dict | None:
                return next((b for b in list(receiver.bodies)
                             if b.get("alert") == alert and subreddit in str(b.get("subreddit"))), None)

            # a late run: queued on a paused queue, Late after 5 s, alerted 12 s later
            late = wait_for("the late-run alert for r/aww", lambda: got("run late", "r/aww"), 120, 1.0, e2e_dir)
            assert late["flow_run_id"] == late_run and "not started" in late["reason"], late
            # the image's command serves the worker's /health (--with-healthcheck); asked while the
            # worker is young: on a loaded machine a busy process worker can miss its polling window
            wait_for("the image worker's /health", lambda: _status(f"http://127.0.0.1:{health_port}/health") == 200,
                     60, 1.0, e2e_dir)
            # 429s and the window spent early, from a real run on the hogged app
            limited = wait_for("a 429 alert for r/askscience", lambda: got("redditlake.api.rate-limited", "askscience"),
                               240, 1.0, e2e_dir)
            assert limited["subreddit"] == "askscience" and "HTTP 429" in limited["reason"], limited
            near = wait_for("a rate-limit-approaching alert for r/askscience",
                            lambda: got("redditlake.api.rate-limit-approaching", "askscience"), 60, 1.0, e2e_dir)
            assert "requests left" in near["reason"], near
            hog.halt.set()

            # the killed run is marked Crashed (no heartbeat for ZOMBIE_S) and alerted
            crashed = wait_for("the killed run's Crashed alert", lambda: got("run Crashed", "r/worldnews"),
                               ZOMBIE_S + 180, 1.0, e2e_dir)
            assert crashed["flow_run_id"] == doomed_run and "heartbeat" in crashed["reason"], crashed
            assert _flow_run(api, doomed_run)["state_type"] == "CRASHED"
            next_run = _run_deployment(api, "collect-scheduled/worldnews")  # the next run proceeds

            def finished() -> dict[str, list[str]] | None:
                states = _run_states(api)
                done = {k: v for k, v in states.items() if any(s in ("COMPLETED", "FAILED", "CRASHED") for s in v)}
                wanted = {"r/python", "r/datascience", "r/secretclub", "r/askscience"}
                if wanted <= set(done) and _flow_run(api, next_run)["state_type"] in ("COMPLETED", "FAILED", "CRASHED"):
                    return states
                return None

            states = wait_for("runs of python, datascience (cron), secretclub, askscience and worldnews again",
                              finished, 300, 3.0, e2e_dir)
            assert "COMPLETED" in states["r/python"] and "COMPLETED" in states["r/datascience"], states
            assert states["r/secretclub"] == ["FAILED"], states
            assert states["r/askscience"] == ["COMPLETED"], states  # 429s were retried, not fatal
            assert sorted(states["r/worldnews"]) == ["COMPLETED", "CRASHED"], states
            assert _flow_run(api, late_run)["state_name"] == "Late"

            def alerted() -> list[dict] | None:
                got_ = [b for b in receiver.bodies if "secretclub" in json.dumps(b)]
                kinds = {b.get("alert") for b in got_}
                return got_ if "run Failed" in kinds and "redditlake.run.error-rate-high" in kinds else None

            bodies = wait_for("webhook alerts for r/secretclub", alerted, 60, 1.0, e2e_dir)
            failed = next(b for b in bodies if b.get("alert") == "run Failed")
            assert failed["subreddit"] == "r/secretclub" and "private" in failed["reason"], failed
            event = next(b for b in bodies if b.get("alert") == "redditlake.run.error-rate-high")
            assert event["subreddit"] == "secretclub" and "requests failed" in event["reason"], event

            metrics = _scrape(f"http://127.0.0.1:{metrics_port}/metrics")
            for sub in ("python", "datascience"):
                assert 0.9 <= metrics[f'redditlake_quality_score{{subreddit="{sub}",table="posts"}}'] <= 1.0, metrics
            assert metrics["redditlake_late_runs"] >= 1 and metrics['redditlake_flow_runs{state="crashed"}'] >= 1

            procs.stop(api)
            lake = Lake.open(f"s3://{bucket}/lake", endpoint_url=s3)
            subs = dict(query_rows(lake, "SELECT subreddit, count(*) FROM posts GROUP BY ALL"))
            assert subs["python"] >= 30 and subs["datascience"] >= 20, subs
            for table in ("posts", "comments", "subreddits"):
                dupes = query_rows(lake, f"SELECT count(*) - count(DISTINCT id) FROM {table}")[0][0]
                assert dupes == 0, f"{table}: {dupes} duplicates"
            truth = sim.world.post_ids("worldnews")
            assert subs["worldnews"] == min(40, len(truth)), subs  # the killed run's part plus the next run's
            for sub in ("python", "worldnews"):
                stored = {r[0] for r in query_rows(lake, f"SELECT id FROM comments WHERE subreddit = '{sub}'")}
                posts = {r[0] for r in query_rows(lake, f"SELECT id FROM posts WHERE subreddit = '{sub}'")}
                assert stored == {c for p in posts for c in sim.world.comment_ids(p)}, sub
            hidden = [k for k in list_keys(s3, bucket, "lake/") if "/." in k or "/_tmp" in k]
            assert not hidden, f"partial files left: {hidden[:5]}"
            # one request budget held across all workers on sim-client: every 429 is the hog's or askscience's
            n429 = dict(query_rows(lake, "SELECT subreddit, count(*) FROM api_requests WHERE status = 429 GROUP BY ALL"))
            assert set(n429) <= {"askscience"}, n429
            assert sim.stats()["rate_limited"] == hog.rate_limited + n429.get("askscience", 0)
            assert "secretclub" not in subs

            # the quality catalog has the deployed runs' jobs and validations
            from redditlake.config import load_settings
            from redditlake.quality import commands

            catalog = commands.build_catalog(load_settings(env={}), lake, str(e2e_dir / "quality.duckdb"))
            import duckdb

            con = duckdb.connect(str(catalog), read_only=True)
            try:
                jobs = dict(con.execute("SELECT subreddit, count(*) FROM collection_jobs GROUP BY ALL").fetchall())
                validated = dict(con.execute("SELECT subreddit, count(*) FROM validation_runs GROUP BY ALL").fetchall())
            finally:
                con.close()
            assert {"python", "datascience", "worldnews"} <= set(validated), validated
            assert {"python", "datascience", "worldnews", "secretclub"} <= set(jobs), jobs
            if pg:  # the server really ran on PostgreSQL: the deployed runs are rows in its database
                runs = _postgres_admin("SELECT count(*) FROM flow_run", database=pg[1])[0][0]
                assert runs >= 4, runs
    finally:
        hog.halt.set()
        procs.stop(api)
        if pg:
            _drop_database(pg[1])


def _sim_faults(sim, faults: dict) -> None:
    httpx.post(f"{sim.url}/_sim/faults", json=faults, timeout=10).raise_for_status()


def _parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _flow_run(api: str, run_id: str) -> dict:
    return httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return None


def _scrape(url: str) -> dict[str, float]:
    text = httpx.get(url, timeout=60).text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


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


def _run_deployment(api: str, name: str, parameters: dict | None = None) -> str:
    """What `prefect deployment run NAME [--param ...]` does; the new run's id."""
    deployment = httpx.get(f"{api}/deployments/name/{name}", timeout=10).json()
    body = {"parameters": {**deployment["parameters"], **(parameters or {})}} if parameters else {}
    created = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json=body, timeout=10)
    created.raise_for_status()
    return created.json()["id"]


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

"""Running it in production: collection.yaml → deployments on a real Prefect API, time
limits, alert events, and the /healthz + /metrics endpoints scraped over HTTP."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest
import yaml

from conftest import query_rows, sim_env
from redditlake import alerts
from redditlake.cli import main
from redditlake.collection import deployment_specs, load_collection
from redditlake.errors import ConfigError
from redditlake.lake import Lake

ROOT = Path(__file__).resolve().parents[1]
# The first Prefect test of a session also pays the test server's start-up: minutes on a loaded machine.
pytestmark = pytest.mark.timeout(900)

FILE = {
    "collection": {
        "subreddits": [
            {"name": "python", "collection_frequency": "1h", "post_limit": 20, "sorting": ["new", "hot"],
             "priority": "high", "time_limit": "10m", "comment_depth": 3},
            {"name": "aww", "collection_frequency": "15 3 * * *", "post_limit": 10, "collect_comments": False,
             "sorting": "top", "priority": "low"},
        ]
    },
    "rate_limiting": {"requests_per_minute": 6000},
    "work_pool": {"name": "test-pool", "type": "process"},
}


def write(tmp_path: Path, data: dict, name: str = "collection.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_collection_file_is_valid():
    config = load_collection(ROOT / "deployments/collection.yaml")
    specs = deployment_specs(config)
    assert {s["name"] for s in specs} >= {"python", "datascience", "aww"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["collection"]["subreddits"][1].update(collection_frequency="sometimes"),
         "subreddits[1] (r/aww): collection_frequency: 'sometimes' is neither"),
        (lambda d: d["collection"]["subreddits"][0].update(post_limit=5000),
         "subreddits[0] (r/python): post_limit: Input should be less than or equal to 1000"),
        (lambda d: d["collection"]["subreddits"][0].update(sorting=["newest"]),
         "subreddits[0] (r/python): sorting.0: Input should be"),
        (lambda d: d["collection"]["subreddits"].append({"name": "Python"}), "r/Python is listed twice"),
        (lambda d: d["rate_limiting"].update(requests_per_minut=5), "rate_limiting.requests_per_minut: Extra inputs"),
    ],
)
def test_a_bad_collection_file_is_one_line_naming_file_entry_and_field(tmp_path, edit, message, capsys):
    data = yaml.safe_load(yaml.safe_dump(FILE))
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=None) as err:
        load_collection(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert main(["deploy", "--file", str(path)]) == 1
    out = capsys.readouterr()
    assert out.err.strip() == f"redditlake: error: {err.value}" and "Traceback" not in out.err


def test_specs_map_frequency_priority_and_time_limit():
    config = load_collection_dict(FILE)
    by = {s["name"]: s for s in deployment_specs(config)}
    assert by["python"]["schedule"] == {"interval": 3600} and by["python"]["work_queue"] == "high"
    assert by["python"]["parameters"]["time_limit_seconds"] == 600
    assert by["python"]["parameters"]["comment_depth"] == 3
    assert by["aww"]["schedule"] == {"cron": "15 3 * * *"} and by["aww"]["parameters"]["sorts"] == ["top"]
    assert by["collection-yaml"]["flow_name"] == "refresh"
    # the refresh names the blocks as the collect deployments do (none here: the environment's)
    assert by["collection-yaml"]["parameters"] == {"subreddits": ["python", "aww"], "reddit_block": None,
                                                   "lake_block": None}
    # every deployed run beats every 30 s whatever the worker's environment says, and its
    # subreddit slot is a 60 s lease
    streaming = deployment_specs(load_collection_dict(FILE | {"stream": {"subreddits": ["python"]}}))
    for spec in [*by.values(), *streaming]:
        assert spec["job_variables"]["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30", spec["name"]
    assert any(s["flow_name"] == "stream" for s in streaming)
    assert by["python"]["parameters"]["rate_limiting"]["slot_lease_seconds"] == 60


def test_blocks_and_lease_reach_the_runs_settings():
    """What a deployment's parameters make of the settings a run uses: the lease from
    rate_limiting, the reddit block by name (the lake block is loaded from the API)."""
    from flows.scheduled import scheduled_settings
    from redditlake.config import load_settings

    with_file = FILE | {"rate_limiting": {"slot_lease_seconds": 120}, "blocks": {"reddit": "app", "lake": "lake"}}
    spec = {s["name"]: s for s in deployment_specs(load_collection_dict(with_file))}
    p = spec["python"]["parameters"]
    settings = scheduled_settings(load_settings(env={}), sorts=p["sorts"], limit=p["limit"], time_filter=p["time_filter"],
                                  comments=p["comments"], comment_depth=None, rate_limiting=p["rate_limiting"],
                                  reddit_block=p["reddit_block"])
    assert settings.budget.slot_lease_seconds == 120 and settings.reddit.block == "app"
    assert spec["collection-yaml"]["parameters"]["lake_block"] == "lake"
    assert spec["collection-yaml"]["parameters"]["reddit_block"] == "app"


def test_the_data_quality_section_reaches_the_runs_settings():
    """The file's `data_quality:` thresholds are what a deployed run's quality checks use."""
    from flows.scheduled import scheduled_settings
    from redditlake.config import load_settings

    section = {"min_post_score": 5, "max_post_age_days": 30, "required_fields": ["id", "title"],
               "duplicate_threshold": 0.5, "min_quality_score": 0.8}
    spec = {s["name"]: s for s in deployment_specs(load_collection_dict(FILE | {"data_quality": section}))}
    p = spec["python"]["parameters"]
    assert p["data_quality"]["min_post_score"] == 5
    base = load_settings(env={})
    settings = scheduled_settings(base, sorts=p["sorts"], limit=p["limit"], time_filter=p["time_filter"],
                                  comments=p["comments"], comment_depth=None, rate_limiting=None,
                                  reddit_block=None, data_quality=p["data_quality"])
    dq = settings.data_quality
    assert (dq.min_post_score, dq.max_post_age_days, dq.duplicate_threshold, dq.score_target) == (5, 30, 0.5, 0.8)
    assert dq.required_fields["posts"] == ["id", "title"]
    assert dq.required_fields["comments"] == base.data_quality.required_fields["comments"]  # the rest kept
    unset = scheduled_settings(base, sorts=["new"], limit=1, time_filter="week", comments=False, comment_depth=None,
                               rate_limiting=None, reddit_block=None, data_quality={"min_post_score": 7})
    assert unset.data_quality.max_post_age_days == base.data_quality.max_post_age_days  # unset keeps the default


def test_an_ecs_deployment_finds_its_code_in_the_image():
    from deployments.apply import code_path

    ecs = load_collection_dict(FILE | {"work_pool": {"name": "e", "type": "ecs"}})
    assert code_path(ecs) == "/app"  # the Dockerfile's WORKDIR
    assert code_path(load_collection_dict(FILE)) == str(ROOT)
    assert "WORKDIR /app" in (ROOT / "Dockerfile").read_text()


def load_collection_dict(data: dict):
    from redditlake.collection import CollectionFile

    return CollectionFile.model_validate(data)


@pytest.mark.prefect
def test_deploy_creates_prioritised_queues_and_deployments_and_check_sees_drift(prefect_api, tmp_path, monkeypatch, capsys):
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    path = write(tmp_path, FILE)
    assert main(["deploy", "--file", str(path), "--check"]) == 1  # nothing deployed yet
    assert main(["deploy", "--file", str(path)]) == 0
    assert main(["deploy", "--file", str(path), "--check"]) == 0
    capsys.readouterr()

    async def read():
        async with get_client() as client:
            queues = {q.name: q.priority for q in await client.read_work_queues(work_pool_name="test-pool")}
            py = await client.read_deployment_by_name("collect-scheduled/python")
            aww = await client.read_deployment_by_name("collect-scheduled/aww")
            return queues, py, aww

    queues, py, aww = asyncio.run(read())
    assert queues["high"] < queues["medium"] < queues["low"]
    assert py.work_queue_name == "high" and aww.work_queue_name == "low"
    assert py.parameters["subreddit"] == "python" and py.parameters["time_limit_seconds"] == 600
    assert py.schedules[0].schedule.interval.total_seconds() == 3600
    assert aww.schedules[0].schedule.cron == "15 3 * * *"

    # the file changes (a subreddit leaves, a limit moves): --check says so, deploy follows
    changed = yaml.safe_load(yaml.safe_dump(FILE))
    changed["collection"]["subreddits"] = changed["collection"]["subreddits"][:1]
    changed["collection"]["subreddits"][0]["post_limit"] = 50
    write(tmp_path, changed)
    assert main(["deploy", "--file", str(path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "collect-scheduled/python: parameters" in out
    assert "collect-scheduled/aww: deployed but no longer in the file" in out
    assert main(["deploy", "--file", str(path)]) == 0
    assert "removed collect-scheduled/aww" in capsys.readouterr().out
    assert main(["deploy", "--file", str(path), "--check"]) == 0


@pytest.mark.prefect
def test_a_run_past_its_time_limit_fails_cleanly_keeps_what_it_landed_and_the_next_run_finishes(
    prefect_api, make_sim, tmp_path, monkeypatch
):
    from flows.scheduled import collect_scheduled

    # every request takes a second: 80 comment trees at 4 in flight cannot fit in 15 s
    sim = make_sim(posts_per_subreddit=80, comments_per_post_mean=10, latency_seconds=1.0)
    lake_uri = str(tmp_path / "lake")
    for k, v in sim_env(sim, lake_uri).items():
        monkeypatch.setenv(k, v)
    params = dict(subreddit="python", sorts=["new"], limit=80, rate_limiting={"requests_per_minute": 6000})

    state = asyncio.run(collect_scheduled(**params, time_limit_seconds=15, return_state=True))
    assert state.is_failed() and "over its time limit of 15s" in state.message
    lake = Lake.open(lake_uri)
    kept = {  # whatever landed before the limit (normally the posts and some trees) must survive as is
        table: {r[0] for r in query_rows(lake, f"SELECT id FROM {table}")}
        for table in ("posts", "comments") if table in lake.tables()
    }
    # the control: the first run did land something, so "kept" below is not vacuous
    assert kept.get("posts"), "nothing landed before the time limit: the test proves nothing"
    if "comment_fetches" in lake.tables():
        assert query_rows(lake, "SELECT count(DISTINCT post_id) FROM comment_fetches")[0][0] < 80

    state = asyncio.run(collect_scheduled(**params, time_limit_seconds=600, return_state=True))
    assert state.is_completed(), state.message
    assert query_rows(lake, "SELECT count(*) - count(DISTINCT id) FROM posts")[0][0] == 0
    assert query_rows(lake, "SELECT count(*) - count(DISTINCT id) FROM comments")[0][0] == 0
    stored = {r[0] for r in query_rows(lake, "SELECT id FROM comments")}
    assert stored == {c for p in sim.world.post_ids("python") for c in sim.world.comment_ids(p)}
    assert kept.get("posts", set()) <= {r[0] for r in query_rows(lake, "SELECT id FROM posts")}
    assert kept.get("comments", set()) <= stored


def test_alerts_name_the_subreddit_and_reason_and_hold_back_repeats():
    sent: list[tuple[str, str, dict]] = []
    alerts.reset()
    previous = alerts.install(lambda e, s, p: sent.append((e, s, p)))
    try:
        class R:  # a request record, as the transport logs it
            status, endpoint, path, subreddit, ratelimit_remaining, ratelimit_reset = 429, "listing", "/r/python/new", "python", 0.0, 50.0
            error_class = "rate_limited"

        alerts.observe_request(R, window_requests=100, window_seconds=60)
        alerts.observe_request(R, window_requests=100, window_seconds=60)  # a burst: one alert each kind
        alerts.check_error_rate("python", [R] * 2)
    finally:
        alerts.install(previous)
    names = [e for e, _, _ in sent]
    assert names == [alerts.RATE_LIMITED, alerts.RATE_LIMIT_APPROACHING, alerts.ERROR_RATE_HIGH]
    assert all(s == "python" and p["subreddit"] == "python" and p["reason"] for _, s, p in sent)
    assert "2 of 2 requests failed" in sent[-1][2]["reason"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.prefect
def test_serve_answers_healthz_and_metrics_scraped_over_http(prefect_api, sim, tmp_path, monkeypatch):
    from flows.collect import collect
    from redditlake.config import load_settings
    from redditlake.serve import serve

    from conftest import sim_settings

    lake_uri = str(tmp_path / "lake")
    asyncio.run(collect(["python"], sim_settings(sim, lake_uri, limit=20)))
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    port = _free_port()

    async def scrape(settings):
        ready = asyncio.Event()
        server = asyncio.create_task(serve(settings, port=port, minutes=60, ready=ready))
        await asyncio.wait_for(ready.wait(), 10)
        try:
            async with aiohttp.ClientSession() as s:
                async with s.get(f"http://127.0.0.1:{port}/metrics") as r:
                    metrics = (r.status, r.headers["Content-Type"], await r.text())
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    health = (r.status, await r.json())
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
        return metrics, health

    settings = load_settings(env=sim_env(sim, lake_uri))
    (status, ctype, text), (hstatus, hbody) = asyncio.run(scrape(settings))
    assert status == 200 and ctype.startswith("text/plain")
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert values["redditlake_api_requests"] > 0 and values["redditlake_api_success_ratio"] == 1.0
    assert values["redditlake_api_rate_limited_requests"] == 0 and values["redditlake_breaker_open"] == 0
    assert values['redditlake_items{subreddit="python",table="posts"}'] == 20
    assert 'redditlake_api_latency_ms{quantile="0.95"}' in values
    assert 0.9 <= values['redditlake_quality_score{subreddit="python",table="posts"}'] <= 1.0
    assert values['redditlake_flow_runs{state="completed"}'] >= 1
    assert "redditlake_late_runs" in values
    assert hstatus == 200 and hbody["ok"] and {c["name"] for c in hbody["checks"]} >= {"reddit api", "lake", "api history", "prefect api"}

    sim.stop()  # the API goes away: 503, with the reason
    (_, _, _), (hstatus, hbody) = asyncio.run(scrape(settings))
    assert hstatus == 503 and not hbody["ok"]
    assert [c for c in hbody["checks"] if c["name"] == "reddit api" and not c["ok"]]


@pytest.mark.prefect
def test_an_ecs_pool_and_its_job_variables_register_against_a_real_server(prefect_api, tmp_path, monkeypatch, capsys):
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    data = yaml.safe_load(yaml.safe_dump(FILE))
    data["work_pool"] = {
        "name": "test-ecs",
        "type": "ecs",
        "job_variables": {"image": "123.dkr.ecr.eu-west-1.amazonaws.com/redditlake:abc", "cpu": 512, "memory": 1024},
    }
    path = write(tmp_path, data, "ecs.yaml")
    assert main(["deploy", "--file", str(path)]) == 0
    assert main(["deploy", "--file", str(path), "--check"]) == 0

    async def read():
        async with get_client() as client:
            pool = await client.read_work_pool("test-ecs")
            return pool, await client.read_deployment_by_name("collect-scheduled/aww")

    pool, aww = asyncio.run(read())
    assert pool.type == "ecs" and "task_definition_arn" in pool.base_job_template["variables"]["properties"]
    assert aww.work_pool_name == "test-ecs" and aww.job_variables["cpu"] == 512
    assert aww.job_variables["image"].endswith("redditlake:abc")
    capsys.readouterr()


@pytest.mark.parametrize("name", ["foamy-tarsier", "r/aww"])
def test_run_alerts_name_the_subreddit_before_the_run_is_named(name):
    """A Late run (or one crashed while pending) still has Prefect's random name; the alert
    names the subreddit from the run's parameters, rendered by the server's template engine."""
    import json
    from types import SimpleNamespace as Obj

    from prefect.server.utilities.user_templates import render_user_template, validate_user_template

    from deployments.automations import LATE_PAYLOAD, RUN_PAYLOAD

    run = Obj(parameters={"subreddit": "aww"}, name=name, expected_start_time="2026-01-01T00:00:00Z", id="id-1",
              state=Obj(name="Crashed", message='no "heartbeat" for 90s'))
    for template in (LATE_PAYLOAD, RUN_PAYLOAD):
        validate_user_template(template)
        body = json.loads(asyncio.run(render_user_template(template, {"flow_run": run, "flow": Obj(name="f")})))
        assert body["subreddit"] == "r/aww", body
    refresh = Obj(parameters={"subreddits": ["aww"]}, name="refresh-run", expected_start_time="t", id="id-2", state=run.state)
    body = json.loads(asyncio.run(render_user_template(RUN_PAYLOAD, {"flow_run": refresh, "flow": Obj(name="refresh")})))
    assert body["subreddit"] == "refresh-run" and body["reason"] == 'no "heartbeat" for 90s'

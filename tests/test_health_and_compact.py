"""`redditlake health` and `redditlake compact`, as a user runs them."""

from __future__ import annotations

import asyncio
import socket

import pytest
from deltalake import DeltaTable
import yaml

from conftest import sim_env, sim_settings
from redditlake.lake import Lake
from redditlake.landing import Landing
from redditlake.clock import now_utc
from redditlake.pipeline import fetch_posts
from redditlake.reddit.client import RedditClient
from redditlake.cli import main
from test_cli import redditlake


def test_health_is_ok_against_a_working_api_and_lake(sim, tmp_path):
    out = redditlake("health", env=sim_env(sim, str(tmp_path / "lake")), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok   reddit api" in out.stdout and "ok   lake" in out.stdout


def test_health_fails_when_the_api_is_unreachable(sim, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {**sim_env(sim, str(tmp_path / "lake")), "REDDIT_OAUTH_URL": dead, "REDDIT_URL": dead}
    out = redditlake("health", env=env, timeout=120)
    assert out.returncode == 1
    assert "FAIL reddit api" in out.stdout and "Traceback" not in out.stderr


def test_compact_merges_small_files_and_keeps_every_row(sim, tmp_path):
    lake_dir = tmp_path / "lake"
    lake = Lake.open(str(lake_dir))
    settings = sim_settings(sim, str(lake_dir))

    async def three_batches():
        async with RedditClient(settings) as client:
            posts = await fetch_posts(client, "python", "new", 60)
        for i in range(3):  # three runs, three files per day partition
            Landing(lake).metrics("python", posts[i * 20 : (i + 1) * 20] + posts[:5], now_utc())

    asyncio.run(three_batches())
    before = lake.read("post_metrics").num_rows
    files_before = len(DeltaTable(str(lake_dir / "post_metrics")).file_uris())
    out = redditlake("compact", "post_metrics", "--lake", str(lake_dir))
    assert out.returncode == 0, out.stderr
    assert len(DeltaTable(str(lake_dir / "post_metrics")).file_uris()) < files_before
    assert lake.read("post_metrics").num_rows == before  # snapshots are all kept

    bad = redditlake("compact", "no/such", "--lake", str(lake_dir))
    assert bad.returncode == 1 and "invalid table name" in bad.stderr


@pytest.mark.prefect
@pytest.mark.timeout(900)
def test_maintenance_is_deployed_from_the_collection_file(prefect_api, tmp_path, monkeypatch, capsys):
    """A `maintenance:` section in collection.yaml deploys `maintain-lake` on its schedule,
    sweeping the file's subreddits; `deploy --check` sees it in sync; without the section
    the deployment is removed."""
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    data = {
        "collection": {"subreddits": [{"name": "python", "collection_frequency": "1h"},
                                      {"name": "aww", "collection_frequency": "2h"}]},
        "refresh": None,
        "maintenance": {"schedule": "45 1 * * *"},
        "work_pool": {"name": "maintenance-test-pool", "type": "process"},
    }
    path = tmp_path / "collection.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["deploy", "--file", str(path)]) == 0
    assert "deployed maintain-lake/collection-yaml (cron 45 1 * * *" in capsys.readouterr().out
    assert main(["deploy", "--file", str(path), "--check"]) == 0

    async def read():
        async with get_client() as client:
            return await client.read_deployment_by_name("maintain-lake/collection-yaml")

    deployed = asyncio.run(read())
    assert deployed.entrypoint == "flows/maintenance.py:maintain" and deployed.work_queue_name == "low"
    # The file names no blocks: the flow gets none and uses the worker's settings.
    assert deployed.parameters == {"sweep": ["python", "aww"], "reddit_block": None, "lake_block": None}
    assert deployed.schedules[0].schedule.cron == "45 1 * * *"

    del data["maintenance"]
    path.write_text(yaml.safe_dump(data))
    capsys.readouterr()
    assert main(["deploy", "--file", str(path)]) == 0
    assert "removed maintain-lake/collection-yaml" in capsys.readouterr().out

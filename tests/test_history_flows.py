"""The backfill, stream and coverage commands end to end: CLI → Prefect flow → simulator/archive → lake."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from conftest import query_rows, sim_env, sim_settings
from flows.stream import stream
from redditlake.cli import main
from redditlake.coverage_report import coverage
from redditlake.lake import Lake
from redditlake.simulator import timeline
from redditlake.simulator.archive import ArchiveConfig, ArchiveThread
from redditlake.simulator.dumps import world_lines, write_zst
from redditlake.outcome import lines as lines_of

pytestmark = pytest.mark.prefect


@pytest.mark.timeout(900)  # three CLI processes, each importing Prefect: slow on a loaded machine
def test_backfill_cli_from_an_api_and_a_dump_then_coverage(prefect_api, make_sim, tmp_path):
    sim = make_sim(subreddits=["python", "aww"], posts_per_subreddit=80, comments_per_post_mean=4, listing_cap=30)
    lake_uri = str(tmp_path / "lake")
    with ArchiveThread(sim.world, ArchiveConfig(requests_per_window=100_000)) as archive:
        dump = str(tmp_path / "RC_2026-10.zst")
        write_zst(dump, world_lines(archive.archive, ["aww"]))
        env = {**os.environ, **sim_env(sim, lake_uri), "PREFECT_API_URL": prefect_api,
               "REDDITLAKE_ARCTICSHIFT_URL": archive.url, "REDDITLAKE_CONFIG": str(tmp_path / "c.yaml")}
        (tmp_path / "c.yaml").write_text("archive:\n  requests_per_minute: 60000\n")
        cmd = [sys.executable, "-m", "redditlake.cli", "backfill", "python", "aww", "--since", "2026-10-01",
               "--until", "2026-11-01", "--source", "arcticshift", "--source", dump]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "r/python arcticshift posts:" in proc.stdout and "r/aww dump:" in proc.stdout, proc.stdout
    assert "rows/s" in proc.stderr and "ETA" in proc.stderr  # progress lines

    lake = Lake.open(lake_uri)
    world = sim.world
    with world.lock:
        lo = 1790812800  # 2026-10-01
        for sub in ("python", "aww"):
            s = world.subreddit(sub)
            want = {p.id for p in timeline.posts(world, s) if p.created >= lo}
            got = [r[0] for r in query_rows(lake, f"SELECT id FROM posts WHERE subreddit = '{sub}'")]
            assert set(got) == want and len(got) == len(set(got))
    # aww came from both the API and the dump: each id once, from whichever landed it first.
    assert query_rows(lake, "SELECT count(*) - count(DISTINCT id) FROM comments") == [(0,)]
    sources = dict(query_rows(lake, "SELECT source, count(*) FROM posts WHERE subreddit = 'aww' GROUP BY 1"))
    assert set(sources) == {"arcticshift"}  # the dump came second: all its aww rows were already there

    assert main(["coverage", "python", "--lake", lake_uri]) == 0
    per_day, gaps = coverage(lake, "python")
    assert gaps.rows == [] and any("arcticshift=" in row[1] for row in per_day.rows), per_day.rows

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "0 new" in again.stdout and "already ingested" in again.stdout, again.stdout


def test_stream_flow_stops_at_max_items(prefect_api, make_sim, tmp_path):
    sim = make_sim(subreddits=["python"], posts_per_subreddit=600, comments_per_post_mean=10)
    settings = sim_settings(sim, str(tmp_path / "lake"))
    settings = settings.model_copy(update={"stream": settings.stream.model_copy(update={"min_interval": 0.05})})
    lines = lines_of(asyncio.run(stream(["python"], duration=120, max_items=10, settings=settings)))
    assert "stopped by max-items" in lines[-1], lines  # checked after each poll: a first page can overshoot
    lake = Lake.open(settings.lake.uri)
    landed = query_rows(lake, "SELECT count(*), count(DISTINCT id), max(created_utc) FROM posts")[0]
    assert landed[0] == landed[1] >= 10, landed  # at least max-items new posts, one row per id
    # the position written is the newest post landed, so the next run starts after it
    (newest,) = query_rows(lake, "SELECT max(newest_utc) FROM stream_positions WHERE kind = 'posts'")[0]
    assert newest == landed[2]
    assert query_rows(lake, "SELECT count(*) FROM api_requests")[0][0] >= 2


def test_a_collect_sweep_cut_by_the_listing_cap_shows_in_coverage(prefect_api, make_sim, tmp_path, capsys):
    from flows.collect import collect

    sim = make_sim(subreddits=["python"], posts_per_subreddit=1100, comments_per_post_mean=0)  # cap: 1,000
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=1000, comments=False)
    (summary,) = asyncio.run(collect(["python"], settings))
    assert summary.ok and summary.posts == 1000

    lake = Lake.open(lake_uri)
    oldest_listed = query_rows(lake, "SELECT min(created_utc) FROM posts")[0][0]
    with sim.world.lock:
        assert sum(1 for p in timeline.posts(sim.world, sim.world.subreddit("python")) if p.created < oldest_listed.timestamp()) == 100
    rows = query_rows(lake, "SELECT kind, source, reason, epoch(gap_start), gap_end FROM coverage_gaps")
    assert rows == [("posts", "reddit", "listing_cap", 0, oldest_listed + timedelta(seconds=1))]
    assert main(["coverage", "python", "--lake", lake_uri]) == 0
    out = capsys.readouterr().out
    assert "coverage gaps of r/python:" in out and "listing_cap" in out and "reddit" in out, out


def test_backfill_flow_with_threads_takes_comments_from_the_trees_of_its_posts(prefect_api, make_sim, tmp_path):
    from flows.backfill import backfill

    sim = make_sim(subreddits=["python"], posts_per_subreddit=40, comments_per_post_mean=20, listing_cap=30)
    settings = sim_settings(sim, str(tmp_path / "lake"))
    with ArchiveThread(sim.world, ArchiveConfig(requests_per_window=100_000)) as archive:
        settings = settings.model_copy(update={"archive": settings.archive.model_copy(
            update={"arcticshift_url": archive.url, "requests_per_minute": 60_000})})
        lines = lines_of(asyncio.run(backfill(["python"], "2026-10-01", "2026-11-01", ["arcticshift"], settings, threads=True)))
    assert [line.split(":")[0] for line in lines] == ["r/python arcticshift posts", "r/python arcticshift threads"], lines
    lake = Lake.open(settings.lake.uri)
    with_comments = [r[0] for r in query_rows(lake, "SELECT id FROM posts WHERE num_comments > 0")]
    stored = [r[0] for r in query_rows(lake, "SELECT id FROM comments")]
    # An archive took each comment in as it was made: it holds those Reddit's trees now hide too.
    made = {c for pid in with_comments for c in sim.world.comment_ids(pid) + sim.world.hidden_comment_ids(pid)}
    assert with_comments and set(stored) == made
    assert len(stored) == len(set(stored))


def test_deploy_makes_the_stream_deployment_from_collection_yaml(prefect_api, tmp_path, monkeypatch, capsys):
    import yaml
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    path = tmp_path / "collection.yaml"
    path.write_text(yaml.safe_dump({
        "collection": {"subreddits": [{"name": "python"}]}, "refresh": None,
        "stream": {"subreddits": ["python", "aww"], "schedule": "2h", "duration": "100m"},
        "work_pool": {"name": "stream-test-pool", "type": "process"},
    }))
    assert main(["deploy", "--file", str(path)]) == 0
    assert "deployed stream/collection-yaml-stream (every 7200s, queue high" in capsys.readouterr().out

    async def read():
        async with get_client() as client:
            return await client.read_deployment_by_name("stream/collection-yaml-stream")

    d = asyncio.run(read())
    assert d.parameters == {"subreddits": ["python", "aww"], "duration": 6000, "reddit_block": None, "lake_block": None}
    assert d.schedules[0].schedule.interval.total_seconds() == 7200 and d.entrypoint == "flows/stream.py:stream"
    assert main(["deploy", "--file", str(path), "--check"]) == 0  # no drift right after a deploy

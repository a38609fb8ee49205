"""Streaming against the simulator's content clock: every new item once, across restarts; a pause
longer than the listing can cover is recorded as a gap, and a backfill fills it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import query_rows, sim_env, sim_settings
from redditlake.archive.client import ArchiveClient
from redditlake.archive.search import backfill_search
from redditlake.coverage_report import coverage
from redditlake.landing import Landing
from redditlake.lake import Lake
from redditlake.reddit.client import RedditClient
from redditlake.simulator import timeline
from redditlake.simulator.archive import ArchiveConfig, ArchiveThread
from redditlake.stream.runner import Stream

SUB = "python"


@pytest.fixture
def busy_sim(make_sim):
    # ~2 posts and ~60 comments per content hour; listings cut at 300 items.
    return make_sim(subreddits=[SUB, "aww"], posts_per_subreddit=1500, comments_per_post_mean=30, listing_cap=300)


def stream_settings(sim, lake_uri):
    s = sim_settings(sim, lake_uri)
    return s.model_copy(update={"stream": s.stream.model_copy(
        update={"min_interval": 0.05, "max_interval": 0.5, "batch_rows": 150, "batch_seconds": 0.3})})


def truth(sim, since: float) -> tuple[set[str], set[str]]:
    world = sim.world
    with world.lock:
        sub = world.subreddit(SUB)
        posts = {p.id for p in timeline.posts(world, sub) if p.created > since}
        comments = {c.id for c, _ in timeline.comments(world, sub) if c.created > since}
    return posts, comments


def stored(lake: Lake, table: str) -> list[str]:
    return [r[0] for r in query_rows(lake, f"SELECT id FROM {table} WHERE subreddit = '{SUB}'")]


async def run_stream(sim, settings, steps: int, step_seconds: float, subs=(SUB,)):
    """Stream while the content clock moves ``steps`` times by ``step_seconds``."""
    async with RedditClient(settings) as client:
        stream = Stream(client, Landing(Lake.open(settings.lake.uri)), list(subs), settings,
                        content_clock=lambda: sim.world.now)
        task = asyncio.create_task(stream.run())

        async def polled_all() -> None:
            # Every listing polled at least once more: the clock may move again.
            target = stream.summary.polls + 2 * len(subs)
            while stream.summary.polls < target and not task.done():
                await asyncio.sleep(0.02)

        await polled_all()  # first polls: the position is "now"
        for _ in range(steps):
            sim.world.advance(step_seconds)
            await polled_all()
        await asyncio.sleep(0.4)  # a batch's age flushes it
        stream.stop("test")
        return await task


def test_stream_collects_every_new_item_once_across_a_restart(busy_sim, tmp_path):
    sim, lake_uri = busy_sim, str(tmp_path / "lake")
    settings = stream_settings(sim, lake_uri)
    lake = Lake.open(lake_uri)
    start = sim.world.now

    first = asyncio.run(run_stream(sim, settings, steps=6, step_seconds=2 * 3600))
    assert first.gaps == [] and first.flushes >= 2
    assert first.requests > first.polls  # ~190 comments per step: full pages were paged back
    # Stopped: the content clock moves on (2.5 h: ~130 comments, within the listing's 300).
    sim.world.advance(2.5 * 3600)
    second = asyncio.run(run_stream(sim, settings, steps=3, step_seconds=3600))
    assert second.requests > second.polls  # the restart paged back to its position
    assert second.gaps == []

    posts, comments = truth(sim, start)
    stored_posts, stored_comments = stored(lake, "posts"), stored(lake, "comments")
    assert posts and comments
    assert posts <= set(stored_posts) and comments <= set(stored_comments)
    assert len(stored_posts) == len(set(stored_posts)) and len(stored_comments) == len(set(stored_comments))
    assert query_rows(lake, "SELECT DISTINCT source FROM comments") == [("reddit",)]
    assert query_rows(lake, "SELECT count(*) FROM stream_positions")[0][0] >= 2


def test_a_pause_beyond_the_listing_cap_is_a_gap_that_backfill_fills(busy_sim, tmp_path):
    sim, lake_uri = busy_sim, str(tmp_path / "lake")
    settings = stream_settings(sim, lake_uri)
    lake = Lake.open(lake_uri)
    start = sim.world.now
    asyncio.run(run_stream(sim, settings, steps=2, step_seconds=3600))
    sim.world.advance(24 * 3600)  # ~1,500 comments: five times what the listing holds
    resumed = asyncio.run(run_stream(sim, settings, steps=1, step_seconds=600))

    assert [g[1] for g in resumed.gaps] == ["comments"]
    (_, _, gap_start, gap_end), = resumed.gaps
    rows = query_rows(lake, "SELECT kind, source, reason, gap_start, gap_end FROM coverage_gaps")
    assert rows == [("comments", "stream", "listing_cap", gap_start, gap_end)]
    _, comments = truth(sim, start)
    missing = comments - set(stored(lake, "comments"))
    assert missing, "the pause should have cost comments"
    with sim.world.lock:
        created = {c.id: c.created for c, _ in timeline.comments(sim.world, sim.world.subreddit(SUB))}
    assert all(gap_start.timestamp() <= created[i] < gap_end.timestamp() for i in missing)

    with ArchiveThread(sim.world, ArchiveConfig(requests_per_window=10_000)) as archive:
        settings = settings.model_copy(update={"archive": settings.archive.model_copy(
            update={"arcticshift_url": archive.url, "requests_per_minute": 6000})})

        async def fill():
            async with ArchiveClient.for_source("arcticshift", settings) as client:
                return await backfill_search(client, Landing(lake), SUB, "comments", gap_start, gap_end)

        filled = asyncio.run(fill())
    assert filled.written == len(missing)
    after = stored(lake, "comments")
    assert comments <= set(after) and len(after) == len(set(after))
    assert query_rows(lake, "SELECT count(*) FROM comments WHERE source = 'arcticshift'")[0][0] == len(missing)
    per_day, gaps = coverage(lake, SUB)
    assert [(g[0], g[1], g[-1]) for g in gaps.rows] == [("comments", "stream", True)]  # filled by the backfill
    assert any("arcticshift=" in row[2] for row in per_day.rows) and sum(row[4] for row in per_day.rows) >= 1


@pytest.mark.prefect
def test_sigterm_flushes_the_buffer_and_writes_positions(prefect_api, busy_sim, tmp_path):
    """The CLI under SIGTERM: a clean stop, the buffer landed, the position written."""
    sim, lake_uri = busy_sim, str(tmp_path / "lake")
    env = {**os.environ, **sim_env(sim, lake_uri), "REDDITLAKE_CONFIG": str(tmp_path / "cfg.yaml"),
           "PREFECT_API_URL": prefect_api}
    # Batches far bigger than the run: only the stop can land anything.
    (tmp_path / "cfg.yaml").write_text("stream:\n  batch_rows: 100000\n  batch_seconds: 3600\n  min_interval: 0.1\n"
                                       "budget:\n  requests_per_minute: 6000\n  prefect_limit: false\n")
    proc = subprocess.Popen([sys.executable, "-m", "redditlake.cli", "stream", SUB], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sim.stats()["requests"] < 3:
            time.sleep(0.1)
        sim.world.advance(3600)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped by SIGTERM" in out, out + err
    lake = Lake.open(lake_uri)
    assert stored(lake, "comments") and query_rows(lake, "SELECT count(*) FROM stream_positions")[0][0] >= 1


def test_a_bad_subreddit_does_not_stop_the_stream(busy_sim, tmp_path):
    sim = busy_sim
    settings = stream_settings(sim, str(tmp_path / "lake"))
    summary = asyncio.run(run_stream(sim, settings, steps=1, step_seconds=3600, subs=(SUB, "secretclub")))
    assert "private" in summary.failed["secretclub"]
    assert summary.items.get(f"{SUB} comments") and summary.stopped_by == "test"
    assert any(line.startswith("r/secretclub: FAILED") for line in summary.lines())


def test_a_new_sweep_at_the_cap_is_a_coverage_gap_back_to_the_newest_stored_post(tmp_path):
    from datetime import UTC, datetime, timedelta

    from redditlake.coverage_report import listing_cap_gap

    now = datetime(2026, 10, 20, tzinfo=UTC)
    lake = Lake.open(tmp_path / "lake")
    post = {"subreddit": SUB, "title": "t", "author": "a", "num_comments": 0, "score": 1}
    older = [now - timedelta(days=9), now - timedelta(days=6, hours=5)]  # stored by an earlier run
    Landing(lake).posts(SUB, [{**post, "id": f"o{i}", "created_utc": t.timestamp()} for i, t in enumerate(older)], now)
    sweep = [{**post, "id": f"n{i}", "created_utc": (now - timedelta(hours=i)).timestamp()} for i in range(3)]

    gap = listing_cap_gap(lake, SUB, "new", sweep, now, cap=3)
    assert (gap.kind, gap.source, gap.reason) == ("posts", "reddit", "listing_cap")
    assert gap.gap_start == older[1] and gap.gap_end == now - timedelta(hours=2) + timedelta(seconds=1)
    assert listing_cap_gap(lake, SUB, "new", sweep[:2], now, cap=3) is None  # the listing ended before the cap
    assert listing_cap_gap(lake, SUB, "hot", sweep, now, cap=3) is None
    assert listing_cap_gap(Lake.open(tmp_path / "empty"), SUB, "new", sweep, now, cap=3).gap_start.year == 1970


def test_collection_yaml_deploys_the_stream_and_refuses_runs_that_overlap(tmp_path, monkeypatch):
    from pathlib import Path

    import yaml
    from prefect.flows import load_flow_from_entrypoint

    from redditlake.collection import deployment_specs, load_collection
    from redditlake.errors import ConfigError

    root = Path(__file__).resolve().parents[1]
    (spec,) = [s for s in deployment_specs(load_collection(root / "deployments/collection.yaml")) if s["flow_name"] == "stream"]
    assert spec["parameters"] == {"subreddits": ["python"], "duration": 55 * 60, "reddit_block": None,
                                  "lake_block": None} and spec["schedule"] == {"cron": "0 * * * *"}
    monkeypatch.chdir(root)
    load_flow_from_entrypoint(spec["entrypoint"]).validate_parameters(spec["parameters"])

    data = yaml.safe_load((root / "deployments/collection.yaml").read_text())
    data["stream"] = {"subreddits": ["python"], "schedule": "30m", "duration": "45m"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="must be positive and end before the next run"):
        load_collection(tmp_path / "c.yaml")
    del data["stream"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    assert not [s for s in deployment_specs(load_collection(tmp_path / "c.yaml")) if s["flow_name"] == "stream"]

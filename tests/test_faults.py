"""Failure handling: whatever the API does, the lake ends complete, once, and readable.

Faults come from the simulator (over HTTP), never from patching the client.
After each scenario: no 429 caused by redditlake's pacing, every post and
comment the simulator holds for the collected posts is in the lake, no id
twice, and DuckDB reads every file.
"""

from __future__ import annotations

import asyncio

import pytest

from conftest import sim_settings
from redditlake import alerts, clock, pipeline
from redditlake.errors import ApiUnavailable
from redditlake.lake import Lake
from redditlake.landing import Landing
from redditlake.reddit.client import RedditClient
from redditlake.reddit.requestlog import requests_for
from redditlake.simulator import FaultConfig

SUB = "askscience"


async def collect_one(settings, lake: Lake, limit: int) -> RedditClient:
    landing = Landing(lake)
    async with RedditClient(settings) as client:
        about = await pipeline.fetch_about(client, SUB)
        landing.about(SUB, about, clock.now_utc())
        posts = await pipeline.fetch_posts(client, SUB, "new", limit)
        landing.posts(SUB, posts, clock.now_utc())
        batch = await pipeline.fetch_comments(client, SUB, [p["id"] for p in posts])
        landing.comments(SUB, batch.comments, clock.now_utc())
        return client


def assert_lake_complete(lake: Lake, sim, limit: int) -> None:
    con = lake.duckdb()
    try:
        post_ids = [r[0] for r in con.execute("SELECT id FROM posts").fetchall()]
        comments = [r[0] for r in con.execute("SELECT id FROM comments").fetchall()]
    finally:
        con.close()
    newest = sim.world.post_ids(SUB)
    assert len(post_ids) == len(set(post_ids)) == min(limit, len(newest))
    expected = {c for p in post_ids for c in sim.world.comment_ids(p)}
    assert len(comments) == len(set(comments)), "a comment id is stored twice"
    assert set(comments) == expected


FAULTS = {
    "10% 5xx": dict(error_5xx_rate=0.10),
    "connection resets": dict(reset_rate=0.08),
    "HTML 200 bodies": dict(html_200_rate=0.08),
    "truncated JSON": dict(truncated_json_rate=0.08),
    "slow past the read timeout": dict(slow_rate=0.05, slow_seconds=3.0),
    "all at once": dict(error_5xx_rate=0.05, reset_rate=0.03, html_200_rate=0.03, truncated_json_rate=0.03),
}


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
def test_transient_faults_are_retried_until_the_data_is_complete(make_sim, tmp_path, faults):
    sim = make_sim(posts_per_subreddit=40, comments_per_post_mean=12, faults=FaultConfig(seed=7, **faults))
    settings = sim_settings(sim, str(tmp_path))
    settings = settings.model_copy(update={"http": settings.http.model_copy(update={"read_timeout": 1.0})})
    lake = Lake.open(str(tmp_path / "lake"))

    client = asyncio.run(collect_one(settings, lake, limit=25))

    stats = sim.stats()
    assert sum(stats["faults"].values()) > 0, "the scenario injected no fault"
    assert stats["rate_limited"] == 0
    assert client.transport.retries >= 1
    failed = [r for r in client.transport.request_log.records if r.error_class]
    assert failed and all(r.error_class != "rate_limited" for r in failed)
    assert_lake_complete(lake, sim, limit=25)


def test_an_outage_opens_the_breaker_then_collection_resumes(make_sim, tmp_path):
    """A 30 s outage: the breaker stops the hammering, probes, and the run completes."""
    sim = make_sim(posts_per_subreddit=30, comments_per_post_mean=8, faults=FaultConfig(outages=[(1.0, 31.0)]))
    settings = sim_settings(sim, str(tmp_path))
    settings = settings.model_copy(
        update={"breaker": settings.breaker.model_copy(update={"failure_threshold": 3, "cooldown_seconds": 5.0})}
    )
    lake = Lake.open(str(tmp_path / "lake"))
    sent: list[tuple[str, str, dict]] = []  # what the Prefect emitter would have sent

    async def slow_start():
        await asyncio.sleep(1.2)  # start inside the outage
        with requests_for(SUB):  # as the flow attributes requests (and alerts) to a subreddit
            return await collect_one(settings, lake, limit=20)

    alerts.reset()
    previous = alerts.install(lambda event, sub, payload: sent.append((event, sub, payload)))
    try:
        client = asyncio.run(slow_start())
    finally:
        alerts.install(previous)

    breaker = next(iter(client.transport.breakers.values()))
    assert breaker.opened_count >= 1
    opened = [(sub, payload) for event, sub, payload in sent if event == alerts.BREAKER_OPENED]
    assert opened and opened[0][0] == SUB.lower(), sent
    assert "circuit breaker for 127.0.0.1" in opened[0][1]["reason"], opened
    during = sim.stats()["by_status"].get("503", sim.stats()["by_status"].get(503, 0))
    # Without the breaker, 8 attempts per request with ≤0.5 s backoff would hit the dead API
    # about 60 times in 30 s; with it, a handful of probes.
    assert during <= 15, during
    assert sim.stats()["rate_limited"] == 0
    assert_lake_complete(lake, sim, limit=20)


def test_an_api_that_stays_down_fails_with_a_clear_error(make_sim, tmp_path):
    sim = make_sim(faults=FaultConfig(error_5xx_rate=1.0))
    settings = sim_settings(sim, str(tmp_path))
    settings = settings.model_copy(
        update={
            "http": settings.http.model_copy(update={"max_attempts": 3}),
            "breaker": settings.breaker.model_copy(update={"failure_threshold": 10}),
        }
    )
    lake = Lake.open(str(tmp_path / "lake"))
    with pytest.raises(ApiUnavailable, match="kept failing .* after 3 attempts"):
        asyncio.run(collect_one(settings, lake, limit=5))


def test_a_tight_budget_slows_the_client_down_instead_of_drawing_429s(make_sim, tmp_path):
    sim = make_sim(requests_per_window=15, window_seconds=3, posts_per_subreddit=30, comments_per_post_mean=6)
    settings = sim_settings(sim, str(tmp_path))
    lake = Lake.open(str(tmp_path / "lake"))

    asyncio.run(collect_one(settings, lake, limit=12))

    stats = sim.stats()
    assert stats["requests"] > 15  # more than one window's worth was needed
    assert stats["rate_limited"] == 0
    assert_lake_complete(lake, sim, limit=12)

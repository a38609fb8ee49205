"""The lake grows correctly run after run: incremental sweeps, metrics history,
crash recovery, deletion compliance, and the same on S3."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from conftest import query_rows as rows, sim_settings
from flows.collect import collect
from flows.refresh import refresh
from redditlake import clock, pipeline
from redditlake.lake import Lake
from redditlake.landing import Landing
from redditlake.reddit.client import RedditClient
from s3server import TEST_CREDENTIALS, make_bucket
from redditlake.outcome import lines as lines_of

pytestmark = pytest.mark.prefect
SUB = "worldnews"



def api_requests(sim) -> int:
    stats = sim.stats()
    return stats["requests"] - stats["by_family"].get("token", 0)


def assert_complete_and_unique(lake: Lake, sim) -> None:
    post_ids = [r[0] for r in rows(lake, f"SELECT id FROM posts WHERE subreddit = '{SUB}'")]
    comment_ids = [r[0] for r in rows(lake, "SELECT id FROM comments")]
    assert len(post_ids) == len(set(post_ids))
    assert len(comment_ids) == len(set(comment_ids))
    assert set(comment_ids) == {c for p in post_ids for c in sim.world.comment_ids(p)}


def test_reruns_page_only_to_what_is_stored_and_pick_up_what_arrived(prefect_api, make_sim, tmp_path):
    sim = make_sim(posts_per_subreddit=150, comments_per_post_mean=6)
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=120)
    lake = Lake.open(lake_uri)

    first = asyncio.run(collect([SUB], settings))[0]
    assert first.ok and first.posts == 120 and first.requests >= 5

    sim.reset_stats()
    second = asyncio.run(collect([SUB], settings))[0]
    assert second.ok and second.posts_written == 0 and second.comments_written == 0
    # about is cached for a day, comment trees are unchanged: one page of `new` is all it costs.
    assert api_requests(sim) <= 2, sim.stats()["by_family"]

    sim.world.advance(6 * 3600)  # new posts and comments arrive, scores drift
    sim.reset_stats()
    third = asyncio.run(collect([SUB], settings))[0]
    assert third.ok and third.posts_written > 0 and third.comments_written > 0
    assert_complete_and_unique(lake, sim)

    # post_metrics: one snapshot per post per run that saw it; scores moved with the clock.
    history = rows(lake, "SELECT id, count(*), count(DISTINCT score) FROM post_metrics GROUP BY id")
    assert max(n for _, n, _ in history) >= 2
    assert any(scores > 1 for _, _, scores in history)


def test_a_run_that_died_before_its_comments_is_completed_by_the_next(prefect_api, make_sim, tmp_path):
    sim = make_sim(posts_per_subreddit=40, comments_per_post_mean=8)
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=30)
    lake = Lake.open(lake_uri)

    async def posts_only():  # the first half of a run, then the process dies
        async with RedditClient(settings) as client:
            posts = await pipeline.fetch_posts(client, SUB, "new", 30)
        Landing(lake).posts(SUB, posts, clock.now_utc())

    asyncio.run(posts_only())
    assert rows(lake, "SELECT count(*) FROM posts") == [(30,)]
    assert "comments" not in lake.tables()

    summary = asyncio.run(collect([SUB], settings))[0]
    assert summary.ok and summary.posts_written == 0
    assert_complete_and_unique(lake, sim)


def test_refresh_redacts_what_users_deleted_and_records_it(prefect_api, make_sim, tmp_path):
    sim = make_sim(posts_per_subreddit=30, comments_per_post_mean=8)
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=20)
    lake = Lake.open(lake_uri)
    asyncio.run(collect([SUB], settings))

    post_id = next(p for (p,) in rows(lake, "SELECT id FROM posts WHERE selftext NOT IN ('[deleted]', '[removed]')"))
    comment_id = next(c for (c,) in rows(lake, "SELECT id FROM comments WHERE body NOT IN ('[deleted]', '[removed]')"))
    sim.world.delete(f"t3_{post_id}")
    sim.world.delete(f"t1_{comment_id}")

    lines = lines_of(asyncio.run(refresh([SUB], settings)))
    assert "redacted" in lines[0]

    post = rows(lake, f"SELECT title, selftext, url, permalink, domain, author FROM posts WHERE id = '{post_id}'")
    assert post == [("[deleted]", None, None, None, None, "[deleted]")]  # the permalink's slug is the title
    comment = rows(lake, f"SELECT body, author, permalink FROM comments WHERE id = '{comment_id}'")
    assert comment == [(None, "[deleted]", None)]
    recorded = {r[0] for r in rows(lake, "SELECT id FROM deletions")}
    assert {post_id, comment_id} <= recorded
    assert rows(lake, "SELECT count(*) - count(DISTINCT id) FROM posts") == [(0,)]

    # What is redacted is not asked about again.
    checked_first = int(lines[0].split(": ")[1].split()[0])
    again = lines_of(asyncio.run(refresh([SUB], settings)))
    assert int(again[0].split(": ")[1].split()[0]) < checked_first




def test_the_same_on_an_s3_lake(prefect_api, make_sim, s3_endpoint, monkeypatch):
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"collect-{uuid.uuid4().hex[:12]}"  # moto's state is per process: names must not collide across modules
    make_bucket(s3_endpoint, bucket)
    sim = make_sim(posts_per_subreddit=60, comments_per_post_mean=6)
    settings = sim_settings(sim, f"s3://{bucket}/reddit", sorts=["new", "hot"], limit=40)
    settings = settings.model_copy(update={"lake": settings.lake.model_copy(update={"endpoint_url": s3_endpoint})})
    lake = Lake.open(f"s3://{bucket}/reddit", endpoint_url=s3_endpoint)

    assert asyncio.run(collect([SUB], settings))[0].ok
    sim.world.advance(3 * 3600)
    assert asyncio.run(collect([SUB], settings))[0].ok

    assert_complete_and_unique(Lake.open(f"s3://{bucket}/reddit", endpoint_url=s3_endpoint), sim)
    assert rows(lake, "SELECT count(*) > 0 FROM api_requests") == [(True,)]

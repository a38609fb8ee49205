"""The collection flows on a real Prefect engine, against the simulator, into a real lake."""

from __future__ import annotations

import asyncio

import pytest

from conftest import query_rows, sim_settings
from flows.collect import collect
from redditlake.lake import Lake

pytestmark = pytest.mark.prefect


def _ids(lake: Lake, sql: str) -> list:
    return [r[0] for r in query_rows(lake, sql)]


def test_collect_lands_complete_data_once_and_reports_bad_subreddits(prefect_api, sim, tmp_path):
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new", "hot"], limit=40, posts_per_comment_task=10)

    state = asyncio.run(collect(["python", "datascience", "bad/name", "secretclub"], settings, return_state=True))

    assert state.is_failed(), state  # the UI and automations see that two subreddits failed
    assert "2 of 4 subreddits failed" in state.message and "secretclub" in state.message
    summaries = state.result(raise_on_failure=False)  # the others' data landed all the same

    by = {s.subreddit: s for s in summaries}
    assert by["python"].ok and by["datascience"].ok, [s.line() for s in summaries]
    assert not by["bad/name"].ok and "invalid subreddit name" in by["bad/name"].error
    assert not by["secretclub"].ok and "private" in by["secretclub"].error
    assert by["python"].requests > 0 and by["python"].posts >= 40

    lake = Lake.open(lake_uri)
    post_ids = _ids(lake, "SELECT id FROM posts WHERE subreddit = 'python'")
    assert len(post_ids) == len(set(post_ids)) == by["python"].posts  # hot and new overlap: stored once
    assert set(post_ids) <= set(sim.world.post_ids("python"))
    for pid in post_ids[:15]:
        stored = _ids(lake, f"SELECT id FROM comments WHERE link_id = 't3_{pid}'")
        assert sorted(stored) == sorted(sim.world.comment_ids(pid))
    assert _ids(lake, "SELECT count(*) - count(DISTINCT id) FROM comments") == [0]
    assert _ids(lake, "SELECT display_name FROM subreddits ORDER BY 1") == ["datascience", "python"]
    assert _ids(lake, "SELECT count(*) FROM api_requests")[0] >= by["python"].requests

    again = asyncio.run(collect(["python"], settings))
    assert again[0].ok and again[0].posts_written == 0 and again[0].comments_written == 0
    assert _ids(lake, "SELECT count(*) - count(DISTINCT id) FROM posts") == [0]

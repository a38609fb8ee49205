"""Several processes, one client id: they share Reddit's budget and never overrun it;
two runs of the same subreddit at once leave no duplicate."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import sim_env
from redditlake.lake import Lake

pytestmark = pytest.mark.prefect


def start_collect(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "redditlake.cli", "collect", *args],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )


def test_two_processes_with_one_client_id_stay_inside_the_budget(prefect_api, make_sim, tmp_path):
    sim = make_sim(requests_per_window=40, window_seconds=4, posts_per_subreddit=40, comments_per_post_mean=10)
    lake_dir = tmp_path / "lake"
    cfg = tmp_path / "budget.yaml"
    cfg.write_text("budget:\n  requests_per_minute: 600\n  window_seconds: 4\n")
    env = sim_env(sim, str(lake_dir), PREFECT_API_URL=prefect_api, REDDITLAKE_CONFIG=str(cfg))
    # Both collect r/python (the same subreddit at once) and one more each.
    procs = [start_collect(env, "python", sub, "--limit", "30") for sub in ("datascience", "aww")]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, out + err
        assert "Traceback" not in err

    stats = sim.stats()
    assert stats["requests"] > 2 * 40  # well over two windows' worth: the budget was binding
    assert stats["rate_limited"] == 0
    assert len(stats["by_client"]) == 1  # one client id for both processes

    lake = Lake.open(str(lake_dir))
    con = lake.duckdb()
    try:
        dup = con.execute("SELECT count(*) - count(DISTINCT id) FROM posts").fetchone()[0]
        cdup = con.execute("SELECT count(*) - count(DISTINCT id) FROM comments").fetchone()[0]
        python_posts = [r[0] for r in con.execute("SELECT id FROM posts WHERE subreddit = 'python'").fetchall()]
        comments = {r[0] for r in con.execute("SELECT id FROM comments").fetchall()}
    finally:
        con.close()
    assert dup == 0 and cdup == 0
    assert len(python_posts) == 30
    assert {c for p in python_posts for c in sim.world.comment_ids(p)} <= comments

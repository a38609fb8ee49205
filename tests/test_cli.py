"""The `redditlake` command as a user runs it: a subprocess, real servers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import free_port, sim_env
from redditlake.lake import Lake


def redditlake(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "redditlake.cli", *args],
        capture_output=True, text=True, timeout=timeout, env=full_env, stdin=subprocess.DEVNULL,
    )


def test_help_lists_the_commands():
    out = redditlake("--help")
    assert out.returncode == 0
    for command in ("collect", "demo", "sim", "query", "health"):
        assert command in out.stdout
    sub = redditlake("collect", "--help")
    assert "--time-filter" in sub.stdout and "--no-comments" in sub.stdout


def test_missing_credentials_are_named_in_one_line_with_what_works_without_a_key():
    out = redditlake("collect", "python")
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "REDDIT_CLIENT_ID is not set" in out.stderr
    # new keys need Reddit's approval: the line says so and names what runs without one
    assert "approval" in out.stderr and "redditlake demo" in out.stderr and "backfill" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_bad_config_file_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("budget:\n  requests_per_minute: -5\n")
    out = redditlake("--config", str(cfg), "collect", "python")
    assert out.returncode == 1
    assert "invalid setting budget.requests_per_minute" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_bad_simulator_option_is_one_line():
    out = redditlake("sim", "--big-thread-share", "2")
    assert out.returncode == 1
    assert out.stderr.strip() == "redditlake: error: invalid --big-thread-share: Input should be less than or equal to 1"


@pytest.mark.prefect
def test_collect_reports_bad_subreddits_and_still_collects_the_others(prefect_api, sim, tmp_path):
    lake_dir = tmp_path / "lake"
    env = sim_env(sim, PREFECT_API_URL=prefect_api)
    out = redditlake(
        "collect", "python", "../etc", "secretclub", "doesnotexist", "--limit", "10", "--no-comments",
        "--lake", str(lake_dir), env=env,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout
    lines = out.stdout.strip().splitlines()
    assert any(line.startswith("r/python: 10 posts") for line in lines), out.stdout
    assert any("invalid subreddit name '../etc'" in line for line in lines)
    assert any("r/secretclub is private" in line for line in lines)
    assert any("r/doesnotexist is not found" in line for line in lines)
    assert Lake.open(str(lake_dir)).read("posts").num_rows == 10

    q = redditlake("query", "SELECT count(*) AS n FROM posts", "--lake", str(lake_dir), "--format", "csv")
    assert q.returncode == 0 and q.stdout.splitlines() == ["n", "10"]
    bad = redditlake("query", "SELECT nope FROM posts", "--lake", str(lake_dir))
    assert bad.returncode == 1 and "query failed" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.prefect
def test_comment_depth_flag_keeps_only_the_top_levels(prefect_api, sim, tmp_path):
    lake_dir = tmp_path / "lake"
    out = redditlake("collect", "python", "--limit", "5", "--comment-depth", "1", "--lake", str(lake_dir),
                     env=sim_env(sim, PREFECT_API_URL=prefect_api))
    assert out.returncode == 0, out.stderr
    lake = Lake.open(str(lake_dir))
    posts = lake.read("posts").column("id").to_pylist()
    comments = lake.read("comments").to_pylist()
    world = sim.world
    want = {c.id for pid in posts for c in world.thread(world.post(pid)).comments
            if c.depth == 0 and c.id in set(world.comment_ids(pid))}
    assert want, "the simulator's posts have top-level comments"
    assert {c["id"] for c in comments} == want and len(comments) == len(want)
    assert {c["depth"] for c in comments} == {0}


def test_a_bad_comment_depth_is_one_line(tmp_path):
    out = redditlake("collect", "python", "--comment-depth", "0", env={"REDDITLAKE_LAKE": str(tmp_path)})
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "redditlake: error: invalid comment_depth: Input should be greater than or equal to 1"
    ], out.stderr


def test_a_wrong_secret_is_one_line_before_prefect_starts(sim, tmp_path):
    env = sim_env(sim, str(tmp_path / "lake"), REDDIT_CLIENT_SECRET="not-the-secret")
    out = redditlake("collect", "python", env=env)
    assert out.returncode == 1
    # One line, and nothing of Prefect: the flow never started.
    assert out.stderr.strip().splitlines() == [
        "redditlake: error: Reddit rejected the app credentials (HTTP 401): check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"
    ], out.stderr
    assert sim.stats()["by_family"] == {"token": 1}


def test_an_unreachable_api_is_one_line(tmp_path):
    port = free_port()
    env = {"REDDIT_CLIENT_ID": "x", "REDDIT_CLIENT_SECRET": "y", "REDDIT_URL": f"http://127.0.0.1:{port}",
           "REDDIT_OAUTH_URL": f"http://127.0.0.1:{port}", "REDDITLAKE_LAKE": str(tmp_path / "lake")}
    out = redditlake("collect", "python", env=env)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"redditlake: error: cannot reach http://127.0.0.1:{port}"), out.stderr


def test_demo_collects_from_its_own_simulator_with_no_credentials_and_prints_a_query(tmp_path):
    lake_dir = tmp_path / "demo-lake"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDDIT", "PREFECT_API_URL"))}
    out = subprocess.run(
        [sys.executable, "-m", "redditlake.cli", "demo", "--lake", str(lake_dir), "--limit", "10", "python"],
        capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "r/python" in out.stdout and "rows)" in out.stdout  # the per-subreddit summary, then the sample query
    lake = Lake.open(str(lake_dir))
    con = lake.duckdb()
    try:
        posts = con.execute("SELECT count(DISTINCT id), count(*) FROM posts WHERE subreddit = 'python'").fetchone()
        orphans = con.execute(
            "SELECT count(*) FROM comments c ANTI JOIN posts p ON c.link_id = 't3_' || p.id").fetchone()[0]
        comments = con.execute("SELECT count(*) FROM comments").fetchone()[0]
    finally:
        con.close()
    assert 10 <= posts[0] == posts[1] <= 20, posts  # new + hot, 10 each, one row per id
    assert comments > 0 and orphans == 0


def test_demo_archive_follows_its_own_archive_simulator_with_no_reddit_key_and_stops_it(tmp_path):
    """The no-key mode end to end: the archive simulator, one `follow` run, a query; no REDDIT_* at all."""
    import time

    lake_dir = tmp_path / "archive-lake"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDDIT", "PREFECT_API_URL"))}
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "redditlake.cli", "demo", "--archive", "--lake", str(lake_dir), "python"],
        capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    # follow's own summary lines, the sample query's table, where to see the follow's position.
    assert "r/python arcticshift posts (follow):" in out.stdout and "comments (follow):" in out.stdout
    assert "rows)" in out.stdout and "redditlake coverage python" in out.stdout
    lake = Lake.open(str(lake_dir))
    con = lake.duckdb()
    try:
        sources = con.execute("SELECT DISTINCT source FROM posts UNION SELECT DISTINCT source FROM comments").fetchall()
        posts = con.execute("SELECT count(*), min(epoch(created_utc)), max(epoch(created_utc)) FROM posts "
                            "WHERE subreddit = 'python'").fetchone()
        comments = con.execute("SELECT count(*) FROM comments WHERE subreddit = 'python'").fetchone()[0]
    finally:
        con.close()
    assert sources == [("arcticshift",)]
    assert posts[0] > 0 and comments > 0
    # What a first follow up to now lands: the last day, older than the archive's lag (minutes).
    assert started - 86400 - 60 <= posts[1] and posts[2] <= time.time() - 600, posts


def test_demo_archive_points_follow_at_its_archive_simulator_only_while_it_runs(tmp_path, monkeypatch):
    """In process: `follow` is handed the archive simulator's address and no Reddit key (even
    with one in the environment), and the simulator is gone once the demo returns."""
    import urllib.request

    from redditlake.demo import run_archive_demo

    monkeypatch.setenv("REDDIT_CLIENT_ID", "a-real-looking-key")
    calls = []

    def fake_follow(subs, settings, **kwargs):
        url = settings.archive.arcticshift_url
        with urllib.request.urlopen(f"{url}/api/posts/search?subreddit=python&limit=1", timeout=5) as answer:
            calls.append((subs, url, settings.reddit.client_id, settings.lake.uri, kwargs, answer.status))
        return 1  # as a failed run: the demo says so and skips its sample query

    assert run_archive_demo(["python"], lake_uri=str(tmp_path / "lake"), run_follow=fake_follow) == 1
    ((subs, url, client_id, lake_uri, kwargs, status),) = calls
    assert subs == ["python"] and status == 200 and url.startswith("http://127.0.0.1:")
    assert client_id is None and lake_uri == str(tmp_path / "lake") and kwargs["source"] == "arcticshift"
    with pytest.raises(OSError):  # stopped by the demo itself
        urllib.request.urlopen(f"{url}/api/posts/search?subreddit=python&limit=1", timeout=5)

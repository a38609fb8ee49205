"""The `redditlake` command as a user runs it: a subprocess, real servers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import sim_env
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


def test_missing_credentials_are_named_in_one_line():
    out = redditlake("collect", "python")
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "REDDIT_CLIENT_ID is not set" in out.stderr
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

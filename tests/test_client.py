"""The client against the simulator over HTTP: real asyncpraw, real aiohttp."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from conftest import sim_settings
from redditlake.errors import CredentialsError, SubredditUnavailable
from redditlake.reddit.client import RedditClient, check_credentials
from redditlake.reddit.comments import fetch_comment_tree
from redditlake.config import load_settings


def run(coro):
    return asyncio.run(coro)


async def _with_client(settings, fn):
    async with RedditClient(settings) as client:
        return await fn(client)


def test_listing_follows_pagination_to_the_limit_without_repeats(sim, tmp_path):
    settings = sim_settings(sim, str(tmp_path))

    async def fetch(client):
        return [p async for page in client.listing("python", "new", 150) for p in page]

    posts = run(_with_client(settings, fetch))
    ids = [p["id"] for p in posts]
    expected = min(150, len(sim.world.post_ids("python")))
    assert len(ids) == expected == len(set(ids))
    created = [p["created_utc"] for p in posts]
    assert created == sorted(created, reverse=True)  # new is newest first


def test_comment_trees_are_complete_and_each_comment_appears_once(sim, tmp_path):
    settings = sim_settings(sim, str(tmp_path))
    post_ids = sim.world.post_ids("askscience")
    biggest = sorted(post_ids, key=lambda p: len(sim.world.comment_ids(p)), reverse=True)[:5]

    async def fetch(client):
        return [await fetch_comment_tree(client, pid, subreddit="askscience") for pid in biggest]

    trees = run(_with_client(settings, fetch))
    for pid, tree in zip(biggest, trees):
        rows = tree.rows()
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))
        assert set(ids) == set(sim.world.comment_ids(pid))
        by_id = {r["id"]: r for r in rows}
        for r in rows:  # depth follows the parent chain
            parent = r["parent_id"]
            expected = 0 if parent.startswith("t3_") else by_id[parent[3:]]["depth"] + 1
            assert r["depth"] == expected
            assert r["link_id"] == f"t3_{pid}"


@pytest.mark.parametrize(
    "name, reason",
    [("doesnotexist", "not found"), ("secretclub", "private"), ("bannedsub", "banned"), ("quarantinedsub", "quarantined")],
)
def test_unavailable_subreddits_say_why(sim, tmp_path, name, reason):
    settings = sim_settings(sim, str(tmp_path))

    async def fetch(client):
        return [p async for page in client.listing(name, "new", 10) for p in page]

    with pytest.raises(SubredditUnavailable) as info:
        run(_with_client(settings, fetch))
    assert reason in str(info.value)
    assert f"r/{name}" in str(info.value)


def test_wrong_credentials_are_named_not_a_traceback(sim, tmp_path):
    settings = sim_settings(sim, str(tmp_path))
    settings = settings.model_copy(
        update={"reddit": settings.reddit.model_copy(update={"client_secret": SecretStr("wrong")})}
    )
    with pytest.raises(CredentialsError) as info:
        run(_with_client(settings, lambda c: c.about("python")))
    assert "REDDIT_CLIENT_SECRET" in str(info.value)
    assert "wrong" not in str(info.value)


@pytest.mark.parametrize("missing", ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"])
def test_a_missing_credential_variable_is_named(missing):
    env = {"REDDIT_CLIENT_ID": "abc", "REDDIT_CLIENT_SECRET": "xyz"}
    del env[missing]
    with pytest.raises(CredentialsError, match=missing):
        check_credentials(load_settings(env=env))

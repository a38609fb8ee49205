"""Author profiles, and a pseudonymised lake that holds no account name anywhere."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from conftest import query_rows as rows, sim_settings
from flows.collect import collect
from redditlake.config import load_settings
from redditlake.errors import ConfigError
from redditlake.lake import Lake
from redditlake.privacy import Pseudonymiser

pytestmark = pytest.mark.prefect
SUB = "python"



def test_users_are_collected_once_and_every_name_is_pseudonymised(prefect_api, make_sim, tmp_path):
    sim = make_sim(posts_per_subreddit=25, comments_per_post_mean=4)
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=15, users=True)
    privacy = settings.privacy.model_copy(update={"pseudonymise_authors": True, "pseudonym_key": SecretStr("k3y")})
    settings = settings.model_copy(update={"privacy": privacy})
    lake = Lake.open(lake_uri)

    summary = asyncio.run(collect([SUB], settings))[0]
    assert summary.ok and summary.users > 0, summary.line()

    real = {a.name for a in sim.world.accounts}
    stored = {r[0] for r in rows(lake, "SELECT author FROM posts UNION SELECT author FROM comments UNION SELECT author FROM users")}
    # "[deleted]" and the AutoModerator bot are not people: they stay readable.
    assert stored and not (stored & real - {"[deleted]", "AutoModerator"}), "a real account name reached the lake"
    pseudo = Pseudonymiser("k3y")
    post_authors = {sim.world.post(p).author for (p,) in rows(lake, "SELECT id FROM posts")}
    assert {pseudo.pseudonym(a) for a in post_authors} - {None} <= stored  # stable: same name, same pseudonym
    # Profiles join the posts on the pseudonym; deleted accounts (404) have none.
    unjoined = rows(lake, "SELECT count(*) FROM posts p WHERE p.author <> '[deleted]' AND p.author NOT IN (SELECT author FROM users)")
    deleted_accounts = {a.name for a in sim.world.accounts if a.deleted}
    assert unjoined[0][0] == len({a for a in post_authors if a in deleted_accounts})
    assert rows(lake, "SELECT count(*) FROM api_requests WHERE path LIKE '/user/%' AND path <> '/user/*/about'") == [(0,)]

    # A rerun asks for no profile it already holds.
    sim.reset_stats()
    asyncio.run(collect([SUB], settings))
    assert sim.stats()["by_family"].get("user", 0) == 0
    assert rows(lake, "SELECT count(*) - count(DISTINCT author) FROM users") == [(0,)]


def test_pseudonymising_without_a_key_is_refused_with_a_clear_message(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("privacy:\n  pseudonymise_authors: true\n")
    settings = load_settings(cfg, env={})
    with pytest.raises(ConfigError, match="REDDITLAKE_PSEUDONYM_KEY is not set"):
        Pseudonymiser(settings.privacy.pseudonym_key)


def test_secrets_are_refused_in_the_config_file(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("reddit:\n  client_secret: hunter2\n")
    with pytest.raises(ConfigError, match="is a secret") as info:
        load_settings(cfg, env={})
    assert "hunter2" not in str(info.value)

"""Refresh never redacts what it merely could not see.

A subreddit gone private, banned or quarantined, or a short ``/api/info`` answer, leaves items
unavailable: kept, recorded in ``unavailable``, reported, and redacted only by the configured
policy. Everything runs through the simulator over HTTP, the real client and the refresh flow.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from conftest import query_rows as rows, sim_env, sim_settings
from flows.collect import collect
from flows.refresh import refresh
from redditlake.compliance import operator_must_act
from redditlake.config import RedactAfter
from redditlake.lake import Lake
from test_cli import redditlake
from test_simulator import http_json, small_config, with_api
from redditlake.outcome import lines as lines_of

DARK, OTHER = "python", "worldnews"
T0 = datetime(2026, 12, 1, 6, tzinfo=UTC)


def stored(lake: Lake, sub: str) -> dict[str, tuple]:
    """Every stored post and comment of a subreddit with the columns a redaction changes."""
    posts = rows(lake, f"SELECT id, title, selftext, url, author FROM posts WHERE subreddit = '{sub}'")
    comments = []
    if "comments" in lake.tables():
        comments = rows(lake, f"SELECT id, body, author FROM comments WHERE subreddit = '{sub}'")
    return {**{p[0]: p[1:] for p in posts}, **{c[0]: c[1:] for c in comments}}


def live_post(sim, lake: Lake, sub: str) -> str:
    """A stored post of ``sub`` that Reddit shows as live (not deleted, not removed), by a real account."""
    return next(
        p for (p,) in rows(lake, f"SELECT id FROM posts WHERE subreddit = '{sub}' ORDER BY id")
        if is_live(sim, p) and sim.world.post(p).author != "AutoModerator"
    )


def live_ids(sim, lake: Lake, sub: str) -> tuple[str, str]:
    """A post and a comment of ``sub`` that Reddit shows as live."""
    comment = next(c for (c,) in rows(lake, f"SELECT id FROM comments WHERE subreddit = '{sub}' ORDER BY id") if is_live(sim, c))
    return live_post(sim, lake, sub), comment


def is_live(sim, item: str) -> bool:
    thing = sim.world.post(item) or sim.world.comment(item)
    deleted_accounts = {a.name for a in sim.world.accounts if a.deleted}
    return not (thing.deleted or thing.removed or thing.author in deleted_accounts)


def set_access(sim, sub: str, kind: str) -> None:
    http_json(f"{sim.url}/_sim/access?subreddit={sub}&kind={kind}", "POST")


def drop_from_info(sim, fullnames: list[str]) -> None:
    http_json(f"{sim.url}/_sim/info_drop", "POST", json.dumps(fullnames).encode())


@pytest.fixture
def small_world(make_sim):
    return make_sim(posts_per_subreddit=25, comments_per_post_mean=5)


# -- the simulator ----------------------------------------------------------------------------


def test_simulator_switches_a_subreddit_dark_and_back_and_drops_items_from_info():
    async def control(api, action: str, body: bytes | None = None) -> tuple[int, object]:
        async with api.http.post(f"{api.url}/_sim/{action}", data=body) as resp:
            return resp.status, await resp.json()

    async def body(sim, api):
        post = sim.world.post_ids("python")[0]
        comment = next(c for p in sim.world.post_ids("python") for c in sim.world.comment_ids(p))
        ids = f"t3_{post},t1_{comment}"
        status, _, data = await api.get("/api/info", id=ids)
        assert status == 200 and len(data["data"]["children"]) == 2

        for kind, status_code in (("private", 403), ("quarantined", 403), ("banned", 404)):
            assert (await control(api, f"access?subreddit=python&kind={kind}"))[0] == 200
            for path in ("/r/python/new", "/r/python/about", f"/comments/{post}"):
                status, _, data = await api.get(path)
                assert (status, data["reason"]) == (status_code, kind), path
            status, _, data = await api.post("/api/morechildren", {"link_id": f"t3_{post}", "children": comment})
            assert status == status_code
            status, _, data = await api.get("/api/info", id=ids)  # Reddit leaves them out, answers 200
            assert status == 200 and data["data"]["children"] == []
            assert (await api.get("/r/aww/about"))[0] == 200  # the other subreddits are untouched

        await control(api, "access?subreddit=python&kind=public")
        assert (await api.get("/r/python/about"))[0] == 200
        status, _, data = await api.get("/api/info", id=ids)
        assert len(data["data"]["children"]) == 2

        assert await control(api, "info_drop", json.dumps([f"t1_{comment}"]).encode()) == (200, [f"t1_{comment}"])
        status, _, data = await api.get("/api/info", id=ids)
        assert status == 200 and [c["data"]["id"] for c in data["data"]["children"]] == [post]
        await control(api, "info_drop", b"[]")
        assert len((await api.get("/api/info", id=ids))[2]["data"]["children"]) == 2

        assert (await control(api, "access?subreddit=python&kind=secret"))[0] == 400
        assert (await control(api, "access?subreddit=nope&kind=private"))[0] == 404
        assert (await control(api, "info_drop", b'{"not": "a list"}'))[0] == 400

    asyncio.run(with_api(small_config(posts_per_subreddit=20), body))


# -- refresh ----------------------------------------------------------------------------------


@pytest.mark.prefect
def test_a_blackout_redacts_nothing_of_the_dark_subreddit_and_the_next_refresh_keeps_everything(
    prefect_api, small_world, tmp_path
):
    sim = small_world
    lake_uri = str(tmp_path / "lake")
    lake = Lake.open(lake_uri)
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=20)
    assert all(s.ok for s in asyncio.run(collect([DARK, OTHER], settings)))
    before = stored(lake, DARK)
    gone_post, gone_comment = live_ids(sim, lake, OTHER)
    sim.world.delete(f"t3_{gone_post}")
    sim.world.delete(f"t1_{gone_comment}")
    set_access(sim, DARK, "private")

    out = redditlake("refresh", DARK, OTHER, "--lake", lake_uri, env=sim_env(sim, PREFECT_API_URL=prefect_api))

    assert out.returncode == 1, out.stdout + out.stderr  # the operator must act on r/python
    assert "Traceback" not in out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert f"r/{DARK}: private — {len(before):,} items unavailable, kept" in lines, out.stdout
    other = next(line for line in lines if line.startswith(f"r/{OTHER}:"))
    assert not operator_must_act(other) and "unavailable" not in other, other
    # Nothing of the dark subreddit changed; it is recorded as unavailable, item by item.
    assert stored(lake, DARK) == before
    assert rows(lake, f"SELECT count(*) FROM deletions WHERE subreddit = '{DARK}'") == [(0,)]
    assert rows(lake, f"SELECT reason, count(DISTINCT id), count(*) FROM unavailable WHERE subreddit = '{DARK}' GROUP BY ALL") == [
        ("private", len(before), len(before))
    ]
    # What really was deleted elsewhere is redacted, recorded as deleted.
    assert rows(lake, f"SELECT title, selftext, author FROM posts WHERE id = '{gone_post}'") == [("[deleted]", None, "[deleted]")]
    assert rows(lake, f"SELECT body, author FROM comments WHERE id = '{gone_comment}'") == [(None, "[deleted]")]
    recorded = dict(rows(lake, f"SELECT id, reason FROM deletions WHERE subreddit = '{OTHER}'"))
    assert recorded[gone_post] == recorded[gone_comment] == "deleted"

    # The subreddit opens again: a refresh keeps every live item; only what Reddit shows deleted goes.
    set_access(sim, DARK, "public")
    lines = lines_of(asyncio.run(refresh([DARK], settings)))
    assert not operator_must_act(lines[0]) and "unavailable" not in lines[0], lines
    after = stored(lake, DARK)
    assert after.keys() == before.keys()
    live = {i for i in before if is_live(sim, i)}
    assert live and {i: after[i] for i in live} == {i: before[i] for i in live}
    assert {i for (i,) in rows(lake, f"SELECT id FROM deletions WHERE subreddit = '{DARK}'")} == set(before) - live
    assert rows(lake, f"SELECT count(*) FROM unavailable WHERE subreddit = '{DARK}'") == [(len(before),)]
    assert rows(lake, f"SELECT state, unavailable FROM refreshes WHERE subreddit = '{DARK}' ORDER BY collected_at") == [
        ("private", len(before)), ("public", 0)
    ]


@pytest.mark.prefect
def test_a_short_info_answer_redacts_nothing(prefect_api, small_world, tmp_path):
    sim = small_world
    lake_uri = str(tmp_path / "lake")
    lake = Lake.open(lake_uri)
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=20)
    assert asyncio.run(collect([OTHER], settings))[0].ok
    post, comment = live_ids(sim, lake, OTHER)
    before = stored(lake, OTHER)
    drop_from_info(sim, [f"t3_{post}", f"t1_{comment}"])
    sim.reset_stats()

    lines = lines_of(asyncio.run(refresh([OTHER], settings)))

    assert "2 items unavailable (missing), kept" in lines[0] and not operator_must_act(lines[0]), lines
    assert sim.stats()["by_family"].get("about") == 1  # asked once why they are missing: the subreddit is fine
    after = stored(lake, OTHER)
    assert after[post] == before[post] and after[comment] == before[comment]
    assert rows(lake, f"SELECT count(*) FROM deletions WHERE id IN ('{post}', '{comment}')") == [(0,)]
    assert sorted(rows(lake, "SELECT id, kind, reason, streak FROM unavailable")) == sorted(
        [(post, "posts", "missing", 1), (comment, "comments", "missing", 1)]
    )


@pytest.mark.prefect
def test_the_policy_redacts_what_stays_missing_past_its_limits(prefect_api, small_world, tmp_path):
    sim = small_world
    lake_uri = str(tmp_path / "lake")
    lake = Lake.open(lake_uri)
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=20)
    policy = settings.compliance.model_copy(update={"missing": RedactAfter(refreshes=3, days=2)})
    settings = settings.model_copy(update={"compliance": policy})
    assert asyncio.run(collect([OTHER], settings))[0].ok
    post, comment = live_ids(sim, lake, OTHER)
    flicker = next(p for (p,) in rows(lake, "SELECT id FROM posts ORDER BY id DESC") if p != post and is_live(sim, p))
    before = stored(lake, OTHER)

    def refresh_at(when: datetime) -> str:
        return lines_of(asyncio.run(refresh([OTHER], settings, now=when)))[0]

    drop_from_info(sim, [f"t3_{post}", f"t1_{comment}", f"t3_{flicker}"])
    refresh_at(T0)
    drop_from_info(sim, [f"t3_{post}", f"t1_{comment}"])  # the flicker is back for one refresh
    refresh_at(T0 + timedelta(days=1))
    drop_from_info(sim, [f"t3_{post}", f"t1_{comment}", f"t3_{flicker}"])
    line = refresh_at(T0 + timedelta(hours=36))  # a third refresh in a row, but only 1.5 days
    assert "redacted by the unavailable policy" not in line, line
    kept = stored(lake, OTHER)
    assert [kept[i] for i in (post, comment, flicker)] == [before[i] for i in (post, comment, flicker)]

    line = refresh_at(T0 + timedelta(days=2))
    assert "2 redacted by the unavailable policy" in line, line
    assert rows(lake, f"SELECT title, selftext, author FROM posts WHERE id = '{post}'") == [("[deleted]", None, "[deleted]")]
    assert rows(lake, f"SELECT body, author FROM comments WHERE id = '{comment}'") == [(None, "[deleted]")]
    assert sorted(rows(lake, "SELECT id, reason, detail FROM deletions WHERE reason = 'policy_after_unavailable'")) == sorted(
        [(post, "policy_after_unavailable", "missing: 4 refreshes over 2.0 days"),
         (comment, "policy_after_unavailable", "missing: 4 refreshes over 2.0 days")]
    )
    # The one that came back in between started over: kept, with a streak of 2.
    assert stored(lake, OTHER)[flicker] == before[flicker]
    assert rows(lake, f"SELECT max(streak) FROM unavailable WHERE id = '{flicker}'") == [(2,)]
    # Redacted ids are not asked about again: only the flicker is still missing.
    line = refresh_at(T0 + timedelta(days=3))
    assert "1 items unavailable (missing), kept" in line and "policy" not in line, line


@pytest.mark.prefect
def test_a_banned_subreddit_is_kept_then_redacted_by_its_policy(prefect_api, small_world, tmp_path):
    sim = small_world
    lake_uri = str(tmp_path / "lake")
    lake = Lake.open(lake_uri)
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=10, comments=False)
    assert asyncio.run(collect([DARK], settings))[0].ok
    before = stored(lake, DARK)
    set_access(sim, DARK, "banned")

    first = lines_of(asyncio.run(refresh([DARK], settings, now=T0)))[0]
    assert first == f"r/{DARK}: banned — {len(before)} items unavailable, kept" and operator_must_act(first)
    assert stored(lake, DARK) == before

    second = lines_of(asyncio.run(refresh([DARK], settings, now=T0 + timedelta(days=1))))[0]  # the default: 2 refreshes, 1 day
    assert second == f"r/{DARK}: banned — 0 items unavailable, kept; {len(before)} redacted by the unavailable policy"
    assert set(rows(lake, "SELECT reason, detail FROM deletions")) == {("policy_after_unavailable", "banned: 2 refreshes over 1.0 days")}
    assert {r[0] for r in stored(lake, DARK).values()} == {"[deleted]"}


@pytest.mark.prefect
def test_a_deleted_account_loses_its_identity_everywhere_its_content_stays(prefect_api, small_world, tmp_path):
    sim = small_world
    lake_uri = str(tmp_path / "lake")
    lake = Lake.open(lake_uri)
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=15, comments=False, users=True)
    assert asyncio.run(collect([OTHER], settings))[0].ok
    post = live_post(sim, lake, OTHER)
    (author,) = rows(lake, f"SELECT author FROM posts WHERE id = '{post}'")[0]
    assert author != "AutoModerator" and rows(lake, f"SELECT count(*) FROM users WHERE author = '{author}'") == [(1,)]
    account = sim.world.account(author)
    http_json(f"{sim.url}/_sim/delete?id=t2_{account.id}", "POST")
    titles = dict(rows(lake, f"SELECT id, title FROM posts WHERE author = '{author}'"))

    asyncio.run(refresh([OTHER], settings))

    assert rows(lake, f"SELECT count(*) FROM posts WHERE author = '{author}'") == [(0,)]
    assert dict(rows(lake, f"SELECT id, title FROM posts WHERE id IN ({', '.join(repr(i) for i in titles)})")) == titles
    assert rows(lake, f"SELECT count(*) FROM users WHERE author = '{author}' OR account_id = 't2_{account.id}'") == [(0,)]
    users_rows = rows(lake, "SELECT id, reason, scope FROM deletions WHERE kind = 'users'")
    assert len(users_rows) == 1 and users_rows[0][0] in titles and users_rows[0][1:] == ("account_deleted", "author")
    assert not rows(lake, f"SELECT * FROM deletions WHERE id = '{author}' OR detail = '{author}'")


# -- units ------------------------------------------------------------------------------------


def test_judge_redacts_only_on_what_reddit_shows():
    from redditlake.compliance import judge

    live = {"id": "a", "selftext": "hello", "author": "someone", "removed_by_category": None}
    assert judge("posts", live) is None
    assert judge("posts", {**live, "selftext": "[deleted]", "author": "[deleted]"}).reason == "deleted"
    assert judge("posts", {**live, "selftext": "", "removed_by_category": "deleted"}).reason == "deleted"
    removed = judge("posts", {**live, "selftext": "", "removed_by_category": "moderator"})
    assert (removed.reason, removed.detail, removed.scope) == ("removed", "moderator", "content")
    assert judge("comments", {"id": "c", "body": "[removed]", "author": "[deleted]"}).reason == "removed"
    account = judge("comments", {"id": "c", "body": "still here", "author": "[deleted]"})
    assert (account.reason, account.scope) == ("account_deleted", "author")


def test_the_policy_is_configured_per_reason_in_yaml(tmp_path):
    from redditlake.config import load_settings
    from redditlake.errors import ConfigError

    cfg = tmp_path / "c.yaml"
    cfg.write_text("compliance:\n  missing: {refreshes: 5, days: 30}\n  banned: null\n  private: {refreshes: 60, days: 90}\n")
    policy = load_settings(cfg, env={}).compliance
    assert policy.missing == RedactAfter(refreshes=5, days=30) and policy.banned is None
    assert policy.private == RedactAfter(refreshes=60, days=90) and policy.quarantined is None
    cfg.write_text("compliance:\n  missing: {refreshes: 0, days: 1}\n")
    with pytest.raises(ConfigError, match="compliance.missing.refreshes"):
        load_settings(cfg, env={})
    cfg.write_text("compliance:\n  deleted: {refreshes: 1, days: 1}\n")
    with pytest.raises(ConfigError, match="compliance.deleted"):
        load_settings(cfg, env={})


def test_a_post_answer_whose_figures_are_no_numbers_skips_that_snapshot_not_the_refresh(tmp_path):
    from redditlake import compliance
    from redditlake.config import ComplianceSettings
    from redditlake.landing import Landing

    lake = Lake.open(str(tmp_path / "lake"))
    now = datetime.now(UTC)
    good = {"id": "p1", "score": 12, "num_comments": 3, "upvote_ratio": 0.9}
    odd = {"id": "p2", "score": "lots", "num_comments": 1, "upvote_ratio": 0.5}
    seen = compliance.Check(posts=[good, odd], verdicts=[], missing={}, state=compliance.PUBLIC, checked=2)
    result = compliance.apply(lake, "python", seen, ComplianceSettings(), now)
    assert (result.metrics, result.unusable) == (1, 1)
    assert result.line().endswith("1 post answers with unusable figures skipped"), result.line()
    assert lake.read("post_metrics").column("id").to_pylist() == ["p1"]
    # A collection's metrics: the odd answer goes to quarantine with its reason, the rest lands.
    Landing(lake).metrics("python", [good, odd], now)
    assert sorted(lake.read("post_metrics").column("id").to_pylist()) == ["p1", "p1"]
    quarantined = lake.read("quarantine").to_pylist()
    assert [(q["table_name"], q["id"]) for q in quarantined] == [("post_metrics", "p2")]
    assert "score" in quarantined[0]["reason"]

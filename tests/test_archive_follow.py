"""A lake kept current from an archive, without a Reddit key, over a running content clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from conftest import archive_settings, query_rows, sim_env
from redditlake.cli import main
from redditlake.archive.client import ArchiveClient
from redditlake.archive.follow import follow_archive
from redditlake.lake import Lake
from redditlake.quality import results
from redditlake.landing import Landing
from redditlake.simulator import timeline
from redditlake.simulator.archive import ArchiveConfig, ArchiveThread

SUB = "python"
LAG = 1800.0  # the archive has nothing younger than 30 minutes
STEP = 6 * 3600
SETTLED = 36 * 3600.0  # the archive's second retrieval


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def follow_once(settings, lake: Lake, world, origin: float):
    """One follow run of SUB at the world's now, from ``origin`` when the lake holds no position."""
    async with ArchiveClient.for_source("arcticshift", settings) as client:
        return await follow_archive(client, Landing(lake), SUB, at(world.now), start=at(origin))


def archived(world, since: float, until: float) -> tuple[set[str], set[str]]:
    with world.lock:
        sub = world.subreddit(SUB)
        posts = {p.id for p in timeline.posts(world, sub) if since <= p.created < until}
        comments = {c.id for c, _ in timeline.comments(world, sub) if since <= c.created < until}
    return posts, comments


def test_a_subreddit_followed_through_the_archive_lands_every_item_once_and_a_later_removal(make_sim, tmp_path):
    sim = make_sim(subreddits=[SUB], posts_per_subreddit=400, comments_per_post_mean=5)
    world = sim.world
    config = ArchiveConfig(requests_per_window=100_000, max_size=50, lag_seconds=LAG, settled_after=SETTLED)
    with ArchiveThread(world, config) as archive:
        settings = archive_settings(sim, archive, str(tmp_path / "lake"), page_size=50)
        lake = Lake.open(settings.lake.uri)
        origin = world.now - 86400

        first = asyncio.run(follow_once(settings, lake, world, origin))
        assert first.ok
        stored = {r[0] for r in query_rows(lake, "SELECT id FROM comments")}
        # A comment landed by the follow pass, deleted by its author afterwards (not settled yet).
        with world.lock:
            young = [c for c, _ in timeline.comments(world, world.subreddit(SUB))
                     if c.id in stored and world.now - c.created < 12 * 3600 and not (c.deleted or c.removed)]
        victim = young[0]
        world.delete("t1_" + victim.id)

        for _ in range(8):  # two days of content time, a run every 6 hours
            world.advance(STEP)
            assert asyncio.run(follow_once(settings, lake, world, origin)).ok

        posts, comments = archived(world, origin, world.now - LAG)
        rows = query_rows(lake, "SELECT id, source FROM comments")
        post_rows = query_rows(lake, "SELECT id, source FROM posts")
        assert {r[0] for r in rows} == comments and len(rows) == len(comments)
        assert {r[0] for r in post_rows} == posts and len(post_rows) == len(posts)
        assert {r[1] for r in rows + post_rows} == {"arcticshift"}
        # The removal came with the settled copy, and went through compliance like refresh's.
        assert query_rows(lake, f"SELECT body, author FROM comments WHERE id = '{victim.id}'") == [(None, "[deleted]")]
        assert ("comments", "deleted") in query_rows(
            lake, f"SELECT kind, reason FROM deletions WHERE id = '{victim.id}'")
        # Settled posts' final scores went to post_metrics.
        settled_posts, _ = archived(world, origin, world.now - 36 * 3600)
        final = dict(query_rows(lake, "SELECT id, arg_max(score, collected_at) FROM post_metrics GROUP BY id"))
        assert settled_posts and settled_posts <= set(final)
        with world.lock:  # the archive's settled copy: the score 36 h after creation
            settled_scores = {p: archive.archive.post_item(world.post(p), world.now)["score"] for p in settled_posts}
        assert {p: final[p] for p in settled_posts} == settled_scores
        # No state outside the lake: the positions are rows of backfill_progress.
        jobs = {r[0] for r in query_rows(lake, "SELECT DISTINCT job FROM backfill_progress")}
        assert jobs == {"follow:arcticshift:posts", "follow:arcticshift:comments",
                        "settle:arcticshift:posts", "settle:arcticshift:comments"}


def test_collection_yaml_source_arcticshift_deploys_the_follow_flow_and_its_runs_land(prefect_api, make_sim, tmp_path,
                                                                                       monkeypatch, capsys):
    """An entry with ``source: arcticshift`` becomes a follow-archive deployment (no Reddit key
    asked for); its flow, run with the deployment's parameters, lands rows and records the run."""
    from flows.follow import follow
    from redditlake.collection import FOLLOW_ENTRYPOINT, CollectionFile, deployment_specs

    config = CollectionFile.model_validate({"collection": {"subreddits": [
        {"name": "datascience"}, {"name": SUB, "source": "arcticshift", "collection_frequency": "6h"}]},
        "maintenance": {}})
    specs = deployment_specs(config)
    (spec,) = [s for s in specs if s["name"] == SUB]
    assert spec["entrypoint"] == FOLLOW_ENTRYPOINT and spec["schedule"] == {"interval": 6 * 3600}
    assert spec["parameters"] == {"subreddit": SUB, "source": "arcticshift", "comments": True, "lake_block": None}
    # refresh and the maintenance sweep ask Reddit's API: only the subreddits collected from it.
    by_flow = {s["flow_name"]: s["parameters"] for s in specs}
    assert by_flow["refresh"]["subreddits"] == ["datascience"] and by_flow["maintain-lake"]["sweep"] == ["datascience"]

    sim = make_sim(subreddits=[SUB], posts_per_subreddit=200, comments_per_post_mean=4)
    world = sim.world
    with ArchiveThread(world, ArchiveConfig(requests_per_window=100_000, lag_seconds=LAG, settled_after=SETTLED)) as archive:
        settings = archive_settings(sim, archive, str(tmp_path / "lake"))
        state = asyncio.run(follow(**spec["parameters"], now=str(int(world.now)), settings=settings, return_state=True))
        assert state.is_completed(), state.message
        world.advance(STEP)
        # The same run by hand, through the CLI: it goes on from the lake's positions.
        for name, value in {**sim_env(sim, settings.lake.uri), "REDDITLAKE_ARCTICSHIFT_URL": archive.url,
                            "REDDITLAKE_CONFIG": str(tmp_path / "c.yaml")}.items():
            monkeypatch.setenv(name, value)
        (tmp_path / "c.yaml").write_text("archive:\n  requests_per_minute: 60000\n")
        assert main(["follow", SUB, "--now", str(int(world.now))]) == 0
        out = capsys.readouterr().out
        assert f"r/{SUB} arcticshift posts (follow):" in out and "FAILED" not in out, out
        world.advance(STEP)
    lake = Lake.open(settings.lake.uri)
    posts, comments = archived(world, world.now - STEP - 86400 - STEP, world.now - STEP - LAG)
    assert {r[0] for r in query_rows(lake, "SELECT id FROM posts")} == posts
    assert {r[0] for r in query_rows(lake, "SELECT id FROM comments")} == comments
    # The same quality path as every collection: the run's batches were validated.
    validated = set(results.read(lake, "validation_runs").column("table_name").to_pylist())
    assert {"posts", "comments"} <= validated


def test_coverage_shows_where_a_followed_subreddit_stands_its_lag_behind_now_and_the_seconds_it_could_not_split(
        make_sim, tmp_path, capsys):
    """Pages of two items: every second holding two or more cannot be split by time and is a gap
    the follow records; `coverage` shows it unfilled (the same archive would cut it again)."""
    from collections import Counter

    from redditlake.coverage_report import coverage, followed

    # Big threads: comments close together, many seconds holding two or more.
    sim = make_sim(subreddits=[SUB, "aww"], posts_per_subreddit=300, comments_per_post_mean=5,
                   big_thread_share=0.2, big_thread_comments=(300, 600))
    world = sim.world
    config = ArchiveConfig(requests_per_window=100_000, max_size=2, lag_seconds=LAG, settled_after=SETTLED)
    with ArchiveThread(world, config) as archive:
        settings = archive_settings(sim, archive, str(tmp_path / "lake"), page_size=2)
        lake = Lake.open(settings.lake.uri)
        origin = world.now - 2 * 86400  # past the settle pass's 36 h: both passes cut the same seconds

        assert asyncio.run(follow_once(settings, lake, world, origin)).ok
    cutoff = world.now - LAG  # what the archive had
    with world.lock:
        sub = world.subreddit(SUB)
        seconds = {"posts": [int(p.created) for p in timeline.posts(world, sub) if origin <= p.created < cutoff],
                   "comments": [int(c.created) for c, _ in timeline.comments(world, sub) if origin <= c.created < cutoff]}
    crowded = {(kind, at(second)) for kind, got in seconds.items() for second, n in Counter(got).items() if n >= 2}
    # The world has such seconds, some old enough for the settle pass to cut them again.
    assert any(second < at(world.now - SETTLED) for _, second in crowded)

    later = at(world.now + 7200)
    rows = {(r[0], r[1], r[2]): r for r in followed(lake, SUB, later).rows}
    assert set(rows) == {(phase, "arcticshift", kind) for phase in ("follow", "settle") for kind in seconds}
    for kind, got in seconds.items():
        _, _, _, position, newest, _, _, lag_now, gaps = rows[("follow", "arcticshift", kind)]
        assert position == newest == at(max(got))  # the newest archived item landed
        assert lag_now == str(timedelta(seconds=int(later.timestamp()) - max(got)))
        assert gaps == sum(1 for k, _ in crowded if k == kind)
        # The settle pass: everything up to 36 h ago asked again; its lag is its position's.
        _, _, _, settled, newest, _, _, lag_now, gaps = rows[("settle", "arcticshift", kind)]
        assert settled == at(world.now - SETTLED) and newest is None
        assert lag_now == str(timedelta(seconds=int(later.timestamp() - world.now + SETTLED)))
        assert gaps == sum(1 for k, second in crowded if k == kind and second < settled)

    _, gaps = coverage(lake, SUB)
    assert {(g[0], g[3]) for g in gaps.rows} == crowded and len(gaps.rows) == len(crowded)
    assert {(g[1], g[2], g[4] - g[3], g[5]) for g in gaps.rows} == {("arcticshift", "page_cut", timedelta(seconds=1), False)}

    assert main(["coverage", SUB, "--lake", settings.lake.uri]) == 0
    out = capsys.readouterr().out
    assert f"r/{SUB} is followed through an archive" in out and "page_cut" in out, out
    # A subreddit no follow ran on shows what it showed before: no follow section.
    assert followed(lake, "aww", later) is None
    assert main(["coverage", "aww", "--lake", settings.lake.uri]) == 0
    assert "followed through an archive" not in capsys.readouterr().out


def test_the_follow_position_never_passes_what_the_archive_had_so_the_next_run_lands_what_was_archived_since(
        make_sim, tmp_path):
    """An archive lags: a window reaching past its newest item found nothing there yet. The next
    follow run (not the settle pass 36 h later) lands what the archive took in since."""
    PAGE = 10  # no second holds more: every item can land
    sim = make_sim(subreddits=[SUB], posts_per_subreddit=300, comments_per_post_mean=5,
                   big_thread_share=0.2, big_thread_comments=(300, 600))
    world = sim.world
    config = ArchiveConfig(requests_per_window=100_000, max_size=PAGE, lag_seconds=LAG, settled_after=SETTLED)
    with ArchiveThread(world, config) as archive:
        settings = archive_settings(sim, archive, str(tmp_path / "lake"), page_size=PAGE)
        lake = Lake.open(settings.lake.uri)
        origin = world.now - 86400

        for _ in range(3):
            assert asyncio.run(follow_once(settings, lake, world, origin)).ok
            posts, comments = archived(world, origin, world.now - LAG)
            positions = dict(query_rows(lake, "SELECT job, arg_max(position_utc, collected_at) FROM backfill_progress "
                                              "GROUP BY job"))
            assert max(positions.values()) <= at(world.now - LAG)
            for kind in ("posts", "comments"):  # held at the newest item landed, not before it
                assert positions[f"follow:arcticshift:{kind}"] == query_rows(lake, f"SELECT max(created_utc) FROM {kind}")[0][0]
            assert {r[0] for r in query_rows(lake, "SELECT id FROM posts")} == posts
            assert {r[0] for r in query_rows(lake, "SELECT id FROM comments")} == comments
            world.advance(3600)  # the archive takes in the next hour

"""A comment's depth is the simulator's true depth whichever route brought it, or null while its
parent chain is not stored; a tree, a later landing or maintenance fills it in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from conftest import archive_settings, query_rows
from redditlake import depth
from redditlake.archive.client import ArchiveClient
from redditlake.archive.dumps import ingest_dump
from redditlake.archive.search import backfill_search
from redditlake.archive.threads import backfill_threads
from redditlake.config import DataQualitySettings
from redditlake.lake import Lake
from redditlake.landing import Landing
from redditlake.clock import now_utc
from redditlake.quality.batch import Batch, validate
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import fetch_comment_tree
from redditlake.simulator.archive import ArchiveConfig, ArchiveThread
from redditlake.simulator.dumps import world_lines, write_zst
from test_stream import run_stream, stream_settings

SUB = "python"
SINCE, MID, UNTIL = (datetime(2026, 10, d, tzinfo=UTC) for d in (10, 17, 25))


@pytest.fixture
def archived(make_sim):
    sim = make_sim(subreddits=[SUB], posts_per_subreddit=150, comments_per_post_mean=12, listing_cap=50)
    archive = ArchiveThread(sim.world, ArchiveConfig(requests_per_window=100_000, max_size=100)).start()
    yield sim, archive
    archive.stop()


def stored_depths(lake: Lake) -> dict[str, tuple[str, int | None]]:
    return {i: (p, d) for i, p, d in query_rows(lake, f"SELECT id, parent_id, depth FROM comments WHERE subreddit = '{SUB}'")}


def check_against_truth(sim, lake: Lake) -> tuple[int, int]:
    """Every stored comment whose parent chain is stored has its true depth, every other one null.
    Returns (known, unknown)."""
    stored = stored_depths(lake)
    assert stored, "nothing stored"

    def chain_stored(cid: str) -> bool:
        parent = stored[cid][0]
        while parent.startswith("t1_"):
            if parent[3:] not in stored:
                return False
            parent = stored[parent[3:]][0]
        return True

    wrong = {}
    with sim.world.lock:
        for cid, (_, d) in stored.items():
            expected = sim.world.comment(cid).depth if chain_stored(cid) else None
            if d != expected:
                wrong[cid] = (d, expected)
    assert not wrong, f"{len(wrong)} of {len(stored)} depths wrong (stored, expected): {list(wrong.items())[:5]}"
    unknown = sum(d is None for _, d in stored.values())
    return len(stored) - unknown, unknown


def assert_gx_depth_passes(lake: Lake, unknown: int) -> None:
    """The comments suite on the whole stored table: the depth expectations pass (known depths
    judged), and the unknown ones are counted in the ``unknown_depth_share`` metric."""
    rows = lake.read("comments", SUB)
    result = validate(Batch("comments", SUB, rows), DataQualitySettings(), datetime.now(UTC))
    depth_outcomes = [o for o in result.outcomes if o.name.startswith("depth")]
    assert len(depth_outcomes) == 2 and all(o.success for o in depth_outcomes), \
        [(o.name, o.unexpected_ids) for o in depth_outcomes]
    metrics = {m["metric_name"]: m["metric_value"] for m in result.metrics}
    assert metrics["unknown_depth_share"] == pytest.approx(unknown / len(stored_depths(lake)))


async def land_trees(settings, lake: Lake) -> None:
    """Fetch from the Reddit API the tree of every post that has stored comments, and land it."""
    posts = sorted({p for (p,) in query_rows(lake, "SELECT DISTINCT substr(link_id, 4) FROM comments")})
    landing = Landing(lake)
    async with RedditClient(settings) as client:
        for post_id in posts:
            tree = await fetch_comment_tree(client, post_id, subreddit=SUB)
            landing.comments(SUB, tree.rows(), now_utc())


def test_stream_depths_are_true_or_unknown_and_the_tree_fills_them(make_sim, tmp_path):
    sim = make_sim(subreddits=[SUB], posts_per_subreddit=1500, comments_per_post_mean=30, listing_cap=300)
    settings = stream_settings(sim, str(tmp_path / "lake"))
    lake = Lake.open(settings.lake.uri)
    summary = asyncio.run(run_stream(sim, settings, steps=4, step_seconds=3600))
    assert summary.flushes >= 2

    known, unknown = check_against_truth(sim, lake)
    # Replies to comments made before the stream started have no stored parent; the rest are known,
    # replies among them too (depth > 0 from a parent streamed in an earlier or the same batch).
    assert unknown > 0 and known > 0
    assert query_rows(lake, "SELECT count(*) FROM comments WHERE depth > 0")[0][0] > 0
    assert_gx_depth_passes(lake, unknown)

    asyncio.run(land_trees(settings, lake))
    known, unknown = check_against_truth(sim, lake)
    assert unknown == 0 and known == len(stored_depths(lake))
    assert_gx_depth_passes(lake, unknown)


def test_archive_backfill_depths_then_the_archive_trees_fill_them(archived, tmp_path):
    sim, archive = archived
    settings = archive_settings(sim, archive, str(tmp_path / "lake"))
    lake = Lake.open(settings.lake.uri)

    async def backfill():
        async with ArchiveClient.for_source("pullpush", settings) as client:
            # The later week first: its replies to the earlier week's comments wait for their parents.
            for since, until in ((MID, UNTIL), (SINCE, MID)):
                for kind in ("posts", "comments"):
                    await backfill_search(client, Landing(lake), SUB, kind, since, until, window_days=3, batch_rows=200)

    asyncio.run(backfill())
    known, unknown = check_against_truth(sim, lake)
    assert known > 0 and unknown > 0
    assert_gx_depth_passes(lake, unknown)

    async def threads():
        async with ArchiveClient.for_source("arcticshift", settings) as client:
            return await backfill_threads(client, Landing(lake), SUB, SINCE, UNTIL)

    assert asyncio.run(threads()).requests > 0
    _, unknown = check_against_truth(sim, lake)
    # Every thread fetched has no unknown depth left; the ones left are on posts older than the
    # backfill (not stored, so their trees were not fetched).
    unknown_on = query_rows(lake, "SELECT DISTINCT substr(link_id, 4) IN (SELECT id FROM posts) FROM comments "
                                  "WHERE depth IS NULL")
    assert unknown_on in ([], [(False,)])
    assert query_rows(lake, "SELECT count(*) FROM comments WHERE substr(link_id, 4) IN (SELECT id FROM posts)")[0][0] > 0
    assert_gx_depth_passes(lake, unknown)


def test_dump_backfill_depths_a_later_landing_and_the_live_tree_fill_them(archived, tmp_path):
    sim, archive = archived
    path = str(tmp_path / "RC_2026-10.zst")
    write_zst(path, world_lines(archive.archive, [SUB]))
    settings = archive_settings(sim, archive, str(tmp_path / "lake"))
    lake = Lake.open(settings.lake.uri)

    ingest_dump(path, Landing(lake), [SUB], MID, UNTIL, batch_rows=100)
    _, unknown_first = check_against_truth(sim, lake)
    unknown_ids = {i for i, (_, d) in stored_depths(lake).items() if d is None}
    # The earlier week lands the parents: the later week's waiting replies are filled in.
    ingest_dump(path, Landing(lake), [SUB], SINCE, MID, batch_rows=100)
    known, unknown = check_against_truth(sim, lake)
    filled = {i for i in unknown_ids if stored_depths(lake)[i][1] is not None}
    assert filled and unknown > 0 and known > 0 and unknown_first > 0
    assert query_rows(lake, "SELECT count(*) FROM comments WHERE depth IS NULL AND source = 'dump'")[0][0] == unknown
    assert_gx_depth_passes(lake, unknown)

    asyncio.run(land_trees(settings, lake))
    known, unknown = check_against_truth(sim, lake)
    # What stays unknown is only what no tree shows: a dump comment whose parent the trees hide
    # (deleted, removed) and the dump did not bring.
    still = {i for i, (_, d) in stored_depths(lake).items() if d is None}
    with sim.world.lock:
        posts = {sim.world.comment(i).post_id for i in still}
    hidden = {h for p in posts for h in sim.world.hidden_comment_ids(p)}
    assert len(still) == unknown and still <= hidden, (still - hidden)
    assert unknown < len(unknown_ids)
    assert_gx_depth_passes(lake, unknown)


def test_maintenance_fills_what_no_landing_could(archived, tmp_path):
    sim, archive = archived
    settings = archive_settings(sim, archive, str(tmp_path / "lake"))
    lake = Lake.open(settings.lake.uri)
    blind = Landing(lake, depth_window_days=0)  # a landing that looks up parents in its own days only

    async def backfill():
        async with ArchiveClient.for_source("arcticshift", settings) as client:
            for since, until in ((MID, UNTIL), (SINCE, MID)):
                await backfill_search(client, blind, SUB, "comments", since, until, window_days=3, batch_rows=50)

    asyncio.run(backfill())
    with pytest.raises(AssertionError, match="depths wrong"):
        check_against_truth(sim, lake)  # replies whose parents are stored, in other days, still unknown
    before = query_rows(lake, "SELECT count(*) FROM comments WHERE depth IS NULL")[0][0]

    filled = depth.fill_stored(lake, SUB)

    assert filled > 0
    assert query_rows(lake, "SELECT count(*) FROM comments WHERE depth IS NULL")[0][0] == before - filled
    check_against_truth(sim, lake)
    assert depth.fill_stored(lake, SUB) == 0  # nothing left that can be known


def test_update_column_sets_one_value_per_id_and_nothing_else(tmp_path):
    lake = Lake.open(str(tmp_path / "lake"))
    created = [datetime(2026, 10, d, tzinfo=UTC) for d in (1, 1, 2)]
    rows = pa.table({"id": ["a", "b", "c"], "subreddit": [SUB] * 3, "created_utc": created,
                     "collected_at": created, "depth": pa.array([None, None, 5], pa.int64())})
    lake.write("comments", SUB, rows)

    result = lake.update_column("comments", SUB, "depth", {"a": 2, "c": 7, "zz": 1})

    assert result.redacted == {"a", "c"} and result.not_found == {"zz"}
    assert dict(query_rows(lake, "SELECT id, depth FROM comments")) == {"a": 2, "b": None, "c": 7}
    with pytest.raises(ValueError, match="cannot set"):
        lake.update_column("comments", SUB, "id", {"a": "x"})
    with pytest.raises(ValueError, match="do not fit"):
        lake.update_column("comments", SUB, "depth", {"a": "deep"})

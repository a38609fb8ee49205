"""Complete comment trees of big threads (1-5k comments, wide and deep), against a simulator
whose morechildren answers are capped like Reddit's and hand back what does not fit."""

from __future__ import annotations

import asyncio

import pytest

from conftest import query_rows, sim_settings
from redditlake.errors import AnswerTooLarge
from redditlake.lake import Lake
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import fetch_comment_tree
from redditlake.simulator import FaultConfig
from redditlake.simulator.config import HugeThreadConfig

BIG = dict(posts_per_subreddit=12, comments_per_post_mean=8, big_thread_share=0.25, big_thread_comments=(1000, 5000))
# Through the flow: fewer and smaller big threads, the Prefect engine costs more per comment.
FLOW_BIG = dict(posts_per_subreddit=8, comments_per_post_mean=8, big_thread_share=0.3, big_thread_comments=(1000, 2000))


def big_posts(world, subreddit: str, n: int) -> list[str]:
    posts = sorted(world.post_ids(subreddit), key=lambda p: len(world.comment_ids(p)), reverse=True)[:n]
    assert len(world.comment_ids(posts[-1])) >= 1000, "the simulator should have made big threads"
    return posts


def check_depths(rows: list[dict]) -> None:
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        parent = r["parent_id"]
        assert r["depth"] == (0 if parent.startswith("t3_") else by_id[parent[3:]]["depth"] + 1)


def check_complete(world, posts, trees) -> None:
    """Every comment of each post's thread once, with its depth, nothing given up."""
    for pid, tree in zip(posts, trees):
        rows = tree.rows()
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))
        assert set(ids) == set(world.comment_ids(pid)), f"{len(ids)} of {len(world.comment_ids(pid))}"
        check_depths(rows)
        assert not tree.unexpandable and not tree.unexpandable_parents


def subtree(world, post_id: str, root: str) -> set[str]:
    children = world.thread(world.post(post_id)).children
    out, stack = set(), [root]
    while stack:
        cid = stack.pop()
        out.add(cid)
        stack.extend(children.get(cid, []))
    return out


def fetch_trees(settings, post_ids, **kwargs):
    async def body():
        async with RedditClient(settings) as client:
            return [await fetch_comment_tree(client, pid, subreddit="python", **kwargs) for pid in post_ids]

    return asyncio.run(body())


def test_every_comment_of_big_threads_is_fetched_once_with_its_depth(make_sim, tmp_path):
    sim = make_sim(subreddits=["python"], **BIG)
    posts = big_posts(sim.world, "python", 2)
    trees = fetch_trees(sim_settings(sim, str(tmp_path)), posts)
    check_complete(sim.world, posts, trees)
    assert sim.stats()["morechildren_concurrent_max"] == 1


@pytest.mark.parametrize("error_body", [False, True], ids=["413", "error-body"])
def test_huge_threads_refusing_big_requests_are_still_collected_completely(make_sim, tmp_path, error_body):
    """Past a size, the simulator refuses big morechildren calls and tree answers (413, or Reddit's
    error body); the client halves ids, then limit/depth, and goes on to every comment."""
    huge = HugeThreadConfig(comments=1000, morechildren_ids=20, tree_comments=60, error_body=error_body)
    sim = make_sim(subreddits=["python"], huge_threads=huge, **BIG)
    posts = big_posts(sim.world, "python", 2)
    trees = fetch_trees(sim_settings(sim, str(tmp_path)), posts)
    check_complete(sim.world, posts, trees)
    assert all(t.refused and t.batch_size <= 20 and t.tree_limit <= 60 for t in trees)
    stats = sim.stats()
    assert stats["by_status"].get("413", 0) == (0 if error_body else sum(t.refused for t in trees))
    assert stats["morechildren_concurrent_max"] == 1


def test_a_tree_refused_even_at_its_smallest_is_one_clear_error(make_sim, tmp_path):
    """The ladder of a refused tree request: limit halved 500 → 10, then depth 10 → 1, then given up."""
    sim = make_sim(subreddits=["python"], huge_threads=HugeThreadConfig(comments=1000, tree_comments=1), **BIG)
    posts = big_posts(sim.world, "python", 1)
    with pytest.raises(AnswerTooLarge, match="too large even at its smallest"):
        fetch_trees(sim_settings(sim, str(tmp_path)), posts)
    # limits 500, 250, 125, 62, 31, 15, 10, then depths 5, 2, 1 at limit 10: ten refusals, nothing else.
    stats = sim.stats()
    assert stats["by_status"].get("413") == stats["by_family"].get("comments") == 10


def test_ids_the_api_never_expands_are_given_up_counted_and_nothing_else_is_lost(make_sim, tmp_path):
    from redditlake.reddit.comments import TreeOptions

    sim = make_sim(subreddits=["python"], faults=FaultConfig(unexpandable_rate=0.01), **BIG)
    posts = big_posts(sim.world, "python", 1)
    (tree,) = fetch_trees(sim_settings(sim, str(tmp_path)), posts, options=TreeOptions(max_misses=2))
    world, pid = sim.world, posts[0]
    assert tree.unexpandable or tree.unexpandable_parents
    stuck = tree.unexpandable | tree.unexpandable_parents
    assert all(sim.running.sim.faults.unexpandable(c) for c in stuck)
    # Exactly the subtrees behind what was given up are missing: an id's own subtree, a
    # "continue this thread" parent's replies (the parent itself is held).
    lost = set().union(*(subtree(world, pid, c) for c in tree.unexpandable))
    lost |= set().union(*(subtree(world, pid, c) - {c} for c in tree.unexpandable_parents))
    assert set(tree.comments) == set(world.comment_ids(pid)) - lost


def test_comment_depth_keeps_the_top_levels_with_fewer_requests(make_sim, tmp_path):
    from redditlake.reddit.comments import TreeOptions

    sim = make_sim(subreddits=["python"], **BIG)
    posts = big_posts(sim.world, "python", 2)
    settings = sim_settings(sim, str(tmp_path))
    full = fetch_trees(settings, posts)
    shallow = fetch_trees(settings, posts, options=TreeOptions(depth=2))
    for pid, all_of_it, top in zip(posts, full, shallow):
        thread = sim.world.thread(sim.world.post(pid))
        want = {c.id for c in thread.comments if c.depth < 2 and c.id in set(sim.world.comment_ids(pid))}
        rows = top.rows()
        assert {r["id"] for r in rows} == want and len(rows) == len(want)
        check_depths(rows)
        assert top.requests < all_of_it.requests
        print(f"post {pid}: {len(all_of_it.comments)} comments in {all_of_it.requests} requests; "
              f"depth 2: {len(rows)} comments in {top.requests} requests")


@pytest.mark.prefect
def test_collect_lands_every_comment_of_big_threads_in_parallel(prefect_api, make_sim, tmp_path):
    from flows.collect import collect

    sim = make_sim(subreddits=["python", "aww"], latency_seconds=0.005, **FLOW_BIG)
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=8, posts_per_comment_task=4)

    summaries = asyncio.run(collect(["python", "aww"], settings))

    assert all(s.ok for s in summaries), [s.line() for s in summaries]
    assert all(s.unexpandable == 0 and s.cut_threads == 0 for s in summaries), [s.line() for s in summaries]
    lake = Lake.open(lake_uri)
    assert query_rows(lake, "SELECT count(*) - count(DISTINCT id) FROM comments") == [(0,)]
    big = 0
    for sub in ("python", "aww"):
        for pid in sim.world.post_ids(sub):
            truth = sim.world.comment_ids(pid)
            big += len(truth) >= 1000
            stored = query_rows(lake, f"SELECT id, parent_id, depth FROM comments WHERE link_id = 't3_{pid}'")
            assert sorted(r[0] for r in stored) == sorted(truth), pid
            check_depths([{"id": i, "parent_id": p, "depth": d} for i, p, d in stored])
    assert big >= 2
    stats = sim.stats()
    assert stats["morechildren_concurrent_max"] == 1  # one at a time per client ...
    assert stats["peak_concurrency"] > 1  # ... while other requests overlap,
    # among them /comments calls of different posts of one subreddit: trees fetched in parallel.
    ((overlaps,),) = query_rows(lake, """
        SELECT count(*) FROM api_requests a JOIN api_requests b
          ON a.subreddit = b.subreddit AND a.endpoint = 'comments' AND b.endpoint = 'comments'
         AND split_part(a.path, '/', 3) <> split_part(b.path, '/', 3)
         AND b.ts >= a.ts AND b.ts < a.ts + to_microseconds(CAST(a.latency_ms * 1000 AS BIGINT))""")
    assert overlaps > 0


@pytest.mark.prefect
def test_collect_counts_unexpandable_ids_and_cut_threads_in_summary_and_lake(prefect_api, make_sim, tmp_path):
    from flows.collect import collect

    sim = make_sim(subreddits=["python"], faults=FaultConfig(unexpandable_rate=0.02), **FLOW_BIG)
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=8, max_more_misses=2)

    (summary,) = asyncio.run(collect(["python"], settings))

    assert summary.ok and summary.unexpandable > 0 and summary.cut_threads > 0, summary.line()
    assert "unexpandable" in summary.line() and f"{summary.cut_threads} cut threads" in summary.line()
    lake = Lake.open(lake_uri)
    ((marked, cut, finished),) = query_rows(
        lake, "SELECT sum(unexpandable), count(*) FILTER (unexpandable > 0), bool_and(complete) FROM comment_fetches")
    assert marked == summary.unexpandable and cut == summary.cut_threads and finished
    # Every comment landed is real, once; what is missing is behind what was given up.
    stored = {r[0] for r in query_rows(lake, "SELECT id FROM comments")}
    truth = {c for pid in sim.world.post_ids("python") for c in sim.world.comment_ids(pid)}
    assert stored < truth

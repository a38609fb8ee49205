"""Big comment trees: completeness and requests of the collector, by ``comment_depth``.

One simulator with big threads (``big_thread_share``: 1-5k comments, wide and deep, whose
morechildren answers hand back what does not fit), every tree of one subreddit fetched by
``redditlake.reddit.comments.fetch_comment_tree`` (no Prefect: the tree logic alone), once
per depth limit. Completeness is checked against the simulator's ground truth.

    uv run python -m benchmarks.trees [--posts 12] [--big-share 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile

from benchmarks.common import sim_settings
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import TreeOptions, fetch_comment_tree
from redditlake.simulator import SimulatorConfig, SimulatorThread

DEPTHS = (None, 3, 2, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=12)
    parser.add_argument("--big-share", type=float, default=0.25)
    args = parser.parse_args()
    config = SimulatorConfig(
        subreddits=["python"], posts_per_subreddit=args.posts, comments_per_post_mean=8,
        big_thread_share=args.big_share, big_thread_comments=(1000, 5000),
        requests_per_window=100_000, window_seconds=10,
    )
    with SimulatorThread(config) as sim, tempfile.TemporaryDirectory() as lake:
        client_id, secret = next(iter(sim.config.clients.items()))
        settings = sim_settings(sim.url, client_id, secret, lake, requests_per_window=100_000, window_seconds=10)
        world = sim.world
        posts = [p for p in world.post_ids("python") if world.comment_ids(p)]
        depth_of = {c.id: c.depth for p in posts for c in world.thread(world.post(p)).comments}
        print(f"{len(posts)} posts with comments, largest {max(len(world.comment_ids(p)) for p in posts)}, "
              f"{sum(len(world.comment_ids(p)) >= 1000 for p in posts)} of 1000+")
        print(f"{'comment_depth':>13} {'comments':>9} {'expected':>9} {'requests':>9} {'morechildren':>13}")
        for depth in DEPTHS:
            sim.reset_stats()

            async def fetch():
                async with RedditClient(settings) as client:
                    return [await fetch_comment_tree(client, p, subreddit="python", options=TreeOptions(depth=depth))
                            for p in posts]

            trees = asyncio.run(fetch())
            got = {r["id"] for t in trees for r in t.rows()}
            want = {c for p in posts for c in world.comment_ids(p) if depth is None or depth_of[c] < depth}
            assert got == want, f"depth {depth}: {len(want - got)} missing, {len(got - want)} extra"
            stats = sim.stats()
            print(f"{str(depth):>13} {len(got):>9} {len(want):>9} {sum(t.requests for t in trees):>9} "
                  f"{stats['by_family'].get('morechildren', 0):>13}")


if __name__ == "__main__":
    main()

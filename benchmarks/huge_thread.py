"""One thread of 50,000 comments: requests and wall time of the collector, with and without refusals.

A simulator whose posts each get a thread of ``--comments`` comments (the clock moved on until
all are visible); the largest thread is fetched by ``redditlake.reddit.comments.fetch_comment_tree``
(no Prefect, no lake: the tree logic alone), once per side, and checked against the simulator's
ground truth. Sides: ``plain`` (the thread is not refused anything), ``413`` and ``error-body``
(past ``--huge`` comments Reddit refuses morechildren calls of more than ``--ids`` ids and tree
answers of more than ``--tree`` comments, with HTTP 413 or with its error body).

    uv run python -m benchmarks.huge_thread [--comments 50000] [--sides plain,413,error-body]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from benchmarks.common import sim_settings
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import fetch_comment_tree
from redditlake.simulator import SimulatorConfig, SimulatorThread
from redditlake.simulator.config import HugeThreadConfig

SETTLED = 21 * 86400  # every comment of a thread is created within 20 days of its post


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=50_000)
    parser.add_argument("--huge", type=int, default=10_000, help="threads this big are refused big requests")
    parser.add_argument("--ids", type=int, default=25, help="most ids a morechildren call on a huge thread may ask")
    parser.add_argument("--tree", type=int, default=100, help="most comments a tree answer on a huge thread may hold")
    parser.add_argument("--sides", default="plain,413,error-body")
    args = parser.parse_args()
    print(f"{'side':>10} {'comments':>9} {'truth':>7} {'requests':>9} {'morechildren':>13} {'trees':>6} "
          f"{'refused':>8} {'wall s':>7}")
    for side in args.sides.split(","):
        huge = HugeThreadConfig() if side == "plain" else HugeThreadConfig(
            comments=args.huge, morechildren_ids=args.ids, tree_comments=args.tree, error_body=side == "error-body")
        config = SimulatorConfig(
            subreddits=["python"], posts_per_subreddit=2, comments_per_post_mean=8, big_thread_share=1.0,
            big_thread_comments=(args.comments, args.comments), huge_threads=huge,
            requests_per_window=1_000_000, window_seconds=10,
        )
        with SimulatorThread(config) as sim, tempfile.TemporaryDirectory() as lake:
            world = sim.world
            world.advance(SETTLED)
            post = max(world.post_ids("python")[:2], key=lambda p: len(world.comment_ids(p)))
            truth = set(world.comment_ids(post))
            client_id, secret = next(iter(sim.config.clients.items()))
            settings = sim_settings(sim.url, client_id, secret, lake, requests_per_window=1_000_000, window_seconds=10)
            sim.reset_stats()

            async def fetch():
                async with RedditClient(settings) as client:
                    return await fetch_comment_tree(client, post, subreddit="python")

            started = time.perf_counter()
            tree = asyncio.run(fetch())
            wall = time.perf_counter() - started
            got = {r["id"] for r in tree.rows()}
            assert got == truth, f"{side}: {len(truth - got)} missing, {len(got - truth)} extra"
            stats = sim.stats()
            families = stats["by_family"]
            requests = stats["requests"] - families.get("token", 0)
            print(f"{side:>10} {len(got):>9} {len(truth):>7} {requests:>9} "
                  f"{families.get('morechildren', 0):>13} {families.get('comments', 0):>6} {tree.refused:>8} "
                  f"{wall:>7.1f}")


if __name__ == "__main__":
    main()

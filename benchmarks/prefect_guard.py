"""What a cross-process guard through Prefect costs per Reddit request.

The same N requests (``/r/python/about`` through redditlake's ``RedditClient``, against
the simulator with a budget far above what they use) inside a Prefect task on a local
Prefect server, each way:

  bare          no Prefect call per request
  rate-1        ``rate_limit(name, occupy=1, strict=True)`` before every request (a rate
                limit far above the demand: it never binds, only its cost shows)
  rate-chunk10  ``rate_limit(name, occupy=10)`` once per 10 requests (slots taken ahead,
                as the removed ``RateReservoir`` did, without its background prefetch)
  inflight-1    ``async with concurrency(name, occupy=1, strict=True)`` around every
                request (a bound on requests in flight across processes)

    uv run python -m benchmarks.prefect_guard [--requests 100] [--rounds 2]
"""

from __future__ import annotations

from benchmarks import common  # first: sets Prefect's environment

import argparse
import asyncio
import sys
import time

from redditlake.simulator import SimulatorConfig, SimulatorThread

VARIANTS = ["bare", "rate-1", "rate-chunk10", "inflight-1"]


async def run_variant(variant: str, url: str, client_id: str, secret: str, n: int) -> float:
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.concurrency.asyncio import concurrency, rate_limit

    from redditlake.reddit.client import RedditClient

    name = f"bench-{variant}"
    async with get_client() as pc:
        if variant.startswith("rate"):
            await pc.upsert_global_concurrency_limit_by_name(name, 1000, 1000.0)
        elif variant.startswith("inflight"):
            await pc.upsert_global_concurrency_limit_by_name(name, 100)
    settings = common.sim_settings(url, client_id, secret, "/tmp/unused-lake")

    @task(name=f"requests-{variant}")
    async def requests() -> float:
        async with RedditClient(settings) as client:
            await client.about("python")  # token and first headers outside the clock
            started = time.perf_counter()
            for i in range(n):
                if variant == "rate-1":
                    await rate_limit(name, occupy=1, strict=True)
                elif variant == "rate-chunk10" and i % 10 == 0:
                    await rate_limit(name, occupy=10, strict=True)
                if variant == "inflight-1":
                    async with concurrency(name, occupy=1, strict=True):
                        await client.about("python")
                else:
                    await client.about("python")
            return time.perf_counter() - started

    @flow(name=f"guard-{variant}")
    async def bench() -> float:
        return await requests()

    return await bench()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    m = common.machine()
    print(f"{m['date']}, commit {m['git_head']}, uncommitted product files: {m['git_uncommitted_product_files'] or 'none'}")
    config = SimulatorConfig(seed=1, subreddits=["python"], posts_per_subreddit=10, requests_per_window=100000,
                             window_seconds=10)
    results: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with prefect_test_harness(server_startup_timeout=120), SimulatorThread(config) as sim:
        client_id, secret = sim.running.credentials()
        for _ in range(args.rounds):
            for v in VARIANTS:
                results[v].append(asyncio.run(run_variant(v, sim.url, client_id, secret, args.requests)))
    print(f"{args.requests} requests per variant, {args.rounds} rounds; ms per request (each round), "
          "and added over bare (mean)")
    bare = sum(results["bare"]) / len(results["bare"]) / args.requests * 1000
    for v in VARIANTS:
        per = [t / args.requests * 1000 for t in results[v]]
        mean = sum(per) / len(per)
        print(f"  {v:14} {'  '.join(f'{p:7.1f}' for p in per)}   +{mean - bare:6.1f} ms")
    common.write_json("prefect_guard.json", {"command": "uv run python -m benchmarks.prefect_guard " + " ".join(sys.argv[1:]),
                                             "machine": m, "requests": args.requests, "seconds": results})


if __name__ == "__main__":
    main()

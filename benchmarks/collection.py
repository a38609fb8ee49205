"""Requests and wall time: redditlake's ``collect`` flow vs a plain asyncpraw script.

Both collect the same 5 subreddits x 200 ``new`` posts with complete comment trees, each
from its own simulator built from the same SimulatorConfig (same seed, so the same world),
in one process, one after the other. Request counts come from the simulators' stats;
completeness is checked against the simulator's ground truth.

    uv run python -m benchmarks.collection [--rounds N] [--limit 200]
"""

from __future__ import annotations

from benchmarks import common  # first: sets Prefect's environment

import argparse
import asyncio
import tempfile
import time
from typing import Any

from redditlake.simulator import SimulatorConfig, SimulatorThread

SUBREDDITS = ["python", "datascience", "askscience", "worldnews", "aww"]
REQUESTS_PER_WINDOW = 1000
WINDOW_SECONDS = 10.0
TARGET_RATIO = 0.8


def sim_config() -> SimulatorConfig:
    # 300 posts per subreddit (>= 200 for the listing), ~20 comments per post on average
    # (log-normal: a few posts have hundreds), the content clock standing still.
    return SimulatorConfig(
        seed=42,
        subreddits=SUBREDDITS,
        posts_per_subreddit=300,
        comments_per_post_mean=20.0,
        requests_per_window=REQUESTS_PER_WINDOW,
        window_seconds=WINDOW_SECONDS,
    )


def check(sim: SimulatorThread, posts: dict[str, list[str]], comments: dict[str, set[str]]) -> dict[str, Any]:
    """Compare what a side collected with the simulator's ground truth for the same posts."""
    truth_total = got_total = missing = extra = incomplete_posts = 0
    for ids in posts.values():
        for pid in ids:
            truth = set(sim.world.comment_ids(pid))
            got = comments.get(pid, set())
            truth_total += len(truth)
            got_total += len(got & truth)
            missing += len(truth - got)
            extra += len(got - truth)
            incomplete_posts += bool(truth - got)
    return {
        "posts": sum(len(v) for v in posts.values()),
        "comments": got_total,
        "ground_truth_comments": truth_total,
        "missing": missing,
        "extra": extra,
        "incomplete_posts": incomplete_posts,
        "complete": missing == 0 and extra == 0,
    }


def summarize(stats: dict[str, Any], wall: float, completeness: dict[str, Any], **more: Any) -> dict[str, Any]:
    used = common.api_requests(stats)
    return {
        "requests": used,
        "token_requests": stats["by_family"].get("token", 0),
        "by_family": {k: v for k, v in stats["by_family"].items() if k != "token"},
        "requests_per_1000_comments": round(1000 * used / max(completeness["comments"], 1), 1),
        "wall_seconds": round(wall, 1),
        "http_429": stats["rate_limited"],
        "by_status": stats["by_status"],
        "peak_concurrency": stats["peak_concurrency"],
        "morechildren_concurrent_max": stats["morechildren_concurrent_max"],
        **completeness,
        **more,
    }


def run_plain(limit: int) -> dict[str, Any]:
    with SimulatorThread(sim_config()) as sim:
        client_id, secret = sim.running.credentials()
        started = time.monotonic()
        result = asyncio.run(common.plain_collect(sim.url, client_id, secret, SUBREDDITS, limit, WINDOW_SECONDS))
        wall = time.monotonic() - started
        stats = common.sim_stats(sim.url)
        completeness = check(sim, result.posts, result.comments)
    return summarize(stats, wall, completeness, exceptions=dict(result.errors), steps_given_up=result.gave_up)


def read_lake(lake_uri: str) -> tuple[dict[str, list[str]], dict[str, set[str]], dict[str, Any]]:
    from redditlake.lake import Lake

    con = Lake.open(lake_uri).duckdb()
    try:
        # (Python locals named like the lake's views would shadow them in DuckDB's replacement scans.)
        by_sub: dict[str, list[str]] = {}
        for sub, pid in con.execute("SELECT subreddit, id FROM posts ORDER BY 1, 2").fetchall():
            by_sub.setdefault(sub, []).append(pid)
        by_post: dict[str, set[str]] = {}
        for link_id, cid in con.execute("SELECT link_id, id FROM comments").fetchall():
            by_post.setdefault(link_id.removeprefix("t3_"), set()).add(cid)
        dup = con.execute("SELECT count(*) - count(DISTINCT id) FROM comments").fetchone()[0]
        log = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE attempt > 1), count(*) FILTER (WHERE error_class IS NOT NULL) "
            "FROM api_requests WHERE endpoint <> 'token'"
        ).fetchone()
    finally:
        con.close()
    return by_sub, by_post, {
        "duplicate_comment_rows": dup,
        "request_log": {"requests": log[0], "retried_attempts": log[1], "errors": log[2]},
    }


def run_redditlake(limit: int) -> dict[str, Any]:
    from flows.collect import collect

    with SimulatorThread(sim_config()) as sim, tempfile.TemporaryDirectory(prefix="redditlake-bench-") as tmp:
        client_id, secret = sim.running.credentials()
        settings = common.sim_settings(
            sim.url, client_id, secret, f"{tmp}/lake",
            requests_per_window=REQUESTS_PER_WINDOW, window_seconds=WINDOW_SECONDS,
            sorts=["new"], limit=limit, comments=True,
        )
        started = time.monotonic()
        summaries = asyncio.run(collect(SUBREDDITS, settings))
        wall = time.monotonic() - started
        stats = common.sim_stats(sim.url)
        failed = [s.line() for s in summaries if not s.ok]
        posts, comments, lake_info = read_lake(f"{tmp}/lake")
        completeness = check(sim, posts, comments)
    return summarize(stats, wall, completeness, failed_subreddits=failed, **lake_info)


ROWS = [
    ("requests (excl. token)", "requests"),
    ("  listing", None),
    ("  about", None),
    ("  comments", None),
    ("  morechildren", None),
    ("requests / 1000 comments", "requests_per_1000_comments"),
    ("wall time (s)", "wall_seconds"),
    ("429s served", "http_429"),
    ("posts", "posts"),
    ("comments collected", "comments"),
    ("comments in ground truth", "ground_truth_comments"),
    ("complete", "complete"),
    ("peak concurrent requests", "peak_concurrency"),
]


def table(rl: dict[str, Any], plain: dict[str, Any]) -> str:
    lines = [f"{'':28}{'redditlake':>12}{'plain':>12}{'ratio':>8}", "-" * 60]
    for label, key in ROWS:
        if key is None:
            fam = label.strip()
            a, b = rl["by_family"].get(fam, 0), plain["by_family"].get(fam, 0)
        else:
            a, b = rl[key], plain[key]
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and not isinstance(a, bool) and b else ""
        lines.append(f"{label:28}{str(a):>12}{str(b):>12}{ratio:>8}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="plain then redditlake, this many times")
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    print(f"5 subreddits x {args.limit} new posts, complete comment trees; simulator budget "
          f"{REQUESTS_PER_WINDOW} requests / {WINDOW_SECONDS:g} s window", flush=True)
    rounds = []
    with prefect_test_harness(server_startup_timeout=120):
        for n in range(1, args.rounds + 1):
            plain = run_plain(args.limit)
            rl = run_redditlake(args.limit)
            ratio = rl["requests"] / plain["requests"]
            rounds.append({"redditlake": rl, "plain": plain, "request_ratio": round(ratio, 3),
                           "wall_ratio": round(rl["wall_seconds"] / plain["wall_seconds"], 2)})
            print(f"\nround {n}\n{table(rl, plain)}")
            print(f"requests redditlake/plain = {ratio:.3f} (target <= {TARGET_RATIO}): "
                  f"{'met' if ratio <= TARGET_RATIO and rl['complete'] and plain['complete'] else 'NOT met'}")
            if plain["exceptions"]:
                print(f"plain script exceptions (caught, step retried): {plain['exceptions']}")
            if rl["failed_subreddits"]:
                print(f"redditlake failures: {rl['failed_subreddits']}")
            print(f"redditlake request log: {rl['request_log']}; morechildren concurrency max: "
                  f"redditlake {rl['morechildren_concurrent_max']}, plain {plain['morechildren_concurrent_max']}",
                  flush=True)
    path = common.write_json("collection.json", {
        "benchmark": "collection",
        "machine": common.machine(),
        "subreddits": SUBREDDITS,
        "limit": args.limit,
        "simulator": sim_config().model_dump(mode="json"),
        "target_request_ratio": TARGET_RATIO,
        "rounds": rounds,
    })
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

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
import sys
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
    truth_total = got_total = missing = extra = incomplete_posts = no_comments = 0
    for ids in posts.values():
        for pid in ids:
            truth = set(sim.world.comment_ids(pid))
            got = comments.get(pid, set())
            truth_total += len(truth)
            no_comments += not truth
            got_total += len(got & truth)
            missing += len(truth - got)
            extra += len(got - truth)
            incomplete_posts += bool(truth - got)
    return {
        "posts": sum(len(v) for v in posts.values()),
        "posts_without_comments": no_comments,
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
            "SELECT count(*), count(*) FILTER (WHERE attempt > 1), count(*) FILTER (WHERE error_class IS NOT NULL), "
            "round(median(latency_ms), 1), round(quantile_cont(latency_ms, 0.9), 1), round(max(latency_ms), 1) "
            "FROM api_requests WHERE endpoint <> 'token'"
        ).fetchone()
    finally:
        con.close()
    return by_sub, by_post, {
        "duplicate_comment_rows": dup,
        "request_log": {"requests": log[0], "retried_attempts": log[1], "errors": log[2],
                        "latency_ms_p50": log[3], "latency_ms_p90": log[4], "latency_ms_max": log[5]},
    }


def run_redditlake(limit: int, prefect_limit: bool = True) -> dict[str, Any]:
    from flows.collect import collect

    with SimulatorThread(sim_config()) as sim, tempfile.TemporaryDirectory(prefix="redditlake-bench-") as tmp:
        client_id, secret = sim.running.credentials()
        settings = common.sim_settings(
            sim.url, client_id, secret, f"{tmp}/lake",
            requests_per_window=REQUESTS_PER_WINDOW, window_seconds=WINDOW_SECONDS,
            sorts=["new"], limit=limit, comments=True,
        )
        settings = settings.model_copy(update={"budget": settings.budget.model_copy(update={"prefect_limit": prefect_limit})})
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
    ("  of which without comments", "posts_without_comments"),
    ("comments collected", "comments"),
    ("comments in ground truth", "ground_truth_comments"),
    ("complete", "complete"),
    ("peak concurrent requests", "peak_concurrency"),
    ("max concurrent morechildren", "morechildren_concurrent_max"),
]


def table(columns: dict[str, dict[str, Any]]) -> str:
    """One column per side; ratio = redditlake / plain."""
    names = list(columns)
    plain = columns["plain"]
    lines = [f"{'':30}" + "".join(f"{n:>14}" for n in names) + f"{'redditlake/plain':>18}", "-" * (48 + 14 * len(names))]
    for label, key in ROWS:
        values = []
        for n in names:
            col = columns[n]
            values.append(col["by_family"].get(label.strip(), 0) if key is None else col[key])
        a, b = values[0], (plain["by_family"].get(label.strip(), 0) if key is None else plain[key])
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and not isinstance(a, bool) and b else ""
        lines.append(f"{label:30}" + "".join(f"{str(v):>14}" for v in values) + f"{ratio:>18}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="plain then redditlake, this many times")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--no-gate-too", action="store_true",
                        help="also run the flow with budget.prefect_limit=false (diagnostic: cost of the Prefect rate gate)")
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    machine_at_start = common.machine()
    print(f"{machine_at_start['date']}, commit {machine_at_start['git_head']}, uncommitted product files: "
          f"{machine_at_start['git_uncommitted_product_files'] or 'none'}", flush=True)
    print(f"{len(SUBREDDITS)} subreddits x {args.limit} new posts, complete comment trees; simulator budget "
          f"{REQUESTS_PER_WINDOW} requests / {WINDOW_SECONDS:g} s window", flush=True)
    rounds = []
    with prefect_test_harness(server_startup_timeout=120):
        for n in range(1, args.rounds + 1):
            columns = {}
            columns["redditlake"] = None  # keeps redditlake the first column
            columns["plain"] = run_plain(args.limit)
            columns["redditlake"] = run_redditlake(args.limit)
            if args.no_gate_too:
                columns["rl-no-gate"] = run_redditlake(args.limit, prefect_limit=False)
            rl, plain = columns["redditlake"], columns["plain"]
            ratio = rl["requests"] / plain["requests"]
            rounds.append({**columns, "request_ratio": round(ratio, 3),
                           "wall_ratio": round(rl["wall_seconds"] / plain["wall_seconds"], 2)})
            print(f"\nround {n}\n{table(columns)}")
            print(f"requests redditlake/plain = {ratio:.3f} (target <= {TARGET_RATIO}): "
                  f"{'met' if ratio <= TARGET_RATIO and rl['complete'] and plain['complete'] else 'NOT met'}")
            print(f"plain script exceptions (caught, step retried): {plain['exceptions'] or 'none'}")
            for name, col in columns.items():
                if name == "plain":
                    continue
                if col["failed_subreddits"]:
                    print(f"{name} failures: {col['failed_subreddits']}")
                print(f"{name} request log (lake api_requests; latency includes the Prefect gate's wait): "
                      f"{col['request_log']}")
            sys.stdout.flush()
    path = common.write_json("collection.json", {
        "benchmark": "collection",
        "command": "uv run python -m benchmarks.collection " + " ".join(sys.argv[1:]),
        "machine": {**machine_at_start, "git_head_at_end": common.machine()["git_head"]},
        "subreddits": SUBREDDITS,
        "limit": args.limit,
        "simulator": sim_config().model_dump(mode="json"),
        "target_request_ratio": TARGET_RATIO,
        "rounds": rounds,
    })
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

"""Cost of the quality layer per 10k / 100k / 1M comment rows, next to what fetching them costs.

Rows are real simulator comments (rendered JSON, as the client receives them), repeated with
fresh ids up to the size. Measured per size: validation before write (``parse_batch``:
pydantic, cleaning, quarantine), the GX suite on the batch (``quality.batch.validate``; the
first time in the process, then again), the batches a run of that many comments lands
(posts, post_metrics, subreddits, comments, api_requests: the quality step of a run; then
again, as the next run in the same process), and the one-off GX import + context. The ratio
is (parse + the run's first quality step) / fetch time. Fetching cost: requests at redditlake's measured
73.6 requests per 1000 comments (benchmarks/README.md §1) at Reddit's 100 requests/minute.

    uv run python -m benchmarks.quality --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from redditlake.config import DataQualitySettings
import pyarrow as pa

from redditlake.models import Comment, Post, PostMetric, Subreddit, parse_batch
from redditlake.quality import batch as qbatch
from redditlake.quality import gxrun
from redditlake.simulator import SimulatorConfig
from redditlake.simulator.content import World
from redditlake.simulator.things import comment_data, post_data, subreddit_data

REQUESTS_PER_1000_COMMENTS = 73.6
REQUESTS_PER_MINUTE = 100


def sample_comments(n: int = 2000) -> list[dict]:
    world = World(SimulatorConfig(posts_per_subreddit=100, comments_per_post_mean=20, subreddits=["python"]))
    out: list[dict] = []
    for pid in world.post_ids("python"):
        post = world.post(pid)
        for c in world.thread(post).comments:
            out.append(comment_data(world, c, post, world.now, ""))
            if len(out) >= n:
                return out
    return out


def scaled(sample: list[dict], size: int):
    """The sample repeated with fresh ids, lazily (1M dicts at once would take gigabytes)."""
    for i in range(size):
        c = dict(sample[i % len(sample)])
        c["id"] = f"q{i:x}"
        c["name"] = f"t1_{c['id']}"
        yield c


def run_batches(comments: pa.Table, now: datetime, settings: DataQualitySettings) -> list[qbatch.Batch]:
    """The batches a collection run of these comments lands, in the proportions of §1: its posts,
    their metrics, the subreddit's about, the comments, the request log."""
    world = World(SimulatorConfig(posts_per_subreddit=100, comments_per_post_mean=20, subreddits=["python"]))
    post_things = [post_data(world, world.post(p), world.now) for p in world.post_ids("python")]
    n_posts = max(1, len(comments) // 15)  # ~15 comments a post in the simulator's default world
    posts = [dict(post_things[i % len(post_things)], id=f"p{i:x}", name=f"t3_p{i:x}") for i in range(n_posts)]
    requests = int(len(comments) / 1000 * REQUESTS_PER_1000_COMMENTS)
    log = pa.table({
        "ts": pa.array([now] * requests, pa.timestamp("us", tz="UTC")), "status": pa.array([200] * requests, pa.int32()),
        "latency_ms": pa.array([250.0] * requests), "path": pa.array(["/comments/x"] * requests),
    })
    return [
        qbatch.Batch("posts", "python", parse_batch(Post, posts, now, settings.required_fields).rows),
        qbatch.Batch("post_metrics", "python", PostMetric.to_arrow(PostMetric.from_api(p, now) for p in posts)),
        qbatch.Batch("subreddits", "python", parse_batch(Subreddit, [world_about(world)], now).rows),
        qbatch.Batch("comments", "python", comments),
        qbatch.Batch("api_requests", "python", log),
    ]


def world_about(world: World) -> dict:
    return subreddit_data(world, world.subreddit("python"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = ap.parse_args()
    settings = DataQualitySettings()
    t = time.perf_counter()
    gxrun.preload().join()
    gx_import = time.perf_counter() - t
    sample = sample_comments()
    now = datetime.now(UTC)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; GX import + context (once per process): {gx_import:.1f} s")
    tiny = parse_batch(Comment, scaled(sample, 20), now, settings.required_fields).rows
    fixed, cpu = [], []
    for _ in range(11):  # a batch's fixed cost: what every (table, subreddit) of a run pays at least
        t, c = time.perf_counter(), time.process_time()
        qbatch.validate(qbatch.Batch("comments", "python", tiny), settings, now)
        fixed.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    # CPU seconds too: on a shared machine they move far less with the load than wall seconds.
    print(f"GX fixed cost per batch (20 rows, best of 10 after the first): {min(fixed[1:]):.3f} s wall, "
          f"{min(cpu[1:]):.3f} s CPU")
    print(f"{'rows':>9} {'parse+clean s':>14} {'GX 1st batch s':>15} {'GX batch s':>11} {'GX run s':>9} {'again s':>8} "
          f"{'fetch requests':>15} {'fetch s @100/min':>17} {'quality/fetch':>14}")
    for size in args.sizes:
        things = scaled(sample, size)
        t = time.perf_counter()
        parsed = parse_batch(Comment, things, now, settings.required_fields)
        parse_s = time.perf_counter() - t
        timings = []  # the first pays GX's warm-up (once per process); the best of the others: the machine is shared
        cpus = []
        for _ in range(4 if size <= 100_000 else 1):
            t, c = time.perf_counter(), time.process_time()
            result = qbatch.validate(qbatch.Batch("comments", "python", parsed.rows), settings, now)
            timings.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
            assert result.run["rows"] == size and result.run["expectations"] == 11
        batches = run_batches(parsed.rows, now, settings)
        runs = []
        for _ in range(4 if size <= 100_000 else 2):  # a run's quality step; again (best of): the next runs
            t = time.perf_counter()
            for b in batches:
                qbatch.validate(b, settings, now)
            runs.append(time.perf_counter() - t)
        run_s = runs[0]
        requests = size / 1000 * REQUESTS_PER_1000_COMMENTS
        fetch_s = requests / REQUESTS_PER_MINUTE * 60
        print(f"{'':>9} comments batch, best CPU s after the first: {min(cpus[1:] or cpus):.2f}")
        print(f"{size:>9} {parse_s:>14.2f} {timings[0]:>15.2f} {min(timings[1:] or timings):>11.2f} {run_s:>9.2f} {min(runs[1:]):>8.2f} {requests:>15.0f} "
              f"{fetch_s:>17.0f} {(parse_s + run_s) / fetch_s:>13.2%}")


if __name__ == "__main__":
    main()

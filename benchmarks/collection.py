"""Completeness, requests and wall time: ``redditlake collect`` vs a plain asyncpraw script.

The collection's proof of completeness and pace. Every side collects 5 subreddits x 200 ``new`` posts with complete comment
trees from its own simulator, all built from one SimulatorConfig (same seed, same world):
300 requests per 10 s window, big threads of 1-5k comments among ordinary ones. redditlake
gets no budget settings (the defaults, as a new user runs it): it learns the window from the
simulator's headers. Sides, one after the other, in one run:

  plain          the plain asyncpraw script, in this process (imports done)
  plain-cmd      the same script as a whole process (``python -m benchmarks.collection plain``)
  rl-flow        the ``collect`` flow in this process, Prefect server already running
  rl-cmd-warm    the whole ``redditlake collect`` command, a ``redditlake server``-style server
                 already running (PREFECT_API_URL set)
  rl-cmd-cold    the whole ``redditlake collect`` command from a cold start: no Prefect server,
                 a fresh Prefect home (Prefect starts its temporary server)
  rl-binding     diagnostic: the flow in this process against a simulator granting 60 per 10 s,
                 50 posts per subreddit: where wall time goes when the budget binds

Request counts come from the simulators' stats (token requests excluded); completeness is
checked against the simulator's ground truth, redditlake's comments read back from the lake.
Where time goes comes from the budget's own accounting (``budget.Activity``, logged by the
flow: a request in flight / none in flight but one waiting on the budget / neither) and the
Prefect task runs' durations (summed over tasks that ran concurrently).

    uv run python -m benchmarks.collection [--rounds N] [--limit 200] [--sides all|NAME,...]
"""

from __future__ import annotations

from benchmarks import common  # first: sets Prefect's environment

import argparse
import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from redditlake.simulator import SimulatorConfig, SimulatorThread

SUBREDDITS = ["python", "datascience", "askscience", "worldnews", "aww"]
REQUESTS_PER_WINDOW = 300
WINDOW_SECONDS = 10.0
BINDING = {"requests_per_window": 60, "limit": 50}
TARGETS = {"requests": 0.6, "wall_warm": 0.8, "wall_cold": 1.2}
SIDES = ["plain", "plain-cmd", "rl-flow", "rl-cmd-warm", "rl-cmd-cold", "rl-binding"]
BIG_THREADS = {"big_thread_share": 0.01, "big_thread_comments": (1000, 5000)}


def sim_config(requests_per_window: int = REQUESTS_PER_WINDOW) -> SimulatorConfig:
    # 300 posts per subreddit (>= 200 for the listing), ~20 comments per post on average
    # (log-normal: a few posts have hundreds), 1 % of posts a big thread of 1-5k comments
    # (wide and deep), the content clock standing still.
    return SimulatorConfig(
        seed=42,
        subreddits=SUBREDDITS,
        posts_per_subreddit=300,
        comments_per_post_mean=20.0,
        requests_per_window=requests_per_window,
        window_seconds=WINDOW_SECONDS,
        **BIG_THREADS,
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
        "requests_per_second": round(used / wall, 1) if wall else None,
        "http_429": stats["rate_limited"],
        "peak_concurrency": stats["peak_concurrency"],
        "morechildren_concurrent_max": stats["morechildren_concurrent_max"],
        **completeness,
        **more,
    }


def big_threads(sim: SimulatorThread, posts: dict[str, list[str]]) -> dict[str, int]:
    sizes = [len(sim.world.comment_ids(p)) for ids in posts.values() for p in ids]
    big = [n for n in sizes if n >= 1000]
    return {"threads_over_1000": len(big), "largest_thread": max(sizes, default=0)}


# -- plain ------------------------------------------------------------------------------------


def run_plain(limit: int) -> dict[str, Any]:
    with SimulatorThread(sim_config()) as sim:
        client_id, secret = sim.running.credentials()
        started = time.monotonic()
        result = asyncio.run(common.plain_collect(sim.url, client_id, secret, SUBREDDITS, limit, WINDOW_SECONDS))
        wall = time.monotonic() - started
        stats = common.sim_stats(sim.url)
        completeness = check(sim, result.posts, result.comments)
        extra = big_threads(sim, result.posts)
    return summarize(stats, wall, completeness, exceptions=dict(result.errors), steps_given_up=result.gave_up, **extra)


def run_plain_command(limit: int) -> dict[str, Any]:
    """The plain script as a process of its own: its start-up (imports) counts, as redditlake's does."""
    with SimulatorThread(sim_config()) as sim, tempfile.TemporaryDirectory(prefix="redditlake-bench-") as tmp:
        client_id, secret = sim.running.credentials()
        out = f"{tmp}/plain.json"
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.collection", "plain", sim.url, client_id, secret, str(limit), out],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=3600,
        )
        wall = time.monotonic() - started
        if proc.returncode:
            raise SystemExit(f"plain command failed: {proc.stderr[-2000:]}")
        data = json.loads(open(out).read())
        posts = data["posts"]
        comments = {k: set(v) for k, v in data["comments"].items()}
        stats = common.sim_stats(sim.url)
        completeness = check(sim, posts, comments)
    return summarize(stats, wall, completeness, exceptions=data["errors"])


def plain_process(url: str, client_id: str, secret: str, limit: int, out: str) -> None:
    result = asyncio.run(common.plain_collect(url, client_id, secret, SUBREDDITS, limit, WINDOW_SECONDS))
    with open(out, "w") as f:
        json.dump({"posts": result.posts, "comments": {k: sorted(v) for k, v in result.comments.items()},
                   "errors": dict(result.errors)}, f)


# -- redditlake ---------------------------------------------------------------------------------


TIME_LINE = re.compile(
    r"(?P<requests>\d+) requests in (?P<wall>[\d.]+) s: API busy (?P<api>[\d.]+) s, waiting on the budget "
    r"(?P<budget>[\d.]+) s, neither \(orchestration, parsing, writing\) (?P<other>[\d.]+) s"
)


def parse_time_line(text: str) -> dict[str, float] | None:
    m = TIME_LINE.search(text)
    return {k: float(v) for k, v in m.groupdict().items()} if m else None


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def task_seconds(since: datetime) -> dict[str, float]:
    """Run time of the Prefect task runs started since ``since``, summed per kind of task."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterStartTime

    async def read() -> list[Any]:
        async with get_client() as client:
            runs, offset = [], 0
            while True:
                page = await client.read_task_runs(
                    task_run_filter=TaskRunFilter(start_time=TaskRunFilterStartTime(after_=since)), offset=offset, limit=200
                )
                runs += page
                if len(page) < 200:
                    return runs
                offset += 200

    out: dict[str, float] = {}
    for run in asyncio.run(read()):
        if run.name.startswith("collect-subreddit"):
            continue  # a subflow's wrapper: its time is its tasks' and Prefect's
        kind = "land" if run.name.startswith(("land", "write")) else "fetch" if run.name.startswith(("about", "r/", "comments", "users")) else "other"
        out[kind] = round(out.get(kind, 0.0) + run.total_run_time.total_seconds(), 1)
    return out


def run_flow(limit: int, requests_per_window: int = REQUESTS_PER_WINDOW) -> dict[str, Any]:
    """The ``collect`` flow in this process, the Prefect server already running, default budget."""
    from flows.collect import collect

    with SimulatorThread(sim_config(requests_per_window)) as sim, tempfile.TemporaryDirectory(prefix="redditlake-bench-") as tmp:
        client_id, secret = sim.running.credentials()
        settings = common.sim_settings(sim.url, client_id, secret, f"{tmp}/lake", sorts=["new"], limit=limit, comments=True)
        capture, flow_log = _Capture(), logging.getLogger("prefect.flow_runs")
        level = flow_log.level
        flow_log.addHandler(capture)
        flow_log.setLevel(logging.INFO)  # the time line is INFO; benchmarks/common.py quiets flow runs
        since = datetime.now(UTC)
        started = time.monotonic()
        try:
            summaries = asyncio.run(collect(SUBREDDITS, settings))
        finally:
            flow_log.removeHandler(capture)
            flow_log.setLevel(level)
        wall = time.monotonic() - started
        stats = common.sim_stats(sim.url)
        failed = [s.line() for s in summaries if not s.ok]
        posts, comments, lake_info = read_lake(f"{tmp}/lake")
        completeness = check(sim, posts, comments)
        extra = big_threads(sim, posts)
    return summarize(stats, wall, completeness, failed_subreddits=failed, time=parse_time_line("\n".join(capture.lines)),
                     task_seconds=task_seconds(since), **lake_info, **extra)


def run_command(limit: int, api_url: str | None) -> dict[str, Any]:
    """``redditlake collect`` as a user types it: a new process, environment variables only."""
    with SimulatorThread(sim_config()) as sim, tempfile.TemporaryDirectory(prefix="redditlake-bench-") as tmp:
        client_id, secret = sim.running.credentials()
        # The user's environment: none of this benchmark's Prefect quieting, no redditlake settings.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PREFECT_API_URL", "PREFECT_LOGGING", "REDDIT"))}
        env.update({"REDDIT_OAUTH_URL": sim.url, "REDDIT_URL": sim.url, "REDDIT_CLIENT_ID": client_id,
                    "REDDIT_CLIENT_SECRET": secret, "REDDIT_USER_AGENT": common.USER_AGENT})
        if api_url:
            env["PREFECT_API_URL"] = api_url
        else:
            env["PREFECT_HOME"] = f"{tmp}/prefect-home"  # nothing to find: a cold start
        since = datetime.now(UTC)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "redditlake.cli", "collect", *SUBREDDITS, "--sort", "new", "--limit", str(limit),
             "--lake", f"{tmp}/lake"],
            env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=3600,
        )
        wall = time.monotonic() - started
        stats = common.sim_stats(sim.url)
        posts, comments, lake_info = read_lake(f"{tmp}/lake")
        completeness = check(sim, posts, comments)
        time_line = parse_time_line(proc.stderr)
    return summarize(stats, wall, completeness, exit_code=proc.returncode, time=time_line,
                     task_seconds=task_seconds(since) if api_url else None,
                     failed_subreddits=[] if proc.returncode == 0 else proc.stdout.strip().splitlines()[-5:], **lake_info)


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


ROWS = [
    ("requests (excl. token)", "requests"),
    ("  listing", None),
    ("  about", None),
    ("  comments", None),
    ("  morechildren", None),
    ("requests / 1000 comments", "requests_per_1000_comments"),
    ("wall time (s)", "wall_seconds"),
    ("requests / s", "requests_per_second"),
    ("429s served", "http_429"),
    ("posts", "posts"),
    ("comments collected", "comments"),
    ("comments in ground truth", "ground_truth_comments"),
    ("complete", "complete"),
    ("threads of >= 1000 comments", "threads_over_1000"),
    ("peak concurrent requests", "peak_concurrency"),
    ("max concurrent morechildren", "morechildren_concurrent_max"),
]


def _value(col: dict[str, Any], label: str, key: str | None) -> Any:
    return col["by_family"].get(label.strip(), 0) if key is None else col.get(key, "")


def table(columns: dict[str, dict[str, Any]]) -> str:
    names = list(columns)
    lines = [f"{'':30}" + "".join(f"{n:>13}" for n in names), "-" * (30 + 13 * len(names))]
    for label, key in ROWS:
        lines.append(f"{label:30}" + "".join(f"{str(_value(columns[n], label, key)):>13}" for n in names))
    return "\n".join(lines)


def breakdown(name: str, col: dict[str, Any]) -> str:
    t = col.get("time")
    if not t:
        return f"{name}: no time line (exit code {col.get('exit_code')})"
    wall = col["wall_seconds"]
    outside = wall - t["wall"]
    parts = [f"{name}: wall {wall:.1f} s = before/after the client (imports, token check, Prefect start, flow runs) "
             f"{outside:.1f} s ({outside / wall:.0%})"]
    for key, label in (("api", "a request in flight"), ("budget", "waiting on the budget"),
                       ("other", "neither (Prefect, parsing, writing)")):
        parts.append(f"{label} {t[key]:.1f} s ({t[key] / wall:.0%})")
    line = " + ".join(parts)
    if col.get("task_seconds"):
        line += f"; task run time summed over concurrent tasks: {col['task_seconds']}"
    return line


def run_side(side: str, limit: int, api_url: str) -> dict[str, Any]:
    if side == "plain":
        return run_plain(limit)
    if side == "plain-cmd":
        return run_plain_command(limit)
    if side == "rl-flow":
        return run_flow(limit)
    if side == "rl-cmd-warm":
        return run_command(limit, api_url)
    if side == "rl-cmd-cold":
        return run_command(limit, None)
    if side == "rl-binding":
        return run_flow(BINDING["limit"], BINDING["requests_per_window"])
    raise SystemExit(f"unknown side {side!r}; pick from {', '.join(SIDES)}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "plain":
        url, client_id, secret, limit, out = sys.argv[2:7]
        plain_process(url, client_id, secret, int(limit), out)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--binding-limit", type=int, default=BINDING["limit"],
                        help=f"posts per subreddit for rl-binding (default: {BINDING['limit']})")
    parser.add_argument("--sides", default="all", help=f"comma-separated of {','.join(SIDES)} (default: all)")
    args = parser.parse_args()
    sides = SIDES if args.sides == "all" else args.sides.split(",")
    BINDING["limit"] = args.binding_limit

    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    machine_at_start = common.machine()
    print(f"{machine_at_start['date']}, commit {machine_at_start['git_head']}, uncommitted product files: "
          f"{machine_at_start['git_uncommitted_product_files'] or 'none'}", flush=True)
    print(f"{len(SUBREDDITS)} subreddits x {args.limit} new posts, complete comment trees; simulator grants "
          f"{REQUESTS_PER_WINDOW} requests / {WINDOW_SECONDS:g} s; redditlake with default budget settings", flush=True)
    rounds = []
    with prefect_test_harness(server_startup_timeout=120):
        api_url = PREFECT_API_URL.value()
        for n in range(1, args.rounds + 1):
            columns: dict[str, dict[str, Any]] = {}
            for side in sides:
                print(f"  round {n}: {side} ...", file=sys.stderr, flush=True)
                try:
                    columns[side] = run_side(side, args.limit, api_url)
                except Exception as exc:  # noqa: BLE001 - one side failing (e.g. Prefect's SQLite answering 503) is a result too
                    print(f"{side} FAILED: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
                    continue
                print(f"  {side}: {columns[side]['wall_seconds']} s, {columns[side]['requests']} requests, "
                      f"complete {columns[side]['complete']}, time {columns[side].get('time')}", flush=True)
            print(f"\nround {n}\n{table(columns)}")
            ratios = {}
            for side, key, base in (("rl-flow", "requests", "plain"), ("rl-flow", "wall_warm", "plain"),
                                    ("rl-cmd-warm", "wall_warm", "plain-cmd"),
                                    ("rl-cmd-cold", "wall_cold", "plain-cmd")):
                if side in columns and base in columns:
                    field = "requests" if key == "requests" else "wall_seconds"
                    r = columns[side][field] / columns[base][field]
                    ok = r <= TARGETS[key] and columns[side]["complete"] and columns[base]["complete"]
                    ratios[f"{side}/{base} {field}"] = round(r, 3)
                    print(f"{side}/{base} {field} = {r:.2f} (target <= {TARGETS[key]}, both complete): "
                          f"{'met' if ok else 'NOT met'}")
            for base in ("plain", "plain-cmd"):
                if base in columns:
                    print(f"{base} script exceptions (caught, step retried): {columns[base]['exceptions'] or 'none'}")
            if "rl-binding" in columns and columns["rl-binding"].get("time"):
                t = columns["rl-binding"]["time"]
                granted = BINDING["requests_per_window"] / WINDOW_SECONDS * t["wall"]
                print(f"rl-binding: {t['requests']:.0f} requests while the client ran {t['wall']:.1f} s, "
                      f"{granted:.0f} granted in that time: {t['requests'] / granted:.1%} of the budget used")
            for side, col in columns.items():
                if side.startswith("rl"):
                    print(breakdown(side, col))
                    if col.get("failed_subreddits"):
                        print(f"{side} failures: {col['failed_subreddits']}")
            sys.stdout.flush()
            rounds.append({**columns, "ratios": ratios})
    path = common.write_json("collection.json", {
        "benchmark": "collection",
        "command": "uv run python -m benchmarks.collection " + " ".join(sys.argv[1:]),
        "machine": {**machine_at_start, "git_head_at_end": common.machine()["git_head"]},
        "subreddits": SUBREDDITS,
        "limit": args.limit,
        "simulator": sim_config().model_dump(mode="json"),
        "targets": TARGETS,
        "rounds": rounds,
    })
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

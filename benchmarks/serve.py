"""What one `/healthz` or `/metrics` probe of `redditlake serve` costs as the lake grows.

Builds a local lake with ``--days`` days of history for ``--subs`` subreddits (per subreddit
and day: one ``api_requests`` file, one ``posts`` file, one ``validation_runs`` file; the
request log's newest day is today), starts ``redditlake serve`` from a source tree
(``--source``, default this checkout; point it at an export of an older commit to compare)
on 127.0.0.1 against the simulator, and times ``--probes`` probes of each endpoint, counting
the simulator's requests and the lake's new files and folders around them.

    uv run python -m benchmarks.serve --days 365 --probes 10
    git archive eb4e929 | tar -x -C /tmp/before && uv run python -m benchmarks.serve --source /tmp/before
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow as pa

from redditlake.lake import Lake
from redditlake.quality import results
from redditlake.reddit.requestlog import REQUEST_SCHEMA
from redditlake.simulator import SimulatorConfig, SimulatorThread

HERE = Path(__file__).resolve().parent.parent


def build_lake(root: Path, days: int, subs: int) -> int:
    lake = Lake.open(str(root))
    today = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    for d in range(days):
        at = today - dt.timedelta(days=d)
        for s in range(subs):
            sub = f"sub{s}"
            requests = [{"ts": at - dt.timedelta(seconds=i), "method": "GET", "endpoint": "listing", "path": f"/r/{sub}/new",
                         "subreddit": sub, "status": 200, "latency_ms": 50.0 + i, "attempt": 1, "breaker": "closed",
                         "ratelimit_remaining": 500.0} for i in range(20)]
            lake.append("api_requests", sub, pa.Table.from_pylist(requests, schema=REQUEST_SCHEMA), dt_column="ts")
            ids = [f"{sub}d{d}p{i}" for i in range(10)]
            lake.write("posts", sub, pa.table({
                "id": ids, "created_utc": pa.array([at] * 10, pa.timestamp("us", tz="UTC")),
                "title": [f"title {i}" for i in ids], "subreddit": [sub] * 10,
            }))
            results.write(lake, "validation_runs", [{
                "run_id": f"{sub}-{d}", "suite": "posts", "table_name": "posts", "subreddit": sub, "job": "collect",
                "rows": 10, "quarantined": 0, "expectations": 10, "failed_expectations": 0, "success": True,
                "score": 1.0, "validated_at": at,
            }])
    return sum(1 for p in root.rglob("*.parquet"))


def entries(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    client.get(url).read()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--subs", type=int, default=3)
    p.add_argument("--probes", type=int, default=10)
    p.add_argument("--source", default=str(HERE), help="source tree whose `redditlake serve` runs")
    a = p.parse_args()

    root = Path(tempfile.mkdtemp(prefix="redditlake-bench-serve-")) / "lake"
    started = time.perf_counter()
    files = build_lake(root, a.days, a.subs)
    print(f"lake: {a.days} days x {a.subs} subreddits, {files} Parquet files, built in {time.perf_counter() - started:.0f} s")

    with SimulatorThread(SimulatorConfig(posts_per_subreddit=5)) as sim:
        client_id, secret = next(iter(sim.config.clients.items()))
        env = {**os.environ, "REDDIT_OAUTH_URL": sim.url, "REDDIT_URL": sim.url, "REDDIT_CLIENT_ID": client_id,
               "REDDIT_CLIENT_SECRET": secret, "PYTHONPATH": a.source}
        env.pop("PREFECT_API_URL", None)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "redditlake.cli", "serve", "--port", str(port), "--lake", str(root)],
                                cwd=a.source, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("serve did not start") from None
                    time.sleep(0.2)
            client = httpx.Client(timeout=600)
            for endpoint in ("healthz", "metrics"):
                url = f"http://127.0.0.1:{port}/{endpoint}"
                before_entries = entries(root)
                first = probe(client, url)
                before_requests = sim.stats()["requests"]  # after the first: the new code's start-up check is done
                times = [probe(client, url) for _ in range(a.probes)]
                made = sim.stats()["requests"] - before_requests
                new = entries(root) - before_entries
                print(f"/{endpoint}: first {first:.0f} ms; then {a.probes} probes: median {statistics.median(times):.0f} ms, "
                      f"max {max(times):.0f} ms; {made} Reddit requests in those; "
                      f"{len(new)} new lake entries in all {sorted(new)[:3]}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()

"""History and real time: dump ingestion throughput and memory, streaming latency.

    uv run python -m benchmarks.backfill_stream dump --lines 2000000 --subreddits 1 5 --window-log 31 27
    uv run python -m benchmarks.backfill_stream stream --seconds 60 --requests-per-minute 100
    uv run python -m benchmarks.backfill_stream search --batch-rows 1 5000 --threads

``dump``: writes a synthetic RC-style dump (zstandard, window_log=31) of ``--lines`` comments
spread over 200 subreddits, recompresses it per ``--window-log``, then ingests each once per
``--subreddits`` count, each in a fresh process (peak = its ``VmHWM``). Reports lines read per
second, rows landed per second, RSS after every ``--rss-every`` landed batches and the peak.
``stream``: the simulator's content clock runs at ``--clock-speed`` content seconds per real
second; ``redditlake.stream`` follows r/python new posts and comments within the budget
share, and every landed item's latency (created -> landed, content clock) is divided by the
clock speed to give real seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
MONTH = datetime(2026, 10, 1, tzinfo=UTC).timestamp()


def make_dump(path: str, lines: int, subreddits: int = 200, seed: int = 1) -> None:
    from redditlake.simulator.dumps import write_zst

    rng = random.Random(seed)
    names = ["python", "aww", "datascience", "askscience", "worldnews"] + [f"sub{i:03d}" for i in range(subreddits - 5)]
    # Zipf-ish: the first few subreddits are the big ones, like real dumps.
    weights = [1 / (i + 1) for i in range(len(names))]

    def generate():
        picks = rng.choices(names, weights, k=lines)
        for i, sub in enumerate(picks):
            created = int(MONTH + i * (31 * 86400 / lines))
            yield json.dumps({
                "id": f"c{i:09x}", "name": f"t1_c{i:09x}", "subreddit": sub, "subreddit_id": "t5_2qh0y",
                "link_id": f"t3_p{i // 20:08x}", "parent_id": f"t3_p{i // 20:08x}", "author": f"user{i % 5000}",
                "author_fullname": f"t2_{i % 5000:x}", "body": "lorem ipsum " * rng.randint(1, 30),
                "score": rng.randint(-5, 500), "created_utc": created, "retrieved_on": created + 3600,
                "edited": False, "controversiality": 0, "stickied": False, "distinguished": None,
                "permalink": f"/r/{sub}/comments/p{i // 20:08x}/_/c{i:09x}/", "is_submitter": False,
            }, separators=(",", ":")).encode()

    write_zst(path, generate())


def _rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory. ``VmHWM`` for the peak: ``ru_maxrss`` would not do, a child
    started by fork+exec inherits its parent's high-water mark (the parent that generated the dump)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} in /proc/self/status")


def ingest_child(path: str, subs: list[str], lake: str, batch_rows: int = 20_000, rss_every: int = 1) -> dict:
    """Run in a fresh process: ingest, report rows, seconds, RSS after every ``rss_every`` batches and peak RSS."""
    from redditlake.archive.dumps import ingest_dump
    from redditlake.lake import Lake
    from redditlake.landing import Landing

    samples: list[float] = []

    class Sampled(Landing):  # the real landing: RSS sampled as each batch lands
        def _record(self, batch):
            super()._record(batch)
            samples.append(_rss_mib())

    rss_start = _rss_mib()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    result = ingest_dump(path, Sampled(Lake.open(lake)), subs, datetime.fromtimestamp(MONTH, UTC),
                         datetime(2026, 11, 1, tzinfo=UTC), batch_rows=batch_rows, progress_every=30)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return {"cpu_seconds": round(cpu, 2), "rows_per_cpu_s": round(sum(result.rows.values()) / cpu),
            "lines_per_cpu_s": round(result.lines / cpu), "subreddits": subs, "lines": result.lines,
            "rows": sum(result.rows.values()), "written": sum(result.written.values()), "seconds": round(seconds, 2),
            "lines_per_s": round(result.lines / seconds), "rows_per_s": round(sum(result.rows.values()) / seconds),
            "batches": len(samples), "rss_start_mib": rss_start, "rss_every": rss_every,
            "rss_mib": samples[rss_every - 1::rss_every], "peak_rss_mib": _rss_mib("VmHWM")}


def recompress(source: str, path: str, window_log: int) -> None:
    """The same lines with another zstd window (the decoder's memory is bounded by the window)."""
    import zstandard

    with open(source, "rb") as fh:
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(fh)
        with open(path, "wb") as out:
            params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
            zstandard.ZstdCompressor(compression_params=params).copy_stream(reader, out)


def bench_dump(args) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="redditlake-bench-dump-"))
    generated = args.from_file or str(work / "RC_2026-10.zst")
    started = time.perf_counter()
    if not args.from_file:
        make_dump(generated, args.lines)
        print(f"generated {args.lines} lines, {os.path.getsize(generated) / 2**20:.1f} MiB compressed, "
              f"in {time.perf_counter() - started:.0f}s", flush=True)
    names = ["python", "aww", "datascience", "askscience", "worldnews"]
    results = []
    for window_log in args.window_log:
        path = str(work / f"RC_2026-10.w{window_log}.zst")
        if window_log == 31 and not args.from_file:
            path = generated
        else:
            recompress(generated, path, window_log)
            print(f"recompressed with window_log={window_log}: {os.path.getsize(path) / 2**20:.1f} MiB", flush=True)
        for n in args.subreddits:
            lake = str(work / f"lake-w{window_log}-{n}")
            code = ("import json, sys; from benchmarks.backfill_stream import ingest_child; "
                    f"print(json.dumps(ingest_child({path!r}, {names[:n]!r}, {lake!r}, {args.batch_rows}, "
                    f"{args.rss_every})))")
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            result["file_mib"] = round(os.path.getsize(path) / 2**20, 1)
            result["window_log"] = window_log
            results.append(result)
            print(f"window_log={window_log} {n} subreddit(s): {result['rows']} rows of {result['lines']} lines, "
                  f"{result['rows_per_cpu_s']} rows/CPU s, peak RSS {result['peak_rss_mib']} MiB", flush=True)
            print(f"  RSS MiB after every {args.rss_every} batches of {args.batch_rows} rows "
                  f"(start {result['rss_start_mib']}): {' '.join(f'{x:.0f}' for x in result['rss_mib'])}", flush=True)
            print(json.dumps(result), flush=True)
    return results


async def _stream(args) -> dict:
    from redditlake.config import load_settings
    from redditlake.lake import Lake
    from redditlake.landing import Landing
    from redditlake.reddit.client import RedditClient
    from redditlake.simulator import SimulatorConfig, SimulatorThread
    from redditlake.stream.runner import Stream

    config = SimulatorConfig(subreddits=["python"], posts_per_subreddit=args.posts, comments_per_post_mean=30,
                             clock_speed=args.clock_speed, requests_per_window=args.requests_per_minute,
                             window_seconds=60)
    with SimulatorThread(config) as sim:
        client_id, secret = next(iter(config.clients.items()))
        env = {"REDDIT_OAUTH_URL": sim.url, "REDDIT_URL": sim.url, "REDDIT_CLIENT_ID": client_id,
               "REDDIT_CLIENT_SECRET": secret, "REDDITLAKE_LAKE": tempfile.mkdtemp(prefix="redditlake-bench-stream-")}
        settings = load_settings(env=env)
        settings = settings.model_copy(update={
            "budget": settings.budget.model_copy(update={"requests_per_minute": args.requests_per_minute}),
            "stream": settings.stream.model_copy(update={"budget_share": args.share, "batch_seconds": args.batch_seconds,
                                                         "min_interval": 0.5}),
        })
        async with RedditClient(settings) as client:
            stream = Stream(client, Landing(Lake.open(settings.lake.uri)), ["python"], settings,
                            content_clock=lambda: sim.world.now)
            await stream.run(duration=5)  # warm-up: threads built, position = now
            stream = Stream(client, Landing(Lake.open(settings.lake.uri)), ["python"], settings,
                            content_clock=lambda: sim.world.now)
            summary = await stream.run(duration=args.seconds)
    lat = sorted(x / args.clock_speed for x in summary.latencies)

    def q(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else float("nan")

    return {"seconds": args.seconds, "clock_speed": args.clock_speed, "requests_per_minute": args.requests_per_minute,
            "budget_share": args.share, "batch_seconds": args.batch_seconds, "items": summary.total,
            "requests": summary.requests, "requests_per_minute_spent": round(summary.requests / args.seconds * 60, 1),
            "gaps": len(summary.gaps), "latency_p50_s": q(0.5), "latency_p95_s": q(0.95), "latency_max_s": q(1.0)}


async def _search_once(archive_url: str, batch_rows: int, threads: bool = False) -> dict:
    """Posts then comments of r/python from the archive API into a fresh lake; files written per table.
    ``threads``: comments as each post's tree (``/api/comments/tree``) instead of by time window."""
    from redditlake.archive.client import ARCTICSHIFT, ArchiveClient, archive_transport
    from redditlake.archive.search import backfill_search
    from redditlake.config import load_settings
    from redditlake.lake import Lake
    from redditlake.landing import Landing

    settings = load_settings(env={})
    settings = settings.model_copy(update={"archive": settings.archive.model_copy(update={"requests_per_minute": 600_000})})
    lake_dir = tempfile.mkdtemp(prefix="redditlake-bench-search-")
    lake = Lake.open(lake_dir)
    from redditlake.archive.threads import backfill_threads

    out: dict = {"batch_rows": batch_rows, "comments_by": "threads" if threads else "window"}
    since, until = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    started = time.perf_counter()
    async with ArchiveClient(ARCTICSHIFT, archive_url, archive_transport(settings), 100) as client:
        for kind in ("posts", "comments"):
            if kind == "comments" and threads:
                r = await backfill_threads(client, Landing(lake), "python", since, until)
            else:
                r = await backfill_search(client, Landing(lake), "python", kind, since, until, window_days=7,
                                          batch_rows=batch_rows)
            out[f"{kind}_rows"], out[f"{kind}_requests"] = r.rows, r.requests
    out["seconds"] = round(time.perf_counter() - started, 2)
    for table in ("posts", "comments", "backfill_progress"):
        out[f"{table}_files"] = sum(1 for p in Path(lake_dir, table).rglob("*.parquet") if not p.name.startswith("."))
    shutil.rmtree(lake_dir)
    return out


def bench_search(args) -> list[dict]:
    """The same backfill landed per page (``--batch-rows 1``: every page is a batch) and in batches."""
    from redditlake.simulator import SimulatorConfig, SimulatorThread
    from redditlake.simulator.archive import ArchiveConfig, ArchiveThread

    config = SimulatorConfig(subreddits=["python"], posts_per_subreddit=args.posts,
                             comments_per_post_mean=args.comments_per_post,
                             requests_per_window=100_000, window_seconds=10)
    results = []
    with SimulatorThread(config) as sim, ArchiveThread(sim.world, ArchiveConfig(requests_per_window=100_000)) as archive:
        runs = [(b, False) for b in args.batch_rows] + ([(args.batch_rows[-1], True)] if args.threads else [])
        for batch_rows, threads in runs:
            result = asyncio.run(_search_once(archive.url, batch_rows, threads))
            result["comments_per_post_mean"] = args.comments_per_post
            results.append(result)
            print(json.dumps(result), flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--lines", type=int, default=2_000_000)
    d.add_argument("--subreddits", type=int, nargs="+", default=[1, 5])
    d.add_argument("--from-file", help="reuse a dump made by an earlier run instead of generating one")
    d.add_argument("--window-log", type=int, nargs="+", default=[31, 27],
                   help="zstd windows to ingest the same lines with (31 = as generated; others are recompressed)")
    d.add_argument("--batch-rows", type=int, default=20_000)
    d.add_argument("--rss-every", type=int, default=1, help="print RSS after every N landed batches")
    b = sub.add_parser("search", help="files written by an archive API backfill, per page vs in batches")
    b.add_argument("--posts", type=int, default=600)
    b.add_argument("--batch-rows", type=int, nargs="+", default=[1, 5000])
    b.add_argument("--comments-per-post", type=int, default=20)
    b.add_argument("--threads", action="store_true", help="also: comments by thread trees (one request per post)")
    s = sub.add_parser("stream")
    s.add_argument("--seconds", type=float, default=60)
    s.add_argument("--clock-speed", type=float, default=60)
    s.add_argument("--requests-per-minute", type=float, default=100)
    s.add_argument("--share", type=float, default=0.5)
    s.add_argument("--batch-seconds", type=float, default=1.0)
    s.add_argument("--posts", type=int, default=1500)
    args = p.parse_args()
    OUT.mkdir(exist_ok=True)
    if args.what == "search":
        result = bench_search(args)
    else:
        result = bench_dump(args) if args.what == "dump" else asyncio.run(_stream(args))
    if args.what == "stream":
        print(json.dumps(result))
    (OUT / f"history-{args.what}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

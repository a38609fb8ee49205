"""A run's cost against the lake's history: 1, 30 and 365 days of hourly runs.

For each history length, a fresh simulator (its content clock moved to the wall clock, so
posts are as old as the collector thinks) and a fresh lake (local folder, or a bucket on
moto's S3 server over HTTP):

1. a real ``collect`` of the subreddits lands the simulator's newest posts;
2. generated history: one file per table per subreddit per hour for N days, shaped like an
   hourly run's output (posts, comments, post_metrics, comment_fetches markers, api_requests;
   the real files' schemas, ids of their own, a marker for every post);
3. rounds of timed incremental ``collect`` (each 2 hours of content after the last: a
   handful of new posts): wall time, API requests (simulator stats), S3 requests (the moto
   server's access log, by method). The lakes of every history length are open side by
   side and each round runs one collect per lake, so the machine's noise falls on all
   lengths alike; the report gives the median over the rounds;
4. ``compact_due`` (what the ``maintain-lake`` flow runs) with the maintenance defaults
   (partitions of 24+ files, or of 2+ once their day is a day past: the lake a daily
   maintenance keeps), timed, files per partition counted, the rounds timed again;
5. ``compact_due`` of every partition of 2+ files (one file per partition left), the
   rounds timed again.

No id may be stored twice: posts and comments are checked after each phase's rounds.

    uv run python -m benchmarks.history [--days 1 30 365] [--subreddits 2] [--storage local s3] [--rounds 3]

Runs against other code (e.g. main's, for before/after figures) with that checkout first
on the path: ``PYTHONPATH=/work/main uv run python benchmarks/history.py``.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):  # run as a file: take `benchmarks`, `flows` from PYTHONPATH or this checkout
    sys.path.remove(os.path.dirname(os.path.abspath(__file__)))
    if not os.environ.get("PYTHONPATH"):
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402  first: sets Prefect's environment

# tests/s3server.py: moto's S3 server on 127.0.0.1 (a test helper, not product code)
sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from collections.abc import Callable  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pyarrow as pa  # noqa: E402

import redditlake  # noqa: E402
from redditlake.lake import Lake  # noqa: E402
from redditlake.lake.maintenance import CompactionPolicy, compact_due  # noqa: E402
from redditlake.lake import delta  # noqa: E402
from redditlake.lake.maintenance import files_per_partition  # noqa: E402
from redditlake.simulator import SimulatorConfig, SimulatorThread  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
SUBREDDITS = ["python", "datascience", "askscience", "worldnews", "aww"]
# 2 posts an hour per subreddit: 1440 over the simulator's 30 days of initial history.
POSTS_PER_SUBREDDIT = 1440
LIMIT = 100
STEP_HOURS = 2
TABLES = {  # table -> dt column
    "posts": "created_utc",
    "comments": "created_utc",
    "post_metrics": "collected_at",
    "comment_fetches": "collected_at",
    "api_requests": "ts",
}
_REQUEST_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|HEAD|PUT|POST|DELETE) /([^ ?]*)(\S*)')


class S3RequestCounter(logging.Handler):
    """Counts the requests moto's server (werkzeug) logs, by HTTP method."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()
        self.by_table: Counter[str] = Counter()
        self.lines: list[str] | None = None  # every request (method, path, query), with --s3-log
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        match = _REQUEST_LINE.search(record.getMessage())
        if match:
            parts = match.group(2).split("/")  # bucket/lake/{table}/...
            with self._lock:
                self.counts[match.group(1)] += 1
                self.by_table[parts[2] if len(parts) > 2 else "(bucket)"] += 1
                if self.lines is not None:
                    self.lines.append(f"{match.group(1)} /{match.group(2)}{match.group(3)}")

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self.counts = dict(self.counts), Counter()
        return counts

    def take_by_table(self) -> dict[str, int]:
        with self._lock:
            counts, self.by_table = dict(self.by_table), Counter()
        return counts

    def take_lines(self) -> list[str]:
        with self._lock:
            lines, self.lines = self.lines, ([] if self.lines is not None else None)
        return lines or []


@contextmanager
def s3_server():
    from s3server import TEST_CREDENTIALS, moto_s3_server  # tests/ helper: moto on 127.0.0.1

    os.environ.update(TEST_CREDENTIALS)
    counter = S3RequestCounter()
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False
    werkzeug.disabled = False  # a logging dictConfig (Prefect's) may have disabled it
    werkzeug.addHandler(counter)
    with moto_s3_server() as endpoint:
        yield endpoint, counter


def sim_config(subreddits: list[str]) -> SimulatorConfig:
    return SimulatorConfig(seed=42, subreddits=subreddits, posts_per_subreddit=POSTS_PER_SUBREDDIT,
                           comments_per_post_mean=5.0, requests_per_window=1000, window_seconds=10.0)


# -- generated history -----------------------------------------------------------------


def schemas(lake: Lake) -> dict[str, pa.Schema]:
    """The real tables' schemas (from the seeding collect), partition columns aside."""
    found = {}
    for table in TABLES:
        target = delta.open_table(lake.location, table)
        if target is not None:
            schema = pa.schema(target.schema().to_arrow())
            found[table] = pa.schema([f for f in schema if f.name not in delta.PARTITIONS])
    return found


def hour_rows(sub: str, hour: dt.datetime, n: int) -> dict[str, list[dict[str, Any]]]:
    """One hourly run's rows for one subreddit: 2 new posts, their comments and markers,
    a listing's worth of metrics, the run's request records."""
    ran = hour + dt.timedelta(minutes=7)
    posts = [f"zh{n:07d}{i}" for i in range(2)]
    return {
        "posts": [{"id": p, "name": f"t3_{p}", "title": f"history {p}", "author": "someone", "score": 1,
                   "num_comments": 4, "created_utc": hour + dt.timedelta(minutes=i), "collected_at": ran}
                  for i, p in enumerate(posts)],
        "comments": [{"id": f"{p}c{k}", "name": f"t1_{p}c{k}", "link_id": f"t3_{p}", "parent_id": f"t3_{p}",
                      "body": "text", "author": "someone", "depth": 0, "score": 1,
                      "created_utc": hour + dt.timedelta(minutes=2 + k), "collected_at": ran}
                     for p in posts for k in range(4)],
        "post_metrics": [{"id": f"zh{max(n - k, 0):07d}0", "score": k, "num_comments": 4, "upvote_ratio": 0.9,
                          "collected_at": ran} for k in range(25)],
        "comment_fetches": [{"post_id": p, "num_comments": 4, "comments": 4, "collected_at": ran} for p in posts],
        "api_requests": [{"ts": ran, "endpoint": "listing", "status": 200, "subreddit": None} for _ in range(3)],
    }


_MOTO_GUARD = threading.Lock()


def put_in_moto(path: str, data: bytes) -> None:
    """Store an object straight in the moto server's backend (it runs in this process):
    tens of thousands of generated files over HTTP took longer than the benchmark itself.
    What a run then reads, it reads over HTTP like any S3 object."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket, key = path.split("/", 1)
    with _MOTO_GUARD:  # moto's key store is not made for concurrent writers
        s3_backends[DEFAULT_ACCOUNT_ID]["global"].put_object(bucket, key, data)


def _stats(data: pa.Table) -> str:
    """Delta file statistics for the time columns the lake keeps them for (a reader prunes a
    file whose stats lack a configured column's bounds)."""
    import pyarrow.compute as pc

    low, high = {}, {}
    for name in delta.STATS_COLUMNS:
        if name in data.column_names:
            low[name] = pc.min(data.column(name)).as_py().isoformat(timespec="milliseconds").replace("+00:00", "Z")
            high[name] = pc.max(data.column(name)).as_py().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    nulls = {name: 0 for name in low}
    return json.dumps({"numRecords": data.num_rows, "minValues": low, "maxValues": high, "nullCount": nulls})


def generate(lake: Lake, subreddits: list[str], days: int, end: dt.datetime, found: dict[str, pa.Schema]) -> int:
    """Hourly runs' files for ``days`` days before ``end``, committed in one Delta commit per
    table; returns the number of files written.

    One commit per table rather than one per hour: a year of hourly commits would take longer
    than the benchmark, and what a reader pays for the log is bounded by the checkpoint
    interval (a checkpoint, then at most ``delta.CHECKPOINT_INTERVAL`` commits), not by the
    number of commits. Each table's rows are built once (``hour_rows``) and only their id and
    time columns are replaced per hour.
    """
    from deltalake.transaction import AddAction

    first = end - dt.timedelta(days=days)
    hours = [first + dt.timedelta(hours=h) for h in range(days * 24)]
    fs = lake.location.filesystem
    template_rows = hour_rows("x", first, 0)
    templates = {
        table: pa.Table.from_pylist([{k: v for k, v in r.items() if k in found[table].names} for r in rows],
                                    schema=found[table])
        for table, rows in template_rows.items()
        if table in found
    }
    made_dirs: set[str] = set()
    actions: dict[str, list[AddAction]] = {table: [] for table in templates}
    guard = threading.Lock()

    def one(args: tuple[str, int, dt.datetime]) -> int:
        sub, n, hour = args
        written = 0
        for table, rows in hour_rows(sub, hour, n).items():
            if table not in templates:
                continue
            data = templates[table]
            for name in ("id", "post_id", "link_id", "parent_id", "name", "created_utc", "collected_at", "ts"):
                if name in data.column_names and name in rows[0]:
                    index = data.schema.get_field_index(name)
                    data = data.set_column(index, data.schema.field(index),
                                           pa.array([r[name] for r in rows], data.schema.field(index).type))
            day = rows[0][TABLES[table]].date()
            relative = f"subreddit={sub}/dt={day.isoformat()}/part-{uuid.uuid4().hex}.parquet"
            folder = lake.location.path(table, f"subreddit={sub}", f"dt={day.isoformat()}")
            if lake.location.is_local and folder not in made_dirs:
                os.makedirs(folder, exist_ok=True)
                made_dirs.add(folder)
            # Generated data, not the product's write path: files first, one commit per table after.
            buffer = pa.BufferOutputStream()
            import pyarrow.parquet as pq

            pq.write_table(data, buffer, compression="zstd")
            body = buffer.getvalue().to_pybytes()
            if lake.location.is_local:
                with fs.open_output_stream(lake.location.path(table, relative)) as out:
                    out.write(body)
            else:
                put_in_moto(lake.location.path(table, relative), body)
            action = AddAction(relative, len(body), {"subreddit": sub, "dt": day.isoformat()},
                               int(time.time() * 1000), True, _stats(data))
            with guard:
                actions[table].append(action)
            written += 1
        return written

    jobs = [(sub, n, hour) for sub in subreddits for n, hour in enumerate(hours)]
    with ThreadPoolExecutor(max_workers=int(os.environ.get("GEN_THREADS", "4"))) as pool:
        total = sum(pool.map(one, jobs, chunksize=64))
    for table, added in actions.items():
        target = delta.open_table(lake.location, table)
        assert target is not None
        target.create_write_transaction(added, mode="append", schema=target.schema(), partition_by=delta.PARTITIONS)
        target.create_checkpoint()
    return total


# -- measuring -------------------------------------------------------------------------


def file_counts(lake: Lake) -> dict[str, Any]:
    """Live files (in the current snapshots), from the logs."""
    partitions = files_per_partition(lake)
    return {"files": sum(p.files for p in partitions), "partitions": len(partitions),
            "max_files_per_partition": max((p.files for p in partitions), default=0)}


def duplicates(lake: Lake, subreddits: list[str]) -> int:
    """Ids stored more than once in posts and comments (the id column of the current snapshot)."""
    extra = 0
    for sub in subreddits:
        for table in ("posts", "comments"):
            ids = lake.read(table, sub)
            if ids.num_rows:
                extra += ids.num_rows - len(set(ids.column("id").to_pylist()))
    return extra


def timed_collect(sim: SimulatorThread, settings, subreddits: list[str], counter: S3RequestCounter | None) -> dict[str, Any]:
    from flows.collect import collect

    sim.reset_stats()
    if counter:
        counter.take()
        counter.take_by_table()
        counter.take_lines()
    started = time.monotonic()
    summaries = asyncio.run(collect(subreddits, settings))
    seconds = time.monotonic() - started
    requests = counter.take_lines() if counter else []
    return {
        "seconds": round(seconds, 2),
        "api_requests": common.api_requests(sim.stats()),
        "s3_requests": counter.take() if counter else None,
        "s3_requests_by_table": counter.take_by_table() if counter else None,
        "posts_written": sum(s.posts_written for s in summaries),
        "comments_written": sum(s.comments_written for s in summaries),
        "failed": [s.line() for s in summaries if not s.ok],
        **({"s3_request_lines": requests} if requests else {}),
    }


@dataclass
class HistoryLake:
    """One history length's simulator, settings, lake and measurements."""

    days: int
    storage: str
    sim: SimulatorThread
    settings: Any
    lake: Lake
    result: dict[str, Any] = field(default_factory=dict)


def open_lake(stack: ExitStack, days: int, storage: str, subreddits: list[str], endpoint: str | None,
              counter: S3RequestCounter | None, tmp: str) -> HistoryLake:
    """A simulator and a lake seeded by a real ``collect``, then ``days`` days of generated history."""
    sim = stack.enter_context(SimulatorThread(sim_config(subreddits)))
    now = time.time()
    sim.world.advance(max(0.0, now - sim.world.now))  # content clock = wall clock
    if storage == "s3":
        from s3server import make_bucket

        bucket = f"history-{uuid.uuid4().hex[:10]}"
        make_bucket(endpoint, bucket)
        uri = f"s3://{bucket}/lake"
    else:
        uri = f"{tmp}/lake-{days}d-{uuid.uuid4().hex[:6]}"
    client_id, secret = next(iter(sim.config.clients.items()))
    settings = common.sim_settings(sim.url, client_id, secret, uri, requests_per_window=1000,
                                   window_seconds=10.0, sorts=["new"], limit=LIMIT)
    if endpoint:
        settings = settings.model_copy(update={"lake": settings.lake.model_copy(update={"endpoint_url": endpoint})})
    lake = Lake.open(uri, endpoint_url=endpoint)
    run = HistoryLake(days, storage, sim, settings, lake)

    seed = timed_collect(sim, settings, subreddits, counter)
    started = time.monotonic()
    end = dt.datetime.fromtimestamp(now, dt.UTC).replace(minute=0, second=0, microsecond=0)
    generated = generate(lake, subreddits, days, end, schemas(lake))
    run.result = {"days": days, "storage": storage, "generated_files": generated,
                  "generate_seconds": round(time.monotonic() - started, 1),
                  "files_before_compaction": file_counts(lake), "collect_before_compaction": [],
                  "collect_maintained_compaction": [], "collect_after_compaction": [], "duplicate_ids": 0}
    print(f"  {storage} {days}d: seeded ({seed['seconds']}s), generated {generated} files in "
          f"{run.result['generate_seconds']:.0f}s", flush=True)
    return run


def collect_round(runs: list[HistoryLake], when: str, subreddits: list[str], counter: S3RequestCounter | None) -> None:
    """One incremental ``collect`` per lake, 2 h of content later, one lake after the other."""
    for run in runs:
        run.sim.world.advance(STEP_HOURS * 3600)
        measured = timed_collect(run.sim, run.settings, subreddits, counter)
        run.result[f"collect_{when}_compaction"].append(measured)
        print(f"  {run.storage} {run.days}d: collect ({when}) {measured['seconds']}s, "
              f"S3 {s3_total(measured['s3_requests'])}, API {measured['api_requests']}", flush=True)


def check_duplicates(runs: list[HistoryLake], subreddits: list[str]) -> None:
    """After each phase's rounds (every id of every file read: minutes for a year's
    uncompacted S3 lake, so not after every run)."""
    for run in runs:
        run.result["duplicate_ids"] += duplicates(run.lake, subreddits)


def compact_all(run: HistoryLake, counter: S3RequestCounter | None, policy: CompactionPolicy, label: str) -> None:
    """``compact_due``: what the maintenance flow runs, timed, with S3 requests and files after."""
    if counter:
        counter.take()
    started = time.monotonic()
    compact_due(run.lake, policy)
    run.result[f"{label}_seconds"] = round(time.monotonic() - started, 1)
    run.result[f"{label}_s3_requests"] = counter.take() if counter else None
    run.result[f"files_after_{label}"] = file_counts(run.lake)
    print(f"  {run.storage} {run.days}d: {label} in {run.result[f'{label}_seconds']}s "
          f"({run.result[f'files_after_{label}']})", flush=True)


# The maintenance flow's defaults (partitions of 24+ files, or of 2+ once their day is 1 day past:
# the lake as a daily maintain-lake keeps it), then everything of 2+ files.
MAINTAINED = CompactionPolicy()
EVERYTHING = CompactionPolicy(min_files=2, after_days=0)


def measure(storage: str, days: list[int], rounds: int, subreddits: list[str], endpoint: str | None,
            counter: S3RequestCounter | None, tmp: str) -> list[dict[str, Any]]:
    """All history lengths side by side: rounds of collects interleaved across the lakes (the
    machine's noise falls on every length alike), compaction, rounds again."""
    with ExitStack() as stack:
        runs = [open_lake(stack, d, storage, subreddits, endpoint, counter, tmp) for d in days]
        for _ in range(rounds):
            collect_round(runs, "before", subreddits, counter)
        check_duplicates(runs, subreddits)
        for run in runs:
            compact_all(run, counter, MAINTAINED, "maintenance")
        for _ in range(rounds):
            collect_round(runs, "maintained", subreddits, counter)
        check_duplicates(runs, subreddits)
        for run in runs:
            compact_all(run, counter, EVERYTHING, "compaction")
        for _ in range(rounds):
            collect_round(runs, "after", subreddits, counter)
        check_duplicates(runs, subreddits)
    for run in runs:  # survives an interrupted run
        shown = {k: [{n: v for n, v in c.items() if n != "s3_request_lines"} for c in v]
                 if k.startswith("collect_") else v for k, v in run.result.items()}
        print(f"  {storage} {run.days}d result: {json.dumps(shown, default=str)}", flush=True)
    return [run.result for run in runs]


def s3_total(requests: dict[str, int] | None) -> str:
    return "-" if requests is None else str(sum(requests.values()))


def median_of(collects: list[dict[str, Any]], value: Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(value(c) for c in collects)


def report(results: list[dict[str, Any]]) -> str:
    """Medians over the rounds; the last column is the longest history's over the shortest's."""
    lines = []
    for storage in dict.fromkeys(r["storage"] for r in results):
        rows = [r for r in results if r["storage"] == storage]
        lines.append(f"\n{storage} (collect figures: median of {len(rows[0]['collect_before_compaction'])} rounds)")
        lines.append(f"{'':34}" + "".join(f"{str(r['days']) + ' days':>12}" for r in rows) + f"{'last/first':>12}")

        def line(label: str, values: list[Any], ratio: bool = False) -> None:
            text = f"{label:34}" + "".join(f"{v:>12.2f}" if isinstance(v, float) else f"{str(v):>12}" for v in values)
            if ratio and values and isinstance(values[0], (int, float)) and values[0]:
                text += f"{values[-1] / values[0]:>12.2f}"
            lines.append(text)

        line("files in the lake", [r["files_before_compaction"]["files"] for r in rows])
        line("max files per partition", [r["files_before_compaction"]["max_files_per_partition"] for r in rows])
        for when in ("before", "maintained", "after"):
            key = f"collect_{when}_compaction"
            label = {"maintenance": "compaction by the maintenance policy", "compaction": "compaction of the rest"}
            for step in {"maintained": ["maintenance"], "after": ["compaction"]}.get(when, []):
                line(f"{label[step]} (s)", [r[f"{step}_seconds"] for r in rows])
                line("  S3 requests", [s3_total(r[f"{step}_s3_requests"]) for r in rows])
                line("  files after", [r[f"files_after_{step}"]["files"] for r in rows])
                line("  max files per partition after", [r[f"files_after_{step}"]["max_files_per_partition"] for r in rows])
            title = {"before": "never compacted", "maintained": "maintenance policy applied", "after": "all compacted"}
            line(f"collect, {title[when]} (s)", [median_of(r[key], lambda c: c["seconds"]) for r in rows], ratio=True)
            line("  API requests", [median_of(r[key], lambda c: c["api_requests"]) for r in rows], ratio=True)
            if storage == "s3":
                line("  S3 requests", [median_of(r[key], lambda c: sum(c["s3_requests"].values())) for r in rows],
                     ratio=True)
                line("    GET", [median_of(r[key], lambda c: c["s3_requests"].get("GET", 0)) for r in rows])
                tables = sorted({t for r in rows for c in r[key] for t in c["s3_requests_by_table"]})
                for table in tables:
                    line(f"    {table}", [median_of(r[key], lambda c, t=table: c["s3_requests_by_table"].get(t, 0))
                                        for r in rows])
            line("  posts / comments written",
                 [f"{sum(c['posts_written'] for c in r[key])}/{sum(c['comments_written'] for c in r[key])}" for r in rows])
        line("duplicate ids (posts+comments)", [r["duplicate_ids"] for r in rows])
        failed = [f for r in rows for k in ("collect_before_compaction", "collect_maintained_compaction",
                                            "collect_after_compaction")
                  for c in r[k] for f in c["failed"]]
        if failed:
            lines.append(f"FAILED subreddits: {failed}")
    return "\n".join(lines)


def code_under_test() -> str:
    checkout = Path(redditlake.__file__).resolve().parents[1]
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=checkout).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "redditlake", "flows", "tasks"],
                           capture_output=True, text=True, cwd=checkout).stdout.strip()
    return f"{checkout} @ {head}" + (" (uncommitted changes)" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 30, 365])
    parser.add_argument("--subreddits", type=int, default=2, help="how many subreddits (default: 2)")
    parser.add_argument("--storage", nargs="+", choices=["local", "s3"], default=["local", "s3"])
    parser.add_argument("--rounds", type=int, default=3, help="timed collects per lake before and after compaction")
    parser.add_argument("--label", default="", help="names the JSON output (e.g. main, branch)")
    parser.add_argument("--s3-log", action="store_true",
                        help="keep every S3 request of each collect (method, path, query) in the JSON output")
    args = parser.parse_args()
    subreddits = SUBREDDITS[: args.subreddits]

    from prefect.testing.utilities import prefect_test_harness

    logging.getLogger("prefect.engine").setLevel(logging.WARNING)  # one "View at" line per flow run
    code = code_under_test()
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()}, code under test: {code}",
          flush=True)
    print(f"{len(subreddits)} subreddits, hourly runs' files for {args.days} days; incremental collect of `new` "
          f"(limit {LIMIT}) {STEP_HOURS} h of content later", flush=True)
    results = []
    with prefect_test_harness(server_startup_timeout=300), tempfile.TemporaryDirectory(prefix="rl-history-") as tmp:
        for storage in args.storage:
            if storage == "s3":
                with s3_server() as (endpoint, counter):
                    counter.lines = [] if args.s3_log else None
                    results += measure("s3", args.days, args.rounds, subreddits, endpoint, counter, tmp)
            else:
                results += measure("local", args.days, args.rounds, subreddits, None, None, tmp)
    print(report(results), flush=True)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"history{'-' + args.label if args.label else ''}.json"
    path.write_text(json.dumps({"benchmark": "history", "command": " ".join(sys.argv), "code": code,
                                "subreddits": subreddits, "results": results}, indent=2, default=str) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

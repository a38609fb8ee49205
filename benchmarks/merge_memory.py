"""Peak memory of one ``Lake.write`` (a MERGE on id) into a partition that already holds N rows.

For each N, a fresh local lake gets one (subreddit, day) partition of N comment-like rows
(written as appends, 100k rows a commit), then a new process (started fresh: delta-rs refuses
to run after a fork) writes a batch of 200 rows, half of them already stored, into that
partition and reports its own peak RSS (``VmHWM``) before and after the write, and the time.

    uv run python -m benchmarks.merge_memory [--rows 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa

from redditlake.lake import Lake

DAY = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
CHUNK = 100_000

CHILD = r"""
import datetime as dt, json, sys, time
import pyarrow as pa
from redditlake.lake import Lake

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024

lake = Lake.open(sys.argv[1])
n = int(sys.argv[2])
before = hwm()
ids = [f"c{i}" for i in range(n - 100, n + 100)]  # half stored, half new
day = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
rows = pa.table({"id": ids, "body": ["x" * 200] * len(ids), "author": ["someone"] * len(ids),
                 "created_utc": pa.array([day] * len(ids), pa.timestamp("us", tz="UTC"))})
started = time.monotonic()
result = lake.write("comments", "python", rows)
print(json.dumps({"rows_in_partition": n, "written": result.written, "skipped": result.duplicates_skipped,
                  "seconds": round(time.monotonic() - started, 2), "peak_mb_before": before, "peak_mb": hwm()}))
"""


def fill(lake: Lake, n: int) -> None:
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        lake.append("comments", "python", pa.table({
            "id": [f"c{i}" for i in range(start, start + count)],
            "body": ["x" * 200] * count,
            "author": ["someone"] * count,
            "created_utc": pa.array([DAY + dt.timedelta(hours=12)] * count, pa.timestamp("us", tz="UTC")),
        }), dt_column="created_utc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    out = []
    with tempfile.TemporaryDirectory(prefix="rl-merge-") as tmp:
        for n in args.rows:
            lake = Lake.open(Path(tmp) / f"lake-{n}")
            fill(lake, n)
            answer = subprocess.run([sys.executable, "-c", CHILD, lake.uri, str(n)], capture_output=True, text=True,
                                    check=True)
            out.append(json.loads(answer.stdout.strip().splitlines()[-1]))
            print(out[-1], flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

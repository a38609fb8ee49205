"""What Prefect's result cache saves, and what it leaves behind: requests of a first and a
repeated `collect` (the run a retry or the next schedule makes), result files written, and
account names found in them (base64 payloads decoded).

    uv run python -m benchmarks.cache [--subreddits python datascience] [--limit 100]

Run it on two checkouts to compare cache policies (the module under test is whatever
``flows``/``tasks`` import resolves to): see benchmarks/README.md.
"""

from __future__ import annotations

import benchmarks.common  # noqa: F401  (Prefect's environment first)

import argparse
import asyncio
import base64
import json
import os
import subprocess
import tempfile
from pathlib import Path

from benchmarks.common import sim_settings, sim_stats
from redditlake.simulator import SimulatorConfig, SimulatorThread


def result_files() -> dict[str, str]:
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

    root = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    out = {}
    for p in root.rglob("*") if root.exists() else []:
        if p.is_file():
            text = p.read_bytes().decode("utf-8", errors="replace")
            try:
                text += base64.b64decode(json.loads(text)["result"]).decode("utf-8", errors="replace")
            except Exception:
                pass
            out[p.name] = text
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subreddits", nargs="+", default=["python", "datascience"])
    ap.add_argument("--limit", type=int, default=100)
    args = ap.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    from flows.collect import collect

    sim = SimulatorThread(SimulatorConfig(requests_per_window=1000, window_seconds=10)).start()
    try:
        client_id, secret = next(iter(sim.config.clients.items()))
        lake = tempfile.mkdtemp(prefix="redditlake-bench-lake-")
        settings = sim_settings(sim.url, client_id, secret, lake, requests_per_window=1000, window_seconds=10,
                                sorts=["new"], limit=args.limit, comments=True)
        names = {a.name for a in sim.world.accounts if len(a.name) >= 7}
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=os.getcwd()).stdout.strip()
        print(f"checkout {os.getcwd()} ({commit}); subreddits {' '.join(args.subreddits)}, new, limit {args.limit}")
        with prefect_test_harness(server_startup_timeout=600):
            for run in ("first run", "repeated run"):
                before = sim_stats(sim.url)["requests"]
                summaries = asyncio.run(collect(args.subreddits, settings))
                spent = sim_stats(sim.url)["requests"] - before
                files = result_files()
                leaked = {n for text in files.values() for n in names if n in text}
                ok = all(s.ok for s in summaries)
                print(f"{run}: {spent} requests (ok={ok}); result files {len(files)}, "
                      f"account names in them {len(leaked)}")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()

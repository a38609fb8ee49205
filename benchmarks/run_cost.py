"""What an ad hoc ``redditlake collect`` costs before and around its requests.

One small job (``collect python --limit 10 --no-comments``: ~3 requests) against the
simulator, as a user runs it (a new process, environment variables only), timed from
process start to exit:

  cold        no Prefect server anywhere, a fresh Prefect home: Prefect starts a temporary one
              and creates its database (a user's very first run)
  home        no Prefect server, a Prefect home used before (database exists, one untimed run
              first): Prefect starts a temporary one (every later run without `redditlake server`)
  server      ``redditlake server`` already running (started first, not timed), found by the run
  bad-secret  a wrong client secret: the token check reports it before Prefect is imported

    uv run python -m benchmarks.run_cost [--rounds 3] [--cases cold,home,server,bad-secret]
"""

from __future__ import annotations

from benchmarks import common  # first: sets Prefect's environment

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redditlake.simulator import SimulatorConfig, SimulatorThread


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    started = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "redditlake.cli", *args], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=600)
    lines = p.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("redditlake:")]  # the one-line verdict, if any
    return time.monotonic() - started, p.returncode, (errors or lines or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="cold,home,server,bad-secret", help="comma-separated (default: all four)")
    args = parser.parse_args()
    cases = args.cases.split(",")
    m = common.machine()
    print(f"{m['date']}, commit {m['git_head']}, uncommitted product files: {m['git_uncommitted_product_files'] or 'none'}")
    results: dict[str, list[float]] = {"cold": [], "home": [], "server": [], "bad-secret": []}
    with SimulatorThread(SimulatorConfig(requests_per_window=1000, window_seconds=10)) as sim, \
            tempfile.TemporaryDirectory(prefix="redditlake-bench-cost-") as tmp:
        client_id, secret = sim.running.credentials()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REDDIT"))}
        base.update({"REDDIT_OAUTH_URL": sim.url, "REDDIT_URL": sim.url, "REDDIT_CLIENT_ID": client_id,
                     "REDDIT_CLIENT_SECRET": secret, "REDDITLAKE_LAKE": f"{tmp}/lake"})
        job = ["collect", "python", "--limit", "10", "--no-comments"]
        home = Path(tmp, "server-home")
        home.mkdir()
        server = None if "server" not in cases else subprocess.Popen([sys.executable, "-m", "redditlake.cli", "server", "--port", str(free_port())],
                                  env={**base, "PREFECT_HOME": str(home)}, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 600  # a fresh server takes 8 s idle, over 2 min on a loaded machine
            while server and not (home / "redditlake-server.json").exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("redditlake server did not start")
                time.sleep(0.3)
            used_home = {**base, "PREFECT_HOME": f"{tmp}/used-home"}
            if "home" in cases:
                seconds, code, last = timed(job, used_home)  # creates the home's database; not counted
                print(f"  (home's first run, not counted: {seconds:.1f} s, exit {code})", flush=True)
            for n in range(args.rounds):
                for name, env, argv in (
                    ("cold", {**base, "PREFECT_HOME": f"{tmp}/cold-{n}"}, job),
                    ("home", used_home, job),
                    ("server", {**base, "PREFECT_HOME": str(home)}, job),
                    ("bad-secret", {**base, "PREFECT_HOME": f"{tmp}/bad-{n}", "REDDIT_CLIENT_SECRET": "wrong"}, job),
                ):
                    if name not in cases:
                        continue
                    seconds, code, last = timed(argv, env)
                    results[name].append(round(seconds, 1))
                    print(f"  round {n + 1} {name:10} {seconds:6.1f} s  exit {code}  {last[:110]}", flush=True)
        finally:
            if server:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
    print("seconds per run (each round):")
    for name, xs in results.items():
        if not xs:
            continue
        print(f"  {name:10} {'  '.join(f'{x:5.1f}' for x in xs)}   median {sorted(xs)[len(xs) // 2]:.1f}")
    common.write_json("run_cost.json", {"command": "uv run python -m benchmarks.run_cost " + " ".join(sys.argv[1:]),
                                        "machine": m, "seconds": results})


if __name__ == "__main__":
    main()

"""Budget utilisation under a tight limit: requests made / requests allowed, and 429s.

The simulator runs in this process (a SimulatorThread, 60 requests per 10 s window by
default, far more content than the run can fetch). Each variant gets a fresh simulator and
its collectors run as OS subprocesses (``python -m benchmarks.utilisation worker ...``),
stopped by process-group id after the measured interval:

  redditlake-1p  one process: the ``collect`` flow, 5 subreddits
  redditlake-2p  two processes, same client id: ``collect`` for 3 and for 2 of the subreddits
  plain-1p       the plain asyncpraw script, 5 subreddits concurrently
  plain-2p       two plain processes, same client id
  budget-*       diagnostics: RedditClient alone under endless demand (see VARIANTS)

Each flow variant also gets a fresh Prefect test server, shared by its processes.

Measured interval: from the first window boundary after the first counted request (so
process start-up is excluded) to the moment the collectors are stopped. Allowed requests
= budget x (whole windows elapsed + the partial last window pro rata). Requests made =
the simulator's non-token requests that were not refused (429s are counted separately).
Stats are sampled at every window boundary for a per-window breakdown.

    uv run python -m benchmarks.utilisation [--seconds 85] [--variants all|NAME,NAME...]
    uv run python -m benchmarks.utilisation --table-from benchmarks/out/utilisation.json
"""

from __future__ import annotations

from benchmarks import common  # first: sets Prefect's environment

import argparse
import asyncio
import dataclasses
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redditlake.simulator import SimulatorConfig, SimulatorThread

SUBREDDITS = ["python", "datascience", "askscience", "worldnews", "aww"]
SPLIT = [SUBREDDITS[:3], SUBREDDITS[3:]]
REQUESTS_PER_WINDOW = 60
WINDOW_SECONDS = 10.0
LIMIT = 300  # posts per subreddit: ~1 900 requests of work at ~1.3 requests a post, >> 85 s x 6/s
TARGET = 0.95
VARIANTS = {
    "redditlake-1p": ("flow", [SUBREDDITS]),
    "redditlake-2p": ("flow", SPLIT),
    "plain-1p": ("plain", [SUBREDDITS]),
    "plain-2p": ("plain", SPLIT),
    # Diagnostics: redditlake's RedditClient (its RequestBudget, no Prefect, no lake) under
    # endless demand: 5 coroutines per process requesting /r/{sub}/about back to back.
    "budget-1p": ("budget", [SUBREDDITS]),
    "budget-2p": ("budget", SPLIT),
    # What-ifs for the diagnosis. budget.safety_margin = 0 (a setting, not a code change):
    "budget-1p-margin0": ("budget", [SUBREDDITS], {"safety_margin": 0}),
    # This benchmark's simulator answering X-Ratelimit-Reset rounded down instead of up:
    "budget-1p-floor-reset": ("budget", [SUBREDDITS], {}, "floor"),
}
DEFAULT_VARIANTS = "redditlake-1p,redditlake-2p,plain-1p,budget-1p"


def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        seed=42,
        subreddits=SUBREDDITS,
        posts_per_subreddit=LIMIT,
        comments_per_post_mean=20.0,
        requests_per_window=REQUESTS_PER_WINDOW,
        window_seconds=WINDOW_SECONDS,
    )


# -- the worker (a subprocess) ----------------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    subs = args.subreddits.split(",")
    budget_overrides = json.loads(args.budget_overrides)
    if args.mode == "plain":
        result = asyncio.run(common.plain_collect(args.url, args.client_id, args.secret, subs, args.limit, args.window))
        print(f"plain worker finished: {sum(len(v) for v in result.comments.values())} comments, "
              f"exceptions {dict(result.errors)}", flush=True)
        return
    # No budget settings (the defaults, as a new user runs it): the window is learnt from the headers.
    settings = common.sim_settings(args.url, args.client_id, args.secret, args.lake,
                                   sorts=["new"], limit=args.limit, comments=True)
    settings = settings.model_copy(update={"budget": settings.budget.model_copy(update=budget_overrides)})
    if args.mode == "budget":
        asyncio.run(budget_demand(settings, subs))
        return
    from flows.collect import collect

    summaries = asyncio.run(collect(subs, settings))
    print("flow worker finished: " + "; ".join(s.line() for s in summaries), flush=True)


async def budget_demand(settings, subs: list[str]) -> None:
    """Endless demand through one RedditClient: what RequestBudget alone lets through."""
    from redditlake.reddit.client import RedditClient

    async with RedditClient(settings) as client:

        async def loop(sub: str) -> None:
            while True:
                await client.about(sub)

        await asyncio.gather(*(loop(s) for s in subs))


async def _limits() -> list[Any]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_global_concurrency_limits(limit=200)


def concurrency_limits() -> dict[str, dict[str, Any]]:
    """The Prefect server's global concurrency limits and their active slots."""
    return {l.name: {"limit": l.limit, "active_slots": l.active_slots, "slot_decay_per_second": l.slot_decay_per_second}
            for l in asyncio.run(_limits())}


# -- the parent ---------------------------------------------------------------------------------


def start_worker(mode: str, subs: list[str], sim: SimulatorThread, lake: str, log: Path,
                 api_url: str | None, budget_overrides: dict[str, Any]) -> subprocess.Popen:
    client_id, secret = sim.running.credentials()
    cmd = [
        sys.executable, "-m", "benchmarks.utilisation", "worker",
        "--mode", mode, "--url", sim.url, "--client-id", client_id, "--secret", secret,
        "--subreddits", ",".join(subs), "--limit", str(LIMIT), "--lake", lake,
        "--requests-per-window", str(REQUESTS_PER_WINDOW), "--window", str(WINDOW_SECONDS),
        "--budget-overrides", json.dumps(budget_overrides),
    ]
    env = dict(os.environ)
    env["PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL"] = "INFO"  # progress lines: evidence in the log
    if api_url:
        env["PREFECT_API_URL"] = api_url  # the parent's Prefect server: one for all workers
    log.write_text("")
    out = log.open("a")  # O_APPEND: the parent's end-of-run marker lands after the worker's lines
    # A session of its own: the worker and anything it starts are stopped by process-group id.
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                            cwd=Path(__file__).resolve().parent.parent)


STOP_MARKER = "--- benchmark: measured interval over, stopping the worker (SIGTERM) ---"


def stop_worker(proc: subprocess.Popen, log: Path) -> str:
    """SIGTERM to the worker's process group; SIGKILL if it has not exited 10 s later."""
    with log.open("a") as f:
        f.write(f"\n{STOP_MARKER}\n")
    if proc.poll() is not None:
        return f"had exited ({proc.returncode})"
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
        return f"SIGTERM, exited in {time.monotonic() - started:.1f}s"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return "SIGTERM ignored for 10s, SIGKILL"


def record_hits(sim: SimulatorThread, reset_rounding: str = "ceil") -> list[tuple[float, bool]]:
    """Instrument this benchmark's simulator: (monotonic time, allowed) of every budgeted request.

    Wraps the rate limiter's ``hit`` on this one instance (the parent's simulator); the
    simulator's code is unchanged. Same clock as the window origin. With
    ``reset_rounding="floor"`` the X-Ratelimit-Reset header says the whole seconds left
    rounded down (the simulator rounds up).
    """
    limiter = sim.running.sim.limiter
    hit = limiter.hit
    log: list[tuple[float, bool]] = []

    def recording(client_id: str):
        now = time.monotonic()
        verdict = hit(client_id)
        log.append((now, verdict.allowed))
        if reset_rounding == "floor":
            left = limiter.window - (now - limiter._start) % limiter.window
            verdict = dataclasses.replace(verdict, reset=max(0, math.floor(left)))
        return verdict

    limiter.hit = recording
    return log


def window_timing(hits: list[tuple[float, bool]], start: float, windows: int) -> dict[str, Any]:
    """When, inside each full window, the allowed requests went: the first and the last
    (seconds after the window opened) and the longest pause between two."""
    first, last, gap = [], [], []
    for k in range(windows):
        lo, hi = start + k * WINDOW_SECONDS, start + (k + 1) * WINDOW_SECONDS
        ts = [t - lo for t, ok in hits if ok and lo <= t < hi]
        if not ts:
            continue
        first.append(round(ts[0], 2))
        last.append(round(ts[-1], 2))
        gap.append(round(max(b - a for a, b in zip([0.0, *ts], [*ts, WINDOW_SECONDS])), 2))
    return {"first_request_s": first, "last_request_s": last, "longest_pause_s": gap}


def counted(stats: dict[str, Any]) -> tuple[int, int]:
    """(requests charged to the budget, 429s) so far."""
    return common.api_requests(stats) - stats["rate_limited"], stats["rate_limited"]


def run_variant(name: str, seconds: float, api_url: str | None) -> dict[str, Any]:
    mode, groups, *rest = VARIANTS[name]
    budget_overrides = rest[0] if rest else {}
    reset_rounding = rest[1] if len(rest) > 1 else "ceil"
    limits_before = concurrency_limits() if mode == "flow" else {}
    lake_dir = tempfile.mkdtemp(prefix="redditlake-bench-util-")
    procs: list[subprocess.Popen] = []
    stops: list[str] = []
    logs = [common.OUT / f"utilisation-{name}-{i + 1}.log" for i in range(len(groups))]
    common.OUT.mkdir(parents=True, exist_ok=True)
    with SimulatorThread(sim_config()) as sim:
        origin = sim.running.sim.started  # windows are aligned to this monotonic instant
        hits = record_hits(sim, reset_rounding)
        try:
            for group, log in zip(groups, logs):
                procs.append(start_worker(mode, group, sim, f"{lake_dir}/lake", log, api_url, budget_overrides))
            # Wait for the first counted request, then start at the next window boundary.
            deadline = time.monotonic() + 180
            while common.api_requests(sim.stats()) == 0:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"{name}: no request within 180 s; see {[str(p) for p in logs]}")
                time.sleep(0.02)
            first_window = math.floor((time.monotonic() - origin) / WINDOW_SECONDS) + 1
            start = origin + first_window * WINDOW_SECONDS
            end = start + seconds
            samples: list[tuple[float, dict[str, Any]]] = []
            boundary = start
            while boundary < end:
                time.sleep(max(0.0, boundary - time.monotonic()))
                samples.append((time.monotonic(), sim.stats()))
                boundary += WINDOW_SECONDS
            time.sleep(max(0.0, end - time.monotonic()))
            samples.append((time.monotonic(), sim.stats()))
            exited = [p.pid for p in procs if p.poll() is not None]
        finally:
            stops = [stop_worker(p, log) for p, log in zip(procs, logs)]
        after_stop = sim.stats()
    shutil.rmtree(lake_dir, ignore_errors=True)

    (t0, s0), (t1, s1) = samples[0], samples[-1]
    timing = window_timing(hits, start, int(seconds // WINDOW_SECONDS))
    elapsed = t1 - t0
    windows = elapsed / WINDOW_SECONDS  # whole windows + the partial last one pro rata
    allowed = REQUESTS_PER_WINDOW * windows
    made0, r0 = counted(s0)
    made1, r1 = counted(s1)
    per_window = []
    for (_, a), (_, b) in zip(samples, samples[1:]):
        (ma, ra), (mb, rb) = counted(a), counted(b)
        per_window.append((mb - ma, rb - ra))
    full = per_window[: int(seconds // WINDOW_SECONDS)]
    made = made1 - made0
    return {
        "variant": name,
        "processes": len(groups),
        "budget_overrides": budget_overrides,
        "simulator_reset_rounding": reset_rounding,
        "subreddits": groups,
        "measured_seconds": round(elapsed, 2),
        "windows": round(windows, 3),
        "allowed": round(allowed, 1),
        "requests": made,
        "utilisation": round(made / allowed, 4),
        "http_429": r1 - r0,
        "http_429_whole_run": after_stop["rate_limited"],
        "per_full_window": [m for m, _ in full],
        "per_full_window_429": [r for _, r in full],
        "partial_last_window": per_window[len(full):],
        "window_timing": timing,
        "token_requests": after_stop["by_family"].get("token", 0),
        "peak_concurrency": after_stop["peak_concurrency"],
        "worker_exited_early": exited,
        "worker_stops": stops,
        "prefect_limits_before": limits_before,
        "prefect_limits_after_stop": concurrency_limits() if mode == "flow" else {},
        "logs": [str(p.relative_to(common.OUT.parent.parent)) for p in logs],
    }


def log_evidence(path: str) -> dict[str, int]:
    """Counts of notable lines in a worker log."""
    text = (common.OUT.parent.parent / path).read_text(errors="replace").split(STOP_MARKER)[0]
    return {
        "retry_warnings": text.count("; retry "),
        "errors": sum(1 for line in text.splitlines() if "| ERROR" in line or "Traceback" in line),
    }


def table(results: list[dict[str, Any]]) -> str:
    """``util``: over the measured interval (partial last window pro rata); ``whole``: over
    the whole windows only (the per-window counts summed / budget x their number)."""
    head = (f"{'variant':22}{'procs':>6}{'seconds':>9}{'windows':>9}{'allowed':>9}{'made':>7}{'util':>8}"
            f"{'whole':>8}{'429s':>6}  per whole window")
    lines = [head, "-" * len(head)]
    for r in results:
        full = r["per_full_window"]
        whole = sum(full) / (REQUESTS_PER_WINDOW * len(full)) if full else float("nan")
        lines.append(
            f"{r['variant']:22}{r['processes']:>6}{r['measured_seconds']:>9.1f}{r['windows']:>9.2f}{r['allowed']:>9.1f}"
            f"{r['requests']:>7}{r['utilisation']:>8.1%}{whole:>8.1%}{r['http_429']:>6}  {full}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker", help="(internal) one collector process")
    w.add_argument("--mode", choices=["flow", "plain", "budget"], required=True)
    for opt in ("--url", "--client-id", "--secret", "--subreddits", "--lake"):
        w.add_argument(opt, required=True)
    w.add_argument("--limit", type=int, required=True)
    w.add_argument("--requests-per-window", type=float, required=True)
    w.add_argument("--window", type=float, required=True)
    w.add_argument("--budget-overrides", default="{}", help="JSON: BudgetSettings fields to override")
    parser.add_argument("--seconds", type=float, default=85.0, help="measured interval per variant")
    parser.add_argument("--table-from", metavar="JSON", help="print the table of a saved result file and exit")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"comma-separated, from {', '.join(VARIANTS)}; or all")
    args = parser.parse_args()
    if args.command == "worker":
        worker(args)
        return

    if args.table_from:
        saved = json.loads(Path(args.table_from).read_text())
        print(f"{saved['machine']['date']}, commit {saved['machine']['git_head']}: {saved.get('command', '')}")
        print(table(saved["results"]))
        return
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}")
    machine_at_start = common.machine()
    print(f"{machine_at_start['date']}, commit {machine_at_start['git_head']}, uncommitted product files: "
          f"{machine_at_start['git_uncommitted_product_files'] or 'none'}", flush=True)
    print(f"budget {REQUESTS_PER_WINDOW} requests / {WINDOW_SECONDS:g} s window; {args.seconds:g} s measured per variant",
          flush=True)
    results = []
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    for name in names:
        if VARIANTS[name][0] == "flow":
            # A fresh Prefect server per flow variant: Prefect state (concurrency slots a
            # stopped worker still holds) must not carry over from one variant to the next.
            with prefect_test_harness(server_startup_timeout=120):
                r = run_variant(name, args.seconds, PREFECT_API_URL.value())
        else:
            r = run_variant(name, args.seconds, None)
        r["log_evidence"] = [log_evidence(p) for p in r["logs"]]
        results.append(r)
        print(table([r]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    for r in results:
        if r["worker_exited_early"]:
            print(f"WARNING {r['variant']}: worker(s) {r['worker_exited_early']} exited before the end: ran out of work?")
        print(f"{r['variant']}: logs {r['logs']}: {r['log_evidence']}; 429s over the whole run {r['http_429_whole_run']}; "
              f"workers stopped: {r['worker_stops']}")
        held = {k: v["active_slots"] for k, v in r["prefect_limits_after_stop"].items() if v["active_slots"]}
        if held:
            print(f"  Prefect concurrency slots still held after the workers stopped: {held}")
    path = common.write_json("utilisation.json", {
        "benchmark": "utilisation",
        "machine": {**machine_at_start, "git_head_at_end": common.machine()["git_head"]},
        "simulator": sim_config().model_dump(mode="json"),
        "command": "uv run python -m benchmarks.utilisation " + " ".join(sys.argv[1:]),
        "seconds": args.seconds,
        "target_utilisation": TARGET,
        "results": results,
    })
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

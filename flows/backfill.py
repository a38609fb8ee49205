"""The ``backfill`` flow: history from archive APIs and dump files into the lake.

Thin: ``redditlake.archive`` does the work. Per API source, the subreddits run one after the
other (they share the archive's budget, so running them at once would not be faster), posts then
comments; each dump file is read once for all subreddits. A job that fails is reported and the
others go on; a rerun resumes every job from its position in the lake.
"""

from __future__ import annotations

import asyncio
import os

from prefect import flow, get_run_logger

from redditlake.archive.client import COMMENTS, POSTS, ArchiveClient, archive_transport
from redditlake.archive.plan import make_plan
from redditlake.archive.dumps import DumpResult
from redditlake.archive.search import BackfillResult
from redditlake.outcome import Outcome
from redditlake.clock import now_utc
from redditlake.quality import jobs as quality_jobs
from redditlake.config import Settings
from flows.common import one_line
from flows.kernel import prepare_run
from tasks.archive import dump_job, search_job, threads_job
from tasks.quality import record_run


@flow(name="backfill", log_prints=False, persist_result=False)
async def backfill(
    subreddits: list[str],
    since: str,
    until: str | None = None,
    sources: list[str] | None = None,
    settings: Settings | None = None,
    lake: str | None = None,
    threads: bool = False,
) -> list[Outcome]:
    """Backfill subreddits over ``[since, until)`` from ``sources`` (pullpush, arcticshift, FILE.zst).
    ``threads``: comments as the whole trees of the posts in the range, from Arctic Shift (one
    request per post; the other API sources then backfill posts only). Returns an ``Outcome``
    per job (and per dump file and subreddit), not ``ok`` for a job that failed."""
    run = await prepare_run("backfill", settings, lake=lake)
    settings = run.settings
    plan = make_plan(subreddits, since, until, sources, threads)
    landing, recorder = run.landing, run.start_recording()
    results: list = []  # BackfillResult / DumpResult, for the run's collection_jobs rows
    started = now_utc()
    logger = get_run_logger()
    logger.info("backfill %s from %s to %s via %s", ", ".join(plan.subreddits), plan.since, plan.until,
                ", ".join(plan.apis + [os.path.basename(d) for d in plan.dumps]))
    outcomes = [Outcome.failed(f"r/{name}", why) for name, why in plan.invalid.items()]

    async def api_job(state, sub: str, source: str, kind: str) -> None:
        """A job's result, or its failure as a result (the other jobs go on; a rerun resumes it)."""
        result = await state.aresult(raise_on_failure=False)
        if not isinstance(result, BackfillResult):
            result = BackfillResult(sub, source, kind, ok=False, error=one_line(result))
            outcomes.append(Outcome.failed(f"r/{sub} {source} {kind}", f"{result.error} (rerun to resume)"))
        else:
            outcomes.append(result.outcome())
        results.append(result)

    for source in plan.apis:
        transport = archive_transport(settings)
        async with ArchiveClient.for_source(source, settings, transport) as client:
            for sub in plan.subreddits:
                for kind in (POSTS,) if plan.threads else (POSTS, COMMENTS):
                    await api_job(await search_job(client, landing, sub, kind, plan.since, plan.until,
                                                   settings.archive.window_days, source,
                                                   settings.archive.search_batch_rows, return_state=True),
                                  sub, source, kind)
                if plan.threads and source == "arcticshift":  # after its posts: the trees are theirs
                    await api_job(await threads_job(client, landing, sub, plan.since, plan.until, source,
                                                    return_state=True),
                                  sub, source, "threads")
    for path in plan.dumps:
        state = await dump_job(path, os.path.basename(path), landing, plan.subreddits, plan.since, plan.until,
                               settings.archive.dump_batch_rows, settings.archive.dump_max_line_bytes,
                               return_state=True)
        result = await state.aresult(raise_on_failure=False)
        results.append(result)
        outcomes.extend(result.outcomes() if isinstance(result, DumpResult) else
                        [Outcome.failed(os.path.basename(path), f"{one_line(result)} (rerun to resume)")])
    jobs = quality_jobs.backfill_rows(results, plan.subreddits, started, now_utc())
    await record_run(settings, landing.lake, "backfill", jobs, recorder=recorder)
    for outcome in outcomes:
        (logger.info if outcome.ok else logger.error)(outcome.line())
    return outcomes


def run(subreddits: list[str], since: str, until: str | None, sources: list[str] | None, settings: Settings) -> list[Outcome]:
    return asyncio.run(backfill(subreddits, since, until, sources, settings))

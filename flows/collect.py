"""Collection flows: one flow run per subreddit, and a parent that fans out.

The flows only orchestrate; every step is a task over ``redditlake.pipeline``.
All subreddits of one run share one ``RedditClient`` and so one request budget.

Bulk data (posts, comment batches, id sets) goes to tasks wrapped in
``quote()``: Prefect otherwise walks every element of a task's parameters
looking for upstream futures — measured here, 21 s of a 35 s run for one
subreddit of 200 posts and 3,230 comments.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote

from redditlake.config import Settings, Sort, TimeFilter
from redditlake.errors import RedditLakeError
from redditlake import pipeline, positions
from redditlake.coverage_report import listing_cap_gap
from redditlake.positions import CoverageGap
from redditlake.landing import Landing
from redditlake.clock import now_utc
from redditlake.pipeline import SubredditSummary
from redditlake.subreddit_names import validate_subreddit
from redditlake.quality import gxrun
from redditlake.quality import results as quality_results
from redditlake.quality.coverage import coverage_finding
from redditlake.reddit.client import RedditClient
from redditlake.reddit.comments import TreeOptions
from redditlake.reddit.requestlog import requests_for
from redditlake.watermark import StoredPosts, recent_post_days
from flows.alerting import install_prefect_alerts
from flows.common import land_request_log, one_line, open_lake
from flows.kernel import prepare_run
from tasks.budget import subreddit_slot
from tasks.lake import land, land_comment_batch, land_metrics, land_users
from tasks.reddit import fetch_about, fetch_comments, fetch_posts, fetch_users
from tasks.quality import check_quality, quietly, record_run
from redditlake.quality import jobs as quality_jobs


@flow(name="collect-subreddit", flow_run_name="r/{subreddit}", log_prints=False, persist_result=False)
async def collect_subreddit(
    subreddit: str,
    settings: Settings | None = None,
    client: RedditClient | None = None,
) -> SubredditSummary:
    """Collect one subreddit: about, posts for each configured sort, complete comment trees
    (and author profiles if configured). Reruns fetch only what is new or changed."""
    run = await prepare_run("collect", settings)
    settings = run.settings
    if client is None:  # run on its own (a deployment): bring a client, land its request log, record the job
        async with await run.client() as own:
            summary = SubredditSummary(subreddit, ok=False, error="stopped before it finished")
            try:
                summary = await collect_subreddit.fn(subreddit, settings, own)
            except Exception as exc:
                summary.error = one_line(exc)
                raise
            finally:
                await record_collection(settings, own, [summary])
            return summary
    started = time.monotonic()
    recorder = run.start_recording()
    steps = _Run(validate_subreddit(subreddit), client, run.landing, settings)
    async with subreddit_slot(settings, steps.subreddit):
        with requests_for(steps.subreddit):
            posts = await steps.posts()
            if settings.collect.comments:
                await steps.comments(posts)
            if settings.collect.users:
                await steps.users(posts)
    if recorder is not None:
        steps.summary.quality = await quietly(check_quality, quote(recorder), None, "collect")
    steps.summary.requests = sum(1 for r in client.transport.request_log.records if r.subreddit == steps.subreddit.lower())
    steps.summary.seconds = time.monotonic() - started
    return steps.summary


@dataclass
class _Run:
    """One subreddit's collection: the steps of the flow, in order."""

    subreddit: str
    client: RedditClient
    landing: Landing
    settings: Settings
    summary: SubredditSummary = field(init=False)
    collected_at: datetime = field(default_factory=now_utc)
    comment_authors: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.summary = SubredditSummary(self.subreddit)

    @property
    def source(self) -> str:
        return self.settings.reddit.oauth_url

    async def posts(self) -> list[dict]:
        opts, lake = self.settings.collect, self.landing.lake
        if not await asyncio.to_thread(pipeline.about_is_stored, lake, self.subreddit):
            about = await fetch_about(self.client, self.subreddit, source=self.source)
            await land(self.landing, "subreddits", self.subreddit, [about], self.collected_at)
        known = StoredPosts(lake, self.subreddit)  # reads the days the listing's pages span, not the history
        listings = await asyncio.gather(
            *(fetch_posts(self.client, self.subreddit, s, opts.limit, opts.time_filter, quote(known)) for s in opts.sorts)
        )
        cut = [(g, listing) for s, listing in zip(opts.sorts, listings)
               if (g := await asyncio.to_thread(listing_cap_gap, lake, self.subreddit, s, listing, self.collected_at))]
        # `redditlake coverage` lists the gaps; the quality catalog counts them as findings.
        await asyncio.to_thread(positions.append, lake, CoverageGap, self.subreddit, [g for g, _ in cut])
        if cut and self.settings.data_quality.enabled:
            findings = [coverage_finding(g, self.subreddit, listing) for g, listing in cut]
            await asyncio.to_thread(quality_results.write, lake, "integrity_findings", findings)
        posts = list({p["id"]: p for listing in listings for p in listing}.values())  # hot and new overlap
        written = await land(self.landing, "posts", self.subreddit, quote(posts), self.collected_at)
        await land_metrics(self.landing, self.subreddit, quote(posts), self.collected_at)
        self.summary.posts, self.summary.posts_written = len(posts), written.written
        get_run_logger().info(
            "r/%s: %d posts (%d new) from %s", self.subreddit, len(posts), written.written, ", ".join(opts.sorts)
        )
        return posts

    async def comments(self, posts: list[dict]) -> None:
        """Trees of posts that are new or grew, plus stored posts whose trees never landed.
        Chunk by chunk: a chunk's comments land, then their markers; the next chunk's trees
        are fetched meanwhile, so a crash loses at most the requests of the chunks in flight."""
        lake, sub, opts = self.landing.lake, self.subreddit, self.settings.collect
        # Bounded by what this run can touch: its posts' days and the recent window.
        window = await asyncio.to_thread(recent_post_days, lake, sub, opts.stranded_days)
        since = pipeline.oldest_day(posts, window)
        fetched = await asyncio.to_thread(pipeline.fetched_trees, lake, sub, since)
        todo = pipeline.posts_needing_comments(posts, fetched)
        seen = {p["id"] for p in todo}
        stranded = await asyncio.to_thread(pipeline.unfetched_stored_posts, lake, sub, fetched, window)
        todo += [p for p in stranded if p["id"] not in seen]
        size = opts.posts_per_comment_task
        chunks = [[(p["id"], int(p["num_comments"])) for p in todo[i : i + size]] for i in range(0, len(todo), size)]
        options = TreeOptions(depth=opts.comment_depth, max_misses=opts.max_more_misses)

        def fetch(n: int) -> asyncio.Future:
            return asyncio.ensure_future(fetch_comments(
                self.client, sub, chunks[n - 1], source=self.source, label=f"{n}/{len(chunks)}",
                options=options, parallel=opts.parallel_trees,
            ))

        ahead = fetch(1) if chunks else None
        try:
            for n, sizes in enumerate(chunks, start=1):
                batch = await ahead
                ahead = fetch(n + 1) if n < len(chunks) else None
                await self.land_comments(batch, dict(sizes), n * size, len(todo))
        finally:
            if ahead is not None and not ahead.done():
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)

    async def land_comments(self, batch: pipeline.CommentBatch, sizes: dict[str, int], done: int, total: int) -> None:
        sub, opts, logger = self.subreddit, self.settings.collect, get_run_logger()
        result = await land_comment_batch(self.landing, sub, quote(batch), sizes, now_utc())
        self.comment_authors |= pipeline.authors(batch.comments)
        self.summary.comments += len(batch.comments)
        self.summary.comments_written += result.written
        self.summary.unexpandable += sum(batch.unexpandable.values())
        self.summary.cut_threads += batch.cut_threads()
        for pid, n in batch.unexpandable.items():
            logger.warning(
                "r/%s: post %s: %d stubs never expanded by the API after %d tries; their comments are missing "
                "(counted in comment_fetches.unexpandable)", sub, pid, n, opts.max_more_misses,
            )
        logger.info(
            "r/%s: comments of %d/%d posts: %d comments (%d new)",
            sub, min(done, total), total, self.summary.comments, self.summary.comments_written,
        )

    async def users(self, posts: list[dict]) -> None:
        """Profiles of authors seen in this run and not yet stored for this subreddit."""
        sub = self.subreddit
        stored = await asyncio.to_thread(self.landing.known_authors, sub)
        seen = pipeline.authors(posts) | self.comment_authors
        names = sorted(n for n in seen if self.landing.stored_name(n) not in stored)
        size = 100
        for i in range(0, len(names), size):
            users = await fetch_users(self.client, sub, names[i : i + size], label=f"{i + size}/{len(names)}")
            await land_users(self.landing, sub, quote(users), now_utc())
            self.summary.users += len(users)


# persist_result=False on every flow: with a default result storage block set (or one on
# the server), Prefect persists the results of a top-level flow and of every task in it
# that does not say otherwise, pickled. Nothing of a run belongs outside the lake.
@flow(name="collect", log_prints=False, persist_result=False)
async def collect(
    subreddits: list[str],
    settings: Settings | None = None,
    sorts: list[Sort] | None = None,
    limit: int | None = None,
    time_filter: TimeFilter | None = None,
    comments: bool | None = None,
    users: bool | None = None,
    lake: str | None = None,
    full_sweep: bool = False,
) -> State:
    """Collect several subreddits at once under one shared request budget.

    A subreddit that fails (bad name, private, API down) is reported in its
    summary; the others are still collected and landed, and the run ends Failed
    so that the UI and automations see it. Either way the state's result is the
    list of summaries (``await state.aresult(raise_on_failure=False)``). The
    optional parameters override the settings' ``collect`` section (deployments
    and the UI set them).
    ``full_sweep`` checks every stored post for a missing comment tree, not only
    the posts within ``collect.stranded_days`` of the newest (maintenance, e.g. weekly).
    """
    install_prefect_alerts()
    run = await prepare_run("collect", settings, lake=lake, sorts=sorts, limit=limit, time_filter=time_filter,
                            comments=comments, users=users)
    settings = run.settings
    if full_sweep:
        settings = settings.model_copy(update={"collect": settings.collect.model_copy(update={"stranded_days": None})})
    logger = get_run_logger()
    summaries: dict[str, SubredditSummary] = {}
    valid: list[str] = []
    for raw in subreddits:
        try:
            valid.append(validate_subreddit(raw))
        except RedditLakeError as exc:
            summaries[raw] = SubredditSummary(raw, ok=False, error=str(exc))
    valid = list({v.lower(): v for v in reversed(valid)}.values())[::-1]  # r/Python and r/python are one
    if valid and settings.data_quality.enabled:
        gxrun.preload()  # GX takes seconds to import: overlap it with fetching
    if valid:
        async with await run.client() as client:
            states = await asyncio.gather(
                *(collect_subreddit(sub, settings, client, return_state=True) for sub in valid)
            )
            for sub, state in zip(valid, states):
                result = await state.aresult(raise_on_failure=False)
                if isinstance(result, SubredditSummary):
                    summaries[sub] = result
                else:
                    summaries[sub] = SubredditSummary(sub, ok=False, error=one_line(result))
            logger.info(_time_line(len(client.transport.request_log.records), client.transport.budget.activity_seconds()))
            await record_collection(settings, client, list(summaries.values()))
    else:
        await record_collection(settings, None, list(summaries.values()))
    for s in summaries.values():
        (logger.info if s.ok else logger.error)(s.line())
    return final_state([summaries[k] for k in summaries])


async def record_collection(settings: Settings, client: RedditClient | None, summaries: list[SubredditSummary]) -> None:
    """Land the client's request log, then the quality layer's one path (``tasks.quality.record_run``):
    the request log validated, a ``collection_jobs`` row per subreddit, artifacts, the catalog.
    Shared by ``collect``, ``collect-subreddit`` run on its own and ``collect-scheduled``."""
    lake = open_lake(settings)
    landed = await asyncio.to_thread(land_request_log, lake, client) if client is not None else []
    jobs = quality_jobs.summary_rows("collect", summaries, now_utc(), settings.collect.model_dump_json())
    await record_run(settings, lake, "collect", jobs, reports=[s.quality for s in summaries], requests=landed)


def final_state(summaries: list[SubredditSummary]) -> State:
    """Completed when every subreddit was collected, else Failed naming the failures;
    the summaries are the result either way."""
    failed = [s for s in summaries if not s.ok]
    if not failed:
        return Completed(data=summaries, message=f"{len(summaries)} subreddits collected")
    return Failed(
        data=summaries,
        message=f"{len(failed)} of {len(summaries)} subreddits failed: " + "; ".join(s.line() for s in failed),
    )


def _time_line(requests: int, t: dict[str, float]) -> str:
    """Where the run's wall time went, from the budget's point of view (see ``budget.Activity``)."""
    return (
        f"{requests} requests in {t['wall']:.1f} s: API busy {t['api']:.1f} s, waiting on the budget "
        f"{t['budget']:.1f} s, neither (orchestration, parsing, writing) {t['other']:.1f} s"
    )

"""The flow ``redditlake deploy`` schedules: one subreddit, as ``deployments/collection.yaml``
describes it (sorts, limit, comments and their depth, priority, time limit).

Thin: settings come from the parameters and blocks, the collection is the
``collect-subreddit`` flow with the time limit as its timeout, and the run's
final state and alerts say how it went.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, tags
from prefect.runtime import flow_run as prefect_flow_run
from prefect.states import Completed, Failed, State

from blocks.reddit import with_reddit_block
from flows.alerting import install_prefect_alerts
from flows.collect import collect_subreddit, record_collection
from flows.common import one_line
from flows.kernel import prepare_run
from redditlake import alerts
from redditlake.config import Settings, Sort, TimeFilter, load_settings, with_overrides
from redditlake.pipeline import SubredditSummary


def scheduled_settings(
    base: Settings,
    *,
    sorts: list[str],
    limit: int,
    time_filter: str,
    comments: bool,
    comment_depth: int | None,
    rate_limiting: dict[str, Any] | None,
    reddit_block: str | None,
    data_quality: dict[str, Any] | None = None,
) -> Settings:
    settings = with_overrides(base, sorts=sorts, limit=limit, time_filter=time_filter, comments=comments)
    if comment_depth is not None:
        settings = settings.model_copy(update={"collect": settings.collect.model_copy(update={"comment_depth": comment_depth})})
    if rate_limiting:
        from redditlake.collection import RateLimiting

        overrides = RateLimiting.model_validate(rate_limiting).settings_overrides()
        settings = settings.model_copy(
            update={
                "budget": settings.budget.model_copy(update=overrides["budget"]),
                "http": settings.http.model_copy(update=overrides["http"]),
            }
        )
    if data_quality:
        from redditlake.collection import DataQuality

        dq = settings.data_quality
        update = DataQuality.model_validate(data_quality).settings_overrides(dq.required_fields)
        settings = settings.model_copy(update={"data_quality": dq.model_copy(update=update)})
    return with_reddit_block(settings, reddit_block)


@flow(name="collect-scheduled", flow_run_name="r/{subreddit}", log_prints=False, persist_result=False)
async def collect_scheduled(
    subreddit: str,
    sorts: list[Sort] | None = None,
    limit: int = 100,
    time_filter: TimeFilter = "week",
    comments: bool = True,
    comment_depth: int | None = None,
    time_limit_seconds: int = 1800,
    rate_limiting: dict[str, Any] | None = None,
    data_quality: dict[str, Any] | None = None,
    reddit_block: str | None = None,
    lake_block: str | None = None,
) -> State:
    """Collect one subreddit within its time limit. Past it the run fails (TimedOut's
    reason in the message); what it landed stays, and the next run picks up the rest."""
    install_prefect_alerts()
    logger = get_run_logger()
    settings = scheduled_settings(
        load_settings(), sorts=sorts or ["new"], limit=limit, time_filter=time_filter, comments=comments,
        comment_depth=comment_depth, rate_limiting=rate_limiting, reddit_block=reddit_block,
        data_quality=data_quality,
    )
    ctx = await prepare_run("collect", settings, reddit_block=reddit_block, lake_block=lake_block)
    settings = ctx.settings
    async with await ctx.client() as client:
        summary = SubredditSummary(subreddit, ok=False, error="stopped before it finished")
        try:
            run = collect_subreddit.with_options(timeout_seconds=time_limit_seconds)
            # The subflow carries the deployment's tags, so the automation that marks runs of a
            # dead worker Crashed (it watches collection.yaml's tag) covers it as well.
            with tags(*(prefect_flow_run.tags or [])):
                state = await run(subreddit, settings, client, return_state=True)
            alerts.check_error_rate(subreddit, list(client.transport.request_log.records))
            result = await state.aresult(raise_on_failure=False)
            if isinstance(result, SubredditSummary):
                summary = result
            elif state.name == "TimedOut":
                reason = f"over its time limit of {time_limit_seconds}s; what landed is kept, the next run continues"
                alerts.emit(alerts.OVER_TIME_LIMIT, subreddit, reason, force=True, time_limit_seconds=time_limit_seconds)
                summary = SubredditSummary(subreddit, ok=False, error=reason)
            else:
                summary = SubredditSummary(subreddit, ok=False, error=one_line(result))
        finally:  # the request log lands and the job is recorded however the run ended
            await record_collection(settings, client, [summary])
    if summary.ok:
        logger.info(summary.line())
        return Completed(data=summary, message=summary.line())
    logger.error("r/%s: FAILED: %s", subreddit, summary.error)
    return Failed(message=f"r/{subreddit}: {summary.error}", data=summary)

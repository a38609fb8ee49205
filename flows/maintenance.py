"""Lake maintenance as a flow: compact the partitions past the configured thresholds.

Thin over ``redditlake.lake.maintenance``; scheduled in ``prefect.yaml``. Safe to
run while collections write (compaction locks one partition at a time).
"""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger

from flows.common import open_lake
from redditlake.config import Settings, load_settings, with_overrides
from redditlake.lake.maintenance import CompactionPolicy, compact_due
from redditlake.pipeline import validate_subreddit


@flow(name="maintain-lake", log_prints=False)
async def maintain(
    tables: list[str] | None = None,
    subreddits: list[str] | None = None,
    min_files: int | None = None,
    after_days: int | None = None,
    settings: Settings | None = None,
    lake: str | None = None,
) -> list[str]:
    """Compact every partition holding ``min_files`` files, or 2+ files once its day is
    ``after_days`` days past (defaults: the settings' ``maintenance`` section).
    Returns the summary, one line per table (also logged)."""
    settings = with_overrides(settings or load_settings(), lake=lake)
    rules = settings.maintenance
    policy = CompactionPolicy(
        min_files=rules.compact_min_files if min_files is None else min_files,
        after_days=rules.compact_after_days if after_days is None else after_days,
    )
    store = open_lake(settings)
    names = [validate_subreddit(s) for s in subreddits] if subreddits else [None]
    lines: list[str] = []
    for name in names:
        report = await asyncio.to_thread(compact_due, store, policy, tables, name)
        lines += [("" if name is None else f"r/{name} ") + line for line in report.lines()]
    logger = get_run_logger()
    for line in lines:
        logger.info(line)
    return lines

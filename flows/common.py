"""What the flows share: one client per process, the lake, the request log's landing."""

from __future__ import annotations

import asyncio
import pyarrow as pa

from redditlake.config import Settings
from redditlake.errors import RedditLakeError
from redditlake.lake import Lake
from redditlake.lake.migrate import require_delta
from redditlake.landing import Landing
from redditlake.lake.location import Location, open_location
from redditlake.privacy import Pseudonymiser
from redditlake.reddit.client import RedditClient, make_transport
from redditlake.reddit.requestlog import RequestLog
from redditlake.result_storage import GcResult, collect_garbage


async def open_client(settings: Settings) -> RedditClient:
    """One client (one budget, paced on the API's rate-limit headers) per process."""
    return RedditClient(settings, make_transport(settings))


def open_lake(settings: Settings) -> Lake:
    """The settings' lake, with a lake block's keys when it gave some (``LakeSettings.credentials_env``)."""
    where = settings.lake
    lake = Lake(open_location(where.uri, endpoint_url=where.endpoint_url, env=where.credentials_env()))
    require_delta(lake)
    return lake


def open_landing(settings: Settings, lake: Lake | None = None) -> Landing:
    """The landing over ``lake`` (default: the settings' lake, opened now), pseudonymising as configured."""
    privacy = settings.privacy
    pseudonymiser = None
    if privacy.pseudonymise_authors:
        pseudonymiser = Pseudonymiser(privacy.pseudonym_key.get_secret_value() if privacy.pseudonym_key else None)
    quality = settings.data_quality
    return Landing(open_lake(settings) if lake is None else lake, pseudonymiser, required_fields=quality.required_fields,
                   quarantine_lookback_days=quality.quarantine_lookback_days)


def land_request_log(lake: Lake, client: RedditClient) -> list[tuple[str, pa.Table]]:
    """Every request of the run, into ``api_requests`` (one batch per subreddit); returns the batches."""
    records = client.transport.request_log.drain()
    by_sub: dict[str, list] = {}
    for r in records:
        by_sub.setdefault(r.subreddit or "_all", []).append(r)
    landed = []
    for sub, recs in by_sub.items():
        rows = RequestLog.to_arrow(recs)
        lake.append("api_requests", sub, rows, dt_column="ts")
        landed.append((sub, rows))
    return landed


async def gc_results(
    results: str | None = None,
    *,
    lake: Location,
    forget: list[str] | tuple[str, ...] = (),
    endpoint_url: str | None = None,
    dry_run: bool = False,
) -> GcResult:
    """``redditlake.result_storage.collect_garbage`` on ``results`` (a folder or s3:// URI), by default
    on the result storage Prefect itself uses in this process; never on or around ``lake``."""
    from blocks.storage import result_location

    location = open_location(results, endpoint_url=endpoint_url) if results else await result_location()
    return await asyncio.to_thread(collect_garbage, location, lake=lake, forget=forget, dry_run=dry_run)


def one_line(exc: object) -> str:
    if isinstance(exc, RedditLakeError):
        return str(exc)
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return str(exc)

"""Configuration as data: a YAML file validated into pydantic models.

Precedence, lowest first: the defaults below, the YAML file (``--config`` or
``REDDITLAKE_CONFIG``), then environment variables. Secrets (client secret)
only ever come from the environment or a Prefect block, and are held as
``SecretStr`` so that printing a settings object cannot leak them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from redditlake.errors import ConfigError, first_problem

Sort = Literal["hot", "new", "top", "rising", "controversial"]
TimeFilter = Literal["hour", "day", "week", "month", "year", "all"]

DEFAULT_USER_AGENT = "python:redditlake:0.1.0 (by /u/redditlake-user)"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedditSettings(_Section):
    """Where Reddit (or a proxy, or the simulator) is and who we are to it."""

    oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    user_agent: str = DEFAULT_USER_AGENT
    block: str | None = None  # a saved Prefect `RedditApp` block to take credentials from (deployments)

    @field_validator("oauth_url", "reddit_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        # asyncprawcore concatenates the token path onto reddit_url.
        return value.rstrip("/")


class HttpSettings(_Section):
    """Per-request behaviour. asyncpraw ignores its own ``timeout``; these are
    applied by redditlake's requestor to every aiohttp call."""

    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    max_attempts: int = Field(
        8, ge=1, description="tries per request for transient failures (probes of an open breaker not counted)"
    )
    backoff_base: float = Field(1.0, ge=0)
    backoff_max: float = Field(30.0, ge=0)
    max_body_bytes: int = Field(
        256 << 20, ge=1024, description="largest answer body read (decompressed); a larger one fails the request "
                                        "instead of filling memory (an archive's 25,000-comment tree is ~50 MB)"
    )


class BudgetSettings(_Section):
    """The request budget of one OAuth client id (shared by every process using it).

    The API's ``X-Ratelimit-*`` headers are the truth: once a response carries them,
    requests are paced on what they say the window holds. ``requests_per_minute`` /
    ``window_seconds`` are only the assumption for an API that sends no such headers."""

    requests_per_minute: float = Field(
        100.0, gt=0, description="assumed rate until (unless) the API's rate-limit headers say otherwise"
    )
    window_seconds: float = Field(60.0, gt=0)
    max_requests_per_minute: float | None = Field(
        None, gt=0, description="optional cap below what the API grants, to leave room for other apps (off by default)"
    )
    burst: int = Field(10, ge=1, description="requests that may go back to back before pacing starts")
    safety_margin: int = Field(3, ge=0, description="requests kept unspent per window: Reddit can 429 at the edge")
    max_in_flight: int = Field(4, ge=1)
    prefect_limit: bool = Field(
        True, description="one collection of a subreddit at a time across processes (a Prefect concurrency limit)"
    )
    slot_lease_seconds: float = Field(
        60.0, ge=60, le=86400,
        description="lease of that one slot (Prefect accepts 60 s to a day): a live run renews it every 3/4 of this; a killed run's slot "
        "frees this long after its last renewal (plus the server's repossessor loop, 15 s)",
    )


class BreakerSettings(_Section):
    failure_threshold: int = Field(5, ge=1)
    cooldown_seconds: float = Field(15.0, gt=0)
    max_outage_seconds: float = Field(300.0, gt=0, description="give up when a host has been down this long")


class CollectSettings(_Section):
    sorts: list[Sort] = ["new"]
    limit: int = Field(100, ge=1, le=1000)
    time_filter: TimeFilter = "week"
    comments: bool = True
    users: bool = Field(False, description="also collect the profiles of authors seen (one request each)")
    posts_per_comment_task: int = Field(25, ge=1, description="posts whose comment trees one task fetches")
    parallel_trees: int = Field(
        4, ge=1, description="comment trees fetched at once (morechildren calls stay one at a time per client)"
    )
    comment_depth: int | None = Field(
        None, ge=1, description="levels of comments kept: 1 = top-level only; unset = the whole tree"
    )
    max_more_misses: int = Field(
        3, ge=1, description="morechildren calls in a row delivering none of the ids asked before they are given up"
    )
    stranded_days: int | None = Field(
        3, ge=0, description="days back from the newest stored post checked for a missing comment tree each run (null: all)"
    )


class MaintenanceSettings(_Section):
    """When the maintenance flow compacts a partition (one subreddit's day of one table)."""

    compact_min_files: int = Field(24, ge=2, description="compact a partition holding this many files, whatever its age")
    compact_after_days: int = Field(
        1, ge=0, description="compact a partition of 2+ files once its day is this many days past (few writes come after)"
    )
    vacuum_retention_hours: int = Field(
        168, ge=0, description="vacuum keeps the files snapshots of this many past hours need (readers of an "
                               "older snapshot, time travel, fail after); files of writers that died go after it too"
    )


class ArchiveSettings(_Section):
    """Pushshift-compatible archives (backfill). Their rate limits are their own, not Reddit's."""

    pullpush_url: str = "https://api.pullpush.io"
    arcticshift_url: str = "https://arctic-shift.photon-reddit.com"
    requests_per_minute: float = Field(60.0, gt=0, description="pace before the archive's headers say otherwise")
    page_size: int = Field(100, ge=1, le=1000, description="items asked per search request (both APIs cap at 100)")
    window_days: float = Field(7.0, gt=0, description="first created_utc window tried; full pages shrink it")
    dump_batch_rows: int = Field(20_000, ge=100, description="rows buffered from a dump before they are landed")
    dump_max_line_bytes: int = Field(
        4 << 20, ge=1024, description="longest dump line parsed; a longer one is quarantined unread (a Reddit "
                                      "object, 40,000-character selftext included, is far below it)"
    )
    search_batch_rows: int = Field(5_000, ge=1, description="rows of archive pages gathered before they are landed "
                                                            "(one file per day per batch, not per page)")

    @field_validator("pullpush_url", "arcticshift_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.rstrip("/")


class StreamSettings(_Section):
    """Following /new and /comments in near real time, inside the shared request budget."""

    budget_share: float = Field(0.5, gt=0, le=1, description="most of the client's requests per minute the stream may spend")
    min_interval: float = Field(1.0, gt=0, description="fastest poll of one listing (busy)")
    max_interval: float = Field(60.0, gt=0, description="slowest poll of one listing (quiet)")
    batch_rows: int = Field(500, ge=1, description="land the buffer at this many rows ...")
    batch_seconds: float = Field(10.0, gt=0, description="... or when its oldest row is this old")


class LakeSettings(_Section):
    uri: str = "./lake"
    endpoint_url: str | None = None
    # S3 keys a lake block carries (blocks.lake), for this run's lake only; never from the YAML
    # file. Unset: the standard AWS_* variables, or the task role.
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    region: str | None = None

    def credentials_env(self, environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
        """``environ`` (default: the process's) with these keys over the AWS_* variables, as
        ``lake.location.open_location`` reads them; the process environment is left alone."""
        given = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key.get_secret_value() if self.secret_access_key else None,
            "AWS_SESSION_TOKEN": self.session_token.get_secret_value() if self.session_token else None,
            "AWS_DEFAULT_REGION": self.region,
        }
        return {**(os.environ if environ is None else environ), **{k: v for k, v in given.items() if v}}


class PrivacySettings(_Section):
    pseudonymise_authors: bool = False
    pseudonym_key: SecretStr | None = None  # from REDDITLAKE_PSEUDONYM_KEY, never from the YAML file


class RedactAfter(_Section):
    """Redact an unavailable item once this many refreshes in a row, spanning at least
    ``days`` from the first to the latest, found it unavailable for the same reason."""

    refreshes: int = Field(ge=1)
    days: float = Field(ge=0)


class ComplianceSettings(_Section):
    """What ``refresh`` does with stored items ``/api/info`` did not return (unavailable).

    Not seeing an item is not evidence that its author deleted it: it is kept, recorded in
    ``unavailable`` and redacted only by this policy, per reason (null: never, keep reporting).
    ``missing``: the subreddit is readable and only the item is gone (deleted beyond what Reddit
    still shows, or a short answer). ``banned``: Reddit removed the whole subreddit and its content
    is gone for everyone, so Reddit's terms ask for its removal; the wait only guards against a ban
    reverted within days. ``private``/``quarantined``: the content still exists on Reddit, hidden
    from us; its authors' deletions are seen when the subreddit opens again. ``inaccessible``: any
    other refusal (HTTP 403/404 without a reason, premium-only, gone to search).
    """

    missing: RedactAfter | None = RedactAfter(refreshes=3, days=7)
    banned: RedactAfter | None = RedactAfter(refreshes=2, days=1)
    private: RedactAfter | None = None
    quarantined: RedactAfter | None = None
    inaccessible: RedactAfter | None = None


def _default_required_fields() -> dict[str, list[str]]:
    return {
        "posts": ["id", "title", "author", "subreddit", "created_utc"],
        "comments": ["id", "link_id", "parent_id", "subreddit", "created_utc"],
        "subreddits": ["id", "display_name", "created_utc"],
    }


class DataQualitySettings(_Section):
    """Thresholds of the quality checks (``redditlake/quality``) and where their catalog goes."""

    min_post_score: int = Field(-10_000, description="posts scored below this fail the score expectation")
    max_post_age_days: int = Field(3650, ge=1, description="older created_utc is implausible for a collected post")
    min_karma: int = Field(
        -100, description="a profile's link or comment karma below this fails its expectation (negative karma bottoms out near -100)"
    )
    required_fields: dict[str, list[str]] = Field(
        default_factory=_default_required_fields,
        description="per table, JSON fields that must be present and not null; rows without go to quarantine",
    )
    duplicate_threshold: float = Field(
        0.9, ge=0, le=1, description="title similarity at or above which two posts of one author are near-duplicates"
    )
    score_target: float = Field(0.95, ge=0, le=1, description="quality score below this is 'degraded'")
    max_latency_seconds: float = Field(30.0, gt=0, description="request-log latency above this fails its expectation")
    anomaly_runs: int = Field(20, ge=3, description="runs of a subreddit's history the anomaly detector compares with")
    anomaly_z: float = Field(3.5, gt=0, description="robust z-score (MAD) beyond which a metric is an anomaly")
    anomaly_lookback_days: int = Field(
        90, ge=1, description="the anomaly baseline reads at most this many days of past metrics (newest first)"
    )
    validate_every_rows: int = Field(
        100_000, ge=1, description="a long run (backfill, stream) validates what it landed whenever this many rows wait"
    )
    quarantine_lookback_days: int = Field(
        90, ge=1, description="a bad item already quarantined within this many days is not quarantined again"
    )
    catalog: str = Field("quality.duckdb", description="the DuckDB catalog file `redditlake quality catalog` builds")
    enabled: bool = Field(True, description="validate every landed batch in the flows")


class Settings(_Section):
    reddit: RedditSettings = RedditSettings()
    http: HttpSettings = HttpSettings()
    budget: BudgetSettings = BudgetSettings()
    breaker: BreakerSettings = BreakerSettings()
    collect: CollectSettings = CollectSettings()
    lake: LakeSettings = LakeSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    privacy: PrivacySettings = PrivacySettings()
    compliance: ComplianceSettings = ComplianceSettings()
    archive: ArchiveSettings = ArchiveSettings()
    stream: StreamSettings = StreamSettings()
    data_quality: DataQualitySettings = DataQualitySettings()


# environment variable -> (section, field)
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "REDDIT_OAUTH_URL": ("reddit", "oauth_url"),
    "REDDIT_URL": ("reddit", "reddit_url"),
    "REDDIT_CLIENT_ID": ("reddit", "client_id"),
    "REDDIT_CLIENT_SECRET": ("reddit", "client_secret"),
    "REDDIT_USER_AGENT": ("reddit", "user_agent"),
    "REDDITLAKE_REDDIT_BLOCK": ("reddit", "block"),
    "REDDITLAKE_LAKE": ("lake", "uri"),
    "REDDITLAKE_PSEUDONYM_KEY": ("privacy", "pseudonym_key"),
    "REDDITLAKE_PULLPUSH_URL": ("archive", "pullpush_url"),
    "REDDITLAKE_ARCTICSHIFT_URL": ("archive", "arcticshift_url"),
    "REDDITLAKE_QUALITY_CATALOG": ("data_quality", "catalog"),
}


def read_yaml_mapping(p: Path, label: str, *, missing: str, shape: str) -> dict:
    """A YAML file that must hold a mapping (an empty file is an empty one); problems are one
    ``ConfigError`` line starting with ``label`` and saying what to do."""
    if not p.is_file():
        raise ConfigError(f"{label} does not exist; {missing}")
    try:
        loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{label} must be {shape}")
    return loaded or {}


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from defaults, an optional YAML file and the environment."""
    env = os.environ if env is None else env
    path = path or env.get("REDDITLAKE_CONFIG")
    data: dict = {}
    if path:
        p = Path(path)
        data = read_yaml_mapping(p, f"config file {p}", missing="pass --config PATH or unset REDDITLAKE_CONFIG",
                                 shape="a mapping of sections (reddit:, budget:, ...)")
        for section, field in (("reddit", "client_secret"), ("privacy", "pseudonym_key"),
                               ("lake", "secret_access_key"), ("lake", "session_token")):
            if isinstance(data.get(section), dict) and field in data[section]:
                raise ConfigError(
                    f"{p}: {section}.{field} is a secret and does not belong in a config file; "
                    "set it in the environment (see README, Configuration)"
                )
    for var, (section, field) in ENV_OVERRIDES.items():
        if env.get(var):
            data.setdefault(section, {})[field] = env[var]
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        where, problem = first_problem(exc)
        raise ConfigError(f"invalid setting {where}: {problem}") from None


def with_overrides(
    settings: Settings,
    *,
    sorts: list[str] | None = None,
    limit: int | None = None,
    time_filter: str | None = None,
    comments: bool | None = None,
    users: bool | None = None,
    comment_depth: int | None = None,
    lake: str | None = None,
) -> Settings:
    """Settings with per-run choices (CLI flags, deployment parameters) applied, validated."""
    updates = {
        k: v
        for k, v in dict(sorts=sorts and list(dict.fromkeys(sorts)), limit=limit, time_filter=time_filter,
                         comments=comments, users=users, comment_depth=comment_depth).items()
        if v is not None
    }
    try:
        collect = CollectSettings.model_validate({**settings.collect.model_dump(), **updates})
    except ValidationError as exc:
        where, problem = first_problem(exc)
        raise ConfigError(f"invalid {where}: {problem}") from None
    lake_settings = settings.lake.model_copy(update={"uri": lake}) if lake else settings.lake
    return settings.model_copy(update={"collect": collect, "lake": lake_settings})

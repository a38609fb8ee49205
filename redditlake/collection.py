"""What to collect, as data: ``deployments/collection.yaml`` validated into pydantic models,
and turned into one deployment spec per subreddit (plain data; ``deployments/`` applies
them to Prefect).

One deployment per subreddit rather than per frequency group: each subreddit has its own
priority (its work queue), its own time limit and its own schedule, a failure is a Failed
run named after the subreddit (the alert says which), and the UI shows each subreddit's
history. The cost, one flow run per subreddit per tick, is small next to the requests a
collection spends; runs that land on the same worker still share its request budget.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from redditlake.config import Sort, TimeFilter, read_yaml_mapping
from redditlake.errors import ConfigError, first_problem
from redditlake.subreddit_names import SUBREDDIT_NAME, SUBREDDIT_PATTERN

FLOW_NAME = "collect-scheduled"
ENTRYPOINT = "flows/scheduled.py:collect_scheduled"
REFRESH_FLOW, REFRESH_ENTRYPOINT, REFRESH_NAME = "refresh", "flows/refresh.py:refresh", "collection-yaml"
STREAM_FLOW, STREAM_ENTRYPOINT, STREAM_NAME = "stream", "flows/stream.py:stream", "collection-yaml-stream"
MAINTAIN_FLOW, MAINTAIN_ENTRYPOINT, MAINTAIN_NAME = "maintain-lake", "flows/maintenance.py:maintain", "collection-yaml"
FOLLOW_FLOW, FOLLOW_ENTRYPOINT = "follow-archive", "flows/follow.py:follow"
MANAGED_TAG = "collection.yaml"  # marks the deployments `redditlake deploy` owns (stale ones are removed)

# Work queues of the pool, highest priority first. A worker on the pool takes runs from
# lower-numbered queues first when several are due.
PRIORITY_QUEUES: dict[str, int] = {"high": 1, "medium": 2, "low": 3}

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: str | int) -> int:
    """'30m', '1h', '2h', '1d', '90s' or a number of seconds."""
    if isinstance(value, int):
        return value
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration; write it like '30m', '1h', '2h' or '1d'")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubredditStrategy(_Strict):
    """How one subreddit is collected."""

    name: str = Field(pattern=f"^{SUBREDDIT_NAME}$")
    collection_frequency: str = "1h"
    post_limit: int = Field(100, ge=1, le=1000)
    collect_comments: bool = True
    comment_depth: int | None = Field(None, ge=1, description="levels of comments kept: 1 = top-level only (None: all)")
    sorting: list[Sort] = ["new"]
    time_filter: TimeFilter = "week"
    priority: Literal["high", "medium", "low"] = "medium"
    time_limit: str | int = "30m"
    # Where it is collected from: Reddit's API (needs an approved key), or an archive, which keeps
    # the lake current without one (settled copies bring final scores and removals).
    source: Literal["reddit", "arcticshift"] = "reddit"

    @field_validator("sorting", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("collection_frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        if _DURATION.match(value):
            if duration_seconds(value) < 60:
                raise ValueError("collect at most once a minute")
            return value.strip()
        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is neither a duration ('30m', '1h', '2h') nor a 5-field cron string")
        from cronsim import CronSim, CronSimError

        try:
            CronSim(value, datetime(2026, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"{value!r} is not a valid cron string: {exc}") from None
        return value

    @field_validator("time_limit")
    @classmethod
    def _time_limit(cls, value: str | int) -> str | int:
        if duration_seconds(value) <= 0:
            raise ValueError("must be positive")
        return value

    @property
    def time_limit_seconds(self) -> int:
        return duration_seconds(self.time_limit)

    @property
    def schedule(self) -> dict[str, Any]:
        """``{"interval": seconds}`` or ``{"cron": "..."}``."""
        return _schedule_of(self.collection_frequency)


class RateLimiting(_Strict):
    """The request budget every scheduled run uses (the ``budget``/``http`` settings)."""

    requests_per_minute: float = Field(100.0, gt=0)
    window_seconds: float = Field(60.0, gt=0, description="Reddit's rate-limit window")
    safety_margin: int = Field(3, ge=0)
    max_in_flight: int = Field(4, ge=1)
    max_attempts: int = Field(8, ge=1)
    # The subreddit's one collection slot is a lease the run renews; a run killed with its
    # worker frees it this long after its last renewal (docs/operations.md, "Recover").
    slot_lease_seconds: float = Field(60.0, ge=60, le=86400)  # 60: the shortest lease Prefect accepts

    def settings_overrides(self) -> dict[str, dict[str, Any]]:
        return {
            "budget": {
                "requests_per_minute": self.requests_per_minute,
                "window_seconds": self.window_seconds,
                "safety_margin": self.safety_margin,
                "max_in_flight": self.max_in_flight,
                "slot_lease_seconds": self.slot_lease_seconds,
            },
            "http": {"max_attempts": self.max_attempts},
        }


class DataQuality(_Strict):
    """Thresholds for the quality layer; validated here, passed to every run. Unset ones keep the
    settings' defaults."""

    min_post_score: int | None = None
    max_post_age_days: int | None = Field(None, ge=1)
    required_fields: list[str] = []  # of posts
    duplicate_threshold: float | None = Field(None, ge=0, le=1)
    min_quality_score: float | None = Field(None, ge=0, le=1)

    def settings_overrides(self, required_fields: dict[str, list[str]]) -> dict[str, Any]:
        """What this section changes in ``Settings.data_quality`` (given its current required fields)."""
        update: dict[str, Any] = {
            "min_post_score": self.min_post_score,
            "max_post_age_days": self.max_post_age_days,
            "duplicate_threshold": self.duplicate_threshold,
            "score_target": self.min_quality_score,
        }
        if self.required_fields:
            update["required_fields"] = {**required_fields, "posts": list(self.required_fields)}
        return {k: v for k, v in update.items() if v is not None}


class WorkPool(_Strict):
    """Where the runs go: a ``process`` pool for local workers, ``ecs`` for serverless ones."""

    name: str = "redditlake-local"
    type: Literal["process", "ecs"] = "process"
    job_variables: dict[str, Any] = {}
    # Seconds between a run's heartbeats (Prefect's minimum is 30; its default, 180, is slower
    # than the zombie automation's window). Set on every run through the job variables' env,
    # so no worker's environment can leave a live run looking dead.
    heartbeat_seconds: int = Field(30, ge=30)
    # Where the flow code is on the machine that runs the flow: this checkout for process
    # workers, the image's working directory for ECS.
    code_path: str | None = None

    def run_job_variables(self) -> dict[str, Any]:
        variables = dict(self.job_variables)
        env = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(self.heartbeat_seconds), **(variables.get("env") or {})}
        return {**variables, "env": env}


class Blocks(_Strict):
    """Saved Prefect blocks the runs load (``prefect block register -m blocks``): no secret
    travels in a flow parameter."""

    reddit: str | None = None
    lake: str | None = None


class CollectionSection(_Strict):
    subreddits: list[SubredditStrategy] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "CollectionSection":
        seen: set[str] = set()
        for s in self.subreddits:
            if s.name.lower() in seen:
                raise ValueError(f"r/{s.name} is listed twice")
            seen.add(s.name.lower())
        return self


class RefreshSchedule(_Strict):
    """Deletion compliance (`refresh`) over every subreddit of the file; null turns it off."""

    schedule: str = "0 4 * * *"

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return SubredditStrategy._frequency(value)


class StreamSchedule(_Strict):
    """Near real-time following (`redditlake stream`) as a deployment: each scheduled run follows
    for ``duration`` and stops cleanly; the next resumes from the positions in the lake."""

    subreddits: list[str] = Field(min_length=1)
    schedule: str = "0 * * * *"
    duration: str | int = "55m"

    @field_validator("subreddits")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not SUBREDDIT_PATTERN.fullmatch(name):
                raise ValueError(f"{name!r} is not a subreddit name")
        return value

    @field_validator("schedule")
    @classmethod
    def _when(cls, value: str) -> str:
        return SubredditStrategy._frequency(value)

    @model_validator(mode="after")
    def _fits(self) -> "StreamSchedule":
        seconds, every = duration_seconds(self.duration), _schedule_of(self.schedule).get("interval")
        if seconds <= 0 or (every is not None and seconds >= every):
            raise ValueError(f"duration {self.duration!r} must be positive and end before the next run "
                             f"(every {self.schedule}): a run still going when the next is due makes it be cancelled")
        return self


class MaintenanceSchedule(_Strict):
    """Lake maintenance (`maintain-lake`): compaction lake-wide by the settings' `maintenance`
    thresholds, after a full stranded-tree sweep of the file's subreddits. Off when absent."""

    schedule: str = "30 2 * * *"
    full_sweep: bool = True  # every stored post checked for a comment tree that never landed

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return SubredditStrategy._frequency(value)


class CollectionFile(_Strict):
    collection: CollectionSection
    refresh: RefreshSchedule | None = RefreshSchedule()
    stream: StreamSchedule | None = None
    maintenance: MaintenanceSchedule | None = None
    rate_limiting: RateLimiting = RateLimiting()
    data_quality: DataQuality = DataQuality()
    work_pool: WorkPool = WorkPool()
    blocks: Blocks = Blocks()


def load_collection(path: str | Path) -> CollectionFile:
    """The file, validated; any problem is one ``ConfigError`` line naming file, entry and field."""
    p = Path(path)
    data = read_yaml_mapping(p, str(p), missing="pass --file PATH (default deployments/collection.yaml)",
                             shape="a mapping with a `collection:` section")
    try:
        return CollectionFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{p}: {_where(exc, data)}") from None


def _where(exc: ValidationError, data: dict) -> str:
    loc = list(exc.errors()[0]["loc"])  # the raw path: entry indexes are ints
    msg = first_problem(exc)[1]
    if loc[:2] == ["collection", "subreddits"] and len(loc) >= 3 and isinstance(loc[2], int):
        entry = data["collection"]["subreddits"][loc[2]]
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"subreddits[{loc[2]}]" + (f" (r/{name})" if name else "")
        field = ".".join(str(x) for x in loc[3:])
        return f"{label}: {field + ': ' if field else ''}{msg}"
    return f"{'.'.join(str(x) for x in loc)}: {msg}"


def deployment_name(strategy: SubredditStrategy) -> str:
    return strategy.name.lower()


def deployment_specs(config: CollectionFile) -> list[dict[str, Any]]:
    """One spec per subreddit, plus refresh, stream and maintenance when the file has them:
    what ``redditlake deploy`` writes and ``--check`` compares."""

    def spec(name: str, flow: str, entrypoint: str, description: str, queue: str, schedule: dict[str, Any],
             tags: list[str], parameters: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name, "flow_name": flow, "entrypoint": entrypoint,
            "description": f"{description}; from collection.yaml",
            "work_pool": config.work_pool.name, "work_queue": queue, "schedule": schedule,
            "tags": [MANAGED_TAG, f"priority:{queue}", *tags],
            # Heartbeats on every run: the zombie automation watches every run tagged
            # collection.yaml, and a run longer than its window must not look dead.
            "job_variables": config.work_pool.run_job_variables(),
            "parameters": parameters,
        }

    blocks = {"reddit_block": config.blocks.reddit, "lake_block": config.blocks.lake}
    # refresh and the maintenance sweep ask Reddit: only subreddits collected from it.
    names = [s.name for s in config.collection.subreddits if s.source == "reddit"]
    specs = [
        spec(deployment_name(s), FOLLOW_FLOW, FOLLOW_ENTRYPOINT,
             f"Follow r/{s.name} through {s.source} every {s.collection_frequency} (no Reddit key)",
             s.priority, s.schedule, [f"r/{s.name.lower()}", s.source],
             {"subreddit": s.name, "source": s.source, "comments": s.collect_comments,
              "lake_block": config.blocks.lake})
        if s.source != "reddit" else
        spec(deployment_name(s), FLOW_NAME, ENTRYPOINT,
             f"Collect r/{s.name} ({', '.join(s.sorting)}, {s.post_limit} posts) every {s.collection_frequency}",
             s.priority, s.schedule, [f"r/{s.name.lower()}"],
             {
                 "subreddit": s.name,
                 "sorts": list(s.sorting),
                 "limit": s.post_limit,
                 "time_filter": s.time_filter,
                 "comments": s.collect_comments,
                 "comment_depth": s.comment_depth,
                 "time_limit_seconds": s.time_limit_seconds,
                 "rate_limiting": config.rate_limiting.model_dump(),
                 "data_quality": config.data_quality.model_dump(),
                 **blocks,
             })
        for s in config.collection.subreddits
    ]
    if config.refresh is not None:
        specs.append(spec(REFRESH_NAME, REFRESH_FLOW, REFRESH_ENTRYPOINT,
                          "Deletion compliance: redact what users deleted, refresh post metrics",
                          "low", _schedule_of(config.refresh.schedule), [], {"subreddits": names, **blocks}))
    if config.stream is not None:
        st = config.stream
        specs.append(spec(STREAM_NAME, STREAM_FLOW, STREAM_ENTRYPOINT,
                          f"Follow new posts and comments of {', '.join(f'r/{n}' for n in st.subreddits)} for "
                          f"{st.duration} per run",
                          "high", _schedule_of(st.schedule), ["stream"],
                          {"subreddits": list(st.subreddits), "duration": duration_seconds(st.duration), **blocks}))
    if config.maintenance is not None:
        specs.append(spec(MAINTAIN_NAME, MAINTAIN_FLOW, MAINTAIN_ENTRYPOINT,
                          "Lake maintenance: full stranded-tree sweep, then compaction of due partitions",
                          "low", _schedule_of(config.maintenance.schedule), [],
                          {**({"sweep": names} if config.maintenance.full_sweep else {}), **blocks}))
    return specs


def _schedule_of(frequency: str) -> dict[str, Any]:
    if _DURATION.match(frequency):
        return {"interval": duration_seconds(frequency)}
    return {"cron": frequency}

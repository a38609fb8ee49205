"""The expectations of each table, as plain data: which GX expectation, on what, how severe.

Kept free of Great Expectations itself so that building a suite costs nothing
until a batch is actually validated (``gxrun`` turns these into GX objects).
Some expectations read derived columns that ``prepare`` adds to the batch's
DataFrame (``_partition``, ``_depth_zero``, ``_parent_is_post``): GX compares
columns, it does not compute them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from redditlake.config import DataQualitySettings

CRITICAL = "critical"
WARNING = "warning"
# Weights of the quality score: a critical failure (an unusable row) costs three
# times what a warning (a suspicious value) does.
SEVERITY_WEIGHT = {CRITICAL: 3.0, WARNING: 1.0}

BASE36 = r"^[0-9a-z]{1,13}$"
# Reddit account names are 3-20 of these; a pseudonym (privacy.Pseudonymiser) is u_ + 20 hex.
USERNAME = r"^[A-Za-z0-9_-]{3,22}$"
# No account, post or comment predates Reddit (June 2005).
REDDIT_START = datetime(2005, 6, 1)
# How far ahead of our clock a created_utc may be (clock skew), before it is "in the future".
FUTURE_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class Spec:
    """One expectation: GX class name (``expect_...`` in snake case) and its arguments."""

    name: str  # stable, readable name used in the catalog
    expectation: str  # e.g. "expect_column_values_to_not_be_null"
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: str = CRITICAL


def _not_null(col: str, severity: str = CRITICAL) -> Spec:
    return Spec(f"{col} not null", "expect_column_values_to_not_be_null", {"column": col}, severity)


def _regex(col: str, regex: str, severity: str = CRITICAL) -> Spec:
    return Spec(f"{col} well-formed", "expect_column_values_to_match_regex", {"column": col, "regex": regex}, severity)


def _between(col: str, lo: Any = None, hi: Any = None, severity: str = CRITICAL, name: str | None = None) -> Spec:
    kwargs: dict[str, Any] = {"column": col}
    if lo is not None:
        kwargs["min_value"] = lo
    if hi is not None:
        kwargs["max_value"] = hi
    return Spec(name or f"{col} in range", "expect_column_values_to_be_between", kwargs, severity)


def _ids(prefix: str | None) -> list[Spec]:
    specs = [
        _not_null("id"),
        Spec("id unique", "expect_column_values_to_be_unique", {"column": "id"}),
        _regex("id", BASE36),
    ]
    if prefix:
        specs.append(_regex("name", rf"^{prefix}_[0-9a-z]{{1,13}}$"))
    return specs


def _param(name: str) -> dict[str, str]:
    """A value given per batch (``parameters``): the suite itself stays the same, so GX builds it once."""
    return {"$PARAMETER": name}


def _created() -> Spec:
    return _between("created_utc", _param("oldest"), _param("newest"), WARNING, "created_utc plausible")


def _collected() -> Spec:
    # A snapshot is as old as the run at most; a collected_at ahead of our clock is a bug.
    return _between("collected_at", _param("oldest"), _param("newest"), CRITICAL, "collected_at not in the future")


def _partition() -> Spec:
    return Spec(
        "subreddit matches partition", "expect_column_values_to_be_in_set",
        {"column": "_partition", "value_set": _param("partition")},
    )


def parameters(subreddit: str, settings: DataQualitySettings, now: datetime) -> dict[str, Any]:
    """The per-batch values of the suites' ``$PARAMETER``s. Bounds as naive UTC: the batch's
    timestamps are made naive UTC in ``prepare``."""
    return {
        "oldest": pd.Timestamp((now - timedelta(days=settings.max_post_age_days)).replace(tzinfo=None)),
        "newest": pd.Timestamp((now + FUTURE_SKEW).replace(tzinfo=None)),
        "partition": [subreddit.lower()],
    }


def suite_for(table: str, settings: DataQualitySettings) -> list[Spec]:
    """The expectations a batch of ``table`` must meet ([] for unchecked tables); values that
    differ per batch (time bounds, the subreddit) are ``parameters``."""
    if table == "posts":
        return [
            *_ids("t3"),
            Spec("title 1-300 chars", "expect_column_value_lengths_to_be_between",
                 {"column": "title", "min_value": 1, "max_value": 300}, WARNING),
            _between("score", settings.min_post_score, None, WARNING, "score at least min_post_score"),
            _between("upvote_ratio", 0, 1),
            _between("num_comments", 0),
            _not_null("created_utc"),
            _created(),
            _partition(),
        ]
    if table == "comments":
        return [
            *_ids("t1"),
            _regex("link_id", r"^t3_[0-9a-z]{1,13}$"),
            _regex("parent_id", r"^t[13]_[0-9a-z]{1,13}$"),
            _between("depth", 0),
            # Known depths only: a depth is unknown (null) until its parent chain is stored, and a
            # stream or a backfill must not be marked degraded for that (unknown_depth_share counts it).
            Spec("depth consistent with parent", "expect_column_pair_values_to_be_equal",
                 {"column_A": "_depth_zero", "column_B": "_parent_is_post", "ignore_row_if": "either_value_is_missing"}),
            _not_null("created_utc"),
            _created(),
            _partition(),
        ]
    if table == "subreddits":
        return [*_ids("t5"), _not_null("display_name"), _between("subscribers", 0, None, WARNING)]
    if table == "post_metrics":  # a snapshot per sighting: (id, collected_at) is the key
        return [
            _not_null("id"),
            _regex("id", BASE36),
            Spec("one sighting per id and time", "expect_compound_columns_to_be_unique",
                 {"column_list": ["id", "collected_at"]}),
            _between("score", settings.min_post_score, None, WARNING, "score at least min_post_score"),
            _between("num_comments", 0),
            _between("upvote_ratio", 0, 1),
            _not_null("collected_at"),
            _collected(),
        ]
    if table == "users":  # a profile per author and fetch; names may be pseudonyms (u_ + 20 hex)
        return [
            _not_null("author"),
            _regex("author", USERNAME),
            Spec("one profile per author and fetch", "expect_compound_columns_to_be_unique",
                 {"column_list": ["author", "collected_at"]}),
            _regex("account_id", r"^t2_[0-9a-z]{1,20}$"),
            _between("link_karma", settings.min_karma, None, WARNING, "link_karma at least min_karma"),
            _between("comment_karma", settings.min_karma, None, WARNING, "comment_karma at least min_karma"),
            _between("created_utc", pd.Timestamp(REDDIT_START), _param("newest"), WARNING, "account created_utc plausible"),
            _not_null("collected_at"),
            _collected(),
        ]
    if table == "api_requests":
        return [
            _not_null("ts"),
            Spec("status 2xx", "expect_column_values_to_be_in_set",
                 {"column": "status", "value_set": [200, 201, 202, 204], "mostly": 0.95}, WARNING),
            _between("latency_ms", 0, settings.max_latency_seconds * 1000, WARNING, "latency within max_latency_seconds"),
        ]
    return []


# Columns whose values name the failing rows in expectation_results (per table).
INDEX_COLUMN = {"posts": "id", "comments": "id", "subreddits": "id", "post_metrics": "id", "users": "author",
                "api_requests": "path"}


# Derived columns (see the module docstring) and the stored columns they are computed from.
DERIVED = {"_partition": ["subreddit"], "_depth_zero": ["depth"], "_parent_is_post": ["parent_id"]}


def spec_columns(spec: Spec) -> list[str]:
    """The columns an expectation reads (``column``, ``column_A``/``column_B``, ``column_list``)."""
    out: list[str] = []
    for key, value in spec.kwargs.items():
        if key.startswith("column"):
            out += value if isinstance(value, list) else [value]
    return out


def prepare(table: str, subreddit: str, rows: pa.Table, specs: list[Spec]) -> pd.DataFrame:
    """The batch as GX sees it: only the columns the suite reads (a batch's texts never become
    pandas objects), derived columns added, timestamps naive UTC (GX compares naively)."""
    read = {c for spec in specs for c in spec_columns(spec)} | {INDEX_COLUMN.get(table, "")}
    source = {s for c in read for s in DERIVED.get(c, [c])}
    frame = rows.select([c for c in rows.column_names if c in source]).to_pandas()
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
            frame[col] = frame[col].dt.tz_convert("UTC").dt.tz_localize(None)
    if "subreddit" in frame.columns:
        frame["_partition"] = frame["subreddit"].str.lower()
    else:
        frame["_partition"] = subreddit
    if table == "comments":
        frame["_depth_zero"] = (frame["depth"] == 0).astype(object).where(frame["depth"].notna(), None)
        frame["_parent_is_post"] = frame["parent_id"].str.startswith("t3_")
    return frame

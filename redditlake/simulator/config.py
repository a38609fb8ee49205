"""Configuration of the simulator: what world to build and how badly to behave."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


class FaultConfig(BaseModel):
    """Failure injection. Rates are probabilities per API request (not the token endpoint)."""

    error_5xx_rate: float = Field(0.0, ge=0, le=1)
    slow_rate: float = Field(0.0, ge=0, le=1)
    slow_seconds: float = Field(30.0, ge=0)
    reset_rate: float = Field(0.0, ge=0, le=1)
    html_200_rate: float = Field(0.0, ge=0, le=1)
    truncated_json_rate: float = Field(0.0, ge=0, le=1)
    # (start, end) in seconds since server start; every API request answers 503 inside.
    outages: list[tuple[float, float]] = Field(default_factory=list)
    # Share of comments (chosen by a hash of seed and id, so stable across requests) that
    # morechildren never expands (they come back inside a new ``more``) and whose "continue
    # this thread" view points back at itself: what a collector must give up on, and count.
    unexpandable_rate: float = Field(0.0, ge=0, le=1)
    # Path -> how many of its first requests answer 503 (a retry that must happen, on that path).
    fail_paths: dict[str, int] = Field(default_factory=dict)
    seed: int = 0

    @field_validator("outages")
    @classmethod
    def _ordered(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for start, end in value:
            if end < start:
                raise ValueError(f"outage ends before it starts: {(start, end)}")
        return value


class HugeThreadConfig(BaseModel):
    """Reddit refuses big requests on threads of tens of thousands of comments (413, or an error
    body with HTTP 200): a client must split them and go on."""

    # Threads with at least this many visible comments are huge; 0: none is.
    comments: int = Field(0, ge=0)
    # On a huge thread: a morechildren call asking more ids than this is refused ...
    morechildren_ids: int = Field(25, ge=1)
    # ... and so is a tree answer (/comments, or a focused view) that would hold more comments.
    tree_comments: int = Field(100, ge=1)
    # Refuse with HTTP 200 and Reddit's error body instead of HTTP 413.
    error_body: bool = False


ABSENT = "<absent>"  # a thing_overrides value: drop the key from the JSON


class SimulatorConfig(BaseModel):
    """What the simulated Reddit contains and how it limits its clients."""

    seed: int = 42
    subreddits: list[str] = Field(
        default_factory=lambda: ["python", "datascience", "askscience", "worldnews", "aww"]
    )
    posts_per_subreddit: int = Field(300, ge=0)
    comments_per_post_mean: float = Field(20.0, ge=0)
    # Share of posts per subreddit that get a big thread of big_thread_comments (min, max)
    # comments, wide and deep: the threads whose morechildren answers hand ids back.
    big_thread_share: float = Field(0.0, ge=0, le=1)
    big_thread_comments: tuple[int, int] = (1000, 5000)
    # What happens to comments (each a share of all comments). Like Reddit, a tree leaves out a
    # gone comment (deleted by its author, removed by a moderator, caught by the spam filter)
    # that has no shown reply, while the post's num_comments still counts it: a complete tree
    # is shorter than num_comments. All three at 0: every tree shows num_comments comments.
    comment_deleted_rate: float = Field(0.03, ge=0, le=1)
    comment_removed_rate: float = Field(0.02, ge=0, le=1)
    comment_spam_rate: float = Field(0.01, ge=0, le=1)
    private: list[str] = Field(default_factory=lambda: ["secretclub"])
    banned: list[str] = Field(default_factory=lambda: ["bannedsub"])
    quarantined: list[str] = Field(default_factory=lambda: ["quarantinedsub"])
    requests_per_window: int = Field(100, ge=0)
    window_seconds: float = Field(60.0, gt=0)
    clients: dict[str, str] = Field(default_factory=lambda: {"sim-client": "sim-secret"})
    # Content seconds per real second; 0 keeps the content clock still except for advance().
    clock_speed: float = Field(0.0, ge=0)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    listing_cap: int = Field(1000, ge=0)
    # Fault injection for data-quality tests: JSON fields replaced in the rendered post or
    # comment with this id, or in the profile of the account with this name (NUL bytes, lone
    # surrogates, broken ids, implausible karma, ...); ABSENT removes the key.
    thing_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Base service time of every API request; real Reddit takes ~0.1-0.5 s. With 0, requests
    # still yield to the loop once so concurrent arrivals overlap and show up in the stats.
    latency_seconds: float = Field(0.0, ge=0)
    # Which ids are random base-36 instead of sequential. Reddit is moving comment ids to random,
    # so that is the default; "all" also scrambles post ids, to catch any code that orders or
    # compares ids (the test suite runs that way).
    random_ids: Literal["none", "comments", "all"] = "comments"
    huge_threads: HugeThreadConfig = Field(default_factory=HugeThreadConfig)

    @field_validator("big_thread_comments")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not 1 <= low <= high <= 60_000:
            raise ValueError(f"big_thread_comments must be (min, max) with 1 <= min <= max <= 60000, got {value}")
        return value

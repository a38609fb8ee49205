"""Reddit JSON things → typed rows → Arrow tables.

One pydantic model per lake table. ``from_api`` takes the ``data`` object of a
Reddit thing (t3 post, t1 comment, t5 subreddit, t2 account) exactly as the API
sends it with ``raw_json=1``; the Arrow schema of each table is derived from the
model's fields, so a table's schema is stable whatever the batch contains.
Column names keep Reddit's names; timestamps become UTC timestamps.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from redditlake.clock import utc
from redditlake.errors import first_problem

TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass
class TextCleaning:
    """What ``clean_text`` removed from one batch: Parquet/UTF-8 cannot hold it, and nothing goes silently."""

    nul_bytes: int = 0
    lone_surrogates: int = 0
    fields_changed: int = 0


# A context variable rather than a parameter: every ``from_api`` cleans several
# fields, and the batch that counts is the caller's business, not the model's.
_cleaning: ContextVar[TextCleaning | None] = ContextVar("redditlake_text_cleaning", default=None)
_SURROGATE = re.compile("[\ud800-\udfff]")


@contextmanager
def counting_cleaning() -> Iterator[TextCleaning]:
    """Count what ``clean_text`` removes inside the block."""
    counts = TextCleaning()
    token = _cleaning.set(counts)
    try:
        yield counts
    finally:
        _cleaning.reset(token)


def clean_text(value: Any) -> str | None:
    """Text as Reddit sent it, minus what Parquet/UTF-8 and downstream tools cannot hold.

    Emoji, RTL, CJK, zero-width characters and HTML entities (``raw_json=1``)
    are kept byte-exact (they are data); NUL bytes and lone surrogates (which
    cannot be encoded) are removed, and counted in the active ``counting_cleaning``.
    """
    if value is None:
        return None
    text = str(value)
    nul = text.count("\x00")
    try:
        text.encode("utf-8")
        surrogates = 0
    except UnicodeEncodeError:
        surrogates = len(_SURROGATE.findall(text))
    if not (nul or surrogates):
        return text
    counts = _cleaning.get()
    if counts is not None:
        counts.nul_bytes += nul
        counts.lone_surrogates += surrogates
        counts.fields_changed += 1
    return _SURROGATE.sub("", text.replace("\x00", ""))


def _json_or_none(value: Any) -> str | None:
    if value in (None, "", [], {}):
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Record(BaseModel):
    """A row of a lake table. Subclasses declare ``table`` and their columns."""

    model_config = ConfigDict(frozen=True)
    table: ClassVar[str]

    @classmethod
    def arrow_schema(cls) -> pa.Schema:
        return pa.schema([pa.field(name, _arrow_type(f.annotation)) for name, f in cls.model_fields.items()])

    @classmethod
    def to_arrow(cls, rows: typing.Iterable[Record]) -> pa.Table:
        schema = cls.arrow_schema()
        return pa.Table.from_pylist([r.model_dump() for r in rows], schema=schema)


BASE36 = re.compile(r"[0-9a-z]{1,13}")
FULLNAME = re.compile(r"t([1-6])_[0-9a-z]{1,13}")


def _fullname(value: str | None, kinds: str, what: str) -> str | None:
    if value is None:
        return None
    m = FULLNAME.fullmatch(value)
    if not m or m.group(1) not in kinds:
        expected = " or ".join(f"t{k}_<base36>" for k in kinds)
        raise ValueError(f"{what} {value!r} is not a fullname ({expected})")
    return value


class Row(Record):
    """A thing stored once per id (posts, comments, subreddits)."""

    id: str
    created_utc: datetime
    collected_at: datetime

    @field_validator("id")
    @classmethod
    def _base36_id(cls, value: str) -> str:
        if not BASE36.fullmatch(value):
            raise ValueError(f"id {value!r} is not base36 (lower-case letters and digits, at most 13)")
        return value


def _arrow_type(annotation: Any) -> pa.DataType:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in args if a is not type(None))
    return {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_(), datetime: TIMESTAMP}[annotation]


class Post(Row):
    table: ClassVar[str] = "posts"

    name: str
    subreddit: str
    subreddit_id: str | None
    title: str
    selftext: str | None
    author: str | None
    author_fullname: str | None
    score: int
    upvote_ratio: float | None
    num_comments: int
    edited_utc: datetime | None
    url: str | None
    domain: str | None
    permalink: str | None
    post_hint: str | None
    is_self: bool
    is_video: bool
    is_gallery: bool
    over_18: bool
    spoiler: bool
    stickied: bool
    locked: bool
    distinguished: str | None
    link_flair_text: str | None
    crosspost_parent: str | None
    removed_by_category: str | None
    media: str | None  # JSON text: the shape varies by provider
    gallery_items: int | None
    # Where the row came from (reddit, pullpush, arcticshift, dump) and when that source read it
    # from Reddit: archive copies are snapshots, their scores stale. Files written before these
    # columns existed read them as null (= reddit, retrieved at collected_at).
    source: str = "reddit"
    retrieved_utc: datetime | None = None

    @field_validator("name")
    @classmethod
    def _t3(cls, value: str) -> str:
        return _fullname(value, "3", "name")

    @field_validator("subreddit_id")
    @classmethod
    def _t5(cls, value: str | None) -> str | None:
        return _fullname(value, "5", "subreddit_id")

    @field_validator("crosspost_parent")
    @classmethod
    def _crosspost(cls, value: str | None) -> str | None:
        return _fullname(value, "3", "crosspost_parent")

    @field_validator("upvote_ratio")
    @classmethod
    def _ratio(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"upvote_ratio {value} is outside [0, 1]")
        return value

    @field_validator("num_comments")
    @classmethod
    def _count(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"num_comments {value} is negative")
        return value

    @classmethod
    def from_api(cls, d: dict[str, Any], collected_at: datetime) -> Post:
        gallery = d.get("gallery_data") or {}
        return cls(
            id=d["id"],
            name=d.get("name") or f"t3_{d['id']}",
            subreddit=d["subreddit"],
            subreddit_id=d.get("subreddit_id"),
            title=clean_text(d.get("title")) or "",
            selftext=clean_text(d.get("selftext")),
            author=d.get("author"),
            author_fullname=d.get("author_fullname"),
            score=int(d.get("score") or 0),
            upvote_ratio=d.get("upvote_ratio"),
            num_comments=int(d.get("num_comments") or 0),
            created_utc=utc(d["created_utc"]),
            edited_utc=utc(d.get("edited")),
            url=clean_text(d.get("url")),
            domain=d.get("domain"),
            permalink=d.get("permalink"),
            post_hint=d.get("post_hint"),
            is_self=bool(d.get("is_self")),
            is_video=bool(d.get("is_video")),
            is_gallery=bool(d.get("is_gallery")),
            over_18=bool(d.get("over_18")),
            spoiler=bool(d.get("spoiler")),
            stickied=bool(d.get("stickied")),
            locked=bool(d.get("locked")),
            distinguished=d.get("distinguished"),
            link_flair_text=clean_text(d.get("link_flair_text")),
            crosspost_parent=d.get("crosspost_parent"),
            removed_by_category=d.get("removed_by_category"),
            media=_json_or_none(d.get("media")),
            gallery_items=len(gallery.get("items") or []) if gallery else None,
            retrieved_utc=utc(d.get("retrieved_on")) or collected_at,
            collected_at=collected_at,
        )


class Comment(Row):
    table: ClassVar[str] = "comments"

    name: str
    subreddit: str
    subreddit_id: str | None
    link_id: str
    parent_id: str
    # Levels below the post (0: a reply to the post); None while unknown: listings, archives and
    # dumps omit it, and the landing derives it from the thread (see ``redditlake.depth``).
    depth: int | None
    author: str | None
    author_fullname: str | None
    body: str | None
    score: int
    controversiality: int | None
    edited_utc: datetime | None
    is_submitter: bool
    stickied: bool
    distinguished: str | None
    permalink: str | None
    source: str = "reddit"  # see Post
    retrieved_utc: datetime | None = None

    @field_validator("name")
    @classmethod
    def _t1(cls, value: str) -> str:
        return _fullname(value, "1", "name")

    @field_validator("link_id")
    @classmethod
    def _link(cls, value: str) -> str:
        return _fullname(value, "3", "link_id")

    @field_validator("parent_id")
    @classmethod
    def _parent(cls, value: str) -> str:
        return _fullname(value, "13", "parent_id")

    @field_validator("subreddit_id")
    @classmethod
    def _t5(cls, value: str | None) -> str | None:
        return _fullname(value, "5", "subreddit_id")

    @field_validator("depth")
    @classmethod
    def _depth(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError(f"depth {value} is negative")
        return value

    @classmethod
    def from_api(cls, d: dict[str, Any], collected_at: datetime) -> Comment:
        return cls(
            id=d["id"],
            name=d.get("name") or f"t1_{d['id']}",
            subreddit=d["subreddit"],
            subreddit_id=d.get("subreddit_id"),
            link_id=d["link_id"],
            parent_id=d["parent_id"],
            depth=None if d.get("depth") is None else int(d["depth"]),
            author=d.get("author"),
            author_fullname=d.get("author_fullname"),
            body=clean_text(d.get("body")),
            score=int(d.get("score") or 0),
            controversiality=d.get("controversiality"),
            created_utc=utc(d["created_utc"]),
            edited_utc=utc(d.get("edited")),
            is_submitter=bool(d.get("is_submitter")),
            stickied=bool(d.get("stickied")),
            distinguished=d.get("distinguished"),
            permalink=d.get("permalink"),
            retrieved_utc=utc(d.get("retrieved_on")) or collected_at,
            collected_at=collected_at,
        )


class Subreddit(Row):
    table: ClassVar[str] = "subreddits"

    name: str
    display_name: str
    title: str | None
    public_description: str | None
    description: str | None
    subscribers: int | None
    active_user_count: int | None
    over18: bool
    lang: str | None
    subreddit_type: str | None
    url: str | None

    @classmethod
    def from_api(cls, d: dict[str, Any], collected_at: datetime) -> Subreddit:
        return cls(
            id=d["id"],
            name=d.get("name") or f"t5_{d['id']}",
            display_name=d["display_name"],
            title=clean_text(d.get("title")),
            public_description=clean_text(d.get("public_description")),
            description=clean_text(d.get("description")),
            subscribers=d.get("subscribers"),
            active_user_count=d.get("active_user_count"),
            created_utc=utc(d["created_utc"]),
            over18=bool(d.get("over18")),
            lang=d.get("lang"),
            subreddit_type=d.get("subreddit_type"),
            url=d.get("url"),
            collected_at=collected_at,
        )


class User(Record):
    """An author's profile as ``/user/{name}/about`` showed it when collected."""

    table: ClassVar[str] = "users"

    author: str  # Reddit's `name`, named so that it joins posts.author and comments.author
    account_id: str | None  # the t2 id; suspended accounts show none
    created_utc: datetime | None
    link_karma: int | None
    comment_karma: int | None
    total_karma: int | None
    is_suspended: bool
    is_mod: bool | None
    is_gold: bool | None
    verified: bool | None
    has_verified_email: bool | None
    collected_at: datetime

    @classmethod
    def from_api(cls, d: dict[str, Any], collected_at: datetime) -> User:
        return cls(
            author=d["name"],
            account_id=f"t2_{d['id']}" if d.get("id") else None,
            created_utc=utc(d.get("created_utc")),
            link_karma=d.get("link_karma"),
            comment_karma=d.get("comment_karma"),
            total_karma=d.get("total_karma"),
            is_suspended=bool(d.get("is_suspended")),
            is_mod=d.get("is_mod"),
            is_gold=d.get("is_gold"),
            verified=d.get("verified"),
            has_verified_email=d.get("has_verified_email"),
            collected_at=collected_at,
        )


class PostMetric(Record):
    """What changes about a post, appended on every sighting: a post's trajectory."""

    table: ClassVar[str] = "post_metrics"

    id: str
    collected_at: datetime
    score: int
    num_comments: int
    upvote_ratio: float | None

    @classmethod
    def from_api(cls, d: dict[str, Any], collected_at: datetime) -> PostMetric:
        return cls(
            id=d["id"],
            collected_at=collected_at,
            # Typed by the model, so an answer whose figure is no number is refused naming the field.
            score=d.get("score") or 0,
            num_comments=d.get("num_comments") or 0,
            upvote_ratio=d.get("upvote_ratio"),
        )


class CommentFetch(Record):
    """Progress marker, written after a post's comments landed: which trees we hold, at what size."""

    table: ClassVar[str] = "comment_fetches"

    post_id: str
    num_comments: int  # as the listing said when the tree was fetched
    comments: int  # comments the tree held
    collected_at: datetime
    # Stubs the API never expanded (ids, "continue this thread" parents): their subtrees are missing.
    unexpandable: int = 0
    # Whether the fetch finished: every `more` stub expanded or given up (and counted above), every
    # "continue this thread" followed. None in markers written before this was recorded.
    complete: bool | None = None


class Deletion(Record):
    """What the deletion-compliance refresh redacted, and why."""

    table: ClassVar[str] = "deletions"

    id: str  # the post or comment; for kind users, the item whose author showed as deleted
    kind: str  # posts | comments | users
    reason: str  # deleted | removed | account_deleted | policy_after_unavailable (see compliance.REASONS)
    scope: str  # content | author
    collected_at: datetime  # when the refresh saw it gone
    detail: str | None = None  # removed_by_category, or why and how long it was unavailable
    purged_at: datetime | None = None  # when the files holding the old values were deleted from storage


class Unavailable(Record):
    """A stored item ``/api/info`` did not return, one row per refresh that missed it; its data is kept."""

    table: ClassVar[str] = "unavailable"

    id: str
    kind: str  # posts | comments
    reason: str  # missing | private | quarantined | banned | inaccessible
    seen_at: datetime  # the refresh that missed it (equals that refresh's refreshes.collected_at)
    since: datetime  # first refresh of the current run of misses for this reason
    streak: int  # refreshes in a row, this one included, that missed it for this reason


class Refresh(Record):
    """Progress marker of one subreddit's refresh, written after everything it did."""

    table: ClassVar[str] = "refreshes"

    collected_at: datetime
    state: str  # public, or why the subreddit could not be read (private, banned, ...)
    checked: int  # items asked about
    unavailable: int
    redacted: int


SOURCES = ("reddit", "pullpush", "arcticshift", "dump")

MODELS: dict[str, type[Row]] = {m.table: m for m in (Post, Comment, Subreddit)}

# Rows that failed validation, with the JSON they came from: counted, never dropped silently.
QUARANTINE_TABLE = "quarantine"
QUARANTINE_SCHEMA = pa.schema(
    [
        ("table_name", pa.string()),
        ("id", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),  # the thing's JSON as received (surrogates escaped)
        ("collected_at", TIMESTAMP),
    ]
)


@dataclass
class ParsedBatch:
    """Things of one batch as typed rows, plus what could not be typed and what was cleaned."""

    table: str
    rows: pa.Table
    quarantined: pa.Table
    cleaning: TextCleaning = field(default_factory=TextCleaning)

    @property
    def rows_in(self) -> int:
        return self.rows.num_rows + self.quarantined.num_rows


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        where, problem = first_problem(exc)
        return f"{where or 'row'}: {problem}"
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


def parse_batch(
    model: type[Record],
    things: typing.Iterable[dict[str, Any]],
    collected_at: datetime,
    required: Mapping[str, typing.Sequence[str]] | None = None,
) -> ParsedBatch:
    """Type and check every thing; the ones that fail go to quarantine with their reason.

    ``required`` maps a table to the JSON fields that must be present and not
    null (``data_quality.required_fields``).
    """
    needed = list((required or {}).get(model.table, ()))
    good: list[Record] = []
    bad: list[dict[str, Any]] = []
    with counting_cleaning() as cleaning:
        for thing in things:
            missing = [f for f in needed if thing.get(f) is None]
            try:
                if missing:
                    raise ValueError(f"missing required field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
                good.append(model.from_api(thing, collected_at))
            except (ValidationError, KeyError, TypeError, ValueError, OverflowError) as exc:
                reason = str(exc) if missing else _reason(exc)
                raw_id = thing.get("id") if isinstance(thing, dict) else None
                bad.append(
                    {
                        "table_name": model.table,
                        "id": None if raw_id is None else str(raw_id),
                        "reason": reason,
                        "raw": json.dumps(thing, sort_keys=True, default=str),
                        "collected_at": collected_at,
                    }
                )
    return ParsedBatch(
        model.table, model.to_arrow(good), pa.Table.from_pylist(bad, schema=QUARANTINE_SCHEMA), cleaning
    )

# What stays of content its author deleted (Reddit's terms: remove it from stored data).
CONTENT_REDACTIONS: dict[str, dict[str, Any]] = {
    "posts": {
        "title": "[deleted]",
        "selftext": None,
        "url": None,
        # The permalink carries the title as a slug, the domain part of the URL.
        "permalink": None,
        "domain": None,
        "media": None,
        "author": "[deleted]",
        "author_fullname": None,
        "link_flair_text": None,
    },
    "comments": {"body": None, "author": "[deleted]", "author_fullname": None, "permalink": None},
}
# A deleted account: its content may stay, its identity goes.
AUTHOR_REDACTIONS: dict[str, Any] = {"author": "[deleted]", "author_fullname": None}

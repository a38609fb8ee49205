"""Every API request, recorded cheaply: appended to a list in memory and landed
in the lake as the ``api_requests`` table in one batch per flow run."""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pyarrow as pa

_FAMILIES = (
    (re.compile(r"/api/v1/access_token"), "token"),
    (re.compile(r"/api/morechildren"), "morechildren"),
    (re.compile(r"/api/info"), "info"),
    (re.compile(r"/r/[^/]+/about"), "about"),
    (re.compile(r"/user/[^/]+/about"), "user"),
    (re.compile(r"/comments/"), "comments"),
    (re.compile(r"/r/[^/]+/(hot|new|top|rising|controversial)"), "listing"),
)
_SUBREDDIT = re.compile(r"^/r/([A-Za-z0-9_]+)")
# Comment and morechildren URLs do not name the subreddit; the caller does.
_current_subreddit: contextvars.ContextVar[str | None] = contextvars.ContextVar("redditlake_subreddit", default=None)


@contextmanager
def requests_for(subreddit: str) -> Iterator[None]:
    """Attribute the requests made inside this block to ``subreddit``."""
    token = _current_subreddit.set(subreddit.lower())
    try:
        yield
    finally:
        _current_subreddit.reset(token)


def current_subreddit() -> str | None:
    """The subreddit the running code collects (``requests_for``), if any."""
    return _current_subreddit.get()


def endpoint_family(url: str) -> str:
    path = urlsplit(url).path
    for pattern, family in _FAMILIES:
        if pattern.search(path):
            return family
    return "other"


@dataclass
class RequestRecord:
    ts: datetime
    method: str
    endpoint: str
    path: str  # never the query string: it can carry nothing secret today, but keep it that way
    subreddit: str | None
    status: int | None
    latency_ms: float
    attempt: int
    error_class: str | None
    ratelimit_remaining: float | None
    ratelimit_used: int | None
    ratelimit_reset: float | None
    breaker: str = "closed"  # the host's circuit breaker state when the request went out


REQUEST_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("method", pa.string()),
        ("endpoint", pa.string()),
        ("path", pa.string()),
        ("subreddit", pa.string()),
        ("status", pa.int32()),
        ("latency_ms", pa.float64()),
        ("attempt", pa.int32()),
        ("error_class", pa.string()),
        ("ratelimit_remaining", pa.float64()),
        ("ratelimit_used", pa.int64()),
        ("ratelimit_reset", pa.float64()),
        ("breaker", pa.string()),
    ]
)


@dataclass
class RequestLog:
    records: list[RequestRecord] = field(default_factory=list)

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)

    def drain(self) -> list[RequestRecord]:
        out, self.records = self.records, []
        return out

    @staticmethod
    def to_arrow(records: list[RequestRecord]) -> pa.Table:
        return pa.Table.from_pylist([asdict(r) for r in records], schema=REQUEST_SCHEMA)


_USER_PATH = re.compile(r"^/(user|u)/[^/]+")


def public_path(url: str) -> str:
    """The URL's path without the account name of ``/user/NAME/...``: what the request log, the
    logs and alerts may show. A name written there could not be erased by ``forget-user`` (log
    lines and Prefect's database are not rewritten) and would defeat pseudonymisation."""
    return _USER_PATH.sub(lambda m: f"/{m.group(1)}/*", urlsplit(url).path)


_USER_IN_TEXT = re.compile(r"/(user|u)/[^/\s?#]+")


class HideAccountNames(logging.Filter):
    """The same for the log records of the HTTP libraries: asyncprawcore logs a retried
    request's full URL (at WARNING when a token expires), and its requests at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        hidden = _USER_IN_TEXT.sub(lambda m: f"/{m.group(1)}/*", text)
        if hidden != text:
            record.msg, record.args = hidden, None
        return True


def new_record(method: str, url: str, attempt: int) -> RequestRecord:
    path = public_path(url)
    m = _SUBREDDIT.match(path)
    return RequestRecord(
        ts=datetime.now(UTC),
        method=method.upper(),
        endpoint=endpoint_family(url),
        path=path,
        subreddit=m.group(1).lower() if m else _current_subreddit.get(),
        status=None,
        latency_ms=0.0,
        attempt=attempt,
        error_class=None,
        ratelimit_remaining=None,
        ratelimit_used=None,
        ratelimit_reset=None,
    )

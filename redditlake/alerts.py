"""Alert events from the pipeline, without Prefect.

The package calls ``emit(...)``; what happens then is the installed emitter's
business. Flows install one that sends Prefect events (``flows/alerting.py``),
which automations turn into webhooks (``redditlake alerts setup``); without one,
the alert is a warning in the log. Each event names the subreddit and a
human-readable reason, and repeats of the same event for the same subreddit are
held back for ``REPEAT_SECONDS`` so a burst of 429s is one alert, not hundreds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("redditlake.alerts")

RATE_LIMITED = "redditlake.api.rate-limited"  # a 429 came back
BREAKER_OPENED = "redditlake.api.breaker-opened"
RATE_LIMIT_APPROACHING = "redditlake.api.rate-limit-approaching"
ERROR_RATE_HIGH = "redditlake.run.error-rate-high"
OVER_TIME_LIMIT = "redditlake.run.over-time-limit"
# Emitted by the quality layer; listed so automations cover them.
QUALITY_DEGRADED = "redditlake.quality.degraded"
QUALITY_ANOMALY = "redditlake.quality.anomaly"

EVENTS = (RATE_LIMITED, BREAKER_OPENED, RATE_LIMIT_APPROACHING, ERROR_RATE_HIGH, OVER_TIME_LIMIT,
          QUALITY_DEGRADED, QUALITY_ANOMALY)

MAX_ERROR_RATE = 0.05
APPROACHING_FRACTION = 0.1  # remaining under this share of the window's requests
REPEAT_SECONDS = 60.0

Emitter = Callable[[str, str, dict[str, Any]], None]  # (event, subreddit, payload)

_emitter: Emitter | None = None
_last_sent: dict[tuple[str, str], float] = {}
_lock = threading.Lock()


def install(emitter: Emitter | None) -> Emitter | None:
    """Route alerts to ``emitter`` (None: log only); returns the previous one."""
    global _emitter
    previous, _emitter = _emitter, emitter
    return previous


def emit(event: str, subreddit: str | None, reason: str, *, force: bool = False, **details: Any) -> bool:
    """Send one alert; False when held back as a repeat. Never raises: an alert that cannot
    be sent must not fail the collection it reports on."""
    sub = (subreddit or "_all").lower()
    now = time.monotonic()
    with _lock:
        last = _last_sent.get((event, sub))
        if not force and last is not None and now - last < REPEAT_SECONDS:
            return False
        _last_sent[(event, sub)] = now
    payload = {"subreddit": sub, "reason": reason, **details}
    log.warning("alert %s r/%s: %s", event, sub, reason)
    if _emitter is not None:
        try:
            _emitter(event, sub, payload)
        except Exception as exc:  # the alert path is best effort; the log line above stays
            log.warning("could not send alert %s: %s: %s", event, type(exc).__name__, exc)
    return True


def reset() -> None:
    """Forget held-back repeats (tests, and each new run)."""
    with _lock:
        _last_sent.clear()


def observe_request(record: Any, window_requests: float, window_seconds: float) -> None:
    """Alerts a single request can raise: a 429, or the rate limit nearly spent early.

    The budget spends a window down to its safety margin by design, so a low
    ``remaining`` near the window's end is normal; low with more than half the
    window still to go means someone spends faster than the pace (another process
    on the client id, or a budget set above the app's real limit)."""
    if record.status == 429:
        emit(RATE_LIMITED, record.subreddit, f"HTTP 429 on {record.endpoint} {record.path}", path=record.path)
    remaining, reset = record.ratelimit_remaining, record.ratelimit_reset
    if (
        remaining is not None and reset is not None
        and remaining < window_requests * APPROACHING_FRACTION and reset > window_seconds / 2
    ):
        emit(
            RATE_LIMIT_APPROACHING, record.subreddit,
            f"only {remaining:.0f} requests left with {reset:.0f}s of the rate-limit window to go",
            remaining=remaining, reset_seconds=reset,
        )


def breaker_opened(host: str, failures: int, subreddit: str | None) -> None:
    emit(BREAKER_OPENED, subreddit, f"circuit breaker for {host} opened after {failures} consecutive failures", host=host)


def error_rate(records: Iterable[Any]) -> tuple[int, int]:
    """(failed, total) requests: an error class or a status of 400 and above counts as failed."""
    total = failed = 0
    for r in records:
        total += 1
        failed += bool(r.error_class) or (r.status is not None and r.status >= 400)
    return failed, total


def check_error_rate(subreddit: str, records: Iterable[Any]) -> float | None:
    """Emit ``ERROR_RATE_HIGH`` when more than 5 % of a run's requests failed; the rate."""
    failed, total = error_rate(records)
    if not total:
        return None
    rate = failed / total
    if rate > MAX_ERROR_RATE:
        emit(ERROR_RATE_HIGH, subreddit, f"{failed} of {total} requests failed ({rate:.1%})", force=True,
             failed=failed, total=total)
    return rate

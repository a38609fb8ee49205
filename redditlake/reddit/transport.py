"""Every HTTP request asyncpraw makes passes through here.

asyncpraw lets us replace its ``Requestor`` (``requestor_class=``), the one
place where all HTTP calls — token fetches included — are made. Ours adds what
asyncprawcore lacks: the shared request budget, real connect/read timeouts
(asyncpraw ignores its ``timeout`` argument), a circuit breaker per host, a
record of every request, and retries with exponential backoff and jitter for
*every* transient failure (asyncprawcore never retries a 429, a timeout, a
refused connection, a reset, an HTML or truncated body).

A response is handed back to asyncprawcore only when it is final: a success
with a complete JSON body, or a permanent answer (401/403/404/302/400…) that
asyncprawcore turns into its usual exceptions. When retries are exhausted we
raise ``ApiUnavailable`` ourselves, so asyncprawcore does not retry again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from asyncprawcore.requestor import Requestor

from redditlake import alerts
from redditlake.config import BreakerSettings, HttpSettings
from redditlake.errors import ApiUnavailable, ResponseTooLarge, TransientApiError
from redditlake.reddit.breaker import BreakerState, CircuitBreaker
from redditlake.reddit.budget import RequestBudget
from redditlake.reddit.requestlog import HideAccountNames, RequestLog, new_record, public_path

log = logging.getLogger("redditlake.transport")
for _library in ("asyncprawcore", "asyncpraw"):  # every request of theirs passes through here
    logging.getLogger(_library).addFilter(HideAccountNames())

TRANSIENT_STATUSES = {408, 429, 500, 502, 503, 504, 520, 522}


@dataclass
class Transport:
    """Request policy shared by every asyncpraw instance of one client id."""

    budget: RequestBudget
    http: HttpSettings = field(default_factory=HttpSettings)
    breaker_settings: BreakerSettings = field(default_factory=BreakerSettings)
    request_log: RequestLog = field(default_factory=RequestLog)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    retries: int = 0
    rate_limited: int = 0

    def breaker(self, url: str) -> CircuitBreaker:
        host = urlsplit(url).netloc
        if host not in self.breakers:
            self.breakers[host] = CircuitBreaker(
                host,
                failure_threshold=self.breaker_settings.failure_threshold,
                cooldown_seconds=self.breaker_settings.cooldown_seconds,
                max_outage_seconds=self.breaker_settings.max_outage_seconds,
            )
        return self.breakers[host]

    def timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=None, connect=self.http.connect_timeout, sock_read=self.http.read_timeout
        )

    def backoff(self, attempt: int, error: TransientApiError) -> float:
        if error.retry_after is not None:
            return error.retry_after + random.uniform(0, 0.25)
        ceiling = min(self.http.backoff_max, self.http.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    async def send(
        self, session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """Send with retries; return a final response whose body is already read."""
        counted = not urlsplit(url).path.startswith("/api/v1/access_token")
        breaker = self.breaker(url)
        attempt = 0
        failures = 0  # counted against max_attempts; an open breaker's probes are bounded by the breaker
        while True:
            attempt += 1
            await breaker.before_call()
            probing = breaker.state is not BreakerState.CLOSED
            try:
                response = await self._attempt(session, method, url, attempt, counted, kwargs, breaker.state.value)
            except TransientApiError as error:
                if error.error_class != "rate_limited":  # a 429 says nothing about the host's health
                    breaker.record_failure()
                failures += 0 if probing else 1
                if failures >= self.http.max_attempts:
                    raise ApiUnavailable(
                        f"{urlsplit(url).netloc} kept failing ({error}) after {attempt} attempts; "
                        "check the API's status and rerun: nothing collected so far is lost"
                    ) from None
                self.retries += 1
                delay = self.backoff(attempt, error)
                log.warning("%s %s: %s; retry %d in %.1fs", method, public_path(url), error, attempt, delay)
                await asyncio.sleep(delay)
                continue
            breaker.record_success()
            return response

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        attempt: int,
        counted: bool,
        kwargs: dict,
        breaker_state: str,
    ) -> aiohttp.ClientResponse:
        record = new_record(method, url, attempt)
        record.breaker = breaker_state
        if counted:
            await self.budget.acquire()
        headers = None
        started = time.perf_counter()
        try:
            try:
                response = await session.request(method, url, timeout=self.timeout(), **kwargs)
                body = await _read_capped(response, self.http.max_body_bytes)
            except asyncio.TimeoutError:
                raise TransientApiError("timeout", "no answer within the configured timeout") from None
            except aiohttp.ClientConnectorError as exc:
                raise TransientApiError("connection_refused", str(exc)) from None
            except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
                raise TransientApiError("connection_reset", type(exc).__name__) from None
            except aiohttp.ClientError as exc:
                raise TransientApiError("connection_error", f"{type(exc).__name__}: {exc}") from None
            headers = response.headers
            record.status = response.status
            _note_ratelimit(record, headers)
            self._classify(response, body)
            return response
        except TransientApiError as error:
            record.error_class = error.error_class
            raise
        finally:
            record.latency_ms = (time.perf_counter() - started) * 1000
            self.request_log.add(record)
            alerts.observe_request(record, self.budget.requests_per_window, self.budget.window_seconds)
            if counted:
                self.budget.release(headers)

    def _classify(self, response: aiohttp.ClientResponse, body: bytes) -> None:
        status = response.status
        if status == 429:
            self.rate_limited += 1
            reset = _float(response.headers.get("x-ratelimit-reset"))
            retry_after = _float(response.headers.get("retry-after"))
            raise TransientApiError("rate_limited", "HTTP 429", retry_after if retry_after is not None else reset)
        if status in TRANSIENT_STATUSES:
            raise TransientApiError("server_error", f"HTTP {status}", _float(response.headers.get("retry-after")))
        if status != 200 or not body:
            return  # permanent answers go back to asyncprawcore, which raises its exceptions
        if "json" not in response.headers.get("content-type", ""):
            raise TransientApiError("bad_body", f"HTTP 200 with {response.headers.get('content-type')} instead of JSON")
        try:
            json.loads(body)
        except ValueError:
            raise TransientApiError("bad_body", "HTTP 200 with an incomplete JSON body") from None


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body, read in chunks and given up past ``cap`` bytes (decompressed: a small gzip can
    inflate to gigabytes). Kept on the response, so its ``read``/``json``/``text`` answer from it."""
    where = f"{response.url.host}{response.url.path}"
    too_large = f"{where} answered more than {cap} bytes; raise http.max_body_bytes if such answers are expected"
    if response.content_length is not None and response.content_length > cap:
        response.close()
        raise ResponseTooLarge(too_large)
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > cap:
            response.close()
            raise ResponseTooLarge(too_large)
    response._body = bytes(body)  # aiohttp's own cache of the read body
    return await response.read()


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _note_ratelimit(record, headers) -> None:
    record.ratelimit_remaining = _float(headers.get("x-ratelimit-remaining"))
    used = _float(headers.get("x-ratelimit-used"))
    record.ratelimit_used = int(used) if used is not None else None
    record.ratelimit_reset = _float(headers.get("x-ratelimit-reset"))


class GatedRequestor(Requestor):
    """asyncprawcore's Requestor with redditlake's ``Transport`` in the middle."""

    def __init__(self, *args: Any, transport: Transport, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.transport = transport

    @asynccontextmanager
    async def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        await self._ensure_session()
        method, url = args[0], args[1]
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.transport.send(self._http, method, url, headers=headers, **kwargs)
        try:
            yield response
        finally:
            response.release()

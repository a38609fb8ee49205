"""The Reddit client: asyncpraw for auth and HTTP, raw JSON out.

We use asyncpraw's ``Reddit.request`` (OAuth, token refresh, ``raw_json=1``)
and keep the JSON as Reddit sent it: the lake wants every field, not
asyncpraw's lazy objects. All HTTP goes through ``transport.GatedRequestor``.
Reddit's answers that mean "you cannot have this subreddit" become one
``SubredditUnavailable`` with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpraw
from asyncprawcore import exceptions as pc

from redditlake.config import Settings
from redditlake.errors import AnswerTooLarge, CredentialsError, SubredditUnavailable
from redditlake.reddit.auth import check_credentials  # noqa: F401 - also imported from here
from redditlake.reddit.budget import RequestBudget
from redditlake.reddit.transport import GatedRequestor, Transport

log = logging.getLogger("redditlake.client")

LISTING_PAGE = 100  # Reddit's maximum per listing request
UNBOUNDED_WINDOW = 10**9


def make_transport(settings: Settings) -> Transport:
    b = settings.budget
    return Transport(
        budget=RequestBudget(
            requests_per_window=b.requests_per_minute * b.window_seconds / 60,
            window_seconds=b.window_seconds,
            burst=b.burst,
            safety_margin=b.safety_margin,
            max_in_flight=b.max_in_flight,
            max_rate=None if b.max_requests_per_minute is None else b.max_requests_per_minute / 60,
        ),
        http=settings.http,
        breaker_settings=settings.breaker,
    )


class RedditClient:
    """One client id's connection to Reddit. Share one instance per process:
    its transport holds the budget, breakers and request log."""

    def __init__(self, settings: Settings, transport: Transport | None = None):
        check_credentials(settings)
        self.settings = settings
        self.transport = transport or make_transport(settings)
        self._reddit: asyncpraw.Reddit | None = None
        # Reddit rejects concurrent morechildren calls from one client.
        self.morechildren_lock = asyncio.Lock()

    async def __aenter__(self) -> RedditClient:
        r = self.settings.reddit
        self._reddit = asyncpraw.Reddit(
            client_id=r.client_id,
            client_secret=r.client_secret.get_secret_value(),
            user_agent=r.user_agent,
            oauth_url=r.oauth_url,
            reddit_url=r.reddit_url,
            check_for_updates=False,
            requestor_class=GatedRequestor,
            requestor_kwargs={"transport": self.transport},
            # asyncprawcore's own limiter spreads requests evenly over `window_size`, before our
            # gate and without knowing it: two pacers fight. An enormous window makes its even
            # pace never bind; it still waits out a window whose `remaining` is 0.
            window_size=UNBOUNDED_WINDOW,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reddit is not None:
            await self._reddit.close()
            self._reddit = None

    # -- raw calls ------------------------------------------------------------
    async def get(self, path: str, params: dict[str, Any] | None = None, *, subreddit: str | None = None) -> Any:
        return await self._call("GET", path, params=params, subreddit=subreddit)

    async def post(self, path: str, data: dict[str, Any], *, subreddit: str | None = None) -> Any:
        return await self._call("POST", path, data=data, subreddit=subreddit)

    async def _call(self, method: str, path: str, *, subreddit: str | None, **kwargs: Any) -> Any:
        assert self._reddit is not None, "use `async with RedditClient(...)`"
        try:
            answer = await self._reddit.request(method=method, path=path, **kwargs)
        except pc.TooLarge:
            raise AnswerTooLarge(path) from None
        except (pc.OAuthException, pc.InvalidToken) as exc:
            raise CredentialsError(
                f"Reddit rejected the app credentials ({type(exc).__name__}): check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"
            ) from None
        except pc.Redirect as exc:
            if subreddit and "search" in (exc.response.headers.get("location") or ""):
                raise SubredditUnavailable(subreddit, "not found (Reddit redirected to search)") from None
            raise
        except (pc.Forbidden, pc.NotFound, pc.ResponseException) as exc:
            status = exc.response.status
            if status == 401:
                raise CredentialsError(
                    "Reddit rejected the app credentials (HTTP 401): check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"
                ) from None
            if subreddit and status in (403, 404):
                reason = await _reason(exc.response)
                text = {
                    "private": "private",
                    "banned": "banned",
                    "quarantined": "quarantined (opt-in required)",
                    "gold_only": "restricted to premium members",
                }.get(reason or "", "not found" if status == 404 else "forbidden (HTTP 403)")
                raise SubredditUnavailable(subreddit, text, code=reason) from None
            raise
        if _refused_as_too_large(answer):
            raise AnswerTooLarge(path)
        return answer

    # -- endpoints ------------------------------------------------------------
    async def about(self, subreddit: str) -> dict[str, Any]:
        thing = await self.get(f"/r/{subreddit}/about", subreddit=subreddit)
        if not isinstance(thing, dict) or thing.get("kind") != "t5":
            raise SubredditUnavailable(subreddit, "not a subreddit (Reddit answered without a t5 thing)")
        return thing["data"]

    async def listing(
        self, subreddit: str, sort: str, limit: int, time_filter: str | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of t3 ``data`` objects, newest page first, until ``limit`` or the listing's end."""
        after: str | None = None
        fetched = 0
        while fetched < limit:
            params: dict[str, Any] = {"limit": min(LISTING_PAGE, limit - fetched), "count": fetched}
            if after:
                params["after"] = after
            if sort in ("top", "controversial") and time_filter:
                params["t"] = time_filter
            listing = await self.get(f"/r/{subreddit}/{sort}", params, subreddit=subreddit)
            data = _listing_data(listing)
            posts = [c["data"] for c in data.get("children", []) if c.get("kind") == "t3"]
            if not posts:
                return
            fetched += len(posts)
            yield posts
            after = data.get("after")
            if not after:
                return

    async def user_about(self, name: str) -> dict[str, Any] | None:
        """An account's t2 data; None for a deleted account (404). Suspended accounts
        answer with little more than ``is_suspended``."""
        try:
            thing = await self.get(f"/user/{name}/about")
        except pc.NotFound:
            return None
        return thing.get("data") if isinstance(thing, dict) else None

    async def info(self, fullnames: list[str]) -> list[dict[str, Any]]:
        """Things by fullname, 100 per request (Reddit's maximum)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(fullnames), 100):
            listing = await self.get("/api/info", {"id": ",".join(fullnames[i : i + 100])})
            out.extend(c for c in _listing_data(listing).get("children", []))
        return out


async def _reason(response: Any) -> str | None:
    try:
        body = await response.json(content_type=None)
    except Exception:
        return None
    return body.get("reason") if isinstance(body, dict) else None


def _refused_as_too_large(answer: Any) -> bool:
    """Reddit's other way to refuse a big request on a huge thread: HTTP 200 with an error body."""
    if not isinstance(answer, dict):
        return False
    if answer.get("error") == 413:
        return True
    errors = (answer.get("json") or {}).get("errors") if isinstance(answer.get("json"), dict) else None
    return any(isinstance(e, list) and e and e[0] == "TOO_LARGE" for e in errors or [])


def _listing_data(listing: Any) -> dict[str, Any]:
    if isinstance(listing, dict) and listing.get("kind") == "Listing":
        return listing.get("data") or {}
    return {}


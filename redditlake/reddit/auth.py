"""One token request before anything else starts: wrong credentials are reported
in a second, not after Prefect has spent its start-up (tens of seconds).

It asks for the same grant asyncpraw will use (``client_credentials``, a script
app without a user), once, without retries: a rejection is final, and an API
that is down is the flow's business (it retries and has a circuit breaker).
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from redditlake.config import Settings
from redditlake.errors import CredentialsError, RedditLakeError
from redditlake.reddit.client import check_credentials

log = logging.getLogger("redditlake.auth")

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
REJECTED = "Reddit rejected the app credentials ({why}): check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"


async def _token(settings: Settings) -> None:
    r = settings.reddit
    url = f"{r.reddit_url}/api/v1/access_token"
    auth = aiohttp.BasicAuth(r.client_id, r.client_secret.get_secret_value())
    async with aiohttp.ClientSession(timeout=TIMEOUT, headers={"User-Agent": r.user_agent}) as session:
        try:
            async with session.post(url, auth=auth, data={"grant_type": "client_credentials"}) as response:
                if response.status in (400, 401, 403):
                    raise CredentialsError(REJECTED.format(why=f"HTTP {response.status}"))
                if response.status != 200:
                    log.warning("token check: %s answered HTTP %d; going on, the run retries", url, response.status)
                    return
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    log.warning("token check: %s answered without JSON; going on, the run retries", url)
                    return
        except aiohttp.ClientConnectorError as exc:
            raise RedditLakeError(
                f"cannot reach {r.reddit_url} ({exc.os_error or exc}): check REDDIT_URL and the network, then rerun"
            ) from None
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            log.warning("token check: %s: %s; going on, the run retries", url, type(exc).__name__)
            return
    if isinstance(payload, dict) and "error" in payload:  # Reddit says some refusals with HTTP 200
        raise CredentialsError(REJECTED.format(why=payload["error"]))


def verify_credentials(settings: Settings) -> None:
    """Raise ``CredentialsError`` unless the API hands these credentials a token."""
    check_credentials(settings)
    asyncio.run(_token(settings))

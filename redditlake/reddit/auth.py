"""Credentials, checked before anything else starts: missing ones by name, wrong ones
with one token request, reported in a second, not after Prefect's start-up.

The token request asks for the same grant asyncpraw will use (``client_credentials``,
a script app without a user), once, without retries: a rejection is final, and an
API that is down is the run's business (it retries and has a circuit breaker).
Standard library only: importing aiohttp or asyncpraw would cost more than the
request (seconds on a busy machine).
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request

from redditlake.config import Settings
from redditlake.errors import CredentialsError, RedditLakeError

log = logging.getLogger("redditlake.auth")

TIMEOUT_SECONDS = 10
REJECTED = "Reddit rejected the app credentials ({why}): check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"


def check_credentials(settings: Settings) -> None:
    """Both credentials are set (no request)."""
    r = settings.reddit
    if not r.client_id:
        raise CredentialsError(
            "REDDIT_CLIENT_ID is not set: export REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET of an existing or "
            "approved Reddit app (new keys need Reddit's approval: README, 'Access first'); without a key, "
            "`redditlake demo` and `redditlake backfill --source FILE.zst|arcticshift|pullpush` work"
        )
    if not r.client_secret or not r.client_secret.get_secret_value():
        raise CredentialsError("REDDIT_CLIENT_SECRET is not set: export the secret of the app named by REDDIT_CLIENT_ID")


def verify_credentials(settings: Settings) -> None:
    """Raise ``CredentialsError`` unless the API hands these credentials a token."""
    check_credentials(settings)
    r = settings.reddit
    url = f"{r.reddit_url}/api/v1/access_token"
    basic = base64.b64encode(f"{r.client_id}:{r.client_secret.get_secret_value()}".encode()).decode()
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(), method="POST",
        headers={"Authorization": f"Basic {basic}", "User-Agent": r.user_agent},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (400, 401, 403):
            raise CredentialsError(REJECTED.format(why=f"HTTP {exc.code}")) from None
        log.warning("token check: %s answered HTTP %d; going on, the run retries", url, exc.code)
        return
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (ConnectionRefusedError, socket.gaierror)):
            raise RedditLakeError(
                f"cannot reach {r.reddit_url} ({exc.reason}): check REDDIT_URL and the network, then rerun"
            ) from None
        log.warning("token check: %s: %s; going on, the run retries", url, exc.reason)
        return
    except (TimeoutError, OSError) as exc:
        log.warning("token check: %s: %s; going on, the run retries", url, type(exc).__name__)
        return
    try:
        payload = json.loads(body)
    except ValueError:
        log.warning("token check: %s answered without JSON; going on, the run retries", url)
        return
    if isinstance(payload, dict) and "error" in payload:  # Reddit says some refusals with HTTP 200
        raise CredentialsError(REJECTED.format(why=payload["error"]))

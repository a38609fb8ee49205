"""The simulator's answers that every handler shares: JSON bodies, Reddit's error shapes, and
what a listing of a subreddit answers when the subreddit cannot be listed."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8: Reddit sends such text as a \\udXXX escape, and so do we.
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode()


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_dumps(obj), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


def error(status: int, message: str, **extra: Any) -> web.Response:
    return json_response({**extra, "message": message, "error": status}, status=status)


def subreddit_gate(sim, name: str) -> tuple[Any, web.Response | None]:
    """The subreddit, or the error Reddit gives for it."""
    sub = sim.world.subreddit(name)
    if sub is None:
        return None, None
    if sub.kind == "private":
        return sub, error(403, "Forbidden", reason="private")
    if sub.kind == "banned":
        return sub, error(404, "Not Found", reason="banned")
    if sub.kind == "quarantined":
        message = f"r/{sub.name} is quarantined: it may contain shocking or highly offensive content."
        return sub, error(403, "Forbidden", reason="quarantined", quarantine_message=message,
                          quarantine_message_html=f'<div class="md"><p>{message}</p></div>')
    return sub, None


def listable_subreddit(sim, name: str) -> tuple[Any, web.Response | None]:
    """The subreddit a listing reads, or the answer Reddit gives instead of a listing."""
    sub, refusal = subreddit_gate(sim, name)
    if sub is None:  # what Reddit does for a subreddit that does not exist
        return None, web.Response(status=302, headers={"Location": f"/subreddits/search.json?q={name}"})
    return sub, refusal

"""``/r/{sub}/comments``: a subreddit's newest comments, the listing a comment stream polls.

Newest first, ``limit`` ≤ 100, ``after``/``before`` fullname cursors, cut at the listing cap
like every Reddit listing (a stream that stops for long cannot page back past it).
"""

from __future__ import annotations

import re

from aiohttp import web

from . import things, timeline


def subreddit_comments_handler(sim, request: web.Request, params: dict[str, str], match: re.Match) -> web.Response:
    from .server import MAX_LISTING_LIMIT, _gate, _int, json_response  # server imports this module

    name = match.group("sub")
    world = sim.world
    with world.lock:
        sub, refusal = _gate(sim, name)
        if sub is None:
            return web.Response(status=302, headers={"Location": f"/subreddits/search.json?q={name}"})
        if refusal is not None:
            return refusal
        now = world.now
        ordered = timeline.comments(world, sub)[::-1][: sim.config.listing_cap]
        limit = max(1, min(_int(params, "limit", 25) or 25, MAX_LISTING_LIMIT))
        position = {c.fullname: i for i, (c, _) in enumerate(ordered)}
        if params.get("after"):
            start = position[params["after"]] + 1 if params["after"] in position else len(ordered)
            page = ordered[start : start + limit]
        elif params.get("before"):
            end = position.get(params["before"], 0)
            start = max(0, end - limit)
            page = ordered[start:end]
        else:
            start = 0
            page = ordered[:limit]
        children = []
        for comment, post in page:
            data = things.comment_data(world, comment, post, now, "")
            data["link_title"] = things.post_title(world, post)
            children.append({"kind": "t1", "data": data})
        after = page[-1][0].fullname if page and start + len(page) < len(ordered) else None
        before = page[0][0].fullname if page and start > 0 else None
    return json_response(things.listing(children, after=after, before=before))

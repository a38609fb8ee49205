"""``/r/{sub}/comments``: a subreddit's newest comments, the listing a comment stream polls.

Newest first, ``limit`` ≤ 100, ``after``/``before`` fullname cursors, cut at the listing cap
like every Reddit listing (a stream that stops for long cannot page back past it).
"""

from __future__ import annotations

import re

from aiohttp import web

from . import things, timeline
from .paging import listing_page
from .responses import json_response, listable_subreddit


def subreddit_comments_handler(sim, request: web.Request, params: dict[str, str], match: re.Match) -> web.Response:
    world = sim.world
    with world.lock:
        sub, refusal = listable_subreddit(sim, match.group("sub"))
        if refusal is not None:
            return refusal
        now = world.now
        ordered = timeline.comments(world, sub)[::-1][: sim.config.listing_cap]
        page, after, before = listing_page(ordered, lambda item: item[0].fullname, params)
        children = []
        for comment, post in page:
            data = things.flat_comment_data(world, comment, post, now)
            data["link_title"] = things.post_title(world, post)
            children.append({"kind": "t1", "data": data})
    return json_response(things.listing(children, after=after, before=before))

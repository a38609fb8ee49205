"""Refusing big requests on huge threads, as Reddit does (413, or its error body with HTTP 200).

A thread is huge from ``HugeThreadConfig.comments`` visible comments on; on it, a morechildren
call asking too many ids, or a tree answer holding too many comments, is refused whole. Smaller
requests (fewer ids, a lower ``limit`` or ``depth``) get through, so a client that splits goes on.
"""

from __future__ import annotations

from aiohttp import web

from .config import HugeThreadConfig
from .content import Post, World
from .responses import error, json_response

MESSAGE = "Request Entity Too Large"


def is_huge(config: HugeThreadConfig, world: World, post: Post) -> bool:
    if not config.comments:
        return False
    thread = world.thread(post)
    return thread.visible_count(world.now) >= config.comments


def tree_comments(children: list[dict]) -> int:
    """Comments (t1) in a nested tree answer, replies included."""
    count, stack = 0, list(children)
    while stack:
        thing = stack.pop()
        if thing.get("kind") != "t1":
            continue
        count += 1
        replies = thing["data"].get("replies")
        if isinstance(replies, dict):
            stack.extend(replies["data"]["children"])
    return count


def refusal(config: HugeThreadConfig, morechildren: bool) -> web.Response:
    if not config.error_body:
        return error(413, MESSAGE)
    if morechildren:
        return json_response({"json": {"errors": [["TOO_LARGE", MESSAGE.lower(), "children"]], "data": {}}})
    return json_response({"message": MESSAGE, "error": 413})

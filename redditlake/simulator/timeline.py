"""Every visible item of a subreddit in creation order: what archives and ``/r/{sub}/comments`` serve.

The world keeps posts per subreddit sorted by creation, but comments per thread; a subreddit's
comment timeline is their merge. Callers hold ``world.lock``.
"""

from __future__ import annotations

import weakref

from .content import Comment, Post, Subreddit, World

# Polled listings ask for the same timeline many times between clock moves: keep the last one.
_cache: weakref.WeakKeyDictionary[World, tuple[tuple, list]] = weakref.WeakKeyDictionary()


def posts(world: World, sub: Subreddit) -> list[Post]:
    """Visible posts, oldest first (ties keep generation order: ids are never a tie-breaker)."""
    return world.visible_posts(sub)


def comments(world: World, sub: Subreddit) -> list[tuple[Comment, Post]]:
    """Visible comments with their posts, oldest first; ties keep generation order (posts in order,
    each thread's comments in order), never id order: ids may be random, as Reddit's now are.

    The list may be shared with other callers: do not modify it."""
    now = world.now
    key = (sub.name, now, world.version)
    cached = _cache.get(world)
    if cached is not None and cached[0] == key:
        return cached[1]
    out: list[tuple[Comment, Post]] = []
    for post in world.visible_posts(sub):
        thread = world.thread(post)
        out.extend((c, post) for c in thread.comments[: thread.visible_count(now)])
    out.sort(key=lambda pair: pair[0].created)  # stable: ties stay in generation order
    _cache[world] = (key, out)
    return out

"""Scores as a function of the content clock, and the orders of listings and reply lists.

Scores are recomputed from (id, clock) on every read instead of being stored, so that advancing
the clock drifts them without any bookkeeping, and two reads at the same clock always agree
(which keeps pagination stable).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable

from .content import Comment, Post

TIME_FILTERS = {
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
    "all": None,
}
LISTING_SORTS = ("hot", "new", "top", "rising", "controversial")
COMMENT_SORTS = ("confidence", "top", "new", "old", "controversial", "qa", "live", "random")
RISING_WINDOW = 12 * 3600
RISING_MAX = 25
# Reddit's hot epoch (2005-12-08) and decay constant.
HOT_EPOCH = 1134028003
HOT_DECAY = 45000


def _unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from its inputs."""
    return zlib.crc32(":".join(map(str, parts)).encode()) / 2**32


def _grown(base: int, created: float, now: float, ident: str, ramp: float) -> int:
    age = max(0.0, now - created)
    value = base * (1 - math.exp(-age / ramp)) if base > 0 else base
    jitter = 0
    if abs(base) >= 3:
        # Votes keep trickling in: +-1..2 that changes every ten content minutes.
        jitter = round((_unit(ident, int(now // 600)) - 0.5) * 4)
    return int(round(value)) + jitter + (1 if base >= 0 else 0)


def post_score(post: Post, now: float) -> int:
    return _grown(post.base_score, post.created, now, post.id, 8 * 3600)


def comment_score(comment: Comment, now: float) -> int:
    return _grown(comment.base_score, comment.created, now, comment.id, 4 * 3600)


def hot(post: Post, now: float) -> float:
    score = post_score(post, now)
    order = math.log10(max(abs(score), 1))
    sign = (score > 0) - (score < 0)
    return sign * order + (post.created - HOT_EPOCH) / HOT_DECAY


def controversy(ups: int, downs: int) -> float:
    if ups <= 0 or downs <= 0:
        return 0.0
    magnitude = ups + downs
    balance = downs / ups if ups > downs else ups / downs
    return magnitude**balance


def post_votes(post: Post, now: float) -> tuple[int, int]:
    """(ups, downs) consistent with score and upvote_ratio; only controversy uses downs."""
    score = post_score(post, now)
    ratio = post.ratio
    if abs(2 * ratio - 1) < 0.02:
        return max(score, 1) * 10, max(score, 1) * 10
    total = abs(score / (2 * ratio - 1))
    ups = int(total * ratio)
    return ups, int(total - ups)


def order_posts(posts: Iterable[Post], sort: str, now: float, time_filter: str | None) -> list[Post]:
    posts = list(posts)
    if sort in ("top", "controversial"):
        window = TIME_FILTERS.get(time_filter or "day")
        if window is not None:
            posts = [p for p in posts if p.created >= now - window]
    if sort == "new":
        return sorted(posts, key=lambda p: (p.created, p.number), reverse=True)
    if sort == "top":
        return sorted(posts, key=lambda p: (post_score(p, now), p.created, p.number), reverse=True)
    if sort == "controversial":
        return sorted(posts, key=lambda p: (controversy(*post_votes(p, now)), p.created, p.number), reverse=True)
    if sort == "rising":
        recent = [p for p in posts if p.created >= now - RISING_WINDOW]
        velocity = lambda p: post_score(p, now) / ((now - p.created) / 3600 + 2)  # noqa: E731
        return sorted(recent, key=lambda p: (velocity(p), p.number), reverse=True)[:RISING_MAX]
    # hot: stickied posts first, in their own stable order, then by hotness.
    stickied = sorted((p for p in posts if p.stickied), key=lambda p: p.created)
    rest = sorted((p for p in posts if not p.stickied), key=lambda p: (hot(p, now), p.number), reverse=True)
    return stickied + rest


def _wilson(ups: int, downs: int) -> float:
    n = ups + downs
    if n == 0:
        return 0.0
    z = 1.281551565545  # 80% confidence, as Reddit's "best"
    p = ups / n
    return (p + z * z / (2 * n) - z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)) / (1 + z * z / n)


def comment_sort_key(sort: str, now: float):
    """Key function for one reply list; higher sorts first except for ``old``."""

    def votes(c: Comment) -> tuple[int, int]:
        score = comment_score(c, now)
        downs = int(abs(score) * (0.8 if c.controversial else 0.1 * _unit(c.id)))
        return max(score, 0) + downs, downs + max(-score, 0)

    def key(c: Comment):
        if sort == "new":
            primary: float = c.created
        elif sort == "old":
            primary = -c.created
        elif sort == "top":
            primary = comment_score(c, now)
        elif sort == "controversial":
            primary = controversy(*votes(c))
        else:  # confidence and anything we do not model
            primary = _wilson(*votes(c))
        return (c.stickied, primary, c.seq)  # ties: creation order, never id order

    return key

"""One page of a Reddit listing, the way every listing endpoint cuts it.

``limit`` 1–100 (25 when absent), ``after``/``before`` fullname cursors; an ``after``
that is not in the listing (an item that fell off it, or a made-up one) answers an empty
page, as Reddit does, rather than the first page again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

MAX_LISTING_LIMIT = 100


def listing_page(
    ordered: Sequence[T], fullname: Callable[[T], str], params: Mapping[str, str]
) -> tuple[Sequence[T], str | None, str | None]:
    """(page, after, before) of ``ordered`` (already cut at the listing cap)."""
    try:
        limit = int(params.get("limit") or 25)
    except ValueError:
        limit = 25
    limit = max(1, min(limit, MAX_LISTING_LIMIT))
    position = {fullname(item): i for i, item in enumerate(ordered)}
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
    after = fullname(page[-1]) if page and start + len(page) < len(ordered) else None
    before = fullname(page[0]) if page and start > 0 else None
    return page, after, before

"""Dump lines are untrusted input: each is either a Reddit object or a reason it is not.

Dumps are community-made files of any origin. A line that is not a JSON object, nests absurdly,
has no numeric ``created_utc`` or runs past the length cap must not stop an ingestion (nor exhaust
its memory or stack): it is quarantined with its reason and the ingestion goes on. A line past the
cap is never held whole: ``Oversized`` keeps its first bytes and the subreddit names seen in it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

SUBREDDIT = re.compile(rb'"subreddit"\s*:\s*"([^"\\]*)"')
_ID = re.compile(rb'"id"\s*:\s*"([0-9a-z]{1,13})"')
MAX_NESTING = 64  # a Reddit object nests about 6 levels (gallery media metadata)
HEAD = 4096  # bytes of an oversized line kept in quarantine: enough to tell what it was


@dataclass
class Oversized:
    """A line longer than the cap, read past in pieces: its head, its size, the subreddits it names."""

    head: bytes = b""
    size: int = 0
    names: set[bytes] = field(default_factory=set)

    def add(self, piece: bytes) -> None:
        if len(self.head) < HEAD:
            self.head += piece[: HEAD - len(self.head)]
        self.size += len(piece)
        self.names.update(SUBREDDIT.findall(piece))


def oversized(line: bytes) -> Oversized:
    whole = Oversized()
    whole.add(line)
    return whole


def parse(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The line's object, or None and why it is not one."""
    try:
        obj = json.loads(line)
    except RecursionError:
        return None, f"nested deeper than {MAX_NESTING} levels"
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(obj, dict):
        return None, f"not a JSON object (a {type(obj).__name__})"
    # Counting brackets is cheap; only a line with many walks its object.
    if line.count(b"{") + line.count(b"[") > MAX_NESTING and _nesting(obj) > MAX_NESTING:
        return None, f"nested deeper than {MAX_NESTING} levels"
    return obj, None


def created_epoch(obj: dict[str, Any]) -> tuple[float | None, str | None]:
    """``created_utc`` as epoch seconds, or None and why it is unusable."""
    value = obj.get("created_utc")
    if value is None:
        return None, "created_utc missing"
    try:
        if isinstance(value, bool):
            raise ValueError
        created = float(value)
    except (TypeError, ValueError, OverflowError):
        return None, f"created_utc {str(value)[:40]!r} is not a number"
    if not math.isfinite(created):
        return None, f"created_utc {value!r} is not a number"
    return created, None


def guess_id(line: bytes) -> str | None:
    found = _ID.search(line)
    return found.group(1).decode() if found else None


def guess_kind(line: bytes) -> str:
    return "comments" if b'"link_id"' in line and b'"body"' in line else "posts"


def _nesting(obj: Any) -> int:
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_NESTING:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return deepest

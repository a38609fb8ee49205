"""A comment's depth, derived from its thread whichever route brought it.

Comment trees carry a depth; comment listings, archive search answers and dump lines do not.
The rule: a depth the route itself knows (a tree's) wins; a reply to the post is 0; a reply to
a comment whose depth is known is that depth + 1; anything else is unknown (null), never a
made-up 0. An unknown depth is filled in once the parent chain is known: by a later landing
that brings the parent (or the post's tree) within ``window_days`` of the stored reply, or by
``fill_stored`` (maintenance), which reads the subreddit's whole comments table.

The landing reads only the stored comments of the batch's threads in the ``dt`` days within
``window_days`` of the batch's (waiting replies after them; parents before them, only when a
chain leaves the batch, so a tree's landing looks forward only): a thread is busy for days,
rarely for weeks, so every landing's read stays bounded whatever the lake's size; a reply
further than that from its parent waits for maintenance, unknown but never wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from redditlake.lake import Lake

TABLE = "comments"
COLUMNS = ["id", "parent_id", "link_id", "depth"]
WINDOW_DAYS = 30


@dataclass
class Thread:
    """Known comments (id → parent fullname, depth or None) and the depths derivable from them."""

    parents: dict[str, str] = field(default_factory=dict)
    known: dict[str, int] = field(default_factory=dict)
    _unknowable: set[str] = field(default_factory=set)

    def add(self, rows: Iterable[Mapping]) -> None:
        """Hold these comments; a depth already held is kept (a stored row's depth is never changed)."""
        for r in rows:
            cid = r["id"]
            self.parents.setdefault(cid, r["parent_id"])
            if r["depth"] is not None and cid not in self.known:
                self.known[cid] = int(r["depth"])

    def depth(self, cid: str) -> int | None:
        """The comment's depth from its parent chain, or None if the chain leaves what is held."""
        path: list[str] = []
        seen: set[str] = set()
        cur = cid
        base: int | None = None
        while True:
            if cur in self.known:
                base = self.known[cur]
                break
            parent = self.parents.get(cur)
            if cur in self._unknowable or parent is None or cur in seen:
                break
            path.append(cur)
            seen.add(cur)
            if parent.startswith("t3_"):
                base = -1
                break
            cur = parent[3:]
        for offset, node in enumerate(reversed(path), start=1):
            if base is None:
                self._unknowable.add(node)
            else:
                self.known[node] = base + offset
        return self.known.get(cid)


@dataclass
class Settled:
    """A batch with every derivable depth filled in, and the stored rows whose depth is now known."""

    rows: pa.Table
    fills: dict[str, int]


def settle(batch: pa.Table, stored: Iterable[Mapping]) -> Settled:
    """Depths for ``batch`` (comments rows) given ``stored`` comments (``COLUMNS``) of its threads."""
    stored = list(stored)
    thread = Thread()
    thread.add(stored)
    unknown = sorted(r["id"] for r in stored if r["depth"] is None)
    thread.add(batch.select(["id", "parent_id", "depth"]).to_pylist())
    depths = pa.array([thread.depth(i) for i in batch.column("id").to_pylist()], pa.int64())
    rows = batch.set_column(batch.schema.get_field_index("depth"), batch.schema.field("depth"), depths)
    fills = {i: d for i in unknown if (d := thread.depth(i)) is not None}
    return Settled(rows, fills)


def thread_context(lake: Lake, subreddit: str, batch: pa.Table, window_days: int = WINDOW_DAYS) -> list[dict]:
    """Stored comments of the batch's threads that can matter to it: those in the ``window_days``
    after each of the batch's ``dt`` days (the same ids stored before, replies waiting for a
    parent) and, only when a parent chain leaves the batch, in the ``window_days`` before."""
    if batch.num_rows == 0:
        return []
    own = {t.astimezone(dt.UTC).date() for t in batch.column("created_utc").to_pylist()}
    alone = Thread()
    alone.add(batch.select(["id", "parent_id", "depth"]).to_pylist())
    back = window_days if any(alone.depth(i) is None for i in batch.column("id").to_pylist()) else 0
    days = [d for d in lake.days(TABLE, subreddit)
            if any(-window_days <= (o - d).days <= back for o in own)]
    if not days:
        return []
    stored = lake.latest(TABLE, subreddit, COLUMNS, dts=days)
    threads = pa.array(set(batch.column("link_id").to_pylist()), pa.string())
    return stored.filter(pc.is_in(stored.column("link_id"), value_set=threads)).to_pylist()


def fill_stored(lake: Lake, subreddit: str) -> int:
    """Maintenance: every stored unknown depth of the subreddit whose parent chain is now stored."""
    if not lake.days(TABLE, subreddit):
        return 0
    stored = lake.latest(TABLE, subreddit, COLUMNS).to_pylist()
    thread = Thread()
    thread.add(stored)
    fills = {r["id"]: d for r in stored if r["depth"] is None and (d := thread.depth(r["id"])) is not None}
    store(lake, subreddit, fills)
    return len(fills)


def store(lake: Lake, subreddit: str, fills: Mapping[str, int]) -> None:
    """Write depths learnt after their rows were stored (the rows are rewritten in place)."""
    if fills:
        lake.update_column(TABLE, subreddit, "depth", fills)

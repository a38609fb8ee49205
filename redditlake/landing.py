"""Typed rows into the lake: the last step of a post's way, JSON → model → Arrow → Parquet.

``Landing`` knows which model and which write mode each table takes (one row
per id, or append-only snapshots) and applies the pseudonymiser, when one is
configured, to every table before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from redditlake.lake import Lake, WriteResult
from redditlake.models import Comment, CommentFetch, Post, PostMetric, Record, Row, Subreddit, User
from redditlake.privacy import Pseudonymiser


def to_table(
    model: type[Row] | type[Record], things: Iterable[dict[str, Any]], collected_at: datetime, source: str | None = None
) -> pa.Table:
    table = model.to_arrow(model.from_api(t, collected_at) for t in things)
    if source is not None:  # archives and dumps: one column rewrite, not a model copy per row
        at = table.schema.get_field_index("source")
        table = table.set_column(at, "source", pa.array([source] * table.num_rows, pa.string()))
    return table


@dataclass
class Landing:
    lake: Lake
    pseudonymiser: Pseudonymiser | None = None

    def _private(self, table: pa.Table) -> pa.Table:
        return self.pseudonymiser.table(table) if self.pseudonymiser else table

    def rows(
        self, model: type[Row], subreddit: str, things: list[dict[str, Any]], collected_at: datetime,
        source: str | None = None,
    ) -> WriteResult:
        """One row per id: what the lake holds already is skipped (whichever source stored it)."""
        return self.lake.write(model.table, subreddit, self._private(to_table(model, things, collected_at, source)))

    def posts(self, subreddit: str, posts: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
        return self.rows(Post, subreddit, posts, collected_at)

    def comments(self, subreddit: str, comments: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
        return self.rows(Comment, subreddit, comments, collected_at)

    def about(self, subreddit: str, about: dict[str, Any], collected_at: datetime) -> WriteResult:
        return self.rows(Subreddit, subreddit, [about], collected_at)

    def metrics(self, subreddit: str, posts: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
        """A snapshot of every post seen, appended: scores and comment counts over time."""
        return self.lake.append(PostMetric.table, subreddit, to_table(PostMetric, posts, collected_at))

    def users(self, subreddit: str, users: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
        return self.lake.append(User.table, subreddit, self._private(to_table(User, users, collected_at)))

    def comment_batch(self, subreddit: str, batch, num_comments: dict[str, int], collected_at: datetime) -> WriteResult:
        """Comments first, then the markers that say their trees are landed (never the other way round)."""
        result = self.comments(subreddit, batch.comments, collected_at)
        markers = CommentFetch.to_arrow(
            CommentFetch(
                post_id=pid, num_comments=num_comments[pid], comments=n, collected_at=collected_at,
                unexpandable=batch.unexpandable.get(pid, 0),
            )
            for pid, n in batch.trees.items()
        )
        self.lake.append(CommentFetch.table, subreddit, markers)
        return result

    def known_authors(self, subreddit: str) -> set[str]:
        """Authors whose profiles this subreddit's partition holds (as stored: pseudonyms if on)."""
        return set(self.lake.latest(User.table, subreddit, ["author"], key="author").column("author").to_pylist())

    def stored_name(self, author: str) -> str:
        return self.pseudonymiser.pseudonym(author) if self.pseudonymiser else author

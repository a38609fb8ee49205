"""Typed rows into the lake: the last step of a post's way, JSON → model → Arrow → Parquet.

``Landing`` knows which model and which write mode each table takes (one row
per id, or append-only snapshots) and applies the pseudonymiser, when one is
configured, to every table before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from redditlake import depth
from redditlake.lake import Lake, WriteResult
from redditlake.lake.names import subreddit_partition
from redditlake.models import (
    QUARANTINE_SCHEMA,
    Comment,
    CommentFetch,
    ParsedBatch,
    Post,
    PostMetric,
    Record,
    Row,
    Subreddit,
    TextCleaning,
    User,
    parse_batch,
)
from redditlake.privacy import COLUMNS as PRIVATE_COLUMNS
from redditlake.quality import quarantine
from redditlake.privacy import Pseudonymiser


def to_table(
    model: type[Row] | type[Record], things: Iterable[dict[str, Any]], collected_at: datetime, source: str | None = None
) -> pa.Table:
    return _with_source(model.to_arrow(model.from_api(t, collected_at) for t in things), source)


def _with_source(table: pa.Table, source: str | None) -> pa.Table:
    if source is not None:  # archives and dumps: one column rewrite, not a model copy per row
        at = table.schema.get_field_index("source")
        table = table.set_column(at, "source", pa.array([source] * table.num_rows, pa.string()))
    return table


@dataclass
class LandedBatch:
    """A batch as it reached the lake, kept for the quality checks of the run."""

    table: str
    subreddit: str
    rows: pa.Table  # every valid row of the batch (before dedup against the lake)
    quarantined: pa.Table
    cleaning: TextCleaning
    written: int
    collected_at: datetime


@dataclass
class Landing:
    lake: Lake
    pseudonymiser: Pseudonymiser | None = None
    required_fields: Mapping[str, list[str]] | None = None
    # The run's quality recorder (``quality.recorder.Recorder``): gets every landed batch.
    # None when the run does not validate: then nothing is kept in memory.
    recorder: Any = None
    quarantine_lookback_days: int = 90  # data_quality.quarantine_lookback_days
    depth_window_days: int = depth.WINDOW_DAYS  # days around a batch searched for its comments' parents and waiting replies

    def _private(self, table: pa.Table) -> pa.Table:
        return self.pseudonymiser.table(table) if self.pseudonymiser else table

    def rows(
        self, model: type[Row], subreddit: str, things: list[dict[str, Any]], collected_at: datetime,
        source: str | None = None, app: tuple[str, int] | None = None,
    ) -> WriteResult:
        """One row per id: what the lake holds already is skipped (whichever source stored it). Rows that fail validation go to
        ``quarantine`` (first: a crash must not lose them) and never stop the rest of the batch. Comments get their
        depth from their thread (``redditlake.depth``), and stored ones whose depth this batch makes known are filled in.
        ``app`` (app id, version) is committed with the rows: a position that lands exactly when they do."""
        parsed = _misrouted_to_quarantine(parse_batch(model, things, collected_at, self.required_fields), subreddit)
        self._quarantine(subreddit, parsed.quarantined)
        rows = self._private(_with_source(parsed.rows, source))
        fills: dict[str, int] = {}
        if model is Comment and rows.num_rows:
            settled = depth.settle(rows, depth.thread_context(self.lake, subreddit, rows, self.depth_window_days))
            rows, fills = settled.rows, settled.fills
        result = self.lake.write(model.table, subreddit, rows, app=app)
        # After the write: a crash in between leaves these depths unknown (for maintenance), never wrong.
        depth.store(self.lake, subreddit, fills)
        self._record(LandedBatch(model.table, result.subreddit, rows, parsed.quarantined, parsed.cleaning,
                                 result.written, collected_at))
        return result

    def _record(self, batch: LandedBatch) -> None:
        # The landing keeps nothing: a batch goes to the recorder (validated in bounded memory)
        # or nowhere, so a run that lands millions of rows holds none of them here.
        if self.recorder is not None:
            self.recorder.add(batch)

    def _appended(self, table: str, subreddit: str, rows: pa.Table, collected_at: datetime) -> WriteResult:
        """A snapshot table's batch: appended, and handed to the recorder like every batch."""
        result = self.lake.append(table, subreddit, rows)
        self._record(LandedBatch(table, result.subreddit, rows, _NO_QUARANTINE, TextCleaning(), result.written,
                                 collected_at))
        return result

    def quarantine(self, subreddit: str, rows: list[dict[str, Any]]) -> None:
        """Store items that never became rows (``QUARANTINE_SCHEMA`` dicts), e.g. unusable dump lines."""
        self._quarantine(subreddit, pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA))

    def _quarantine(self, subreddit: str, rows: pa.Table) -> None:
        if rows.num_rows:  # each bad item once (see quality.quarantine)
            quarantine.land(self.lake, subreddit, self._private_raw(rows), self.quarantine_lookback_days)

    def _private_raw(self, quarantined: pa.Table) -> pa.Table:
        """Quarantined JSON holds account names too: pseudonymise them like every column. Text that
        is no JSON object cannot be pseudonymised field by field, so it is not kept at all then."""
        if not self.pseudonymiser:
            return quarantined
        raws = []
        for raw in quarantined.column("raw").to_pylist():
            try:
                thing = json.loads(raw)
            except (ValueError, RecursionError):
                thing = None
            if not isinstance(thing, dict):
                raws.append(f"[withheld: {len(raw)} characters that are no JSON object, pseudonymisation is on]")
                continue
            for column, prefix in PRIVATE_COLUMNS.items():
                if isinstance(thing.get(column), str):
                    thing[column] = self.pseudonymiser.pseudonym(thing[column], prefix)
            raws.append(json.dumps(thing, sort_keys=True))
        return quarantined.set_column(quarantined.column_names.index("raw"), "raw", pa.array(raws, pa.string()))

    def posts(self, subreddit: str, posts: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
        return self.rows(Post, subreddit, posts, collected_at)

    def comments(self, subreddit: str, comments: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
        return self.rows(Comment, subreddit, comments, collected_at)

    def about(self, subreddit: str, about: dict[str, Any], collected_at: datetime) -> WriteResult:
        return self.rows(Subreddit, subreddit, [about], collected_at)

    def metrics(self, subreddit: str, posts: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
        """A snapshot of every post seen, appended: scores and comment counts over time."""
        parsed = parse_batch(PostMetric, posts, collected_at)
        self._quarantine(subreddit, parsed.quarantined)  # a figure that is no number: that snapshot only
        return self._appended(PostMetric.table, subreddit, parsed.rows, collected_at)

    def users(self, subreddit: str, users: list[dict[str, Any]], collected_at: datetime) -> WriteResult:
        return self._appended(User.table, subreddit, self._private(to_table(User, users, collected_at)), collected_at)

    def comment_batch(self, subreddit: str, batch, num_comments: dict[str, int], collected_at: datetime) -> WriteResult:
        """Comments first, then the markers that say their trees are landed (never the other way round)."""
        result = self.comments(subreddit, batch.comments, collected_at)
        markers = CommentFetch.to_arrow(
            CommentFetch(
                post_id=pid, num_comments=num_comments[pid], comments=n, collected_at=collected_at,
                unexpandable=batch.unexpandable.get(pid, 0), complete=batch.complete(pid),
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


_NO_QUARANTINE = QUARANTINE_SCHEMA.empty_table()


def _misrouted_to_quarantine(parsed: ParsedBatch, subreddit: str) -> ParsedBatch:
    """Rows naming another subreddit would make the lake refuse the whole batch: quarantine them instead."""
    rows = parsed.rows
    if "subreddit" not in rows.column_names or rows.num_rows == 0:
        return parsed
    part = subreddit_partition(subreddit)
    wrong = pc.fill_null(pc.not_equal(pc.utf8_lower(rows.column("subreddit")), pa.scalar(part)), False)
    if not pc.any(wrong).as_py():
        return parsed
    bad = rows.filter(wrong)
    moved = pa.Table.from_pylist(
        [
            {
                "table_name": parsed.table,
                "id": r["id"],
                "reason": f"subreddit {r['subreddit']!r} does not match partition {part!r}",
                "raw": json.dumps(r, sort_keys=True, default=str),
                "collected_at": r["collected_at"],
            }
            for r in bad.to_pylist()
        ],
        schema=parsed.quarantined.schema,
    )
    return ParsedBatch(
        parsed.table, rows.filter(pc.invert(wrong)), pa.concat_tables([parsed.quarantined, moved]), parsed.cleaning
    )

"""One landed batch → a validation run, its expectation results, metrics and a quality score.

The quality score of a batch (0-1), the catalog's ``score``:

    score = (Σ_e w_e · pass_e  +  3 · valid_share) / (Σ_e w_e + 3)

over the suite's expectations e, where ``pass_e`` is the share of rows meeting
e (1 or 0 for expectations about the whole batch), ``w_e`` is 3 for critical
and 1 for warning expectations, and ``valid_share`` is the share of the
batch's things that passed validation before write (quarantined ones did not):
quarantine weighs as one more critical expectation. Per subreddit and day the
catalog averages batch scores weighted by rows. The bar: 0.95.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from redditlake.config import DataQualitySettings
from redditlake.models import TextCleaning
from redditlake.quality import gxrun, suites
from redditlake.quality.gxrun import Outcome

QUARANTINE_WEIGHT = suites.SEVERITY_WEIGHT[suites.CRITICAL]
# Tables whose suite expects "id unique" (snapshot tables such as post_metrics keep every sighting).
ONE_ROW_PER_ID = frozenset({"posts", "comments", "subreddits"})


@dataclass
class Batch:
    """What a validation needs to know about a landed batch."""

    table: str
    subreddit: str  # partition value
    rows: pa.Table
    quarantined: int = 0
    cleaning: TextCleaning = field(default_factory=TextCleaning)
    written: int | None = None


@dataclass
class BatchResult:
    run: dict[str, Any]
    expectations: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    outcomes: list[Outcome]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]


def merge(batches: Iterable[Any]) -> list[Batch]:
    """Landed batches (``landing.LandedBatch`` or ``Batch``) combined per (table, subreddit)."""
    grouped: dict[tuple[str, str], Batch] = {}
    for b in batches:
        key = (b.table, b.subreddit)
        quarantined = b.quarantined if isinstance(b.quarantined, int) else b.quarantined.num_rows
        if key not in grouped:
            grouped[key] = Batch(b.table, b.subreddit, b.rows, quarantined, TextCleaning(**vars(b.cleaning)), b.written)
            continue
        g = grouped[key]
        earlier = _without_ids_of(g.rows, b.rows) if b.table in ONE_ROW_PER_ID else g.rows
        g.rows = pa.concat_tables([earlier, b.rows], promote_options="permissive")
        g.quarantined += quarantined
        for k, v in vars(b.cleaning).items():
            setattr(g.cleaning, k, getattr(g.cleaning, k) + v)
        g.written = None if g.written is None or b.written is None else g.written + b.written
    return list(grouped.values())


def _without_ids_of(earlier: pa.Table, later: pa.Table) -> pa.Table:
    """``earlier`` without the items ``later`` lands again. One run may land an item twice (an
    archive follow's pass and its settle pass, a stream's later sighting): the lake keeps one
    row per id, and so does the run's validation, the later sighting; duplicates inside one
    landed batch still reach the suite's "id unique"."""
    if earlier.num_rows == 0 or "id" not in earlier.column_names or "id" not in later.column_names:
        return earlier
    again = pc.is_in(earlier.column("id"), value_set=pc.unique(later.column("id")))
    return earlier.filter(pc.invert(pc.fill_null(again, False)))


def score(outcomes: list[Outcome], valid: int, quarantined: int) -> float:
    """The batch's quality score (see the module docstring)."""
    total = valid + quarantined
    valid_share = valid / total if total else 1.0
    num = QUARANTINE_WEIGHT * valid_share + sum(suites.SEVERITY_WEIGHT[o.severity] * o.pass_share for o in outcomes)
    den = QUARANTINE_WEIGHT + sum(suites.SEVERITY_WEIGHT[o.severity] for o in outcomes)
    return round(num / den, 6)


def _time_column(table: str) -> str:
    return "ts" if table == "api_requests" else ("created_utc" if table in ("posts", "comments", "subreddits") else "collected_at")


def _content_metrics(table: str, rows: pa.Table) -> dict[str, float]:
    m: dict[str, float] = {}
    n = rows.num_rows
    if not n:
        return m
    if "author" in rows.column_names:
        m["deleted_authors"] = float(pc.sum(pc.equal(rows.column("author"), "[deleted]")).as_py() or 0)
    text = {"posts": "selftext", "comments": "body"}.get(table)
    if text and text in rows.column_names:
        col = rows.column(text)
        m["removed_share"] = (pc.sum(pc.equal(col, "[removed]")).as_py() or 0) / n
        m["deleted_share"] = (pc.sum(pc.equal(col, "[deleted]")).as_py() or 0) / n
        m["long_texts"] = float(pc.sum(pc.greater(pc.utf8_length(col), 10_000)).as_py() or 0)
    if "score" in rows.column_names:
        scores = rows.column("score")
        m["negative_scores"] = float(pc.sum(pc.less(scores, 0)).as_py() or 0)
        q = pc.quantile(scores, q=[0.5, 0.9]).to_pylist()
        m["score_median"], m["score_p90"] = float(q[0]), float(q[1])
    if table == "comments" and "link_id" in rows.column_names:
        m["comments_per_post"] = n / max(1, pc.count_distinct(rows.column("link_id")).as_py())
    if table == "comments" and "depth" in rows.column_names:
        m["unknown_depth_share"] = rows.column("depth").null_count / n
    if table == "api_requests":
        status = rows.column("status")
        ok = pc.and_(pc.greater_equal(status, 200), pc.less(status, 300))
        m["error_rate"] = 1 - (pc.sum(pc.fill_null(ok, False)).as_py() or 0) / n
        m["latency_p95_ms"] = float(pc.quantile(rows.column("latency_ms"), q=0.95).to_pylist()[0])
    return m


def validate(
    batch: Batch,
    settings: DataQualitySettings,
    now: datetime,
    *,
    flow_run_id: str | None = None,
    job: str = "collect",
) -> BatchResult:
    """Run the table's suite on the batch; rows for the catalog's tables."""
    run_id = uuid.uuid4().hex
    specs = suites.suite_for(batch.table, settings)
    rows = batch.rows
    outcomes: list[Outcome] = []
    if specs and rows.num_rows:
        frame = suites.prepare(batch.table, batch.subreddit, rows, specs)
        outcomes = gxrun.run_suite(frame, specs, suites.INDEX_COLUMN.get(batch.table),
                                   suites.parameters(batch.subreddit, settings, now))
    batch_score = score(outcomes, rows.num_rows, batch.quarantined)
    times = rows.column(_time_column(batch.table)) if _time_column(batch.table) in rows.column_names else None
    lo, hi = (pc.min_max(times).values() if times is not None and rows.num_rows else (None, None))
    common = {"run_id": run_id, "table_name": batch.table, "subreddit": batch.subreddit, "validated_at": now}
    run = {
        **common,
        "suite": f"{batch.table}.default",
        "job": job,
        "partition_from": lo.as_py().date() if lo is not None and lo.as_py() else None,
        "partition_to": hi.as_py().date() if hi is not None and hi.as_py() else None,
        "rows": rows.num_rows,
        "quarantined": batch.quarantined,
        "expectations": len(outcomes),
        "failed_expectations": sum(not o.success for o in outcomes),
        "success": all(o.success for o in outcomes) and batch.quarantined == 0,
        "score": batch_score,
        "flow_run_id": flow_run_id,
    }
    expectations = [
        {
            **common,
            "expectation": o.name,
            "expectation_type": o.expectation,
            "severity": o.severity,
            "kwargs": o.kwargs,
            "success": o.success,
            "observed_value": o.observed_value,
            "element_count": o.element_count,
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "unexpected_ids": o.unexpected_ids,
        }
        for o in outcomes
    ]
    values = {
        "rows": float(rows.num_rows),
        "quarantined": float(batch.quarantined),
        "nul_bytes_removed": float(batch.cleaning.nul_bytes),
        "lone_surrogates_removed": float(batch.cleaning.lone_surrogates),
        "quality_score": batch_score,
        **_content_metrics(batch.table, rows),
    }
    if batch.written is not None:
        values["rows_written"] = float(batch.written)
    metrics = [
        {
            "run_id": run_id,
            "metric_name": name,
            "metric_value": value,
            "subreddit_name": batch.subreddit,
            "table_name": batch.table,
            "calculated_at": now,
            "flow_run_id": flow_run_id,
        }
        for name, value in values.items()
    ]
    return BatchResult(run, expectations, metrics, outcomes)

"""The quality step of a flow run: validate what landed, store the results, judge against history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redditlake.config import DataQualitySettings
from redditlake.lake import Lake
from redditlake.quality import anomalies, batch, results
from redditlake.quality.batch import BatchResult


@dataclass
class QualityReport:
    """What the quality step found in one flow run (for events, artifacts, logs)."""

    batches: list[BatchResult] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    target: float = 0.95

    @classmethod
    def combine(cls, reports: Iterable[QualityReport | None], target: float) -> QualityReport:
        """Several validations (of one run) as one report; ``None`` ones (no validation) skipped."""
        out = cls(target=target)
        for r in reports:
            if r is not None:
                out.batches += r.batches
                out.anomalies += r.anomalies
        return out

    @property
    def degraded(self) -> list[BatchResult]:
        return [b for b in self.batches if b.run["score"] < self.target]

    def per_subreddit(self) -> list[dict[str, Any]]:
        """One row per subreddit: items, row-weighted score, failed expectations, quarantined."""
        rows: dict[str, dict[str, Any]] = {}
        for b in self.batches:
            r = rows.setdefault(
                b.run["subreddit"], {"subreddit": b.run["subreddit"], "items": 0, "quarantined": 0, "_w": 0.0, "_s": 0.0, "failed": []}
            )
            weight = max(1, b.run["rows"] + b.run["quarantined"])
            if b.run["table_name"] != "api_requests":  # items are things collected, not requests
                r["items"] += b.run["rows"]
            r["quarantined"] += b.run["quarantined"]
            r["_w"] += weight
            r["_s"] += weight * b.run["score"]
            r["failed"] += [f"{b.run['table_name']}: {o.name} ({o.unexpected_count})" for o in b.failed]
        out = []
        for r in rows.values():
            out.append(
                {
                    "subreddit": r["subreddit"], "items": r["items"], "quarantined": r["quarantined"],
                    "quality_score": round(r["_s"] / r["_w"], 4) if r["_w"] else None,
                    "failed_expectations": "; ".join(r["failed"]) or "-",
                }
            )
        return sorted(out, key=lambda r: r["subreddit"])


def check_landed(
    lake: Lake,
    landed: Iterable[Any],
    settings: DataQualitySettings,
    *,
    flow_run_id: str | None = None,
    job: str = "collect",
    now: datetime | None = None,
) -> QualityReport:
    """Validate landed batches (merged per table and subreddit), publish results and anomalies."""
    now = now or datetime.now(UTC)
    report = QualityReport(target=settings.score_target)
    for b in batch.merge(landed):
        if b.rows.num_rows == 0 and b.quarantined == 0:
            continue
        report.batches.append(batch.validate(b, settings, now, flow_run_id=flow_run_id, job=job))
    if not report.batches:
        return report
    metrics = [m for b in report.batches for m in b.metrics]
    # The baseline: the last anomaly_runs runs of each (subreddit, table), newest days first, not the history.
    wanted = {(m["subreddit_name"], m["table_name"]) for m in metrics}
    history = results.recent_metrics(lake, wanted, settings.anomaly_runs, settings.anomaly_lookback_days, now.date())
    report.anomalies = anomalies.detect(metrics, history, settings, now, flow_run_id)
    # Details first, the run rows last: a reader that sees a run sees its details.
    results.write(lake, "expectation_results", [e for b in report.batches for e in b.expectations])
    results.write(lake, "data_quality_metrics", metrics)
    results.write(lake, "anomalies", report.anomalies)
    results.write(lake, "validation_runs", [b.run for b in report.batches])
    return report

"""Anomalies: a subreddit's metrics against its own recent history.

For each tracked metric of a (subreddit, table), the last ``anomaly_runs``
values before this run give a median and a median absolute deviation (MAD);
the robust z-score is ``0.6745 · (value − median) / MAD`` (0.6745 makes it
comparable with a standard z-score on normal data) and ``|z| > anomaly_z``
is an anomaly. A history with MAD 0 (a metric that never moved) flags any
change as z = ±99. Fewer than ``MIN_HISTORY`` earlier runs: no judgement.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from redditlake.config import DataQualitySettings

# items per run, comments per post, deletion rate, share of [removed], score distribution,
# request error rate, quality score, share of num_comments no stored tree holds (quality check)
TRACKED = (
    "rows", "comments_per_post", "deleted_share", "removed_share", "score_median", "score_p90",
    "error_rate", "quality_score", "unshown_share",
)
MIN_HISTORY = 5
_SCALE = 0.6745
_FLAT_Z = 99.0


def robust_z(value: float, history: list[float]) -> tuple[float, float, float]:
    """(z, median, MAD) of ``value`` against ``history``."""
    median = statistics.median(history)
    mad = statistics.median(abs(h - median) for h in history)
    if mad == 0:
        z = 0.0 if math.isclose(value, median, rel_tol=1e-9, abs_tol=1e-12) else math.copysign(_FLAT_Z, value - median)
    else:
        z = _SCALE * (value - median) / mad
    return z, median, mad


def detect(
    current: Iterable[dict[str, Any]],
    history: pa.Table,
    settings: DataQualitySettings,
    now: datetime,
    flow_run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Anomalies among ``current`` metric rows, judged against ``history`` (data_quality_metrics rows)."""
    current = [m for m in current if m["metric_name"] in TRACKED]
    if not current:
        return []
    current_runs = {m["run_id"] for m in current}
    past: dict[tuple[str, str, str], list[tuple[Any, float]]] = {}
    for row in history.select(["run_id", "metric_name", "metric_value", "subreddit_name", "table_name", "calculated_at"]).to_pylist():
        if row["run_id"] in current_runs or row["metric_name"] not in TRACKED or row["metric_value"] is None:
            continue
        past.setdefault((row["subreddit_name"], row["table_name"], row["metric_name"]), []).append(
            (row["calculated_at"], row["metric_value"])
        )
    found = []
    for m in current:
        key = (m["subreddit_name"], m["table_name"], m["metric_name"])
        values = [v for _, v in sorted(past.get(key, []), key=lambda p: p[0])][-settings.anomaly_runs :]
        if len(values) < MIN_HISTORY:
            continue
        z, median, mad = robust_z(m["metric_value"], values)
        if abs(z) > settings.anomaly_z:
            found.append(
                {
                    "run_id": m["run_id"], "subreddit": m["subreddit_name"], "metric_name": m["metric_name"],
                    "table_name": m["table_name"], "value": m["metric_value"], "median": median, "mad": mad,
                    "robust_z": round(z, 4), "history_runs": len(values), "detected_at": now,
                    "flow_run_id": flow_run_id,
                }
            )
    return found

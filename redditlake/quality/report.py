"""``redditlake quality report --html FILE``: one static page, charts as inline SVG (opens offline)."""

from __future__ import annotations

import html
import os
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from redditlake.config import DataQualitySettings
from redditlake import audit
from redditlake.lake import Lake
from redditlake.quality import results
from redditlake.quality.charts import SCORE_TICKS, bar_chart, line_chart, nice_ticks


def _table(headers: list[str], rows: list[tuple]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _charts(scores: dict[str, list[tuple[date, float]]], volume: dict[str, list[tuple[date, float]]],
            target: float) -> str:
    """Each subreddit's latest day as bars (readable from the first run on), then the daily trend
    once there are two days to draw a line between."""
    if not scores:
        return "<h2>Quality score</h2><p>No validation runs yet: collect, or run <code>redditlake quality check</code>.</p>"
    days = sorted({d for pts in scores.values() for d, _ in pts})
    latest = [(name, max(pts)) for name, pts in sorted(scores.items())]
    rows = [(name, max(pts)) for name, pts in sorted(volume.items())]
    label = f"target {target:g}"
    parts = [
        f"<h2>Quality score per subreddit, its latest day</h2><p>{len(latest)} subreddit(s), "
        f"{len(days)} day(s) of history ({days[0]} to {days[-1]}).</p>",
        bar_chart("Quality score (0 to 1)", [(n, v) for n, (_, v) in latest], SCORE_TICKS, target, label,
                  value_format=lambda v: f"{v:.4f}"),
        bar_chart("Rows validated (posts + comments)", [(n, v) for n, (_, v) in rows],
                  nice_ticks(max(v for _, (_, v) in rows))),
    ]
    if len(days) < 2:
        parts.append(f"<h2>Per day</h2><p>One day of history so far ({days[0]}): the daily trends are drawn "
                     "from the second day on.</p>")
        return "\n".join(parts)
    high = max(v for pts in volume.values() for _, v in pts)
    parts += [
        "<h2>Per day</h2>",
        line_chart("Quality score per day (0 to 1)", scores, SCORE_TICKS, target, label),
        line_chart("Rows validated per day (posts + comments)", volume, nice_ticks(high)),
    ]
    return "\n".join(parts)


def render(lake: Lake, settings: DataQualitySettings) -> str:
    con = duckdb.connect()
    for kind in results.SCHEMAS:
        con.register(kind, results.read(lake, kind))
    daily = con.execute(
        """SELECT subreddit, CAST(validated_at AS DATE) AS day,
                  sum(score * greatest(rows + quarantined, 1)) / sum(greatest(rows + quarantined, 1)),
                  sum(rows) FILTER (table_name IN ('posts', 'comments'))
           FROM validation_runs GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    scores: dict[str, list[tuple[date, float]]] = {}
    volume: dict[str, list[tuple[date, float]]] = {}
    for sub, day, score, rows in daily:
        scores.setdefault(f"r/{sub}", []).append((day, float(score)))
        volume.setdefault(f"r/{sub}", []).append((day, float(rows or 0)))
    failing = con.execute(
        """WITH latest AS (SELECT * FROM validation_runs QUALIFY row_number() OVER
                           (PARTITION BY subreddit, table_name ORDER BY validated_at DESC) = 1)
           SELECT 'r/' || e.subreddit, e.table_name, e.expectation, e.severity, e.unexpected_count,
                  array_to_string(e.unexpected_ids[1:5], ', ')
           FROM expectation_results e JOIN latest USING (run_id) WHERE NOT e.success ORDER BY 1, 2, 3"""
    ).fetchall()
    latest = con.execute(
        """SELECT 'r/' || subreddit, table_name, round(score, 4), rows, quarantined, validated_at FROM validation_runs
           QUALIFY row_number() OVER (PARTITION BY subreddit, table_name ORDER BY validated_at DESC) = 1
           ORDER BY 1, 2"""
    ).fetchall()
    completeness = con.execute(
        """WITH last AS (SELECT check_id FROM integrity_findings ORDER BY checked_at DESC LIMIT 1)
           SELECT 'r/' || subreddit, "check", count(*), array_to_string(list(DISTINCT post_id)[1:5], ', ')
           FROM integrity_findings WHERE check_id IN (SELECT check_id FROM last) GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    gaps = con.execute(
        """SELECT 'r/' || subreddit_name, max_by(metric_value, calculated_at) FILTER (metric_name = 'unshown_comments'),
                  round(max_by(metric_value, calculated_at) FILTER (metric_name = 'unshown_share'), 4), max(calculated_at)
           FROM data_quality_metrics WHERE table_name = 'threads' GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    anomalies = con.execute(
        """SELECT 'r/' || subreddit, table_name, metric_name, round(value, 4), round(median, 4), round(robust_z, 2), detected_at
           FROM anomalies ORDER BY detected_at DESC LIMIT 50"""
    ).fetchall()
    con.close()
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left}th{background:#f4f4f4}")
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>redditlake data quality</title>", f"<style>{style}</style></head><body>",
        f"<h1>redditlake data quality</h1><p>Lake <code>{html.escape(lake.uri)}</code>, generated {generated}. "
        f"Score target {settings.score_target} (<code>data_quality.score_target</code>, the red dashed line).</p>",
        _charts(scores, volume, settings.score_target),
        "<h2>Latest runs</h2>",
        _table(["subreddit", "table", "score", "rows", "quarantined", "validated at"], latest),
        "<h2>Failing expectations (latest run per subreddit and table)</h2>",
        _table(["subreddit", "table", "expectation", "severity", "rows", "e.g. ids"], failing),
        "<h2>Completeness and integrity (latest <code>quality check</code>)</h2>",
        _table(["subreddit", "check", "findings", "e.g. posts"], completeness),
        "<p>Comments counted in <code>num_comments</code> that no stored tree holds: Reddit hides deleted, removed "
        "and spam-filtered comments, so this is not loss; a jump in it is an anomaly.</p>",
        _table(["subreddit", "comments not in a tree", "share of num_comments", "checked at"], gaps),
        "<h2>Anomalies</h2>",
        _table(["subreddit", "table", "metric", "value", "median", "robust z", "detected at"], anomalies),
        "</body></html>",
    ])


def write_report(lake: Lake, settings: DataQualitySettings, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(render(lake, settings), encoding="utf-8")
    os.replace(temp, path)
    # A report is data leaving the lake: it goes on the audit trail like a query does.
    audit.record(lake, "quality-report", tables=["_quality"], detail=f"to {path}")
    return path

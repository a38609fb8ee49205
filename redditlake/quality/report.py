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

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
W, H, PAD = 640, 220, 40


def _line_chart(title: str, series: dict[str, list[tuple[date, float]]], y_min: float | None = None,
                y_max: float | None = None, target: float | None = None) -> str:
    points = [p for s in series.values() for p in s]
    if not points:
        return f"<h3>{html.escape(title)}</h3><p>No data yet.</p>"
    days = sorted({d for d, _ in points})
    lo = min(v for _, v in points) if y_min is None else y_min
    hi = max(v for _, v in points) if y_max is None else y_max
    hi = hi if hi > lo else lo + 1

    def x(d: date) -> float:
        return PAD + (W - 2 * PAD) * (days.index(d) / max(1, len(days) - 1))

    def y(v: float) -> float:
        return H - PAD + (v - lo) / (hi - lo) * -(H - 2 * PAD)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" aria-label="{html.escape(title)}">',
             f'<rect width="{W}" height="{H}" fill="#fff" stroke="#ccc"/>',
             f'<text x="{PAD}" y="{PAD - 12}" font-size="11">{hi:.4g}</text>',
             f'<text x="{PAD}" y="{H - PAD + 14}" font-size="11">{lo:.4g}</text>',
             f'<text x="{PAD}" y="{H - 6}" font-size="11">{days[0]}</text>',
             f'<text x="{W - PAD}" y="{H - 6}" font-size="11" text-anchor="end">{days[-1]}</text>']
    if target is not None and lo <= target <= hi:
        parts.append(f'<line x1="{PAD}" x2="{W - PAD}" y1="{y(target):.1f}" y2="{y(target):.1f}" stroke="#999" stroke-dasharray="4"/>')
    for i, (name, pts) in enumerate(sorted(series.items())):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in sorted(pts))
        parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        parts += [f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"><title>{html.escape(name)} {d}: {v:.4g}</title></circle>'
                  for d, v in pts]
        parts.append(f'<text x="{W - PAD + 4}" y="{PAD + 14 * i}" font-size="11" fill="{color}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return f"<h3>{html.escape(title)}</h3>" + "".join(parts)


def _table(headers: list[str], rows: list[tuple]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
    scores: dict[str, list] = {}
    volume: dict[str, list] = {}
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
        f"Score target {settings.score_target} (dashed line).</p>",
        "<h2>Quality score and volume per subreddit and day</h2>",
        _line_chart("Quality score", scores, target=settings.score_target),
        _line_chart("Rows validated (posts + comments)", volume, y_min=0),
        "<h2>Latest runs</h2>",
        _table(["subreddit", "table", "score", "rows", "quarantined", "validated at"], latest),
        "<h2>Failing expectations (latest run per subreddit and table)</h2>",
        _table(["subreddit", "table", "expectation", "severity", "rows", "e.g. ids"], failing),
        "<h2>Completeness and integrity (latest <code>quality check</code>)</h2>",
        _table(["subreddit", "check", "findings", "e.g. posts"], completeness),
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

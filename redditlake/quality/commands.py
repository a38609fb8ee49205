"""What the ``redditlake quality`` commands do (the CLI only parses arguments)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.compute as pc

from redditlake.config import Settings
from redditlake.errors import RedditLakeError
from redditlake.lake import Lake
from redditlake.config import DataQualitySettings
from redditlake.quality import anomalies, catalog, integrity, results
from redditlake.quality.batch import Batch
from redditlake.quality.run import check_landed

# Tables whose stored partitions `quality check` validates with their GX suites.
STORED_SUITES = ("posts", "comments", "subreddits")


def _con_with_results(lake: Lake) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for kind in ("validation_runs", "expectation_results"):
        con.register(kind, results.read(lake, kind))
    return con


def status_lines(lake: Lake, target: float) -> list[str]:
    """Latest score per subreddit and table, then the expectations that failed in those runs."""
    con = _con_with_results(lake)
    runs = con.execute(
        """SELECT run_id, subreddit, table_name, score, rows, quarantined, validated_at FROM validation_runs
           QUALIFY row_number() OVER (PARTITION BY subreddit, table_name ORDER BY validated_at DESC) = 1
           ORDER BY subreddit, table_name"""
    ).fetchall()
    if not runs:
        return [f"no quality results in {lake.uri} yet: collect, or run `redditlake quality check`"]
    failed = con.execute(
        """SELECT run_id, expectation, severity, unexpected_count, unexpected_ids FROM expectation_results
           WHERE NOT success ORDER BY run_id, severity, expectation"""
    ).fetchall()
    by_run: dict[str, list[tuple]] = {}
    for row in failed:
        by_run.setdefault(row[0], []).append(row)
    lines = []
    for run_id, sub, table, score, rows, quarantined, at in runs:
        flag = "" if score >= target else f"  BELOW {target}"
        lines.append(
            f"r/{sub} {table}: score {score:.4f}, {rows} rows, {quarantined} quarantined "
            f"({at.astimezone(UTC):%Y-%m-%d %H:%M} UTC){flag}"
        )
        for _, name, severity, count, ids in by_run.get(run_id, []):
            sample = f", e.g. {', '.join(ids[:5])}" if ids else ""
            lines.append(f"  FAILED {name} ({severity}): {count} rows{sample}")
    return lines


def _stored_batches(lake: Lake, subreddits: Sequence[str], since: datetime | None) -> list[Batch]:
    batches = []
    subs = list(subreddits) or sorted(
        {name for t in STORED_SUITES if t in lake.tables() for name in lake.subreddits(t)}
    )
    stored = set(lake.tables())
    for table in STORED_SUITES:
        if table not in stored:
            continue
        for sub in subs:
            rows = lake.read(table, sub)
            if rows.num_rows == 0:
                continue
            if since is not None and "created_utc" in rows.column_names:
                rows = rows.filter(pc.greater_equal(rows.column("created_utc"), since))
            batches.append(Batch(table, sub.lower(), rows.drop_columns(["dt"])))
    return batches


def _thread_gap_lines(lake: Lake, report: integrity.IntegrityReport, dq: DataQualitySettings,
                      now: datetime) -> list[str]:
    """Record the thread-gap metrics, judge them against their history; what they say, in lines."""
    if not report.metrics:
        return []
    wanted = {(m["subreddit_name"], m["table_name"]) for m in report.metrics}
    history = results.recent_metrics(lake, wanted, dq.anomaly_runs, dq.anomaly_lookback_days, now.date())
    found = anomalies.detect(report.metrics, history, dq, now)
    results.write(lake, "data_quality_metrics", report.metrics)
    results.write(lake, "anomalies", found)
    values = {(m["subreddit_name"], m["metric_name"]): m["metric_value"] for m in report.metrics}
    lines = [
        f"threads r/{sub}: {values[(sub, 'unshown_comments')]:.0f} comments counted in num_comments are in no stored "
        f"tree ({values[(sub, 'unshown_share')]:.1%}; Reddit hides deleted, removed and spam-filtered ones)"
        for sub, name in values if name == "unshown_share"
    ]
    lines += [f"warn anomaly r/{a['subreddit']} {a['metric_name']} {a['value']:.4f}: median {a['median']:.4f} of "
              f"{a['history_runs']} checks, robust z {a['robust_z']:.1f}" for a in found]
    return lines


def check(settings: Settings, lake: Lake, subreddits: Sequence[str], since_text: str | None,
          suites: bool = True) -> tuple[int, list[str]]:
    """Integrity over the lake (+ the GX suites over stored partitions); (exit code, lines)."""
    try:
        since = integrity.parse_since(since_text)
        report = integrity.check(lake, settings.data_quality, subreddits, since)
    except ValueError as exc:
        raise RedditLakeError(str(exc)) from None
    now = datetime.now(UTC)
    results.write(lake, "integrity_findings", report.rows(now))
    gaps = _thread_gap_lines(lake, report, settings.data_quality, now)
    lines = []
    by_check: dict[str, list[integrity.Finding]] = {}
    for f in report.findings:
        by_check.setdefault(f.check, []).append(f)
    for name, found in sorted(by_check.items(), key=lambda kv: (kv[0] not in integrity.BLOCKING, kv[0])):
        blocking = name in integrity.BLOCKING
        shown = found if blocking else found[:10]
        for f in shown:
            where = f"post {f.post_id}" + (f" comment {f.item_id}" if f.item_id and f.item_id != f.post_id else "")
            lines.append(f"{'FAIL' if blocking else 'warn'} {name} r/{f.subreddit} {where}: {f.detail}")
        if len(found) > len(shown):
            lines.append(f"warn {name}: {len(found) - len(shown)} more")
    lines += gaps
    if suites:
        quality = check_landed(lake, _stored_batches(lake, subreddits, now - since if since else None),
                               settings.data_quality, job="check", now=now)
        for b in quality.batches:
            failed = ", ".join(f"{o.name} ({o.unexpected_count})" for o in b.failed) or "all expectations met"
            lines.append(f"suite r/{b.run['subreddit']} {b.run['table_name']}: score {b.run['score']:.4f}; {failed}")
    if lake.location.is_local:
        catalog.build(lake, catalog.catalog_path(lake, settings.data_quality.catalog))
    blocking = report.blocking
    posts = sorted({f.post_id for f in blocking if f.post_id})
    if blocking:
        lines.append(
            f"quality check: {len(blocking)} blocking finding(s) in {len(posts)} post(s): {', '.join(posts[:50])}"
        )
        return 1, lines
    lines.append(f"quality check: {len(report.checked)} checks, no blocking findings ({len(report.findings)} warnings)")
    return 0, lines


def build_catalog(settings: Settings, lake: Lake, output: str | None) -> Path:
    return catalog.build(lake, output or catalog.catalog_path(lake, settings.data_quality.catalog))

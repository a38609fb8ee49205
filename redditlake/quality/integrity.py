"""Completeness and integrity across tables, over the whole lake (``redditlake quality check``).

Each check is one DuckDB query over the lake's views and yields findings
(check, subreddit, post id, item id, detail, value). ``BLOCKING`` checks make
``quality check`` exit 1: a cut thread (``threads.is_cut``: its fetch gave up
on stubs or did not finish), a tree that never landed (a post with comments and
no ``comment_fetches`` marker), a comment whose post or parent is not stored,
an id stored twice. The others are reported and recorded.

Thread completeness is judged by what the fetch knew, never by ``num_comments``:
Reddit counts comments its trees never show. How far stored threads fall short
of the count is a metric per subreddit (``thread_gaps``) with its history and
anomalies, not a finding.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from redditlake.config import DataQualitySettings
from redditlake.lake import Lake
from redditlake.lake.names import subreddit_partition
from redditlake.quality import threads

BLOCKING = ("cut_thread", "tree_missing", "orphan_comment", "broken_parent", "duplicate_id")
# The thread-gap metrics' table in data_quality_metrics (and so the anomaly baseline's key).
GAP_TABLE = "threads"


@dataclass
class Finding:
    check: str
    subreddit: str
    post_id: str | None
    item_id: str | None
    detail: str
    value: float | None = None


@dataclass
class IntegrityReport:
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # data_quality_metrics rows
    check_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.check in BLOCKING]

    def rows(self, now: datetime) -> list[dict[str, Any]]:
        return [
            {"check_id": self.check_id, "check": f.check, "subreddit": f.subreddit, "post_id": f.post_id,
             "item_id": f.item_id, "detail": f.detail, "value": f.value, "checked_at": now}
            for f in self.findings
        ]


def parse_since(text: str | None) -> timedelta | None:
    """``7d``, ``12h``, ``30m`` → a timedelta (None for no limit)."""
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text)
    if not m:
        raise ValueError(f"--since {text!r} is not a duration like 7d, 12h or 30m")
    n, unit = int(m.group(1)), m.group(2)
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


def _filters(subs: list[str], since: datetime | None, alias: str) -> str:
    parts = []
    if subs:
        parts.append(f"{alias}.subreddit IN ({', '.join(repr(s) for s in subs)})")
    if since is not None:
        parts.append(f"{alias}.created_utc >= TIMESTAMPTZ '{since.isoformat()}'")
    return (" AND " + " AND ".join(parts)) if parts else ""


def _stored_posts(p: str) -> str:
    """SQL: ids of the stored posts the check covers (``p``: the posts filter)."""
    return f"(SELECT id FROM posts p WHERE true {p})"


def _queries(has: set[str], subs: list[str], since: datetime | None, dq: DataQualitySettings,
             marker_columns: set[str]) -> dict[str, str]:
    p, c = _filters(subs, since, "p"), _filters(subs, since, "c")
    q: dict[str, str] = {}
    if {"posts", "comment_fetches"} <= has:
        q["cut_thread"] = f"""
            SELECT m.subreddit, m.post_id, NULL, {threads.cut_detail_sql("m")}, m.unexpandable
            FROM {threads.latest_markers(marker_columns)} m
            WHERE {threads.cut_sql("m")} AND m.post_id IN {_stored_posts(p)} ORDER BY 1, 2"""
        q["tree_missing"] = f"""
            SELECT p.subreddit, p.id, NULL, 'num_comments ' || p.num_comments || ', no comment tree landed',
                   p.num_comments
            FROM posts p WHERE p.num_comments > 0 {p}
              AND p.id NOT IN (SELECT post_id FROM comment_fetches) ORDER BY 1, 2"""
    if {"posts", "comments"} <= has:
        q["orphan_comment"] = f"""
            SELECT c.subreddit, substr(c.link_id, 4), c.id, 'post ' || c.link_id || ' is not stored', NULL
            FROM comments c WHERE substr(c.link_id, 4) NOT IN (SELECT id FROM posts) {c} ORDER BY 1, 2, 3"""
    if "comments" in has:
        q["broken_parent"] = f"""
            SELECT c.subreddit, substr(c.link_id, 4), c.id, 'parent ' || c.parent_id || ' is not stored', NULL
            FROM comments c WHERE c.parent_id LIKE 't1_%'
              AND substr(c.parent_id, 4) NOT IN (SELECT id FROM comments) {c} ORDER BY 1, 2, 3"""
        q["depth_inconsistent"] = f"""
            SELECT c.subreddit, substr(c.link_id, 4), c.id,
                   'depth ' || c.depth || ', parent depth ' || coalesce(CAST(pc.depth AS VARCHAR), 'post'), c.depth
            FROM comments c LEFT JOIN comments pc ON c.parent_id = 't1_' || pc.id
            WHERE ((c.parent_id LIKE 't3_%' AND c.depth <> 0) OR (pc.id IS NOT NULL AND c.depth <> pc.depth + 1)) {c}
            ORDER BY 1, 2, 3"""
    for table in ("posts", "comments", "subreddits"):
        if table in has:
            f = _filters(subs, None, "t")
            post = "id" if table == "posts" else ("substr(any_value(link_id), 4)" if table == "comments" else "NULL")
            q[f"duplicate_id:{table}"] = f"""
                SELECT any_value(subreddit), {post}, id, '{table}: id stored ' || count(*) || ' times', count(*)
                FROM {table} t WHERE true {f} GROUP BY id HAVING count(*) > 1 ORDER BY 1, 3"""
    if "posts" in has:
        q["near_duplicate_post"] = f"""
            SELECT a.subreddit, a.id, b.id, 'same author as ' || b.id || ', title similarity '
                   || round(jaro_winkler_similarity(lower(a.title), lower(b.title)), 3),
                   jaro_winkler_similarity(lower(a.title), lower(b.title))
            FROM posts a JOIN posts b ON a.author = b.author AND a.subreddit = b.subreddit
              -- the later post is the duplicate (ids are not ordered by time; one only breaks a same-second tie)
              AND (a.created_utc > b.created_utc OR (a.created_utc = b.created_utc AND a.id > b.id))
            WHERE a.author NOT IN ('[deleted]', 'AutoModerator') AND a.title <> '[deleted]'
              AND jaro_winkler_similarity(lower(a.title), lower(b.title)) >= {dq.duplicate_threshold}
              {_filters(subs, since, "a")} ORDER BY 1, 2"""
        q["partition_date"] = f"""
            SELECT p.subreddit, p.id, NULL, 'dt ' || p.dt || ' but created_utc ' || p.created_utc, NULL
            FROM posts p WHERE CAST(timezone('UTC', p.created_utc) AS DATE) <> p.dt {p} ORDER BY 1, 2"""
        if "subreddits" in has:
            q["partition_subreddit"] = f"""
                SELECT p.subreddit, p.id, NULL, 'subreddit_id ' || p.subreddit_id || ' is not r/' || p.subreddit
                       || ' (' || s.name || ')', NULL
                FROM posts p JOIN (SELECT subreddit, any_value(name) AS name FROM subreddits GROUP BY 1) s
                  USING (subreddit)
                WHERE p.subreddit_id IS NOT NULL AND p.subreddit_id <> s.name {p} ORDER BY 1, 2"""
    if "comments" in has:
        q["partition_date_comments"] = f"""
            SELECT c.subreddit, substr(c.link_id, 4), c.id, 'dt ' || c.dt || ' but created_utc ' || c.created_utc, NULL
            FROM comments c WHERE CAST(timezone('UTC', c.created_utc) AS DATE) <> c.dt {c} ORDER BY 1, 2, 3"""
    return q


def thread_gaps(con: duckdb.DuckDBPyConnection, has: set[str], subs: list[str], since: datetime | None,
                marker_columns: set[str], check_id: str, now: datetime) -> list[dict[str, Any]]:
    """Per subreddit, how far landed trees fall short of the ``num_comments`` their fetch saw:
    ``unshown_comments`` (Σ per thread of num_comments − stored, at least 0) and ``unshown_share``
    (of Σ num_comments). Reddit's hidden comments make it non-zero on healthy data; a jump is
    what the anomaly detector watches for."""
    if not {"posts", "comments", "comment_fetches"} <= has:
        return []
    sub_filter = f"AND m.subreddit IN ({', '.join(repr(s) for s in subs)})" if subs else ""
    rows = con.execute(f"""
        WITH stored AS (SELECT substr(link_id, 4) AS post_id, count(*) AS n FROM comments GROUP BY 1)
        SELECT m.subreddit, sum(m.num_comments), sum(greatest(m.num_comments - coalesce(s.n, 0), 0))
        FROM {threads.latest_markers(marker_columns)} m LEFT JOIN stored s USING (post_id)
        WHERE m.post_id IN {_stored_posts(_filters(subs, since, "p"))} {sub_filter}
        GROUP BY 1 ORDER BY 1""").fetchall()
    out = []
    for sub, counted, unshown in rows:
        values = {"unshown_comments": float(unshown or 0), "unshown_share": float(unshown or 0) / counted if counted else 0.0}
        out += [{"run_id": check_id, "metric_name": name, "metric_value": value, "subreddit_name": sub,
                 "table_name": GAP_TABLE, "calculated_at": now, "flow_run_id": None} for name, value in values.items()]
    return out


def check(
    lake: Lake,
    settings: DataQualitySettings,
    subreddits: Sequence[str] = (),
    since: timedelta | None = None,
    now: datetime | None = None,
) -> IntegrityReport:
    """Run every integrity check over the lake (optionally some subreddits, recent items only)."""
    now = now or datetime.now(UTC)
    subs = [subreddit_partition(s) for s in subreddits]
    con: duckdb.DuckDBPyConnection = lake.duckdb()
    try:
        has = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        marker_columns = {r[0] for r in con.execute("DESCRIBE comment_fetches").fetchall()} if "comment_fetches" in has else set()
        start = now - since if since else None
        report = IntegrityReport()
        report.metrics = thread_gaps(con, has, subs, start, marker_columns, report.check_id, now)
        for name, sql in _queries(has, subs, start, settings, marker_columns).items():
            check_name = name.split(":")[0].removesuffix("_comments")
            report.checked.append(name)
            for sub, post_id, item_id, detail, value in con.execute(sql).fetchall():
                report.findings.append(
                    Finding(check_name, sub, post_id, item_id, detail, None if value is None else float(value))
                )
        return report
    finally:
        con.close()

"""Completeness and integrity across tables, over the whole lake (``redditlake quality check``).

Each check is one DuckDB query over the lake's views and yields findings
(check, subreddit, post id, item id, detail, value). ``BLOCKING`` checks make
``quality check`` exit 1: a thread short of its comments beyond the
tolerance, a tree that never landed, a comment whose post or parent is not
stored, an id stored twice. The others are reported and recorded.

Thread completeness compares the comments stored for a post with the
``num_comments`` Reddit reported when the tree was fetched (the
``comment_fetches`` marker; else the post's own count). Reddit's count
includes some removed comments it does not serve, hence the tolerance
(``data_quality.thread_tolerance``).
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

BLOCKING = ("incomplete_thread", "tree_missing", "orphan_comment", "broken_parent", "duplicate_id")


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

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.check in BLOCKING]

    def rows(self, now: datetime) -> list[dict[str, Any]]:
        check_id = uuid.uuid4().hex
        return [
            {"check_id": check_id, "check": f.check, "subreddit": f.subreddit, "post_id": f.post_id,
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


def _queries(has: set[str], subs: list[str], since: datetime | None, dq: DataQualitySettings) -> dict[str, str]:
    p, c = _filters(subs, since, "p"), _filters(subs, since, "c")
    q: dict[str, str] = {}
    if {"posts", "comments"} <= has:
        marker = (
            "(SELECT post_id, arg_max(num_comments, collected_at) AS n FROM comment_fetches GROUP BY post_id)"
            if "comment_fetches" in has else "(SELECT NULL::VARCHAR AS post_id, NULL::BIGINT AS n WHERE false)"
        )
        q["incomplete_thread"] = f"""
            WITH stored AS (SELECT substr(link_id, 4) AS post_id, count(*) AS n FROM comments GROUP BY 1)
            SELECT p.subreddit, p.id, NULL, 'stored ' || coalesce(s.n, 0) || ' of ' || coalesce(m.n, p.num_comments)
                   || ' comments', coalesce(s.n, 0) / coalesce(m.n, p.num_comments)
            FROM posts p LEFT JOIN stored s ON s.post_id = p.id LEFT JOIN {marker} m ON m.post_id = p.id
            WHERE coalesce(m.n, p.num_comments) > 0 AND m.post_id IS NOT NULL
              AND coalesce(s.n, 0) < coalesce(m.n, p.num_comments) * {1 - dq.thread_tolerance} {p}
            ORDER BY 1, 2"""
        if "comment_fetches" in has:
            q["tree_missing"] = f"""
                SELECT p.subreddit, p.id, NULL, 'num_comments ' || p.num_comments || ', no comment tree landed',
                       p.num_comments
                FROM posts p WHERE p.num_comments > 0 {p}
                  AND p.id NOT IN (SELECT post_id FROM comment_fetches) ORDER BY 1, 2"""
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
        report = IntegrityReport()
        for name, sql in _queries(has, subs, now - since if since else None, settings).items():
            check_name = name.split(":")[0].removesuffix("_comments")
            report.checked.append(name)
            for sub, post_id, item_id, detail, value in con.execute(sql).fetchall():
                report.findings.append(
                    Finding(check_name, sub, post_id, item_id, detail, None if value is None else float(value))
                )
        return report
    finally:
        con.close()

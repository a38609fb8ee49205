"""`redditlake coverage`: per day, what each source contributed and what is known to be missing.

Rows per UTC day of ``created_utc``: posts and comments per source (rows written before the
``source`` column existed count as reddit), cut threads (``quality.threads``: trees whose fetch
gave up on stubs or did not finish; a tree shorter than ``num_comments`` is not one, Reddit
counts comments it never shows), and the coverage gaps (stream listings cut by the
cap, archive seconds that overflowed a page) that touch the day. The gaps themselves follow, with
their exact ranges, and whether a later row of ``backfill_progress`` covered them.

Gaps live in one table, ``coverage_gaps`` (``redditlake.positions``): the stream's listing cuts,
the archive's overflowing seconds, and collect's ``new`` sweeps that reached the listing cap
(``listing_cap_gap``, recorded by the collect flow). An overflowing second (``page_cut``) is
filled only by another source: the same archive cuts the same second again, so its own
positions passing it fill nothing.

A subreddit kept current from an archive (``follow``, no Reddit key) also has ``followed``:
per pass and kind, its position (the newest archived item landed, for the follow pass), how far
that was behind its run (the archive's lag, plus 36 h by design for the settle pass), how far
it is behind now, and the gaps behind it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.compute as pc

from redditlake.lake import Lake
from redditlake.lake.names import subreddit_partition
from redditlake.positions import CoverageGap
from redditlake.quality import threads
from redditlake.quality.coverage import LISTING_CAP
from redditlake.query import QueryResult


def listing_cap_gap(lake: Lake, subreddit: str, sort: str, listing: list[dict[str, Any]], collected_at: datetime,
                    cap: int = LISTING_CAP) -> CoverageGap | None:
    """The range a ``new`` sweep that reached the cap could not see, or None.

    From the newest post stored before the sweep's oldest (the whole history before it, from
    1970, when nothing older is stored) to the sweep's oldest post: Reddit lists no further back,
    so only a backfill can fill it. Call before the sweep's posts land (they are not "before").
    """
    if sort != "new" or len(listing) < cap:
        return None
    oldest = min(float(p["created_utc"]) for p in listing)
    start = _newest_stored_before(lake, subreddit, datetime.fromtimestamp(oldest, UTC))
    return CoverageGap(kind="posts", source="reddit", reason="listing_cap",
                       gap_start=start or datetime.fromtimestamp(0, UTC),
                       gap_end=datetime.fromtimestamp(int(oldest) + 1, UTC), collected_at=collected_at)


def _newest_stored_before(lake: Lake, subreddit: str, when: datetime) -> datetime | None:
    """Reads a day partition or two (newest days first), never the whole history."""
    for day in reversed([d for d in lake.days("posts", subreddit) if d <= when.date()]):
        stored = lake.latest("posts", subreddit, ["created_utc"], dts=[day])
        older = stored.filter(pc.less(stored.column("created_utc"), when)) if stored.num_rows else stored
        if older.num_rows:
            return pc.max(older.column("created_utc")).as_py()
    return None


def _views(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}


def coverage(lake: Lake, subreddit: str, since: datetime | None = None) -> tuple[QueryResult, QueryResult]:
    """(per-day table, gap list) for one subreddit."""
    sub = subreddit_partition(subreddit)  # validated: safe to inline as a literal
    after = f"created_utc >= TIMESTAMPTZ '{since.isoformat()}'" if since else "true"
    none = "SELECT NULL::DATE AS day, NULL::VARCHAR AS src, 0 AS n WHERE false"
    con = lake.duckdb()
    try:
        views = _views(con)

        def counts(table: str) -> str:
            if table not in views:
                return none
            return (f"SELECT CAST(created_utc AS DATE) AS day, coalesce(source, 'reddit') AS src, count(*) AS n "
                    f"FROM {table} WHERE subreddit = '{sub}' AND {after} GROUP BY ALL")

        cut = "SELECT NULL::DATE AS day, 0 AS cut_threads WHERE false"
        if {"posts", "comment_fetches"} <= views:
            columns = {r[0] for r in con.execute("DESCRIBE comment_fetches").fetchall()}
            cut = (f"SELECT CAST(p.created_utc AS DATE) AS day, count(*) AS cut_threads FROM posts p "
                   f"JOIN {threads.latest_markers(columns)} m ON m.post_id = p.id "
                   f"WHERE p.subreddit = '{sub}' AND {after.replace('created_utc', 'p.created_utc')} "
                   f"AND {threads.cut_sql('m')} GROUP BY 1")
        gaps_by_day = "SELECT NULL::DATE AS day, 0 AS gaps WHERE false"
        if "coverage_gaps" in views:
            gaps_by_day = (f"SELECT d.day, count(*) AS gaps FROM days d JOIN coverage_gaps g ON g.subreddit = '{sub}' "
                           "AND CAST(g.gap_start AS DATE) <= d.day AND d.day <= CAST(g.gap_end AS DATE) GROUP BY 1")
        sql = f"""
            WITH p AS ({counts('posts')}), c AS ({counts('comments')}), s AS ({cut}),
            days AS (SELECT day FROM p UNION SELECT day FROM c), g AS ({gaps_by_day})
            SELECT days.day,
                   coalesce((SELECT string_agg(src || '=' || n, ' ' ORDER BY src) FROM p WHERE p.day = days.day), '') AS posts,
                   coalesce((SELECT string_agg(src || '=' || n, ' ' ORDER BY src) FROM c WHERE c.day = days.day), '') AS comments,
                   coalesce((SELECT cut_threads FROM s WHERE s.day = days.day), 0) AS cut_threads,
                   coalesce((SELECT gaps FROM g WHERE g.day = days.day), 0) AS gaps
            FROM days ORDER BY days.day
        """
        cur = con.execute(sql)
        per_day = QueryResult([d[0] for d in cur.description], cur.fetchall())
        columns = ["kind", "source", "reason", "gap_start", "gap_end", "backfilled"]
        gaps = QueryResult(columns, [])
        if "coverage_gaps" in views:
            filled = ("EXISTS (SELECT 1 FROM backfill_progress b WHERE b.subreddit = g.subreddit "
                      "AND (b.kind = g.kind OR b.kind = 'all') AND b.since_utc <= g.gap_start "
                      "AND b.position_utc >= g.gap_end AND b.collected_at >= g.collected_at "
                      "AND (g.reason <> 'page_cut' OR b.source <> g.source))"
                      if "backfill_progress" in views else "false")
            gap_after = f"gap_end >= TIMESTAMPTZ '{since.isoformat()}'" if since else "true"
            # DISTINCT: a follow's follow and settle passes both record a second they could not split.
            cur = con.execute(
                f"SELECT DISTINCT {', '.join(columns[:-1])}, {filled} AS backfilled FROM coverage_gaps g "
                f"WHERE subreddit = '{sub}' AND {gap_after} ORDER BY gap_start, kind, source")
            gaps = QueryResult(columns, cur.fetchall())
        return per_day, gaps
    finally:
        con.close()


FOLLOW_COLUMNS = ["pass", "source", "kind", "position", "newest_item", "last_run", "lag_at_run", "lag_now", "gaps"]


def _span(delta: timedelta) -> str:
    return str(timedelta(seconds=int(delta.total_seconds())))


def followed(lake: Lake, subreddit: str, now: datetime) -> QueryResult | None:
    """The follow's passes (see the module doc); None for a subreddit no follow ran on.

    ``position``: the pass's position (all before it asked for). ``newest_item``: the newest
    item of the kind landed from the source (the follow pass's rows). The lags are those of
    ``newest_item`` for the follow pass, of ``position`` for the settle pass (36 h by design),
    at the pass's last run and now. ``gaps``: seconds recorded as gaps behind the position."""
    sub = subreddit_partition(subreddit)
    con = lake.duckdb()
    try:
        views = _views(con)
        if "backfill_progress" not in views:
            return None
        gaps = "0"
        if "coverage_gaps" in views:
            gaps = ("(SELECT count(DISTINCT (g.gap_start, g.gap_end)) FROM coverage_gaps g WHERE g.subreddit = f.subreddit "
                    "AND g.source = f.source AND g.kind = f.kind AND g.gap_end <= f.position)")
        newest = " UNION ALL ".join(
            f"SELECT '{t}' AS kind, source, max(created_utc) AS newest FROM {t} WHERE subreddit = '{sub}' GROUP BY ALL"
            for t in ("posts", "comments") if t in views) or "SELECT NULL AS kind, NULL AS source, NULL AS newest"
        # Positions are the latest row per job; a follow's jobs are named pass:source:kind.
        rows = con.execute(f"""
            WITH f AS (
                SELECT subreddit, split_part(job, ':', 1) AS pass, source, kind,
                       arg_max(position_utc, collected_at) AS position, max(collected_at) AS last_run
                FROM backfill_progress
                WHERE subreddit = '{sub}' AND (job LIKE 'follow:%' OR job LIKE 'settle:%')
                GROUP BY ALL),
            n AS ({newest})
            SELECT f.pass, f.source, f.kind, f.position, n.newest, f.last_run, {gaps} AS gaps
            FROM f LEFT JOIN n ON n.kind = f.kind AND n.source = f.source
            ORDER BY f.pass, f.source, f.kind
        """).fetchall()
    finally:
        con.close()
    if not rows:
        return None
    result = []
    for phase, source, kind, position, newest, last_run, gaps in rows:
        newest = newest if phase == "follow" else None
        behind = newest or position
        result.append((phase, source, kind, position, newest, last_run.replace(microsecond=0),
                       _span(last_run - behind), _span(now - behind), gaps))
    return QueryResult(FOLLOW_COLUMNS, result)

"""When a stored comment thread is cut: the one rule, judged by what the fetch knew.

Reddit's ``num_comments`` counts comments no tree shows (deleted ones without replies,
removed, spam-filtered): a complete tree is often shorter than the count, so the count says
nothing about loss. The fetch does know: a tree is cut when its fetch gave up on stubs the API
never expanded (``unexpandable`` in its ``comment_fetches`` marker) or did not finish
(``complete`` false). The collect summary, ``quality check`` and ``redditlake coverage`` all
judge by this rule; the gap between ``num_comments`` and what is stored is tracked as the
``unshown_share`` metric (``integrity.thread_gaps``), never as a failure.
"""

from __future__ import annotations

# The marker's columns this rule reads, and their value in rows written before a column existed.
MARKER_COLUMNS = {"unexpandable": "0::BIGINT", "complete": "NULL::BOOLEAN"}


def is_cut(unexpandable: int, complete: bool | None) -> bool:
    """A landed tree whose fetch gave up on stubs, or did not finish. ``complete`` None: a
    marker from before the flag existed, judged by its stubs alone."""
    return unexpandable > 0 or complete is False


def latest_markers(columns: set[str]) -> str:
    """SQL: the latest ``comment_fetches`` marker of each post (``columns``: those the view has)."""
    picked = ", ".join(name if name in columns else f"{default} AS {name}" for name, default in MARKER_COLUMNS.items())
    return (f"(SELECT subreddit, post_id, num_comments, comments, {picked} FROM comment_fetches "
            "QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY collected_at DESC) = 1)")


def cut_sql(alias: str) -> str:
    """SQL condition of ``is_cut`` over a row of ``latest_markers`` named ``alias``."""
    return f"(coalesce({alias}.unexpandable, 0) > 0 OR {alias}.complete IS false)"


def cut_detail_sql(alias: str) -> str:
    """SQL: why the tree of a ``latest_markers`` row is cut, in words."""
    return (f"CASE WHEN coalesce({alias}.unexpandable, 0) > 0 THEN 'tree landed without ' || {alias}.unexpandable "
            f"|| ' stub(s) the API never expanded (given up): their comments are missing' "
            f"ELSE 'tree fetch did not finish: comments are missing' END")

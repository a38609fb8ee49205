"""Deletion compliance: what users deleted on Reddit is deleted from the lake, and nothing else.

Reddit's terms require removing content its authors deleted (title, body,
URLs) and the identity of deleted accounts. ``/api/info`` answers for 100
fullnames a request, so re-checking what the lake holds is cheap enough to run
on a schedule. Rows are redacted in place, not dropped: the id stays, so the
next collection does not store the post again, and ``deletions`` records what
was done and why. Ids whose content is redacted already are not asked about
again; an item whose only redaction so far is its author's identity (the
account was deleted, ``scope`` author) is, so that a later removal of its
content is still seen. A deleted account's name also leaves quarantine and the
quality results (``copies``).

Redaction needs evidence: Reddit shows the item deleted or removed. An item
``/api/info`` does not return is *unavailable*, which is not evidence: Reddit
leaves out everything of a subreddit that went private, quarantined or
banned, and an answer can be short for other reasons. Unavailable items are
kept, recorded in ``unavailable`` (one row per refresh that missed them), and
redacted only by the configured policy (``compliance:`` settings), per reason,
once they stayed unavailable for enough refreshes and days. Each refresh ends
with a marker in ``refreshes``; a run of misses ("streak") continues only from
the refresh right before, so an item seen again in between starts over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from redditlake.config import ComplianceSettings, RedactAfter
from redditlake.copies import erase_account_copies
from redditlake.errors import SubredditUnavailable
from redditlake.lake import Lake
from redditlake.outcome import Outcome
from redditlake.models import (
    AUTHOR_REDACTIONS,
    CONTENT_REDACTIONS,
    TIMESTAMP,
    Deletion,
    PostMetric,
    Refresh,
    Unavailable,
    User,
    parse_batch,
)
from redditlake.reddit.budget import Priority, request_priority
from redditlake.reddit.client import RedditClient

PREFIX = {"posts": "t3_", "comments": "t1_"}
PUBLIC = "public"
# Why a subreddit could not be read; also the `unavailable.reason` of all its items ("missing"
# when the subreddit is readable and only some items are not returned).
DARK_STATES = ("private", "quarantined", "banned", "inaccessible")
# `deletions.reason`: the quality catalog counts these apart.
REASONS = {
    "deleted": "the author deleted it (Reddit shows [deleted] or removed_by_category deleted)",
    "removed": "moderators, admins or Reddit's filters removed it (detail: removed_by_category)",
    "account_deleted": "its author deleted their account: only the identity is redacted",
    "policy_after_unavailable": "not returned for longer than the compliance policy allows (detail: why, how long)",
    "user_request": "its author asked for their data to be deleted (`redditlake forget-user`)",
}
USER_REDACTIONS: dict[str, Any] = {"author": "[deleted]", "account_id": None}
_DARK_LINE = re.compile(rf"^r/\S+: ({'|'.join(DARK_STATES)}) — ")


@dataclass
class Verdict:
    id: str
    kind: str
    reason: str  # a key of REASONS
    scope: str  # "content": redact the text; "author": only who wrote it
    detail: str | None = None


@dataclass
class Check:
    """What Reddit showed of a subreddit's stored items in one refresh."""

    posts: list[dict[str, Any]]  # fresh post data, for metrics
    verdicts: list[Verdict]  # redactions on evidence
    missing: dict[str, list[str]]  # kind -> stored ids /api/info did not return
    state: str  # public, or one of DARK_STATES
    checked: int


@dataclass
class RefreshResult:
    subreddit: str
    state: str = PUBLIC
    checked: int = 0
    metrics: int = 0
    redacted: dict[str, int] = field(default_factory=dict)
    unavailable: int = 0  # items not returned this time
    by_policy: int = 0  # of those, redacted by the policy now
    accounts: int = 0  # deleted accounts erased from the lake's copies (quarantine, quality results)
    unusable: int = 0  # post answers whose figures were no numbers: no metrics row for them

    @property
    def kept(self) -> int:
        return self.unavailable - self.by_policy

    @property
    def must_act(self) -> bool:
        """A subreddit that cannot be read needs an operator: wait, ask, or drop it from the run."""
        return self.state != PUBLIC

    def outcome(self) -> Outcome:
        subject = f"r/{self.subreddit}"
        policy = f"; {self.by_policy:,} redacted by the unavailable policy" if self.by_policy else ""
        if self.must_act:
            return Outcome(subject, must_act=True, items=self.checked,
                           detail=f"{self.state} — {self.kept:,} items unavailable, kept{policy}")
        red = ", ".join(f"{n} {k}" for k, n in self.redacted.items() if n) or "nothing"
        missing = f"; {self.kept:,} items unavailable (missing), kept" if self.kept else ""
        odd = f"; {self.unusable:,} post answers with unusable figures skipped" if self.unusable else ""
        return Outcome(subject, items=self.checked,
                       detail=f"{self.checked} items checked, {self.metrics} post metrics, redacted {red}{missing}{policy}{odd}")

    def line(self) -> str:
        return self.outcome().line()


def operator_must_act(line: str) -> bool:
    """Does a refresh line (``RefreshResult.line``) report a subreddit that could not be read?"""
    return bool(_DARK_LINE.match(line))


def judge(kind: str, data: dict[str, Any]) -> Verdict | None:
    """Is this thing, as Reddit shows it now, deleted or removed? Only what Reddit shows counts."""
    text = data.get("selftext" if kind == "posts" else "body")
    category = data.get("removed_by_category")
    if category == "deleted" or (text == "[deleted]" and not category):
        return Verdict(data["id"], kind, "deleted", "content", category)
    if category or text == "[removed]":
        return Verdict(data["id"], kind, "removed", "content", category or "[removed]")
    if data.get("author") == "[deleted]":
        return Verdict(data["id"], kind, "account_deleted", "author")
    return None


async def subreddit_state(client: RedditClient, subreddit: str) -> str:
    """``public`` when ``about`` answers, else why not (one request)."""
    try:
        await client.about(subreddit)
    except SubredditUnavailable as exc:
        return exc.code if exc.code in DARK_STATES else "inaccessible"
    return PUBLIC


async def check(client: RedditClient, lake: Lake, subreddit: str) -> Check:
    """Ask Reddit about every stored post and comment whose content is not yet redacted; ask why
    when some are missing."""
    done, author_only = redacted_ids(lake, subreddit)
    stored = {kind: sorted(lake.existing_ids(kind, subreddit) - done) for kind in PREFIX}
    fullnames = [PREFIX[kind] + i for kind, ids in stored.items() for i in ids]
    with request_priority(Priority.BACKFILL):
        things = await client.info(fullnames)
    seen: dict[str, dict[str, Any]] = {t["data"]["name"]: t["data"] for t in things if t.get("data", {}).get("name")}
    posts, verdicts = [], []
    missing: dict[str, list[str]] = {kind: [] for kind in PREFIX}
    for kind, ids in stored.items():
        for i in ids:
            data = seen.get(PREFIX[kind] + i)
            if data is None:
                missing[kind].append(i)
                continue
            if kind == "posts":
                posts.append(data)
            verdict = judge(kind, data)
            if verdict and not (verdict.scope == "author" and i in author_only):  # that much is done
                verdicts.append(verdict)
    state = PUBLIC
    if any(missing.values()):
        with request_priority(Priority.BACKFILL):
            state = await subreddit_state(client, subreddit)
    return Check(posts, verdicts, missing, state, len(fullnames))


def redacted_ids(lake: Lake, subreddit: str) -> tuple[set[str], set[str]]:
    """(ids whose content is redacted, ids of which only the author is) per ``deletions``."""
    rows = lake.read(Deletion.table, subreddit)
    if rows.num_rows == 0:
        return set(), set()
    content, author = set(), set()
    for i, scope in zip(rows.column("id").to_pylist(), rows.column("scope").to_pylist()):
        (author if scope == "author" else content).add(i)
    return content, author - content


def last_refresh(lake: Lake, subreddit: str) -> datetime | None:
    """When the latest complete refresh of this subreddit ran (its marker), if any."""
    markers = lake.read(Refresh.table, subreddit)
    if markers.num_rows == 0:
        return None
    return pc.max(markers.column("collected_at")).as_py()


def sightings(lake: Lake, subreddit: str, missing: dict[str, list[str]], state: str, now: datetime) -> list[Unavailable]:
    """This refresh's rows for ``unavailable``, continuing each item's streak from the refresh before."""
    reason = "missing" if state == PUBLIC else state
    previous = last_refresh(lake, subreddit)
    prior: dict[str, tuple[str, datetime, int]] = {}
    if previous is not None and any(missing.values()):
        rows = lake.read(Unavailable.table, subreddit)
        if rows.num_rows:
            rows = rows.filter(pc.equal(rows.column("seen_at"), pa.scalar(previous, TIMESTAMP)))
            for row in rows.select(["id", "reason", "since", "streak"]).to_pylist():
                prior[row["id"]] = (row["reason"], row["since"], row["streak"])
    out = []
    for kind, ids in missing.items():
        for i in ids:
            before = prior.get(i)
            since, streak = (before[1], before[2] + 1) if before and before[0] == reason else (now, 1)
            out.append(Unavailable(id=i, kind=kind, reason=reason, seen_at=now, since=since, streak=streak))
    return out


def policy_verdicts(policy: ComplianceSettings, rows: list[Unavailable], now: datetime) -> list[Verdict]:
    """Unavailable items the policy says to redact now."""
    verdicts = []
    for row in rows:
        rule: RedactAfter | None = getattr(policy, row.reason)
        if rule is None or row.streak < rule.refreshes or now - row.since < timedelta(days=rule.days):
            continue
        days = (now - row.since).total_seconds() / 86400
        detail = f"{row.reason}: {row.streak} refreshes over {days:.1f} days"
        verdicts.append(Verdict(row.id, row.kind, "policy_after_unavailable", "content", detail))
    return verdicts


def deleted_accounts(lake: Lake, subreddit: str, verdicts: list[Verdict]) -> dict[str, Verdict]:
    """Stored author name -> an item that now shows it as ``[deleted]``; read before the items are redacted."""
    by_author: dict[str, Verdict] = {}
    for kind in PREFIX:
        ids = {v.id for v in verdicts if v.kind == kind and v.reason == "account_deleted"}
        if not ids:
            continue
        for row in lake.latest(kind, subreddit, ["id", "author"]).to_pylist():
            if row["id"] in ids and row["author"] and row["author"] != "[deleted]":
                by_author.setdefault(row["author"], Verdict(row["id"], kind, "account_deleted", "author"))
    return by_author


def redact_users(lake: Lake, subreddit: str, by_author: dict[str, Verdict], now: datetime) -> list[Deletion]:
    """Deleted accounts: their profile rows in ``users`` lose name and t2 id, like their posts and comments.

    The ``deletions`` row names the item that showed the account deleted, never the account.
    """
    if not by_author:
        return []
    result = lake.redact(User.table, subreddit, set(by_author), USER_REDACTIONS, key="author")
    return [
        Deletion(id=by_author[a].id, kind=User.table, reason="account_deleted", scope="author", collected_at=now)
        for a in sorted(result.redacted)
    ]


def purge(lake: Lake, tables: Iterable[str]) -> datetime:
    """Delete from storage the files the redactions replaced (the old values' only copies in the
    lake), at once; returns when that was done, for ``deletions.purged_at``."""
    for table in sorted(set(tables)):
        lake.purge(table)
    return datetime.now(UTC)


def apply(lake: Lake, subreddit: str, seen: Check, policy: ComplianceSettings, now: datetime) -> RefreshResult:
    """Land fresh metrics and sightings, redact on evidence and by policy, then record it all.

    Order: metrics and ``unavailable`` rows, the redactions, ``deletions`` (after the data they
    describe), and last the ``refreshes`` marker. A crash before the marker only shortens streaks
    (the next refresh does not continue from this one), so the policy can only redact later.
    """
    result = RefreshResult(subreddit, state=seen.state, checked=seen.checked)
    if seen.posts:
        # A figure that is no number (an odd answer) skips that snapshot, not the subreddit's refresh.
        metrics = parse_batch(PostMetric, seen.posts, now)
        if metrics.rows.num_rows:
            lake.append(PostMetric.table, subreddit, metrics.rows)
        result.metrics, result.unusable = metrics.rows.num_rows, metrics.quarantined.num_rows
    unavailable = sightings(lake, subreddit, seen.missing, seen.state, now)
    if unavailable:
        lake.append(Unavailable.table, subreddit, Unavailable.to_arrow(unavailable), dt_column="seen_at")
    by_policy = policy_verdicts(policy, unavailable, now)
    verdicts = seen.verdicts + by_policy
    result.unavailable, result.by_policy = len(unavailable), len(by_policy)
    accounts = deleted_accounts(lake, subreddit, seen.verdicts)
    redacted: set[str] = set()
    for kind in PREFIX:
        for scope, values in (("content", CONTENT_REDACTIONS[kind]), ("author", AUTHOR_REDACTIONS)):
            ids = {v.id for v in verdicts if v.kind == kind and v.scope == scope}
            if ids:
                lake.redact(kind, subreddit, ids, values)
                redacted.add(kind)
        result.redacted[kind] = sum(1 for v in verdicts if v.kind == kind)
    deletions = [
        Deletion(id=v.id, kind=v.kind, reason=v.reason, scope=v.scope, collected_at=now, detail=v.detail)
        for v in verdicts
    ]
    deletions += redact_users(lake, subreddit, accounts, now)
    redacted |= {d.kind for d in deletions if d.kind == User.table}
    result.accounts = len(accounts)
    erase_account_copies(lake, accounts)  # the flow rebuilds the catalog
    result.redacted[User.table] = sum(1 for d in deletions if d.kind == User.table)
    if deletions:
        purged_at = purge(lake, redacted)
        lake.append(Deletion.table, subreddit, Deletion.to_arrow(
            d.model_copy(update={"purged_at": purged_at}) for d in deletions
        ))
    marker = Refresh(
        collected_at=now, state=seen.state, checked=seen.checked, unavailable=len(unavailable), redacted=len(verdicts)
    )
    lake.append(Refresh.table, subreddit, Refresh.to_arrow([marker]))
    return result

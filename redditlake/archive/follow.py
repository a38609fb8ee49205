"""Keeping a subreddit current from an archive, without a Reddit key.

Each run makes two passes per kind, each a ``backfill_search`` job whose position lives in the
lake (``backfill_progress``, the latest row per job): there is no state outside the lake.

* follow: what was created since the follow position, up to ``now``: the archive's first
  retrieval, minutes after creation. Rows land with their ``source`` through the same landing
  (validation, quarantine, pseudonyms, quality recording) as every collection.
* settle: what was created since the settle position, up to ``settle`` (36 h) before ``now``,
  asked again: by then the archive retrieved it a second time, with final scores and removals.
  Posts' final scores go to ``post_metrics``; what shows deleted or removed is redacted through
  the compliance path ``refresh`` uses (``compliance.apply``: redactions, then ``deletions``
  rows); items the follow pass missed (archived late) land here.

The first run of a subreddit starts ``start`` back; later runs go on from the lake's positions,
however long they stopped. Positions are times, never ids (ids are not ordered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redditlake import compliance
from redditlake.archive.client import COMMENTS, POSTS, ArchiveClient
from redditlake.archive.search import BackfillResult, backfill_search
from redditlake.config import ComplianceSettings
from redditlake.landing import Landing
from redditlake.models import Deletion
from redditlake.positions import BackfillProgress, latest

SETTLE = timedelta(hours=36)  # Arctic Shift's second retrieval, with final scores and removals
FOLLOW, SETTLED = "follow", "settle"


def job(phase: str, source: str, kind: str) -> str:
    return f"{phase}:{source}:{kind}"


def position(landing: Landing, subreddit: str, key: str) -> datetime | None:
    row = latest(landing.lake, BackfillProgress, subreddit, "job").get(key)
    return row["position_utc"] if row else None


@dataclass
class FollowResult:
    subreddit: str
    source: str
    passes: list[BackfillResult] = field(default_factory=list)
    redacted: int = 0

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.passes)

    def lines(self) -> list[str]:
        return [p.line() for p in self.passes] + [f"r/{self.subreddit} {self.source}: {self.redacted} settled items "
                                                  f"redacted (deleted or removed)"]


async def follow_archive(
    client: ArchiveClient, landing: Landing, subreddit: str, now: datetime, *, start: datetime,
    comments: bool = True, settle: timedelta = SETTLE, policy: ComplianceSettings | None = None,
    window_days: float = 7.0, batch_rows: int = 5_000,
) -> FollowResult:
    source, result = client.source, FollowResult(subreddit, client.source)
    kinds = (POSTS, COMMENTS) if comments else (POSTS,)
    for phase, until in ((FOLLOW, now), (SETTLED, now - settle)):
        for kind in kinds:
            key = job(phase, source, kind)
            since = position(landing, subreddit, key) or start
            if since >= until:
                continue
            on_landed = None
            if phase == SETTLED:
                def on_landed(items: list[dict], kind: str = kind) -> None:
                    result.redacted += settle_batch(landing, subreddit, kind, items, policy or ComplianceSettings(), now)
            passed = await backfill_search(client, landing, subreddit, kind, since, until, window_days=window_days,
                                           batch_rows=batch_rows, job=key, on_landed=on_landed,
                                           trailing=phase == FOLLOW)
            passed.kind = f"{kind} ({phase})"
            result.passes.append(passed)
    return result


def settle_batch(landing: Landing, subreddit: str, kind: str, items: list[dict], policy: ComplianceSettings,
                 now: datetime) -> int:
    """Final scores and removals of settled items, as ``refresh`` lands them. Returns redactions."""
    lake = landing.lake
    done = set(lake.latest(Deletion.table, subreddit, ["id"], key="id").column("id").to_pylist())
    verdicts = [v for item in items if (v := compliance.judge(kind, item)) is not None and v.id not in done]
    seen = compliance.Check(posts=items if kind == POSTS else [], verdicts=verdicts,
                            missing={k: [] for k in compliance.PREFIX}, state=compliance.PUBLIC, checked=len(items))
    compliance.apply(lake, subreddit, seen, policy, now)
    return len(verdicts)

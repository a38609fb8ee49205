"""The ``quarantine`` table records a bad item once: keyed by (table, id, reason).

The same bad post comes back on every run that sees it (hot for days, a thread
re-fetched because it grew), and the batch's score counts it each time, but the
table keeps its first sighting only. Which rows are stored already is read from
the subreddit's quarantine partitions (``dt`` = day of the sighting) that could
hold an earlier sighting: none can predate the item's ``created_utc``, so the
read spans from the oldest bad item's creation day (at most
``data_quality.quarantine_lookback_days`` back; items without a usable
``created_utc`` use that bound) to today, and reads only the key columns. A
sighting older than the lookback is recorded again: a bounded read wins over
remembering forever. Items without an id are keyed by their raw JSON instead.
The check and the append are one conflict-checked commit (a MERGE over those
days), so two concurrent runs cannot both store one.

``forget_accounts`` drops the raw JSON of an account's quarantined items (its
name and its text are in it) when the account is forgotten or deleted: the
row, its table, id and reason stay, so counts and the dedup above hold.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from redditlake.lake import Lake, WriteResult
from redditlake.lake.names import subreddit_partition
from redditlake.models import QUARANTINE_TABLE

# A stored row is the same sighting: same table, reason and id, or, without an id, the same raw JSON.
_SAME_ITEM = ("t.table_name = s.table_name AND t.reason = s.reason AND "
              "(t.id = s.id OR (t.id IS NULL AND s.id IS NULL AND t.raw = s.raw))")
# The JSON fields that name the account a quarantined thing belongs to (a profile's is ``name``).
ACCOUNT_FIELDS = {"users": ("name", "author")}
_ITEM_ACCOUNT_FIELDS = ("author",)
_FIRST_DAY = dt.date(2005, 6, 1)  # Reddit's first day: an earlier created_utc is unusable


def land(lake: Lake, subreddit: str, rows: pa.Table, lookback_days: int) -> WriteResult:
    """Append the rows of ``rows`` whose (table_name, id, reason) is not stored yet."""
    part = subreddit_partition(subreddit)
    if rows.num_rows == 0:
        return WriteResult(QUARANTINE_TABLE, part, 0, 0, 0)
    rows = _unique(rows)
    result = lake.insert_missing(QUARANTINE_TABLE, part, rows, _SAME_ITEM, dt_column="collected_at",
                                 look_in=_days(lake, part, rows, lookback_days))
    return WriteResult(QUARANTINE_TABLE, part, rows.num_rows, result.written, rows.num_rows - result.written)


def _keys(rows: pa.Table) -> list[tuple]:
    ids = rows.column("id").to_pylist()
    raws = rows.column("raw").to_pylist() if None in ids else [None] * len(ids)
    return [
        (t, i, r) if i is not None else (t, None, r, raw)
        for t, i, r, raw in zip(rows.column("table_name").to_pylist(), ids, rows.column("reason").to_pylist(), raws)
    ]


def _unique(rows: pa.Table) -> pa.Table:
    """One row per key within the batch (the first)."""
    seen: set[tuple] = set()
    keep = []
    for k in _keys(rows):
        keep.append(k not in seen)
        seen.add(k)
    return rows if all(keep) else rows.filter(pa.array(keep, pa.bool_()))


def _created_day(raw: str | None) -> dt.date | None:
    try:
        created = json.loads(raw).get("created_utc") if raw else None
        day = dt.datetime.fromtimestamp(float(created), dt.UTC).date()
    except (TypeError, ValueError, OverflowError, OSError, AttributeError, RecursionError):
        return None
    return day if day >= _FIRST_DAY else None


def _days(lake: Lake, part: str, rows: pa.Table, lookback_days: int) -> list[dt.date]:
    """The stored quarantine days that could hold an earlier sighting of these rows."""
    newest = pc.max(rows.column("collected_at")).as_py().astimezone(dt.UTC).date()
    floor = newest - dt.timedelta(days=lookback_days)
    created = [_created_day(raw) for raw in rows.column("raw").to_pylist()]
    oldest = floor if None in created else max(floor, min(created))  # type: ignore[type-var]
    return [d for d in lake.days(QUARANTINE_TABLE, part) if oldest <= d <= newest]


def forget_accounts(lake: Lake, names: Iterable[str]) -> int:
    """Set ``raw`` to null in every quarantined row whose JSON names one of ``names`` (as stored:
    Reddit names compare case-insensitively, pseudonyms exactly as they are lower-case); returns
    the rows. A raw line that is not a JSON object is matched by the names occurring in it."""
    wanted = {n.lower() for n in names if n}
    if not wanted or QUARANTINE_TABLE not in lake.tables():
        return 0
    done = 0
    for part in lake.subreddits(QUARANTINE_TABLE):
        rows = lake.read(QUARANTINE_TABLE, part)
        if rows.num_rows == 0:
            continue
        pairs = zip(rows.column("table_name").to_pylist(), rows.column("raw").to_pylist())
        raws = {raw for table, raw in pairs if raw is not None and _names_account(table, raw, wanted)}
        if raws:
            done += lake.redact(QUARANTINE_TABLE, part, raws, {"raw": None}, key="raw").rows
    return done


def _names_account(table: str | None, raw: str, wanted: set[str]) -> bool:
    try:
        thing = json.loads(raw)
    except ValueError:
        thing = None
    if not isinstance(thing, dict):
        text = raw.lower()
        return any(name in text for name in wanted)
    fields = ACCOUNT_FIELDS.get(table or "", _ITEM_ACCOUNT_FIELDS)
    return any(isinstance(thing.get(f), str) and thing[f].lower() in wanted for f in fields)

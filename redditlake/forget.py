"""`redditlake forget-user NAME`: a person's request to have their data deleted.

Everything the account wrote is redacted the way ``refresh`` redacts what users
deleted on Reddit (``CONTENT_REDACTIONS``: text, URLs and authorship go, the row
and its id stay so the item is not collected again), its profile rows in
``users`` are blanked, the files that held the old values are deleted from
storage at once (``Lake.purge``), and each redaction is recorded in
``deletions`` with that time (``purged_at``); ``refresh`` then no longer asks
Reddit about those items. The account's other copies go too (``copies``:
quarantined JSON, quality results' failing-row samples, the catalog). With
pseudonymisation on, the name is hashed with the key to find its rows; the
name itself is written nowhere (the audit trail keeps a keyed reference,
``Pseudonymiser.reference``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import SecretStr

from redditlake.copies import Erased, erase_account_copies
from redditlake.errors import RedditLakeError
from redditlake.lake import Lake
from redditlake.compliance import USER_REDACTIONS, purge
from redditlake.models import CONTENT_REDACTIONS, Deletion, User
from redditlake.privacy import KEEP, Pseudonymiser

REASON = "user_request"  # a key of compliance.REASONS
# A deleted account loses name and t2 id; a person who asks loses the profile's figures too.
PROFILE_REDACTIONS = {**USER_REDACTIONS, "created_utc": None, "link_karma": None, "comment_karma": None,
                      "total_karma": None}


@dataclass
class ForgetResult:
    redacted: dict[str, int] = field(default_factory=dict)  # table -> rows
    subreddits: set[str] = field(default_factory=set)
    copies: Erased = field(default_factory=Erased)

    def line(self) -> str:
        parts = [f"{n} {t}" for t, n in self.redacted.items() if n] + self.copies.parts()
        done = ", ".join(parts) or "nothing stored for this account"
        where = f" in {len(self.subreddits)} subreddits" if self.subreddits else ""
        return f"forgot the account{where}: {done}"


def account_name(name: str) -> str:
    """The account name as given (``u/`` and blanks aside); one that names no account is an error."""
    name = name.strip()
    name = name[2:] if name.lower().startswith("u/") else name
    if name in KEEP or not name:
        raise RedditLakeError(f"{name!r} is not an account name: give the user's Reddit name, without u/")
    return name


def stored_name(name: str, pseudonymiser: Pseudonymiser | None) -> str:
    name = account_name(name)
    return pseudonymiser.pseudonym(name) if pseudonymiser else name


def _matches(column: pa.ChunkedArray | pa.Array, stored: str, exact: bool) -> pa.Array:
    """Rows by this author: pseudonyms compare exactly, Reddit names case-insensitively."""
    if exact:
        return pc.fill_null(pc.equal(column, stored), False)
    return pc.fill_null(pc.equal(pc.utf8_lower(column), stored.lower()), False)


def forget_user(lake: Lake, name: str, pseudonymiser: Pseudonymiser | None = None,
                now: dt.datetime | None = None, catalog_file: Path | None = None) -> ForgetResult:
    """Redact the account's posts, comments and profiles in every subreddit of the lake, then its
    copies in quarantine and the quality results (and ``catalog_file``, rebuilt when it exists)."""
    stored = stored_name(name, pseudonymiser)
    exact = pseudonymiser is not None
    now = now or dt.datetime.now(dt.UTC)
    result = ForgetResult()
    deletions: dict[str, list[Deletion]] = {}
    tables = set(lake.tables())
    for kind in ("posts", "comments"):
        result.redacted[kind] = 0
        if kind not in tables:
            continue
        for part in lake.subreddits(kind):
            rows = lake.read(kind, part)
            if "author" not in rows.column_names:
                continue
            ids = set(rows.filter(_matches(rows.column("author"), stored, exact)).column("id").to_pylist())
            if not ids:
                continue
            lake.redact(kind, part, ids, CONTENT_REDACTIONS[kind])
            deletions.setdefault(part, []).extend(
                Deletion(id=i, kind=kind, reason=REASON, scope="content", collected_at=now) for i in sorted(ids)
            )
            result.redacted[kind] += len(ids)
            result.subreddits.add(part)
    result.redacted["users"] = _blank_profiles(lake, stored, exact, result) if User.table in tables else 0
    purged_at = purge(lake, [t for t, n in result.redacted.items() if n])
    for part, rows in sorted(deletions.items()):
        lake.append(Deletion.table, part, Deletion.to_arrow(d.model_copy(update={"purged_at": purged_at}) for d in rows))
    result.copies = erase_account_copies(lake, {account_name(name), stored}, catalog_file)
    return result


def _blank_profiles(lake: Lake, stored: str, exact: bool, result: ForgetResult) -> int:
    """``users`` rows of the account lose name, t2 id and profile figures (``lake.redact`` by author)."""
    total = 0
    for part in lake.subreddits(User.table):
        authors = lake.read(User.table, part).column("author")
        names = set(authors.filter(_matches(authors, stored, exact)).to_pylist())
        if names:
            done = lake.redact(User.table, part, names, PROFILE_REDACTIONS, key="author")
            total += done.rows
            result.subreddits.add(part)
    return total


def request_reference(name: str, key: SecretStr | None) -> str:
    """How the audit trail names the account of a request: a keyed reference, or that none is kept."""
    if key is None or not key.get_secret_value():
        return "account not recorded (set REDDITLAKE_PSEUDONYM_KEY to keep a keyed reference)"
    return f"account {Pseudonymiser(key.get_secret_value()).reference(account_name(name))}"

"""Garbage collection of Prefect's result storage: what is persisted outside the lake expires for real.

Prefect's cache expiry only stops a result file from being reused; the file
stays in the result storage (the Prefect home, or the S3 bucket of
``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK``) for ever. redditlake persists no
task result (see ``tasks/reddit.py``), but older versions cached raw Reddit
JSON there for 10 minutes to a day, and other flows may share the storage.
``collect_garbage`` deletes, locally or on S3:

* every record whose ``expiration`` has passed;
* every record that is not data-only (a ``pickle``/``cloudpickle`` payload, or
  bytes that are not a JSON result record at all, which Prefect would hand to
  its default serializer — pickle): loading one runs whatever code its writer
  chose, so it is deleted unread. Only the record's JSON envelope is parsed
  here, never its payload;
* every record whose text mentions one of ``forget`` (ids and names that
  ``refresh`` redacted in the lake, or a user forgotten on request).

Nothing else is touched: an unexpired JSON record of another flow stays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyarrow import fs as pafs

from redditlake.lake.location import Location

DATA_ONLY_SERIALIZERS = {"json"}


@dataclass
class GcResult:
    location: str
    scanned: int = 0
    expired: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # not data-only: deleted unread
    forgotten: list[str] = field(default_factory=list)

    @property
    def deleted(self) -> int:
        return len(self.expired) + len(self.refused) + len(self.forgotten)

    def lines(self) -> list[str]:
        out = [
            f"{path}: deleted unread: not a data-only (JSON) result record; redditlake never writes pickles, "
            "so whoever can write to this storage should be checked"
            for path in self.refused
        ]
        out.append(
            f"result storage {self.location}: {self.scanned} files, deleted {len(self.expired)} expired, "
            f"{len(self.refused)} not data-only, {len(self.forgotten)} naming forgotten items; "
            f"{self.scanned - self.deleted} kept"
        )
        return out


def verdict(content: bytes, now: datetime, forget: Iterable[str] = ()) -> str | None:
    """Why a result file must go ("expired", "refused", "forgotten"), or None to keep it."""
    try:
        record = json.loads(content)
        metadata = record["metadata"]
        serializer = metadata["serializer"]["type"]
    except (ValueError, TypeError, KeyError):
        return "refused"
    if serializer not in DATA_ONLY_SERIALIZERS:
        return "refused"
    expiration = metadata.get("expiration")
    if expiration:
        try:
            when = datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
        except ValueError:
            return "refused"
        if (when if when.tzinfo else when.replace(tzinfo=UTC)) <= now:
            return "expired"
    text = content.decode("utf-8", errors="replace")
    if any(item and item in text for item in forget):
        return "forgotten"
    return None


def collect_garbage(location: Location, forget: Iterable[str] = (), now: datetime | None = None) -> GcResult:
    """Delete the expired, non-data-only and forgotten result files under ``location``."""
    now = now or datetime.now(UTC)
    forget = [f for f in forget if f]
    result = GcResult(location.uri)
    fs = location.filesystem
    infos = fs.get_file_info(pafs.FileSelector(location.root, recursive=True, allow_not_found=True))
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        result.scanned += 1
        with fs.open_input_stream(info.path) as f:
            content = f.read()
        why = verdict(content, now, forget)
        if why is None:
            continue
        fs.delete_file(info.path)
        getattr(result, why).append(location.uri_of(info.path))
    return result

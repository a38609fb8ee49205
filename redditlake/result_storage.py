"""Garbage collection of Prefect's result storage: what is persisted outside the lake expires for real.

Prefect's cache expiry only stops a result file from being reused; the file
stays in the result storage (the Prefect home, or the S3 bucket of
``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK``) for ever. redditlake persists no
task result (see ``tasks/reddit.py``), but older versions cached raw Reddit
JSON there for 10 minutes to a day, and other flows may share the storage.

``collect_garbage`` touches only files it positively recognises as Prefect
result records: named as Prefect names them (32 lowercase hex digits: the MD5
cache key of a cache policy, or a random UUID's hex) and shaped as Prefect 3
writes them (a JSON object of exactly ``metadata`` and ``result``, the
metadata holding only ``ResultRecordMetadata``'s fields, its ``storage_key``
ending in the file's own name). Every other file is reported and left alone,
and read only if its name already matches. Of the records, it deletes:

* every record whose ``expiration`` has passed;
* every record that is not data-only (a ``pickle``/``cloudpickle`` payload):
  loading one runs whatever code its writer chose, so it is deleted unread.
  Only the record's JSON envelope is parsed here, never its payload;
* every record whose text mentions one of ``forget`` (ids and names that
  ``refresh`` redacted in the lake, or a user forgotten on request).

Before any of that, it refuses a location that is the lake, lies inside it or
contains it, and a location where it finds lake files (a partition's Parquet
file, a Delta log), whichever lake they belong to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

from pyarrow import fs as pafs

from redditlake.errors import RedditLakeError
from redditlake.lake.location import Location

DATA_ONLY_SERIALIZERS = {"json"}
RECORD_NAME = re.compile(r"[0-9a-f]{32}")
RECORD_KEYS = {"metadata", "result"}
METADATA_KEYS = {"storage_key", "expiration", "serializer", "prefect_version", "storage_block_id"}
# Paths only a lake has: a table partition's data file, a Delta table's log.
LAKE_FILE = re.compile(r"(^|/)(subreddit=[^/]+/dt=[^/]+/[^/]+\.parquet|_delta_log/[^/]+)$")
SHOWN_UNKNOWN = 20


@dataclass
class GcResult:
    location: str
    dry_run: bool = False
    scanned: int = 0
    kept: int = 0  # records that stay
    expired: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # pickled records: deleted unread
    forgotten: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # not result records: never touched

    @property
    def deleted(self) -> int:
        return len(self.expired) + len(self.refused) + len(self.forgotten)

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        out = [
            f"{path}: {verb} unread: not a data-only (JSON) result record; redditlake never writes pickles, "
            "so whoever can write to this storage should be checked"
            for path in self.refused
        ]
        out += [f"{path}: left alone: not a Prefect result record" for path in self.unknown[:SHOWN_UNKNOWN]]
        if len(self.unknown) > SHOWN_UNKNOWN:
            out.append(f"… and {len(self.unknown) - SHOWN_UNKNOWN} more files that are not Prefect result records, left alone")
        out.append(
            f"result storage {self.location}: {self.scanned} files, {verb} {len(self.expired)} expired, "
            f"{len(self.refused)} not data-only, {len(self.forgotten)} naming forgotten items; "
            f"{self.kept} records kept, {len(self.unknown)} other files left alone"
            + (" (dry run: nothing deleted)" if self.dry_run else "")
        )
        return out


def record_metadata(name: str, content: bytes) -> dict | None:
    """The metadata of a Prefect result record named ``name``, or None if these bytes are not one."""
    try:
        record = json.loads(content)
    except ValueError:
        return None
    if not isinstance(record, dict) or set(record) != RECORD_KEYS:
        return None
    metadata = record["metadata"]
    if not isinstance(metadata, dict) or not set(metadata) <= METADATA_KEYS:
        return None
    serializer = metadata.get("serializer")
    if not isinstance(serializer, dict) or not isinstance(serializer.get("type"), str):
        return None
    if not isinstance(metadata.get("prefect_version"), str):
        return None
    key = metadata.get("storage_key")
    if key is not None and (not isinstance(key, str) or PurePosixPath(key).name != name):
        return None
    return metadata


def verdict(name: str, content: bytes, now: datetime, forget: Iterable[str] = ()) -> str | None:
    """Why a result file must go ("expired", "refused", "forgotten"), "unknown" when it is no
    Prefect result record (never deleted), or None to keep it."""
    metadata = record_metadata(name, content)
    if metadata is None:
        return "unknown"
    if metadata["serializer"]["type"] not in DATA_ONLY_SERIALIZERS:
        return "refused"
    expiration = metadata.get("expiration")
    if expiration:
        try:
            when = datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
        except ValueError:
            return "unknown"
        if (when if when.tzinfo else when.replace(tzinfo=UTC)) <= now:
            return "expired"
    text = content.decode("utf-8", errors="replace")
    if any(item and item in text for item in forget):
        return "forgotten"
    return None


def _segments(location: Location) -> tuple[str, ...]:
    """The location as path segments: ("", "abs", "dir") locally, ("s3:", bucket, *prefix) on S3."""
    if location.s3 is not None:
        return ("s3:", location.s3.bucket, *[p for p in location.s3.prefix.split("/") if p])
    return PurePosixPath(location.root).parts


def overlaps(a: Location, b: Location) -> bool:
    """True when one location is the other or holds it (local paths are resolved by
    ``open_location``; S3 compares bucket and prefix, whatever the endpoint)."""
    x, y = _segments(a), _segments(b)
    n = min(len(x), len(y))
    return x[:n] == y[:n]


def check_not_the_lake(location: Location, lake: Location) -> None:
    if overlaps(location, lake):
        raise RedditLakeError(
            f"gc refuses {location.uri}: it is the lake {lake.uri}, inside it or contains it; "
            "Prefect's result storage must be a folder or prefix of its own (e.g. s3://bucket/prefect-results)"
        )


def collect_garbage(
    location: Location,
    *,
    lake: Location,
    forget: Iterable[str] = (),
    now: datetime | None = None,
    dry_run: bool = False,
) -> GcResult:
    """Delete the expired, non-data-only and forgotten result records under ``location``."""
    check_not_the_lake(location, lake)
    now = now or datetime.now(UTC)
    forget = [f for f in forget if f]
    result = GcResult(location.uri, dry_run=dry_run)
    fs = location.filesystem
    selector = pafs.FileSelector(location.root, recursive=True, allow_not_found=True)
    files = [info for info in fs.get_file_info(selector) if info.type == pafs.FileType.File]
    # Decided on the whole listing before anything is read or deleted.
    lake_file = next((i.path for i in files if LAKE_FILE.search(i.path[len(location.root):])), None)
    if lake_file is not None:
        raise RedditLakeError(
            f"gc refuses {location.uri}: it holds a lake's files (e.g. {location.uri_of(lake_file)}); "
            "point --results at Prefect's own result folder or prefix"
        )
    for info in files:
        result.scanned += 1
        if not RECORD_NAME.fullmatch(info.base_name):
            result.unknown.append(location.uri_of(info.path))
            continue
        with fs.open_input_stream(info.path) as f:
            content = f.read()
        why = verdict(info.base_name, content, now, forget)
        if why is None:
            result.kept += 1
            continue
        if why != "unknown" and not dry_run:
            fs.delete_file(info.path)
        getattr(result, why).append(location.uri_of(info.path))
    return result

"""Monthly archive dumps: zstandard-compressed NDJSON, one Reddit object per line.

A file is read once per run whatever the number of subreddits: each line's ``"subreddit"``
values are found with a byte regex first, and only lines naming a wanted subreddit are parsed.
Memory: libraries + the zstd window + one batch. The file is decompressed in fixed chunks and
rows are buffered up to ``batch_rows``, then landed and dropped (the landing's batch list is
drained: a run that kept them would hold the whole dump). The window is the file's, not ours:
the decoder must keep the last ``window`` decompressed bytes for back-references, so its memory
grows with the bytes read until it reaches the window (the real dumps use 2 GiB,
``max_window_size=2**31``) and stays flat after. A file compressed with a smaller window is
read in that much less (benchmarks/README.md §7 has the figures).

Resumable: after each landed batch, every wanted subreddit's ``backfill_progress`` gets the
number of lines consumed; a rerun skips that many lines without parsing them. Posts and comments
are told apart per line (comments carry ``link_id`` and ``body``), so RS_ and RC_ files, or a mix,
work the same.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import zstandard

from redditlake.archive.client import COMMENTS, POSTS
from redditlake.archive.lines import SUBREDDIT, Oversized, created_epoch, guess_id, guess_kind, oversized, parse
from redditlake.archive.progress import Progress
from redditlake.archive.search import MODELS, epoch
from redditlake.clock import now_utc, utc
from redditlake.errors import RedditLakeError
from redditlake.landing import Landing
from redditlake.outcome import Outcome
from redditlake.positions import BackfillProgress, append, latest

MAX_WINDOW = 2**31
CHUNK = 1 << 22  # decompressed bytes per read
log = logging.getLogger("redditlake.backfill")


@dataclass
class DumpResult:
    path: str
    lines: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # subreddit -> rows matched
    written: dict[str, int] = field(default_factory=dict)
    resumed_at_line: int = 0
    skipped: bool = False  # already done by an earlier run
    quarantined: dict[str, int] = field(default_factory=dict)  # subreddit -> unusable lines

    def outcomes(self) -> list[Outcome]:
        name = os.path.basename(self.path)
        if self.skipped:
            return [Outcome(name, detail="already ingested for these subreddits and dates (nothing to do)")]
        resumed = f", resumed at line {self.resumed_at_line}" if self.resumed_at_line else ""
        out = [Outcome(name, detail=f"{self.lines} lines read{resumed}")]
        out += [Outcome(f"r/{s} dump", items=self.rows[s], detail=f"{self.rows[s]} rows, {self.written.get(s, 0)} new"
                        + (f", {self.quarantined[s]} unusable lines quarantined" if self.quarantined.get(s) else ""))
                for s in sorted(self.rows)]
        return out

    def lines_out(self) -> list[str]:
        return [o.line() for o in self.outcomes()]


class _Counted:
    """A binary file that remembers how many compressed bytes were read (for progress)."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.read_bytes += len(data)
        return data


def iter_lines(path: str, counter: _Counted | None = None, max_line: int | None = None) -> Iterator[bytes | Oversized]:
    """Decompressed lines of a .zst file, in constant memory: a line past ``max_line`` bytes comes
    as an ``Oversized`` (read past, never held whole)."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise RedditLakeError(f"cannot read dump {path}: {exc.strerror}; check the path") from None
    with fh:
        source = counter or _Counted(fh)
        source.fh = fh
        reader = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW).stream_reader(source, read_size=1 << 20)
        rest = b""
        skipping: Oversized | None = None  # the line past the cap being read past
        cap = max_line or math.inf
        try:
            while chunk := reader.read(CHUNK):
                if skipping is not None:
                    end = chunk.find(b"\n")
                    skipping.add(chunk if end < 0 else chunk[:end])
                    if end < 0:
                        continue
                    yield skipping
                    skipping, chunk = None, chunk[end + 1:]
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                yield from (oversized(line) if len(line) > cap else line for line in lines)
                if len(rest) > cap:
                    skipping, rest = oversized(rest), b""
        except zstandard.ZstdError as exc:
            raise RedditLakeError(f"{path} is not a readable zstandard file ({exc}); is it a complete dump?") from None
        if skipping is not None:
            yield skipping
        elif rest.strip():
            yield oversized(rest) if len(rest) > cap else rest


def window_size(path: str) -> int | None:
    """The window the file's first frame asks for (the decoder's memory for its history), if readable."""
    try:
        with open(path, "rb") as fh:
            return zstandard.get_frame_parameters(fh.read(18)).window_size
    except (OSError, zstandard.ZstdError):
        return None  # not zstd: iter_lines says so in one line


def job_key(path: str, since: datetime, until: datetime) -> str:
    return f"dump:{os.path.basename(path)}:{os.path.getsize(path)}:{epoch(since)}:{epoch(until)}"


def ingest_dump(
    path: str, landing: Landing, subreddits: list[str], since: datetime, until: datetime, *, batch_rows: int = 20_000,
    progress_every: float = 5.0, max_line_bytes: int = 4 << 20,
) -> DumpResult:
    """Land the rows of ``subreddits`` created in ``[since, until)`` from one dump file.

    A line naming a wanted subreddit that is no usable object (see ``lines``) is quarantined
    in that subreddit with its reason, landed with the batch it came in; lines naming no wanted
    subreddit are not ours to judge and are skipped unparsed."""
    if not os.path.isfile(path):
        raise RedditLakeError(f"dump file {path} does not exist; pass an existing .zst file to --source")
    lake = landing.lake
    wanted = {s.lower(): s for s in subreddits}
    wanted_bytes = {s.encode() for s in wanted}
    job = job_key(path, since, until)
    stored = {s: latest(lake, BackfillProgress, s, "job").get(job) for s in wanted}
    result = DumpResult(path, rows={s: 0 for s in wanted}, written={s: 0 for s in wanted})
    if all(r is not None and r["done"] for r in stored.values()):
        result.skipped = True
        return result
    # Lines before the least advanced subreddit's position are landed for every subreddit.
    start_line = min((r["position_line"] or 0) if r is not None else 0 for r in stored.values())
    result.resumed_at_line = start_line
    lo, hi = epoch(since), epoch(until)
    size = max(os.path.getsize(path), 1)
    counter = _Counted(None)
    progress = Progress(f"{os.path.basename(path)} → {', '.join(f'r/{s}' for s in wanted)}", progress_every)
    window = window_size(path)
    if window:
        log.info("%s: zstd window %d MiB (the decoder's memory grows to this, or to the file's size if smaller)",
                 os.path.basename(path), window >> 20)
    buffers: dict[tuple[str, str], list[dict]] = {}
    bad: dict[str, list[dict]] = {}
    buffered = 0

    def quarantine(names: Iterable[bytes], line: bytes, reason: str) -> None:
        sub = next((n.decode().lower() for n in names if n.lower() in wanted_bytes), None)
        if sub is None:
            return
        bad.setdefault(sub, []).append({"table_name": guess_kind(line), "id": guess_id(line), "reason": reason,
                                        "raw": line.decode("utf-8", "replace"), "collected_at": now_utc()})
        result.quarantined[sub] = result.quarantined.get(sub, 0) + 1

    def flush(line_no: int, done: bool) -> None:
        nonlocal buffered
        collected = now_utc()
        landed = 0
        for (sub, kind), items in buffers.items():
            if items:
                landed += len(items)
                result.written[sub] += landing.rows(MODELS[kind], sub, items, collected, source="dump").written
        buffers.clear()
        for sub, rows in bad.items():
            landing.quarantine(sub, rows)
        bad.clear()
        append_rows = [
            BackfillProgress(job=job, source="dump", kind="all", since_utc=since, until_utc=until,
                             position_utc=utc(hi if done else lo), position_line=line_no, rows=0, done=done,
                             collected_at=collected)
        ]
        for sub in wanted:  # positions after the data they describe
            append(lake, BackfillProgress, sub, append_rows)
        progress.update(counter.read_bytes / size, landed, 0, force=done)
        buffered = 0

    line_no = 0
    for line_no, line in enumerate(iter_lines(path, counter, max_line_bytes), start=1):
        if line_no <= start_line:
            continue
        if isinstance(line, Oversized):
            quarantine(line.names, line.head, f"line of {line.size} bytes is past the {max_line_bytes}-byte cap")
            continue
        names = SUBREDDIT.findall(line)
        if not names or not any(n.lower() in wanted_bytes for n in names):
            continue
        obj, reason = parse(line)
        if obj is None:
            quarantine(names, line, reason)
            continue
        sub = str(obj.get("subreddit", "")).lower()
        if sub not in wanted:
            continue
        created, reason = created_epoch(obj)
        if created is None:
            quarantine(names, line, reason)
            continue
        if not lo <= created < hi:
            continue
        kind = COMMENTS if "link_id" in obj and "body" in obj else POSTS
        buffers.setdefault((sub, kind), []).append(obj)
        result.rows[sub] += 1
        buffered += 1
        if buffered >= batch_rows:
            flush(line_no, done=False)
    result.lines = line_no
    flush(line_no, done=True)
    return result

"""Archive dump files made from the simulator's world, for tests: zstandard NDJSON with a 2 GiB
window (``window_log=31``), as the real monthly dumps are (a default decompressor refuses them)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import zstandard

from . import timeline
from .archive import Archive


def write_zst(path: str, lines: Iterable[bytes], window_log: int = 31) -> None:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
    with open(path, "wb") as fh, zstandard.ZstdCompressor(compression_params=params).stream_writer(fh) as out:
        for line in lines:
            out.write(line.rstrip(b"\n") + b"\n")


def world_lines(archive: Archive, subreddits: Iterable[str], kinds: Iterable[str] = ("posts", "comments")) -> list[bytes]:
    """Every archived item of the subreddits, one JSON object per line, in creation order."""
    world, items = archive.world, []
    with world.lock:
        now = world.now
        for name in subreddits:
            sub = world.subreddit(name)
            if "posts" in kinds:
                items += [(p.created, archive.post_item(p, now)) for p in timeline.posts(world, sub)]
            if "comments" in kinds:
                items += [(c.created, archive.comment_item(c, p, now)) for c, p in timeline.comments(world, sub)]
    items.sort(key=lambda pair: pair[0])
    return [json.dumps(item, ensure_ascii=False).encode() for _, item in items]

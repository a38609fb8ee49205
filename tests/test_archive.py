"""Backfill from the simulator's archive APIs and from generated .zst dumps, against the world's truth."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import archive_settings, query_rows
from redditlake.archive.client import ArchiveClient
from redditlake.archive.dumps import ingest_dump, iter_lines
from redditlake.archive.plan import make_plan
from redditlake.archive.search import backfill_search
from redditlake.config import HttpSettings
from redditlake.errors import ApiUnavailable, RedditLakeError
from redditlake.lake import Lake
from redditlake.landing import Landing
from redditlake.models import Post
from redditlake.positions import BackfillProgress, latest
from redditlake.reddit.client import RedditClient
from redditlake.simulator import timeline
from redditlake.simulator.archive import ArchiveConfig, ArchiveThread
from redditlake.simulator.config import FaultConfig
from redditlake.simulator.dumps import world_lines, write_zst

SINCE, UNTIL = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def archived(make_sim):
    """A world whose listings hold 50 posts of ~150, and its archive (small pages: many windows)."""
    sim = make_sim(subreddits=["python", "aww", "datascience"], posts_per_subreddit=150, comments_per_post_mean=6,
                   listing_cap=50)
    archive = ArchiveThread(sim.world, ArchiveConfig(requests_per_window=100_000, max_size=25)).start()
    yield sim, archive
    archive.stop()


def settings_for(sim, archive, lake_uri, **archive_opts):
    return archive_settings(sim, archive, lake_uri, **{"page_size": 25, **archive_opts})


def truth(sim, sub: str, since=SINCE, until=UNTIL) -> tuple[set[str], set[str]]:
    world, lo, hi = sim.world, since.timestamp(), until.timestamp()
    with world.lock:
        s = world.subreddit(sub)
        posts = {p.id for p in timeline.posts(world, s) if lo <= p.created < hi}
        comments = {c.id for c, _ in timeline.comments(world, s) if lo <= c.created < hi}
    return posts, comments


def ids(lake: Lake, table: str, sub: str) -> list[str]:
    return [r[0] for r in query_rows(lake, f"SELECT id FROM {table} WHERE subreddit = '{sub}'")]


async def live_collect(settings, sub: str) -> None:
    """What a live collection stores: the newest posts of the capped listing, source reddit."""
    from redditlake import clock, pipeline

    lake = Lake.open(settings.lake.uri)
    async with RedditClient(settings) as client:
        posts = await pipeline.fetch_posts(client, sub, "new", 1000, None)
        Landing(lake).posts(sub, posts, clock.now_utc())


async def backfill(settings, source: str, sub: str, kinds=("posts", "comments"), since=SINCE, until=UNTIL):
    lake = Lake.open(settings.lake.uri)
    async with ArchiveClient.for_source(source, settings) as client:
        return [await backfill_search(client, Landing(lake), sub, kind, since, until, window_days=10) for kind in kinds]


# A backfill in a process of its own, so that a test can SIGKILL it: no handler, no finally, no flush.
CHILD = """
import asyncio, json, sys
from datetime import datetime
from redditlake.config import Settings
from redditlake.lake import Lake
from redditlake.landing import Landing
job = json.loads(sys.argv[1])
landing = Landing(Lake.open(job["lake"]))
since, until = datetime.fromisoformat(job["since"]), datetime.fromisoformat(job["until"])
if job["what"] == "dump":
    from redditlake.archive.dumps import ingest_dump
    ingest_dump(job["path"], landing, job["subreddits"], since, until, batch_rows=job["batch_rows"])
else:
    from redditlake.archive.client import ArchiveClient
    from redditlake.archive.search import backfill_search
    settings = Settings.model_validate_json(job["settings"])
    async def main():
        async with ArchiveClient.for_source(job["source"], settings) as client:
            await backfill_search(client, landing, job["subreddit"], job["kind"], since, until, window_days=10,
                                  batch_rows=job["batch_rows"])
    asyncio.run(main())
"""


def kill_once_progress_shows(job: dict) -> None:
    """Run ``CHILD`` on ``job``; SIGKILL it as soon as its first checkpoint is committed in the lake
    (a commit in the table's ``_delta_log``: its data file alone is invisible until then)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(job, default=str)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    progress = Path(job["lake"]) / "backfill_progress"
    deadline = time.monotonic() + 240  # imports alone can take a while on a loaded machine
    try:
        while not any((progress / "_delta_log").glob("*.json")):
            assert proc.poll() is None, f"the backfill ended before a checkpoint showed: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("source", ["pullpush", "arcticshift"])
def test_api_backfill_lands_history_beyond_the_listing_cap_once(archived, tmp_path, source):
    sim, archive = archived
    settings = settings_for(sim, archive, str(tmp_path / "lake"))
    lake = Lake.open(settings.lake.uri)
    asyncio.run(live_collect(settings, "python"))
    live = set(ids(lake, "posts", "python"))
    assert len(live) == 50  # the listing cap

    posts_result, comments_result = asyncio.run(backfill(settings, source, "python"))

    posts, comments = truth(sim, "python")
    assert len(posts) > 100
    stored_posts, stored_comments = ids(lake, "posts", "python"), ids(lake, "comments", "python")
    assert set(stored_posts) == posts | live and len(stored_posts) == len(set(stored_posts))
    assert set(stored_comments) == comments and len(stored_comments) == len(set(stored_comments))
    assert posts_result.written == len(posts - live)
    # Pages of 25 over a month: windows shrank and grew, and every page was a request.
    assert posts_result.requests >= len(posts) / 25
    by_source = dict(query_rows(lake, "SELECT source, count(*) FROM posts GROUP BY 1"))
    assert by_source == {"reddit": 50, source: len(posts - live)}
    # Archive copies are snapshots: retrieved an hour after creation, not now.
    lag = query_rows(lake, f"SELECT max(retrieved_utc - created_utc) FROM comments WHERE source = '{source}'")[0][0]
    assert lag.total_seconds() <= 3600
    assert archive.archive.stats()["requests"] == posts_result.requests + comments_result.requests

    again = asyncio.run(backfill(settings, source, "python"))
    assert [r.written for r in again] == [0, 0] and all(r.requests == 0 for r in again)  # done: resumes at the end


def test_a_killed_backfill_resumes_and_stores_nothing_twice(archived, tmp_path):
    sim, archive = archived
    settings = settings_for(sim, archive, str(tmp_path / "lake"))
    settings = settings.model_copy(update={"http": HttpSettings(max_attempts=1)})
    lake = Lake.open(settings.lake.uri)
    archive.set_faults(FaultConfig(error_5xx_rate=0.15, seed=3))
    with pytest.raises(ApiUnavailable):
        asyncio.run(backfill(settings, "arcticshift", "python", kinds=("comments",)))
    landed_before = set(ids(lake, "comments", "python"))
    assert landed_before  # it got somewhere before it died

    archive.set_faults(FaultConfig())
    (result,) = asyncio.run(backfill(settings, "arcticshift", "python", kinds=("comments",)))
    assert result.resumed_from is not None and result.resumed_from > SINCE
    _, comments = truth(sim, "python")
    stored = ids(lake, "comments", "python")
    assert set(stored) == comments and len(stored) == len(set(stored))


def files(lake_path: Path, table: str, sub: str) -> list[Path]:
    return [p for p in (lake_path / table / f"subreddit={sub}").rglob("*.parquet") if not p.name.startswith(".")]


def test_small_pages_land_in_few_files(archived, tmp_path):
    """Pages of 10 rows are gathered into batches of 200: files follow batches and days, not pages."""
    sim, archive = archived
    settings = settings_for(sim, archive, str(tmp_path / "lake"), page_size=10)
    lake = Lake.open(settings.lake.uri)

    landing = Landing(lake)

    async def run():
        async with ArchiveClient.for_source("arcticshift", settings) as client:
            return await backfill_search(client, landing, "python", "comments", SINCE, UNTIL, window_days=10,
                                         batch_rows=200)

    result = asyncio.run(run())
    _, comments = truth(sim, "python")
    stored = ids(lake, "comments", "python")
    assert set(stored) == comments and len(stored) == len(set(stored))
    assert result.requests >= len(comments) / 10 > 50
    checkpoints = query_rows(lake, "SELECT count(*), count(*) FILTER (WHERE done) FROM backfill_progress")[0]
    assert checkpoints[1] == 1 and checkpoints[0] <= result.rows / 200 + 1  # every batch but the last holds >= 200 rows
    days = len(list((tmp_path / "lake" / "comments" / "subreddit=python").iterdir()))
    # Batches are contiguous in time: each adds one file per day it spans, and neighbours share at most one day.
    assert len(files(tmp_path / "lake", "comments", "python")) <= checkpoints[0] + days - 1 < result.requests / 2
    assert len(files(tmp_path / "lake", "backfill_progress", "python")) <= checkpoints[0]


def test_a_backfill_killed_between_batches_resumes_exactly(archived, tmp_path):
    sim, archive = archived
    # Paced to ~20 requests/s so that the run outlives its first checkpoint by seconds.
    settings = settings_for(sim, archive, str(tmp_path / "lake"), page_size=10, requests_per_minute=1200)
    job = {"what": "search", "lake": settings.lake.uri, "since": SINCE.isoformat(), "until": UNTIL.isoformat(),
           "settings": settings.model_dump_json(), "source": "arcticshift", "subreddit": "python", "kind": "comments",
           "batch_rows": 50}
    kill_once_progress_shows(job)
    lake = Lake.open(settings.lake.uri)
    (stored_job,) = latest(lake, BackfillProgress, "python", "job").values()
    assert not stored_job["done"]  # killed mid-run, not after it
    _, comments = truth(sim, "python")
    assert 0 < len(ids(lake, "comments", "python")) < len(comments)

    unpaced = settings_for(sim, archive, settings.lake.uri, page_size=10)
    (result,) = asyncio.run(backfill(unpaced, "arcticshift", "python", kinds=("comments",)))
    assert result.resumed_from == stored_job["position_utc"]
    stored = ids(lake, "comments", "python")
    assert set(stored) == comments and len(stored) == len(set(stored))


def test_a_backfill_that_died_between_its_rows_and_its_progress_row_resumes_after_the_rows(
    archived, tmp_path, monkeypatch
):
    """The position is committed with the rows (a Delta app transaction): the progress row
    written after them is no longer the only record of how far a job got."""
    import redditlake.archive.search as search

    sim, archive = archived
    settings = settings_for(sim, archive, str(tmp_path / "lake"), page_size=10)
    lake = Lake.open(settings.lake.uri)
    real_append = search.append

    def dies_at_the_first_progress_row(lake_, model, subreddit, rows):
        if model is BackfillProgress:
            raise KeyboardInterrupt("killed after the rows, before the progress row")
        real_append(lake_, model, subreddit, rows)

    async def run(batch_rows: int):
        async with ArchiveClient.for_source("arcticshift", settings) as client:
            return await backfill_search(client, Landing(lake), "python", "comments", SINCE, UNTIL, window_days=10,
                                         batch_rows=batch_rows)

    with monkeypatch.context() as patched:
        patched.setattr(search, "append", dies_at_the_first_progress_row)
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(run(50))
    assert latest(lake, BackfillProgress, "python", "job") == {}  # no progress row landed
    landed = ids(lake, "comments", "python")
    assert landed

    result = asyncio.run(run(50))
    assert result.resumed_from is not None and result.resumed_from > SINCE
    assert result.rows < len(truth(sim, "python")[1])  # the landed batch was not fetched again
    stored = ids(lake, "comments", "python")
    assert set(stored) == truth(sim, "python")[1] and len(stored) == len(set(stored))


def test_the_archive_rate_limit_is_honoured(make_sim, tmp_path):
    sim = make_sim(subreddits=["python"], posts_per_subreddit=60, comments_per_post_mean=2)
    with ArchiveThread(sim.world, ArchiveConfig(requests_per_window=8, window_seconds=1, max_size=10)) as archive:
        settings = settings_for(sim, archive, str(tmp_path / "lake"), page_size=10, requests_per_minute=600)
        (result,) = asyncio.run(backfill(settings, "pullpush", "python", kinds=("posts",)))
        stats = archive.archive.stats()
    posts, _ = truth(sim, "python")
    assert set(ids(Lake.open(settings.lake.uri), "posts", "python")) == posts
    assert result.requests >= 6  # more than one window's worth of requests
    assert stats.get("429", 0) <= 1  # paced on X-RateLimit-*, not by bouncing off 429s


def test_comment_tree_endpoint_matches_the_thread(archived):
    sim, archive = archived
    post_id = sim.world.post_ids("python")[5]
    s = settings_for(sim, archive, "/nonexistent")

    async def tree():
        async with ArchiveClient.for_source("arcticshift", s) as client:
            return await client.comment_tree(post_id)

    comments = asyncio.run(tree())
    # Every comment made: the archive took them in before Reddit's trees hid some.
    assert sorted(c["id"] for c in comments) == sorted(sim.world.comment_ids(post_id) + sim.world.hidden_comment_ids(post_id))
    depths = {c["id"]: c["depth"] for c in comments}
    parents = {c["id"]: c["parent_id"] for c in comments}
    assert all(depths[i] == 0 if parents[i].startswith("t3_") else depths[i] == depths[parents[i][3:]] + 1 for i in depths)


def test_dump_ingestion_filters_subreddits_and_dates_in_one_read(archived, tmp_path):
    sim, archive = archived
    path = str(tmp_path / "RS_2026-10.zst")
    lines = world_lines(archive.archive, ["python", "aww", "datascience"])
    write_zst(str(path), [b"not json {", *lines])  # a torn line is skipped, not fatal
    lake = Lake.open(str(tmp_path / "lake"))
    since, until = datetime(2026, 10, 10, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)
    # Live collection stored some first: the dump must not double them.
    Landing(lake).posts("python", [archive.archive.post_item(p, sim.world.now)
                                   for p in timeline.posts(sim.world, sim.world.subreddit("python"))[-80:]],
                        datetime.now(UTC))
    before = len(ids(lake, "posts", "python"))

    landing = Landing(lake)
    result = ingest_dump(path, landing, ["python", "AWW"], since, until, batch_rows=100)

    assert result.lines == len(lines) + 1
    for sub in ("python", "aww"):
        posts, comments = truth(sim, sub, since, until)
        stored_posts = ids(lake, "posts", sub)
        assert set(ids(lake, "comments", sub)) == comments
        assert posts <= set(stored_posts) and len(stored_posts) == len(set(stored_posts))
    assert ids(lake, "posts", "datascience") == []
    assert query_rows(lake, "SELECT count(*) FROM comments WHERE source <> 'dump'")[0][0] == 0
    new_rows = len(ids(lake, "posts", "python")) - before + len(ids(lake, "comments", "python"))
    assert result.written["python"] == new_rows < result.rows["python"]  # the 80 stored posts were skipped
    # Done: a rerun reads nothing.
    assert ingest_dump(path, Landing(lake), ["python", "aww"], since, until).skipped


def test_a_dump_needs_the_large_window_and_resumes_after_a_crash(archived, tmp_path):
    import zstandard

    sim, archive = archived
    path = str(tmp_path / "RC_2026-10.zst")
    write_zst(path, world_lines(archive.archive, ["python"], kinds=("comments",)))
    with open(path, "rb") as fh, pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().stream_reader(fh).read()
    lines = list(iter_lines(path))
    assert len(lines) == len(truth(sim, "python", datetime(2000, 1, 1, tzinfo=UTC), UNTIL)[1])

    lake_path = str(tmp_path / "lake")
    # A real crash: the ingesting process is SIGKILLed once its first batch's checkpoint is published.
    kill_once_progress_shows({"what": "dump", "lake": lake_path, "path": path, "subreddits": ["python"],
                              "since": SINCE.isoformat(), "until": UNTIL.isoformat(), "batch_rows": 20})
    lake = Lake.open(lake_path)
    (stored_job,) = latest(lake, BackfillProgress, "python", "job").values()
    assert not stored_job["done"] and 0 < stored_job["position_line"] < len(lines)
    _, comments = truth(sim, "python")
    assert 0 < len(ids(lake, "comments", "python")) < len(comments)

    result = ingest_dump(path, Landing(lake), ["python"], SINCE, UNTIL, batch_rows=20)
    assert result.resumed_at_line == stored_job["position_line"]
    stored = ids(lake, "comments", "python")
    assert set(stored) == comments and len(stored) == len(set(stored))


def test_old_files_without_source_stay_readable(tmp_path):
    lake = Lake.open(str(tmp_path / "lake"))
    now = datetime.now(UTC)
    thing = {"id": "abc", "subreddit": "python", "title": "t", "created_utc": now.timestamp()}
    old = Post.to_arrow([Post.from_api(thing, now)]).drop_columns(["source", "retrieved_utc"])
    lake.write("posts", "python", old)
    Landing(lake).rows(Post, "python", [{**thing, "id": "abd"}], now, source="dump")
    rows = query_rows(lake, "SELECT id, coalesce(source, 'reddit') FROM posts ORDER BY id")
    assert rows == [("abc", "reddit"), ("abd", "dump")]
    assert lake.read("posts", "python").num_rows == 2


def test_bad_backfill_input_is_one_line(tmp_path):
    for args, message in (
        (["python", "--since", "yesterday"], "is not a date"),
        (["python", "--since", "2026-02-01", "--until", "2026-01-01"], "is not before"),
        (["python", "--since", "2026-01-01", "--source", "pushshift"], "unknown --source"),
        (["bad/name", "--since", "2026-01-01"], "invalid subreddit name"),
    ):
        proc = subprocess.run([sys.executable, "-m", "redditlake.cli", "backfill", *args], capture_output=True, text=True)
        assert proc.returncode == 1 and proc.stderr.startswith("redditlake: error:") and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    with pytest.raises(RedditLakeError):
        make_plan(["python"], "2026-01-01", None, [str(tmp_path / "nope.zst")])
    with pytest.raises(RedditLakeError, match="add --source arcticshift"):
        make_plan(["python"], "2026-01-01", None, ["pullpush"], threads=True)


def test_refresh_reconciles_archive_rows_with_the_live_api(archived, tmp_path):
    """Archive copies are stale: the compliance refresh redacts what was deleted since and adds live metrics."""
    from redditlake import compliance

    sim, archive = archived
    settings = settings_for(sim, archive, str(tmp_path / "lake"))
    lake = Lake.open(settings.lake.uri)
    asyncio.run(backfill(settings, "pullpush", "python", kinds=("posts",)))
    victim = sorted(truth(sim, "python")[0])[3]
    assert not sim.world.post(victim).deleted
    sim.world.delete(f"t3_{victim}")

    async def refresh():
        async with RedditClient(settings) as client:
            seen = await compliance.check(client, lake, "python")
        return compliance.apply(lake, "python", seen, settings.compliance, datetime.now(UTC))

    asyncio.run(refresh())
    row = query_rows(lake, f"SELECT title, author, source FROM posts WHERE id = '{victim}'")
    assert row == [("[deleted]", "[deleted]", "pullpush")]
    assert query_rows(lake, "SELECT count(DISTINCT id) FROM post_metrics")[0][0] == len(truth(sim, "python")[0])


def test_thread_backfill_is_a_request_per_post_and_beats_the_window_search_on_big_threads(make_sim, tmp_path):
    from redditlake.archive.threads import backfill_threads

    sim = make_sim(subreddits=["python"], posts_per_subreddit=30, comments_per_post_mean=250)
    with ArchiveThread(sim.world, ArchiveConfig(requests_per_window=100_000)) as archive:
        threads_settings = settings_for(sim, archive, str(tmp_path / "threads"), page_size=100)
        search_settings = settings_for(sim, archive, str(tmp_path / "search"), page_size=100)
        asyncio.run(backfill(threads_settings, "arcticshift", "python", kinds=("posts",)))
        lake = Lake.open(threads_settings.lake.uri)

        async def threads():
            async with ArchiveClient.for_source("arcticshift", threads_settings) as client:
                return await backfill_threads(client, Landing(lake), "python", SINCE, UNTIL, chunk=7)

        result = asyncio.run(threads())
        (by_window,) = asyncio.run(backfill(search_settings, "arcticshift", "python", kinds=("comments",)))
        again = asyncio.run(threads())

    with_comments = [r[0] for r in query_rows(lake, "SELECT id FROM posts WHERE num_comments > 0")]
    # An archive took each comment in as it was made: it holds those Reddit's trees now hide too.
    want = {c for pid in with_comments for c in sim.world.comment_ids(pid) + sim.world.hidden_comment_ids(pid)}
    stored = ids(lake, "comments", "python")
    assert len(want) > 3000 and set(stored) == want and len(stored) == len(set(stored))
    assert query_rows(lake, "SELECT DISTINCT source FROM comments") == [("arcticshift",)]
    assert result.requests == len(with_comments) and result.written == len(want)
    # ~130 comments a thread: fewer requests than even a perfect window search (a page per 100 comments).
    assert result.requests < len(want) / 100 <= by_window.requests
    markers = query_rows(lake, "SELECT post_id, comments FROM comment_fetches")
    assert {m[0] for m in markers} == set(with_comments)
    assert again.requests == 0  # every tree is landed: a rerun asks for nothing


def test_unusable_dump_lines_are_quarantined_and_the_ingestion_resumes_past_them(archived, tmp_path):
    sim, archive = archived
    good = world_lines(archive.archive, ["python"], kinds=("comments",))
    comment = json.loads(good[0])

    def line(**fields) -> bytes:
        return json.dumps({**comment, **fields}).encode()

    deep = b'{"subreddit": "python", "id": "deep1", "created_utc": 1790000000, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    bad = {
        b'["subreddit", {"subreddit": "python", "id": "list1"}]': "not a JSON object (a list)",
        b'{"subreddit": "python", "id": "torn1", "body": "cut sh': "not JSON",
        deep: "nested deeper than 64 levels",  # deeper than Python's parser goes
        line(id="nest1", media={"a": json.loads("[" * 80 + "]" * 80)}): "nested deeper than 64 levels",
        line(id="when1", created_utc="yesterday"): "created_utc 'yesterday' is not a number",
        line(id="big1", body="x" * (5 << 20)): "line of 5",  # past the cap, whole in one read
        line(id="huge1", body="y" * (9 << 20)): "line of 9",  # past the cap, read past in pieces
    }
    other = line(id="else1", subreddit="aww", created_utc="never")  # not a wanted subreddit: not ours to judge
    path = str(tmp_path / "RC_2026-10.zst")
    write_zst(path, [*bad, other, *good])
    lake_path = str(tmp_path / "lake")

    kill_once_progress_shows({"what": "dump", "lake": lake_path, "path": path, "subreddits": ["python"],
                              "since": SINCE.isoformat(), "until": UNTIL.isoformat(), "batch_rows": 20})
    lake = Lake.open(lake_path)
    result = ingest_dump(path, Landing(lake), ["python"], SINCE, UNTIL, batch_rows=20)

    assert result.resumed_at_line > len(bad) + 1 and result.lines == len(bad) + 1 + len(good)
    _, comments = truth(sim, "python")
    stored = ids(lake, "comments", "python")
    assert set(stored) == comments and len(stored) == len(set(stored))
    rows = query_rows(lake, "SELECT id, reason, length(raw) FROM quarantine ORDER BY reason")
    assert len(rows) == len(bad)  # each once: the rerun started past them
    reasons = sorted(r[1] for r in rows)
    for expected in bad.values():
        assert sum(reason.startswith(expected) for reason in reasons) == list(bad.values()).count(expected), expected
    assert {r[0] for r in rows} >= {"list1", "torn1", "deep1", "nest1", "when1"}
    assert all(r[2] <= 4096 for r in rows if r[1].startswith("line of"))  # an oversized line: its head only


def test_an_answer_past_the_body_cap_fails_the_request_without_retries(archived, tmp_path):
    from redditlake.errors import ResponseTooLarge

    sim, archive = archived
    settings = settings_for(sim, archive, str(tmp_path / "lake"))

    async def page(max_body_bytes: int) -> list[dict]:
        s = settings.model_copy(update={"http": settings.http.model_copy(update={"max_body_bytes": max_body_bytes})})
        async with ArchiveClient.for_source("arcticshift", s) as client:
            return await client.search("comments", "python", int(SINCE.timestamp()), int(UNTIL.timestamp()))

    assert len(asyncio.run(page(1 << 20))) == 25
    before = archive.archive.stats()["requests"]
    with pytest.raises(ResponseTooLarge, match="answered more than 4096 bytes"):
        asyncio.run(page(4096))
    assert archive.archive.stats()["requests"] == before + 1


def test_a_streamed_answer_without_a_length_is_cut_at_the_body_cap(tmp_path):
    """No Content-Length to refuse up front (chunked, as a compressed answer also is): the read stops at the cap."""
    from aiohttp import web

    from redditlake.config import load_settings
    from redditlake.errors import ResponseTooLarge
    from redditlake.simulator.serving import AppThread

    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"data": [')
        try:
            for _ in range(512):  # 8 MiB if nobody stops reading
                await response.write(b'"' + b"x" * 16_000 + b'",')
                sent.append(1)
            await response.write(b'""]}')
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    app = web.Application()
    app.router.add_get("/api/comments/search", endless)
    server = AppThread(app, "endless-archive").start()
    try:
        settings = load_settings(env={"REDDITLAKE_LAKE": str(tmp_path / "lake")})
        settings = settings.model_copy(update={
            "archive": settings.archive.model_copy(update={"arcticshift_url": server.url}),
            "http": settings.http.model_copy(update={"max_body_bytes": 1 << 20})})

        async def page():
            async with ArchiveClient.for_source("arcticshift", settings) as client:
                return await client.search("comments", "python", 0, 1)

        with pytest.raises(ResponseTooLarge, match=f"answered more than {1 << 20} bytes"):
            asyncio.run(page())
    finally:
        server.stop()
    assert len(sent) < 512


def test_a_tree_node_hung_under_the_wrong_parent_gets_no_depth(tmp_path):
    """An archive tree that lost a reply's parent shows the reply at the top: its place says nothing
    about its depth (nor its subtree's), so the client leaves them for the landing to derive."""
    from aiohttp import web

    from redditlake.config import load_settings
    from redditlake.simulator.serving import AppThread

    def node(cid: str, parent: str, *replies: dict) -> dict:
        listing = {"kind": "Listing", "data": {"children": list(replies)}} if replies else ""
        return {"kind": "t1", "data": {"id": cid, "name": f"t1_{cid}", "parent_id": parent, "replies": listing}}

    tree = [node("x", "t3_p", node("y", "t1_x", node("z", "t1_y"))), node("b", "t1_a", node("c", "t1_b"))]

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"data": tree, "error": None})

    app = web.Application()
    app.router.add_get("/api/comments/tree", answer)
    server = AppThread(app, "tree-archive").start()
    try:
        settings = load_settings(env={"REDDITLAKE_LAKE": str(tmp_path / "lake")})
        settings = settings.model_copy(update={"archive": settings.archive.model_copy(update={"arcticshift_url": server.url})})

        async def fetch():
            async with ArchiveClient.for_source("arcticshift", settings) as client:
                return await client.comment_tree("p")

        depths = {c["id"]: c["depth"] for c in asyncio.run(fetch())}
    finally:
        server.stop()
    assert depths == {"x": 0, "y": 1, "z": 2, "b": None, "c": None}


def test_a_pseudonymised_lake_keeps_no_unparseable_dump_text(archived, tmp_path):
    from redditlake.privacy import Pseudonymiser

    sim, archive = archived
    comment = json.loads(world_lines(archive.archive, ["python"], kinds=("comments",))[0])
    torn = json.dumps({**comment, "author": "SomeRealName"}).encode()[:-20]  # a torn line: no JSON, a name inside
    path = str(tmp_path / "RC_2026-10.zst")
    write_zst(path, [torn, json.dumps({**comment, "author": "OtherName", "created_utc": "soon"}).encode()])
    lake = Lake.open(str(tmp_path / "lake"))

    result = ingest_dump(path, Landing(lake, pseudonymiser=Pseudonymiser("k3y")), ["python"], SINCE, UNTIL)

    assert result.quarantined == {"python": 2}
    raws = dict(query_rows(lake, "SELECT reason, raw FROM quarantine"))
    assert len(raws) == 2 and not any("SomeRealName" in r or "OtherName" in r for r in raws.values())
    assert any(r.startswith("[withheld: ") for r in raws.values())
    assert any(json.loads(r).get("author", "").startswith("u_") for r in raws.values() if r.startswith("{"))

"""A run's reads are bounded by what it can touch, not by the lake's history;
compaction of due partitions keeps every row and is safe next to writers.

Old history is made unreadable on purpose (the committed data files of an old
partition overwritten with garbage): a reader that touched it would fail, so these
tests fail if a run's reads grow back to the whole history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from redditlake import pipeline
from redditlake.lake import Lake
from redditlake.lake.maintenance import CompactionPolicy, compact_due, files_per_partition
from redditlake.watermark import StoredPosts, created_day, marker_days, recent_post_days
from s3server import TEST_CREDENTIALS, make_bucket
from test_lake_s3 import recorded_requests
from redditlake.outcome import lines as lines_of

UTC = dt.UTC
TS = pa.timestamp("us", tz="UTC")
TODAY = dt.date(2026, 3, 31)
SUB = "python"


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def post_rows(ids: list[str], created: list[dt.datetime], num_comments: int = 3) -> pa.Table:
    return pa.table({
        "id": pa.array(ids, pa.string()),
        "created_utc": pa.array(created, TS),
        "num_comments": pa.array([num_comments] * len(ids), pa.int64()),
        "collected_at": pa.array(created, TS),
    })


def markers(post_ids: list[str], collected: dt.datetime, num_comments: int = 3) -> pa.Table:
    return pa.table({
        "post_id": pa.array(post_ids, pa.string()),
        "num_comments": pa.array([num_comments] * len(post_ids), pa.int64()),
        "collected_at": pa.array([collected] * len(post_ids), TS),
    })


def api_post(post_id: str, created: dt.datetime) -> dict:
    """A post as the API lists it (the fields the watermark looks at)."""
    return {"id": post_id, "created_utc": created.timestamp(), "num_comments": 3}


def history(lake: Lake, days: int, per_day: int = 2) -> dict[dt.date, list[str]]:
    """``days`` days of posts ending on TODAY, each with its marker written an hour later."""
    stored: dict[dt.date, list[str]] = {}
    for n in range(days):
        day = TODAY - dt.timedelta(days=days - 1 - n)
        ids = [f"{day:%m%d}p{i}" for i in range(per_day)]
        lake.write("posts", SUB, post_rows(ids, [at(day, 1 + i) for i in range(per_day)]))
        lake.append("comment_fetches", SUB, markers(ids, at(day, 23)))
        stored[day] = ids
    return stored


def poison(root: Path, table: str, day: dt.date) -> dict[Path, bytes]:
    """Make a partition unreadable (any reader that opens its files fails); returns what
    ``cure`` needs to undo it."""
    folder = root / table / f"subreddit={SUB}" / f"dt={day.isoformat()}"
    originals = {f: f.read_bytes() for f in folder.glob("*.parquet")}
    assert originals, f"nothing to poison in {folder}"
    for f in originals:
        f.write_bytes(b"not parquet at all")
    return originals


def cure(originals: dict[Path, bytes]) -> None:
    for f, data in originals.items():
        f.write_bytes(data)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.open(tmp_path / "lake")


def test_the_new_watermark_reads_only_the_days_its_page_spans(lake: Lake, tmp_path: Path) -> None:
    stored = history(lake, 40)
    old = TODAY - dt.timedelta(days=30)
    poison(tmp_path / "lake", "posts", old)
    with pytest.raises(Exception):  # the poison works: a whole-history read fails
        lake.existing_ids("posts", SUB)

    page = [api_post(pid, at(day, 1 + i)) for day in (TODAY, TODAY - dt.timedelta(days=1)) for i, pid in enumerate(stored[day])]
    known = StoredPosts(lake, SUB)
    assert known.all_stored(page)
    assert known.days_read == [TODAY - dt.timedelta(days=1), TODAY]
    assert not known.all_stored([*page, api_post("brandnew", at(TODAY, 20))])
    assert not known.all_stored([{"id": stored[TODAY][0], "created_utc": None}])
    assert created_day(api_post("x", dt.datetime(2026, 3, 30, 23, 59, 59, 999999, tzinfo=UTC))) == dt.date(2026, 3, 30)


def test_comment_markers_and_the_stranded_check_read_a_recent_window(lake: Lake, tmp_path: Path) -> None:
    stored = history(lake, 40)
    # Two posts stranded (landed, tree never landed): one recent, one old.
    recent, old = TODAY - dt.timedelta(days=1), TODAY - dt.timedelta(days=35)
    lake.write("posts", SUB, post_rows(["strandedrecent", "strandedold"], [at(recent, 5), at(old, 5)]))

    window = recent_post_days(lake, SUB, 3)
    assert window == [TODAY - dt.timedelta(days=2), recent, TODAY]
    run_posts = [api_post(pid, at(TODAY, 1)) for pid in stored[TODAY]]
    since = pipeline.oldest_day(run_posts, window)
    assert since == TODAY - dt.timedelta(days=2)
    assert marker_days(lake, SUB, since) == [TODAY - dt.timedelta(days=n) for n in (3, 2, 1, 0)]

    # Old history poisoned in both tables: the bounded reads never open it.
    poisoned = poison(tmp_path / "lake", "posts", TODAY - dt.timedelta(days=20))
    poisoned |= poison(tmp_path / "lake", "comment_fetches", TODAY - dt.timedelta(days=20))
    fetched = pipeline.fetched_trees(lake, SUB, since)
    assert set(stored[TODAY]) <= set(fetched) and not set(stored[TODAY - dt.timedelta(days=10)]) & set(fetched)
    assert pipeline.posts_needing_comments(run_posts, fetched) == []
    stranded = pipeline.unfetched_stored_posts(lake, SUB, fetched, window)
    assert [p["id"] for p in stranded] == ["strandedrecent"]

    # The periodic full sweep (days=None) reads everything and finds the old one too.
    cure(poisoned)
    everything = pipeline.fetched_trees(lake, SUB, None)
    swept = pipeline.unfetched_stored_posts(lake, SUB, everything, recent_post_days(lake, SUB, None))
    assert sorted(p["id"] for p in swept) == ["strandedold", "strandedrecent"]


def test_dedup_on_write_reads_only_the_target_partitions(lake: Lake, tmp_path: Path) -> None:
    stored = history(lake, 10)
    poison(tmp_path / "lake", "posts", TODAY - dt.timedelta(days=8))
    again = post_rows([*stored[TODAY], "fresh"], [at(TODAY, 1), at(TODAY, 2), at(TODAY, 3)])
    result = lake.write("posts", SUB, again)
    assert (result.written, result.duplicates_skipped) == (1, 2)


def test_on_s3_the_watermark_costs_the_same_requests_for_10_and_60_days_of_history(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    costs = []
    for days in (10, 60):
        bucket = f"history-{uuid.uuid4().hex[:12]}"
        make_bucket(s3_endpoint, bucket)
        lake = Lake.open(f"s3://{bucket}/lake", endpoint_url=s3_endpoint)
        stored = history(lake, days)
        page = [api_post(pid, at(TODAY, 1 + i)) for i, pid in enumerate(stored[TODAY])]

        def run_reads() -> None:
            known = StoredPosts(lake, SUB)
            assert known.all_stored(page)
            window = recent_post_days(lake, SUB, 3)
            fetched = pipeline.fetched_trees(lake, SUB, pipeline.oldest_day(page, window))
            assert pipeline.unfetched_stored_posts(lake, SUB, fetched, window) == []

        costs.append(recorded_requests(caplog, run_reads))
    assert costs[0] == costs[1] and sum(costs[0].values()) > 0, costs


def test_files_per_partition_and_compacting_what_is_due(lake: Lake) -> None:
    for hour in range(4):  # four runs today, four on an old day: 4 files per partition
        lake.write("posts", SUB, post_rows([f"t{hour}", f"o{hour}"], [at(TODAY, hour), at(TODAY - dt.timedelta(days=5), hour)]))
        lake.append("post_metrics", SUB, post_rows([f"t{hour}", "t0"], [at(TODAY, hour)] * 2))
    lake.write("posts", "rust", post_rows(["r"], [at(TODAY, 1)]))
    counts = {(p.table, p.subreddit, p.day): p.files for p in files_per_partition(lake)}
    assert counts == {
        ("post_metrics", SUB, TODAY): 4,
        ("posts", "rust", TODAY): 1,
        ("posts", SUB, TODAY - dt.timedelta(days=5)): 4,
        ("posts", SUB, TODAY): 4,
    }
    assert all(p.bytes > 0 for p in files_per_partition(lake, ["posts"], "Python"))

    # Today's partitions are below min_files and not old enough: left for later.
    report = compact_due(lake, CompactionPolicy(min_files=10, after_days=1), today=TODAY)
    after = {(p.table, p.subreddit, p.day): p.files for p in files_per_partition(lake)}
    assert after[("posts", SUB, TODAY - dt.timedelta(days=5))] == 1
    assert after[("posts", SUB, TODAY)] == 4 and after[("post_metrics", SUB, TODAY)] == 4
    by_table = {t.table: t for t in report.tables}
    assert (by_table["posts"].due, by_table["posts"].compacted, by_table["posts"].files_before, by_table["posts"].files_after) == (1, 1, 9, 6)
    assert "posts: 1/1 due partitions compacted" in "\n".join(report.lines())

    # Past the file-count threshold: compacted whatever the age, snapshot rows all kept.
    compact_due(lake, CompactionPolicy(min_files=3, after_days=30), today=TODAY)
    assert {p.files for p in files_per_partition(lake)} == {1}
    assert lake.read("post_metrics").num_rows == 8
    assert sorted(lake.read("posts", SUB).column("id").to_pylist()) == sorted([f"t{h}" for h in range(4)] + [f"o{h}" for h in range(4)])


def test_compaction_alongside_writers_loses_and_doubles_nothing(lake: Lake) -> None:
    days = [TODAY - dt.timedelta(days=n) for n in range(3)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for n in range(25):  # overlapping batches: every id is offered by several writers
                ids = [f"p{(n + k) % 40}" for k in range(6)]
                lake.write("posts", SUB, post_rows(ids, [at(days[int(i[1:]) % 3], int(i[1:]) % 24) for i in ids]))
                lake.append("post_metrics", SUB, post_rows([f"w{w}n{n}"], [at(days[n % 3])]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def compactor() -> None:
        try:
            while not stop.is_set():
                compact_due(lake, CompactionPolicy(min_files=2, after_days=0), today=TODAY)
                pipeline.fetched_trees(lake, SUB, days[-1])  # readers meet vanishing files too
                StoredPosts(lake, SUB).all_stored([api_post("p1", at(days[1], 1))])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    background = threading.Thread(target=compactor)
    background.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    background.join()
    assert errors == []
    ids = lake.read("posts", SUB).column("id").to_pylist()
    assert sorted(ids) == sorted(set(ids)) and set(ids) == {f"p{n}" for n in range(30)}
    metrics = Counter(lake.read("post_metrics", SUB).column("id").to_pylist())
    assert metrics == Counter({f"w{w}n{n}": 1 for w in range(3) for n in range(25)})



def test_a_listing_never_fails_on_a_folder_created_under_it(tmp_path: Path) -> None:
    """The race behind "FileNotFoundError: Cannot list directory …/lake": Arrow's listing
    reads a folder, fails, then finds the folder exists (a writer's makedirs came in
    between) and raises. Folders appear here as fast as a thread can make them while
    another lists the next ones (without the retry in ``Storage._list`` this fails
    within a fraction of a second)."""
    lake = Lake.open(tmp_path / "lake")
    root = tmp_path / "lake" / "posts" / f"subreddit={SUB}"
    made = [0]
    stop = threading.Event()
    errors: list[BaseException] = []
    listings = [0]

    def lister() -> None:
        while not stop.is_set():
            n = made[0]
            for folder in (root / f"dt={n}", root / f"dt={n + 1}"):  # the next folders to appear
                try:
                    lake.storage.files(str(folder))
                    lake.storage.subfolders(str(folder))
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                listings[0] += 2

    thread = threading.Thread(target=lister)
    thread.start()
    try:
        root.mkdir(parents=True)
        while made[0] < 1500 and not errors:  # a count, not a time: a slow machine races as well
            (root / f"dt={made[0]}").mkdir()
            made[0] += 1
    finally:
        stop.set()
        thread.join()
    assert errors == [] and made[0] > 1000 and listings[0] > 100, (errors[:1], made, listings)


# -- the same through the real flows (Prefect engine, simulator over HTTP) -------------------

FLOW_SUB = "worldnews"


def assert_unique(lake: Lake) -> tuple[set[str], set[str]]:
    posts = lake.read("posts", FLOW_SUB).column("id").to_pylist()
    comments = lake.read("comments", FLOW_SUB).column("id").to_pylist()
    assert len(posts) == len(set(posts)) and len(comments) == len(set(comments))
    return set(posts), set(comments)


def assert_trees_complete(lake: Lake, sim, post_ids: set[str]) -> None:
    """Every comment the simulator shows now for these posts is stored, and nothing else is."""
    _, comments = assert_unique(lake)
    stored = {c for c in comments}
    expected = {c for p in post_ids for c in sim.world.comment_ids(p)}
    assert expected <= stored, f"{len(expected - stored)} comments missing"
    everything = {c for p in sim.world.post_ids(FLOW_SUB) for c in sim.world.comment_ids(p)}
    assert stored <= everything


@pytest.mark.prefect
@pytest.mark.timeout(900)  # the session's first Prefect test also pays the server's start-up
def test_an_incremental_collect_never_reads_old_history(prefect_api, make_sim, tmp_path: Path) -> None:
    """History beyond the bounded window is unreadable; the run still lands exactly the posts
    that appeared since, every comment of the posts it listed, and nothing twice."""
    from conftest import sim_settings
    from flows.collect import collect

    sim = make_sim(posts_per_subreddit=1440, comments_per_post_mean=4)  # 2 posts an hour
    root = tmp_path / "lake"
    settings = sim_settings(sim, str(root), sorts=["new"], limit=30)
    assert collect_ok(collect([FLOW_SUB], settings))
    lake = Lake.open(root)
    first, _ = assert_unique(lake)
    assert len(first) == 30
    oldest = lake.days("posts", FLOW_SUB)[0]
    for table in ("posts", "comments", "comment_fetches", "post_metrics", "api_requests"):
        for back in (10, 90):  # history nobody may read: any reader that opens it fails
            folder = root / table / f"subreddit={FLOW_SUB}" / f"dt={oldest - dt.timedelta(days=back)}"
            folder.mkdir(parents=True)
            (folder / "part-garbage.parquet").write_bytes(b"not parquet at all")

    sim.world.advance(3 * 3600)
    appeared = set(sim.world.post_ids(FLOW_SUB)[-30:]) - first
    assert 0 < len(appeared) < 30  # a handful, so the listing still reaches stored posts
    summary = asyncio.run(collect([FLOW_SUB], settings))[0]
    assert summary.ok, summary.error
    assert summary.posts_written == len(appeared)
    for f in root.glob("*/*/*/part-garbage.parquet"):
        f.unlink()
    posts, _ = assert_unique(lake)
    assert posts == first | appeared
    # Posts in this run's listing have complete trees (comments of posts that left the
    # listing are not re-read by design: the stranded check covers only trees never landed).
    assert_trees_complete(lake, sim, set(sim.world.post_ids(FLOW_SUB)[-30:]))


def collect_ok(run) -> bool:
    summaries = asyncio.run(run)
    return all(s.ok for s in summaries) and len(summaries) > 0


@pytest.mark.prefect
@pytest.mark.timeout(900)  # the session's first Prefect test also pays the server's start-up
def test_compaction_running_alongside_collects_loses_and_doubles_nothing(prefect_api, make_sim, tmp_path: Path) -> None:
    """Real collect flows land small files (a comment file per 3 posts) while compaction
    merges every partition with 2+ files over and over, from the lake's first write on
    (the lake folder does not exist when it starts). Every post is in every run's `hot`
    listing, so after each run the lake must hold exactly the simulator's posts and comments."""
    from conftest import sim_settings
    from flows.collect import collect
    from flows.maintenance import maintain

    sim = make_sim(posts_per_subreddit=150, comments_per_post_mean=10)
    root = tmp_path / "lake"
    settings = sim_settings(sim, str(root), sorts=["new", "hot"], limit=200, posts_per_comment_task=3)
    lake = Lake.open(root)
    stop = threading.Event()
    rounds: list[int] = []
    errors: list[BaseException] = []

    def compact_forever() -> None:
        try:
            while not stop.is_set():
                report = compact_due(lake, CompactionPolicy(min_files=2, after_days=0))
                rounds.append(sum(t.compacted for t in report.tables))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    background = threading.Thread(target=compact_forever)
    background.start()
    try:
        for n in range(3):  # three runs, each landing while partitions are compacted under it
            if n:
                sim.world.advance(6 * 3600)
            assert collect_ok(collect([FLOW_SUB], settings))
            posts, _ = assert_unique(lake)
            assert posts == set(sim.world.post_ids(FLOW_SUB))
            assert_trees_complete(lake, sim, posts)
    finally:
        stop.set()
        background.join()
    assert errors == [], errors
    assert len(rounds) >= 3 and sum(rounds) > 0, rounds  # it did compact under the runs
    metrics = lake.read("post_metrics", FLOW_SUB).num_rows
    assert metrics > 0

    # The maintenance flow reports what it did; afterwards one file per partition.
    lines = lines_of(asyncio.run(maintain(min_files=2, after_days=0, settings=settings)))
    assert any(line.startswith("posts: ") for line in lines), lines
    assert {p.files for p in files_per_partition(lake)} == {1}
    posts, _ = assert_unique(lake)
    assert posts == set(sim.world.post_ids(FLOW_SUB))
    assert_trees_complete(lake, sim, posts)
    assert lake.read("post_metrics", FLOW_SUB).num_rows == metrics


@pytest.mark.prefect
@pytest.mark.timeout(900)  # the session's first Prefect test also pays the server's start-up
def test_maintain_lake_sweeps_every_stranded_tree_and_reports_files_per_partition(
    prefect_api, make_sim, tmp_path: Path
) -> None:
    """The maintenance flow: the full sweep lands trees that never landed however old their
    posts (an hourly run checks only the recent window), compaction follows, and files per
    partition (max, mean) go to ``data_quality_metrics`` and the quality catalog."""
    import shutil

    import duckdb

    from conftest import sim_settings
    from flows.collect import collect
    from flows.maintenance import maintain
    from redditlake.quality import catalog, results

    sim = make_sim(posts_per_subreddit=60, comments_per_post_mean=4)  # 2 posts a day over 30 days
    root = tmp_path / "lake"
    assert collect_ok(collect([FLOW_SUB], sim_settings(sim, str(root), sorts=["new"], limit=100)))
    lake = Lake.open(root)
    posts, comments = assert_unique(lake)
    assert len(posts) == 60 and comments
    for table in ("comments", "comment_fetches"):  # every tree lost: all 60 posts stranded
        shutil.rmtree(root / table)
    settings = sim_settings(sim, str(root), sorts=["new"], limit=5)
    assert lake.days("posts", FLOW_SUB)[-1] - lake.days("posts", FLOW_SUB)[0] > dt.timedelta(days=20)

    state = asyncio.run(maintain(min_files=2, after_days=0, settings=settings, sweep=[FLOW_SUB], return_state=True))
    lines = lines_of(asyncio.run(state.aresult()))
    assert any(line.startswith(f"full sweep r/{FLOW_SUB}: ") for line in lines), lines
    assert any(line.startswith("comments: ") for line in lines), lines
    assert_trees_complete(lake, sim, posts)
    assert assert_unique(lake)[1] == comments

    spread = {(p.table, p.subreddit) for p in files_per_partition(lake)}
    metrics = results.read(lake, "data_quality_metrics").to_pylist()
    reported = {(m["table_name"], m["subreddit_name"], m["metric_name"]): m["metric_value"]
                for m in metrics if m["metric_name"].startswith("files_per_partition")}
    assert set(reported) == {(t, s, f"files_per_partition_{k}") for t, s in spread for k in ("max", "mean")}
    assert all(value == 1.0 for value in reported.values())  # all compacted: one file per partition

    # The run summary in Prefect: what was compacted, then files per partition per table.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
            )

    (summary,) = [a for a in asyncio.run(artifacts()) if a.key == "maintain-lake-summary"]
    assert "## Compaction" in summary.data and f"| comments | {FLOW_SUB} | " in summary.data

    path = catalog.build(lake, tmp_path / "quality.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        (count,) = con.execute(
            "SELECT count(*) FROM data_quality_metrics WHERE metric_name = 'files_per_partition_max' "
            "AND table_name = 'comments' AND subreddit_name = ?", [FLOW_SUB]
        ).fetchone()
    assert count == 1

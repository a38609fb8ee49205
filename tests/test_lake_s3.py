"""The same lake on S3: a real moto server over HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from s3server import list_keys
from test_lake import DAY1, DAY2, posts

from redditlake.lake import Lake, WriteResult
from redditlake.lake.maintenance import CompactionPolicy, compact_due



@pytest.fixture
def lake(s3_endpoint: str, bucket: str) -> Lake:
    return Lake.open(f"s3://{bucket}/data", endpoint_url=s3_endpoint)


def test_writes_land_under_the_prefix_in_hive_partitions(lake: Lake, s3_endpoint: str, bucket: str) -> None:
    result = lake.write("posts", "Python", posts(["a", "b"], created=[DAY1, DAY2], subreddit=["Python"] * 2))

    data_keys = [k for k in list_keys(s3_endpoint, bucket) if k.endswith(".parquet")]
    assert [k.rsplit("/", 1)[0] for k in data_keys] == [
        "data/posts/subreddit=python/dt=2024-03-01",
        "data/posts/subreddit=python/dt=2024-03-02",
    ]
    assert "data/posts/_delta_log/00000000000000000000.json" in list_keys(s3_endpoint, bucket)
    assert result.written == 2
    assert lake.uri == f"s3://{bucket}/data"


def test_dedup_within_a_batch_and_against_stored_ids(lake: Lake) -> None:
    first = lake.write("posts", "python", posts(["a", "b", "a"], created=[DAY1, DAY2, DAY1], title=["x", "b", "y"]))
    second = lake.write("posts", "python", posts(["a", "c"]))

    assert (first.written, first.duplicates_skipped) == (2, 1)
    assert second == WriteResult("posts", "python", 2, 1, 1)
    assert lake.existing_ids("posts", "python") == {"a", "b", "c"}
    assert lake.existing_ids("posts", "python", [DAY2.date()]) == {"b"}
    assert sorted(lake.read("posts").column("title").to_pylist()) == ["b", "title c", "y"]


def test_threads_writing_one_subreddit_never_store_an_id_twice(lake: Lake) -> None:
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            barrier.wait()
            for batch in range(5):
                start = (seed * 13 + batch * 17) % 60
                lake.write("posts", "python", posts([f"id{i}" for i in range(start, start + 40)]))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    stored = lake.read("posts").column("id").to_pylist()
    assert len(stored) == len(set(stored))


def test_duckdb_queries_the_s3_lake_with_filters_and_aggregates(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a", "b"], created=[DAY1, DAY2], score=[1, 2]))
    lake.write("posts", "rust", posts(["c"], score=[40]))
    lake.append("post_metrics", "python", posts(["a", "a"], collected=[DAY1, DAY2], score=[1, 9]))

    con = lake.duckdb()
    assert con.sql("SELECT subreddit, sum(score) FROM posts GROUP BY 1 ORDER BY 1").fetchall() == [
        ("python", 3),
        ("rust", 40),
    ]
    assert con.sql("SELECT id FROM posts WHERE dt = DATE '2024-03-02' AND subreddit = 'python'").fetchall() == [("b",)]
    assert con.sql("SELECT max(score) FROM post_metrics WHERE id = 'a'").fetchall() == [(9,)]
    assert lake.query("SELECT count(*) AS n FROM posts").to_pylist() == [{"n": 3}]


def test_unicode_round_trips_on_s3(lake: Lake) -> None:
    texts = ["🐍👩‍👩‍👧‍👦", "עברית ومرحبا", "zero\u200bwidth", "y" * 40_000]
    lake.write("posts", "python", posts([str(i) for i in range(4)], selftext=texts))

    assert [r["selftext"] for r in lake.query("SELECT selftext FROM posts ORDER BY id").to_pylist()] == texts


def test_a_fresh_s3_lake_has_no_views_and_does_not_crash(lake: Lake) -> None:
    assert lake.tables() == []
    assert lake.read("posts").num_rows == 0
    assert lake.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]


def test_files_are_zstd_with_large_row_groups(lake: Lake, s3_endpoint: str, bucket: str) -> None:
    lake.write("posts", "python", posts([str(i) for i in range(3000)]))
    (key,) = [k for k in list_keys(s3_endpoint, bucket) if k.endswith(".parquet")]

    with lake.location.filesystem.open_input_file(f"{bucket}/{key}") as source:
        metadata = pq.ParquetFile(source).metadata
    assert metadata.num_row_groups == 1
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_compaction_on_s3(lake: Lake, s3_endpoint: str, bucket: str) -> None:
    for n in range(3):
        lake.write("posts", "python", posts([f"a{n}"]))

    compact_due(lake, CompactionPolicy(min_files=2, after_days=0, retention_hours=0))

    data_keys = [k for k in list_keys(s3_endpoint, bucket) if k.endswith(".parquet") and "_delta_log" not in k]
    assert len(data_keys) == 1
    assert sorted(lake.read("posts").column("id").to_pylist()) == ["a0", "a1", "a2"]


def test_endpoint_and_credentials_come_from_the_environment(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    lake = Lake.open(f"s3://{bucket}")

    lake.write("posts", "python", posts(["a"]))

    assert lake.read("posts").column("id").to_pylist() == ["a"]
    assert lake.tables() == ["posts"]


def test_a_missing_bucket_is_an_error_not_created(s3_endpoint: str, bucket: str) -> None:
    lake = Lake.open("s3://no-such-bucket/x", endpoint_url=s3_endpoint)

    with pytest.raises(OSError):
        lake.write("posts", "python", posts(["a"]))


def test_the_day_partition_uses_utc(lake: Lake) -> None:
    late = dt.datetime(2024, 3, 1, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-2)))
    lake.write("posts", "python", posts(["a"], created=late))

    assert lake.read("posts").column("dt").to_pylist() == [dt.date(2024, 3, 2)]


def test_an_s3_lake_can_be_handed_to_another_process(lake: Lake) -> None:
    import pickle

    lake.write("posts", "python", posts(["a"]))
    copy = pickle.loads(pickle.dumps(lake))

    assert copy.write("posts", "python", posts(["a", "b"])).written == 1


# -- reading ids, redaction, latest snapshots ------------------------------------------


_REQUEST_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|HEAD|PUT|POST|DELETE) /')


def recorded_requests(caplog: pytest.LogCaptureFixture, action: Callable[[], object]) -> Counter[str]:
    """HTTP methods of the requests the moto server logged while ``action`` ran.

    Read from the server's (werkzeug's) access log rather than moto's
    recorder, which would write a ``moto_recording`` file into the cwd.
    """
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        action()
    methods = (_REQUEST_LINE.search(r.getMessage()) for r in caplog.records if r.name == "werkzeug")
    return Counter(m.group(1) for m in methods if m)


def test_existing_ids_of_a_subreddit_reads_each_file_without_a_head_request(
    lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(6):
        lake.write("posts", "python", posts([f"a{n}", f"b{n}"], created=[DAY1, DAY2]))  # 2 files per write
    lake.write("posts", "rust", posts(["r"]))

    ids: set[str] = set()
    methods = recorded_requests(caplog, lambda: ids.update(lake.existing_ids("posts", "python")))

    assert ids == {f"{x}{n}" for x in "ab" for n in range(6)}
    # The log (one listing, the commits since the last checkpoint), then the id column of
    # each of the 12 python files (footer and column chunk); the sizes come from the log.
    assert methods["GET"] >= 12
    assert methods.get("HEAD", 0) <= 1
    assert methods["GET"] <= 3 * 12 + 8 + 2


def test_redact_on_s3(lake: Lake, s3_endpoint: str, bucket: str) -> None:
    lake.write("posts", "python", posts(["a", "b", "c"], created=[DAY1, DAY1, DAY2], author=["ua", "ub", "uc"]))
    lake.write("posts", "python", posts(["d"], author=["ud"]))
    con = lake.duckdb()  # an S3 view: a snapshot of the files of this moment

    result = lake.redact("posts", "python", {"b", "c", "zz"}, {"title": "[deleted]", "author": None})

    assert (result.redacted, result.not_found, result.rows) == ({"b", "c"}, {"zz"}, 2)
    # A snapshot taken before the redaction still reads the old values until the purge.
    assert con.sql("SELECT author FROM posts WHERE id = 'b'").fetchall() == [("ub",)]
    purged = lake.purge("posts")
    assert len(purged) == 2  # the files of both days that held b and c
    assert not {k for k in list_keys(s3_endpoint, bucket) if any(k.endswith(p) for p in purged)}
    assert lake.query("SELECT id, title, author FROM posts ORDER BY id").to_pylist() == [
        {"id": "a", "title": "title a", "author": "ua"},
        {"id": "b", "title": "[deleted]", "author": None},
        {"id": "c", "title": "[deleted]", "author": None},
        {"id": "d", "title": "title d", "author": "ud"},
    ]
    con.close()
    with pytest.raises(ValueError, match="unknown column"):
        lake.redact("posts", "python", {"a"}, {"auhtor": None})


def test_latest_on_s3_sees_snapshots_published_since_the_last_call(lake: Lake) -> None:
    ts = pa.timestamp("us", tz="UTC")

    def fetched(post_id: str, num_comments: int, at: dt.datetime) -> pa.Table:
        return pa.table(
            {"post_id": [post_id], "num_comments": [num_comments], "collected_at": pa.array([at], ts)}
        )

    assert lake.latest("comment_fetches", "python", ["post_id", "num_comments"], key="post_id").num_rows == 0
    lake.append("comment_fetches", "python", fetched("p1", 3, DAY1))
    lake.append("comment_fetches", "python", fetched("p2", 7, DAY1))
    assert lake.latest("comment_fetches", "python", ["post_id", "num_comments"], key="post_id").sort_by(
        "post_id"
    ).to_pylist() == [{"post_id": "p1", "num_comments": 3}, {"post_id": "p2", "num_comments": 7}]

    lake.append("comment_fetches", "python", fetched("p1", 12, DAY2))

    latest = lake.latest("comment_fetches", "python", ["post_id", "num_comments"], key="post_id")
    assert sorted(latest.to_pylist(), key=lambda r: r["post_id"]) == [
        {"post_id": "p1", "num_comments": 12},
        {"post_id": "p2", "num_comments": 7},
    ]


_REQUEST_PATH = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|HEAD|PUT|POST|DELETE) (/\S*)')


def recorded_paths(caplog: pytest.LogCaptureFixture, action: Callable[[], object]) -> list[str]:
    """"METHOD /path?query" of each request the moto server logged while ``action`` ran."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        action()
    found = (_REQUEST_PATH.search(r.getMessage()) for r in caplog.records if r.name == "werkzeug")
    return [f"{m.group(1)} {m.group(2)}" for m in found if m]


def test_a_lake_writing_a_table_again_catches_its_copy_up_instead_of_reading_the_log_again(
    lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(11):  # versions 0 (create) to 11; 10 has a checkpoint
        lake.write("posts", "python", posts([f"a{n}"]))

    requests = recorded_paths(caplog, lambda: lake.write("posts", "python", posts(["b"])))
    reads = recorded_paths(caplog, lambda: lake.existing_ids("posts", "python"))

    # Only the commit it made (version 12, read back after the PUT), never the checkpoint nor
    # a commit its copy had read.
    log_reads = [r for r in requests + reads if r.startswith("GET") and "?" not in r and "_delta_log/0" in r]
    assert not [r for r in log_reads if ".checkpoint.parquet" in r]
    assert all(r.endswith("00000000000000000012.json") for r in log_reads), log_reads
    assert sum(r.startswith("PUT") and "_delta_log/0" in r for r in requests) == 1  # one commit
    assert lake.existing_ids("posts", "python") == {f"a{n}" for n in range(11)} | {"b"}

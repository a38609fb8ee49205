"""The Delta lake on local disk: layout, one row per id, commits, readers, maintenance.

S3 behaviour is specified in test_lake_s3.py with the same helpers.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from redditlake.lake import Lake, RedactResult, WriteResult
from redditlake.lake.maintenance import CompactionPolicy, compact_due

UTC = dt.UTC
TS = pa.timestamp("us", tz="UTC")
DAY1 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DAY2 = dt.datetime(2024, 3, 2, 8, 30, tzinfo=UTC)
DAY3 = dt.datetime(2024, 3, 3, 23, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]
EVERYTHING = CompactionPolicy(min_files=2, after_days=0, retention_hours=0)


def posts(
    ids: Sequence[str],
    *,
    created: dt.datetime | Sequence[dt.datetime] = DAY1,
    collected: dt.datetime | Sequence[dt.datetime | None] | None = None,
    **columns: Sequence[object],
) -> pa.Table:
    """A posts batch: ``id``, ``created_utc``, optional ``collected_at``, extras."""
    n = len(ids)
    created_values = list(created) if isinstance(created, Sequence) else [created] * n
    data: dict[str, pa.Array] = {
        "id": pa.array(list(ids), pa.string()),
        "created_utc": pa.array(created_values, TS),
    }
    if collected is not None:
        collected_values = list(collected) if isinstance(collected, Sequence) else [collected] * n
        data["collected_at"] = pa.array(collected_values, TS)
    for name, values in columns.items():
        data[name] = pa.array(list(values))
    if "title" not in data:
        data["title"] = pa.array([f"title {i}" for i in ids], pa.string())
    return pa.table(data)


def visible_files(root: Path) -> list[Path]:
    """Every data file under the lake (what a bare *.parquet glob would pick up; the snapshot may
    use fewer)."""
    return sorted(p for p in root.rglob("*.parquet") if "_delta_log" not in p.parts)


def live_files(lake: Lake, table: str) -> list[str]:
    """The data files of a table's current snapshot (absolute paths)."""
    from deltalake import DeltaTable

    return sorted(DeltaTable(f"{lake.uri}/{table}").file_uris())


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.open(tmp_path / "lake")


# -- layout ------------------------------------------------------------------


def test_files_land_in_hive_partitions_by_lowercased_subreddit_and_utc_day(lake: Lake) -> None:
    result = lake.write("posts", "Python", posts(["a", "b", "c"], created=[DAY1, DAY1, DAY2]))

    root = Path(lake.uri)
    relative = [p.relative_to(root).as_posix() for p in visible_files(root)]
    assert [r.rsplit("/", 1)[0] for r in relative] == [
        "posts/subreddit=python/dt=2024-03-01",
        "posts/subreddit=python/dt=2024-03-02",
    ]
    assert all(r.rsplit("/", 1)[1].startswith("part-") for r in relative)
    assert result == WriteResult("posts", "python", 3, 3, 0)
    assert (root / "posts" / "_delta_log" / "00000000000000000000.json").exists()


def test_the_partition_day_is_the_utc_date_whatever_the_zone_of_the_timestamps(lake: Lake) -> None:
    eastern = dt.timezone(dt.timedelta(hours=-5))
    late_evening = dt.datetime(2024, 3, 1, 22, 0, tzinfo=eastern)  # 03:00 UTC on the 2nd
    rows = pa.table({"id": ["a"], "created_utc": pa.array([late_evening], pa.timestamp("us", tz="-05:00"))})

    lake.write("posts", "python", rows)

    assert lake.read("posts").column("dt").to_pylist() == [dt.date(2024, 3, 2)]


def test_partition_columns_are_not_stored_in_files_but_read_back_from_the_path(lake: Lake) -> None:
    lake.write("posts", "Python", posts(["a"], subreddit=["Python"], dt=["whatever"]))

    (file,) = visible_files(Path(lake.uri))
    assert pq.read_schema(file).names == ["id", "created_utc", "title"]
    table = lake.read("posts")
    assert table.column_names == ["id", "created_utc", "title", "subreddit", "dt"]
    assert table.to_pylist()[0]["subreddit"] == "python"
    assert table.to_pylist()[0]["dt"] == dt.date(2024, 3, 1)


def test_rows_of_another_subreddit_are_refused(lake: Lake) -> None:
    with pytest.raises(ValueError, match="cannot be written to partition 'python'"):
        lake.write("posts", "python", posts(["a", "b"], subreddit=["python", "rust"]))
    assert visible_files(Path(lake.uri)) == []


@pytest.mark.parametrize(
    "name", ["../x", "a", "a" * 22, "a/b", "", "ab\n", "a b", "ab.", "..", "ab/../cd", "ǅab", None]
)
def test_subreddit_names_that_are_not_plain_names_are_rejected(lake: Lake, name: object) -> None:
    with pytest.raises(ValueError, match="invalid subreddit name"):
        lake.write("posts", name, posts(["a"]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid subreddit name"):
        lake.existing_ids("posts", name)  # type: ignore[arg-type]
    assert not Path(lake.uri).exists() or visible_files(Path(lake.uri)) == []


@pytest.mark.parametrize("name", ["Posts", "../posts", "_locks", "posts/x", "po-sts", "", "p" * 64])
def test_table_names_must_be_lowercase_words(lake: Lake, name: str) -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        lake.write(name, "python", posts(["a"]))


def test_edge_length_subreddit_names_are_accepted(lake: Lake) -> None:
    lake.write("posts", "ab", posts(["a"]))
    lake.write("posts", "A" * 21, posts(["b"]))
    assert sorted(lake.read("posts").column("subreddit").to_pylist()) == ["a" * 21, "ab"]


def test_timestamps_must_be_timezone_aware_and_present(lake: Lake) -> None:
    naive = pa.table({"id": ["a"], "created_utc": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us"))})
    with pytest.raises(ValueError, match="timezone-aware"):
        lake.write("posts", "python", naive)
    missing = pa.table({"id": ["a"], "created_utc": pa.array([None], TS)})
    with pytest.raises(ValueError, match="null 'created_utc'"):
        lake.write("posts", "python", missing)
    with pytest.raises(ValueError, match="null 'id'"):
        lake.write(
            "posts", "python", pa.table({"id": pa.array([None], pa.string()), "created_utc": pa.array([DAY1], TS)})
        )


def test_an_empty_batch_writes_nothing(lake: Lake) -> None:
    result = lake.write("posts", "python", posts([]))

    assert result == WriteResult("posts", "python", 0, 0, 0)
    assert lake.append("post_metrics", "python", posts([], collected=DAY1)).written == 0
    assert visible_files(Path(lake.uri)) == [] and lake.tables() == []


# -- one row per id ----------------------------------------------------------


def test_within_a_batch_the_latest_collected_row_of_an_id_wins(lake: Lake) -> None:
    t0 = dt.datetime(2024, 3, 5, tzinfo=UTC)
    rows = posts(
        ["a", "b", "a", "a"],
        collected=[t0 + dt.timedelta(minutes=5), t0, t0 + dt.timedelta(minutes=9), None],
        title=["a-5", "b", "a-9", "a-undated"],
    )

    result = lake.write("posts", "python", rows)

    assert (result.rows_in, result.written, result.duplicates_skipped) == (4, 2, 2)
    assert sorted(lake.read("posts").column("title").to_pylist()) == ["a-9", "b"]


def test_within_a_batch_without_collected_at_the_last_row_of_an_id_wins(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a", "b", "a"], title=["first", "b", "last"]))

    assert sorted(lake.read("posts").column("title").to_pylist()) == ["b", "last"]


def test_ids_already_stored_are_skipped_and_counted(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a", "b"], created=[DAY1, DAY2]))

    result = lake.write("posts", "python", posts(["b", "c", "a", "d"], created=[DAY2, DAY2, DAY1, DAY1]))

    assert (result.written, result.duplicates_skipped) == (2, 2)
    assert sorted(lake.read("posts").column("id").to_pylist()) == ["a", "b", "c", "d"]
    files = visible_files(Path(lake.uri))
    assert lake.write("posts", "python", posts(["a", "b"], created=[DAY1, DAY2])).written == 0
    assert visible_files(Path(lake.uri)) == files


def test_the_same_id_in_another_subreddit_is_a_different_row(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a"]))
    assert lake.write("posts", "rust", posts(["a"])).written == 1


def test_existing_ids_reads_the_requested_days_or_all_of_them(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a", "b"], created=[DAY1, DAY2]))

    assert lake.existing_ids("posts", "Python") == {"a", "b"}
    assert lake.existing_ids("posts", "python", [DAY2.date()]) == {"b"}
    assert lake.existing_ids("posts", "python", [dt.date(2020, 1, 1)]) == set()
    assert lake.existing_ids("comments", "python") == set()


def test_two_threads_writing_one_subreddit_never_store_an_id_twice(lake: Lake) -> None:
    pool = [f"t3_{i}" for i in range(400)]
    barrier = threading.Barrier(4)
    results: list[WriteResult] = []
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            barrier.wait()
            for batch in range(15):
                start = (seed * 37 + batch * 23) % 300
                ids = pool[start : start + 100]
                created = [DAY1 if int(i[3:]) % 2 else DAY2 for i in ids]
                results.append(lake.write("posts", "python", posts(ids, created=created)))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    stored = lake.read("posts").column("id").to_pylist()
    assert len(stored) == len(set(stored))
    assert sum(r.written for r in results) == len(stored)
    assert lake.query("SELECT id FROM posts GROUP BY id HAVING count(*) > 1").num_rows == 0


def test_two_processes_writing_one_subreddit_never_store_an_id_twice(lake: Lake) -> None:
    script = textwrap.dedent(
        """
        import datetime as dt, sys, pyarrow as pa
        from redditlake.lake import Lake
        lake = Lake.open(sys.argv[1])
        day = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
        for batch in range(20):
            ids = [f"t3_{i}" for i in range(batch * 10, batch * 10 + 60)]
            lake.write("posts", "python", pa.table({
                "id": ids, "created_utc": pa.array([day] * len(ids), pa.timestamp("us", tz="UTC"))}))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, lake.uri], cwd=REPO) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]

    stored = lake.read("posts").column("id").to_pylist()
    assert len(stored) == len(set(stored)) == 250


# -- atomic publication --------------------------------------------------------

# -- file format ----------------------------------------------------------------


def test_row_groups_are_large_and_zstd_compressed(lake: Lake) -> None:
    n = 300_000
    rows = pa.table({"id": pa.array([f"id{i}" for i in range(n)]), "created_utc": pa.array([DAY1] * n, TS)})

    lake.write("posts", "python", rows)
    (path,) = visible_files(Path(lake.uri))

    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [131072, 131072, 37856]
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_row_group_size_is_configurable(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake", row_group_size=1000)
    lake.write("posts", "python", posts([str(i) for i in range(2500)]))
    (path,) = visible_files(Path(lake.uri))

    assert pq.ParquetFile(path).metadata.num_row_groups == 3


def test_one_file_per_partition_and_write(lake: Lake) -> None:
    lake.write("posts", "python", posts([str(i) for i in range(5000)], created=[DAY1, DAY2] * 2500))

    files = visible_files(Path(lake.uri))
    assert len(files) == 2
    assert all(pq.ParquetFile(f).metadata.num_row_groups == 1 for f in files)


def test_unicode_text_round_trips_exactly(lake: Lake) -> None:
    texts = [
        "emoji 🐍🔥👩‍👩‍👧‍👦 flags 🇺🇦",
        "RTL עברית ومرحبا بالعالم",
        "zero\u200bwidth\u200cjoin\u200d\ufeffbom",
        "combining e\u0301 vs \u00e9",
        "x" * 40_000,
        "nul\x00inside and \r\n newlines",
    ]
    lake.write("posts", "python", posts([str(i) for i in range(len(texts))], selftext=texts))

    by_id = dict(zip(*lake.read("posts").select(["id", "selftext"]).to_pydict().values(), strict=True))
    assert [by_id[str(i)] for i in range(len(texts))] == texts
    rows = lake.query("SELECT id, selftext, length(selftext) AS n FROM posts ORDER BY id").to_pylist()
    assert [r["selftext"] for r in rows] == texts
    assert rows[4]["n"] == 40_000


# -- readers ---------------------------------------------------------------------


def test_duckdb_views_expose_each_table_with_typed_partition_columns(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a", "b"], created=[DAY1, DAY2], score=[3, 4]))
    lake.write("posts", "rust", posts(["c"], score=[10]))
    lake.write("comments", "python", posts(["c1"]))

    con = lake.duckdb()
    assert con.sql("SELECT subreddit, count(*), sum(score) FROM posts GROUP BY 1 ORDER BY 1").fetchall() == [
        ("python", 2, 7),
        ("rust", 1, 10),
    ]
    assert con.sql("SELECT id FROM posts WHERE dt = DATE '2024-03-02'").fetchall() == [("b",)]
    types = dict(con.sql("SELECT column_name, column_type FROM (DESCRIBE posts)").fetchall())
    assert types["subreddit"] == "VARCHAR" and types["dt"] == "DATE"
    assert con.sql("SELECT count(*) FROM comments").fetchall() == [(1,)]
    # A connection reads the snapshot it was made on; a new one sees later commits.
    lake.write("posts", "python", posts(["z"]))
    assert con.sql("SELECT count(*) FROM posts").fetchall() == [(3,)]
    assert lake.duckdb().sql("SELECT count(*) FROM posts").fetchall() == [(4,)]


def test_plain_read_parquet_over_the_lake_works_for_anyone(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a", "b"], created=[DAY1, DAY2]))
    lake.write("posts", "Rust", posts(["c"]))

    rows = duckdb.sql(
        f"SELECT subreddit, dt, id FROM read_parquet('{lake.uri}/posts/**/*.parquet', hive_partitioning=true) "
        "ORDER BY id"
    ).fetchall()
    assert rows == [
        ("python", dt.date(2024, 3, 1), "a"),
        ("python", dt.date(2024, 3, 2), "b"),
        ("rust", dt.date(2024, 3, 1), "c"),
    ]
    assert ds.dataset(f"{lake.uri}/posts", partitioning="hive").count_rows() == 3


def test_a_subreddit_named_like_a_number_stays_text(lake: Lake) -> None:
    lake.write("posts", "1234", posts(["a"]))

    assert lake.query("SELECT subreddit FROM posts").column("subreddit").to_pylist() == ["1234"]
    assert lake.read("posts").column("subreddit").to_pylist() == ["1234"]


def test_columns_added_later_read_as_null_for_older_rows(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a"]))
    lake.write("posts", "python", posts(["b"], flair=["news"]))

    assert lake.query("SELECT id, flair FROM posts ORDER BY id").to_pylist() == [
        {"id": "a", "flair": None},
        {"id": "b", "flair": "news"},
    ]
    assert lake.read("posts").sort_by("id").column("flair").to_pylist() == [None, "news"]


def test_a_fresh_lake_has_no_tables_and_readers_do_not_crash(lake: Lake) -> None:
    assert lake.tables() == []
    assert lake.read("posts").num_rows == 0
    assert lake.existing_ids("posts", "python") == set()
    con = lake.duckdb()
    assert con.sql("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall() == [(0,)]
    assert lake.query("SELECT 42 AS answer").to_pylist() == [{"answer": 42}]


def test_read_can_select_one_subreddit(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a"]))
    lake.write("posts", "rust", posts(["b"]))

    assert lake.read("posts", "Rust").column("id").to_pylist() == ["b"]
    assert lake.read("posts", "golang").num_rows == 0


def test_tables_lists_every_table_written(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a"]))
    lake.write("comments", "python", posts(["b"]))
    lake.append("post_metrics", "python", posts(["a"], collected=DAY1))

    assert lake.tables() == ["comments", "post_metrics", "posts"]


# -- append-only tables ------------------------------------------------------------


def test_append_keeps_every_row_and_partitions_by_collected_at(lake: Lake) -> None:
    first = dt.datetime(2024, 3, 1, 23, 59, tzinfo=UTC)
    second = dt.datetime(2024, 3, 2, 0, 1, tzinfo=UTC)
    result = lake.append("post_metrics", "python", posts(["a", "a"], collected=[first, second], score=[1, 2]))

    assert (result.written, result.duplicates_skipped) == (2, 0)
    table = lake.query("SELECT id, score, dt FROM post_metrics ORDER BY score").to_pylist()
    assert table == [
        {"id": "a", "score": 1, "dt": dt.date(2024, 3, 1)},
        {"id": "a", "score": 2, "dt": dt.date(2024, 3, 2)},
    ]


def test_append_can_partition_by_another_timestamp_column(lake: Lake) -> None:
    rows = pa.table({"requested_at": pa.array([DAY2], TS), "status": [200]})

    lake.append("api_requests", "python", rows, dt_column="requested_at")

    assert lake.read("api_requests").to_pylist() == [
        {"requested_at": DAY2, "status": 200, "subreddit": "python", "dt": DAY2.date()}
    ]


# -- compaction -----------------------------------------------------------------------


def test_compaction_merges_each_partition_into_one_file(lake: Lake) -> None:
    for n in range(5):
        lake.write("posts", "python", posts([f"a{n}", f"b{n}"], created=[DAY1, DAY2]))
    lake.write("posts", "rust", posts(["r"]))
    before = lake.query("SELECT * FROM posts ORDER BY id")

    (result,) = compact_due(lake, EVERYTHING, ["posts"]).tables

    assert (result.compacted, result.files_before, result.files_after, result.vacuumed) == (2, 11, 3, 10)
    assert len(visible_files(Path(lake.uri))) == 3 == len(live_files(lake, "posts"))
    assert lake.query("SELECT * FROM posts ORDER BY id").equals(before)
    assert lake.write("posts", "python", posts(["a1", "new"])).written == 1


def test_compacting_an_append_table_keeps_every_snapshot(lake: Lake) -> None:
    for minute in range(4):
        lake.append(
            "post_metrics", "python", posts(["a"], collected=DAY1 + dt.timedelta(minutes=minute), score=[minute])
        )

    compact_due(lake, EVERYTHING, ["post_metrics"], "python")

    assert sorted(lake.read("post_metrics").column("score").to_pylist()) == [0, 1, 2, 3]
    assert len(visible_files(Path(lake.uri))) == 1


# -- lake locations -------------------------------------------------------------------


def test_stray_files_outside_the_partition_layout_do_not_break_the_views(lake: Lake) -> None:
    lake.write("posts", "python", posts(["a"]))
    (Path(lake.uri) / "posts" / "notes.parquet").write_bytes(b"not parquet")
    (Path(lake.uri) / "posts" / "_staging").mkdir()
    (Path(lake.uri) / "posts" / "_staging" / "x.parquet").write_bytes(b"")

    assert lake.query("SELECT id FROM posts").to_pylist() == [{"id": "a"}]
    assert lake.read("posts").column("id").to_pylist() == ["a"]
    assert lake.existing_ids("posts", "python") == {"a"}


def test_only_folders_and_s3_uris_are_lake_locations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported lake URI"):
        Lake.open("gs://bucket/lake")
    with pytest.raises(ValueError, match="no bucket"):
        Lake.open("s3:///prefix")
    with pytest.raises(ValueError, match="relative path segment"):
        Lake.open("s3://bucket/a/../b")
    assert Lake.open(tmp_path / "nested" / "lake").tables() == []


def test_a_lake_can_be_handed_to_another_process(lake: Lake) -> None:
    import pickle

    lake.write("posts", "python", posts(["a"]))
    copy = pickle.loads(pickle.dumps(lake))

    assert copy.uri == lake.uri
    assert copy.write("posts", "python", posts(["a", "b"])).written == 1


# -- stored ids ----------------------------------------------------------------------


# -- redaction ---------------------------------------------------------------------------

REDACTED = {"title": "[deleted]", "selftext": None, "author": "[deleted]"}


def authored(ids: Sequence[str], created: dt.datetime | Sequence[dt.datetime] = DAY1) -> pa.Table:
    return posts(
        ids,
        created=created,
        collected=DAY3,
        selftext=[f"text of {i}" for i in ids],
        author=[f"user_{i}" for i in ids],
        score=list(range(len(ids))),
    )


def test_redact_replaces_the_values_of_the_given_ids_and_nothing_else(lake: Lake) -> None:
    lake.write("posts", "python", authored(["a", "b", "c", "d"], created=[DAY1, DAY1, DAY2, DAY3]))
    lake.write("posts", "rust", authored(["b"]))
    before = {r["id"]: r for r in lake.read("posts", "python").to_pylist()}
    schema = lake.read("posts", "python").schema
    old_files = set(visible_files(Path(lake.uri)))

    result = lake.redact("posts", "Python", {"b", "c", "zz"}, REDACTED)

    assert (result.table, result.subreddit) == ("posts", "python")
    assert (result.redacted, result.not_found, result.rows) == ({"b", "c"}, {"zz"}, 2)
    # Only the two days holding b and c were rewritten; the old files stay until a purge.
    new_files = set(visible_files(Path(lake.uri))) - old_files
    assert sorted(f.parent.name for f in new_files) == ["dt=2024-03-01", "dt=2024-03-02"]
    replaced = old_files - {Path(f) for f in live_files(lake, "posts")}
    assert sorted(f.parent.name for f in replaced) == ["dt=2024-03-01", "dt=2024-03-02"]
    after = {r["id"]: r for r in lake.read("posts", "python").to_pylist()}
    assert sorted(after) == ["a", "b", "c", "d"]
    for id_, row in after.items():
        expected = dict(before[id_], **REDACTED) if id_ in ("b", "c") else before[id_]
        assert row == expected
    assert lake.read("posts", "python").schema == schema  # same columns, same types
    # Other subreddits are untouched, and so are the ids the collector dedups on.
    assert lake.read("posts", "rust").to_pylist()[0]["author"] == "user_b"
    assert lake.existing_ids("posts", "python") == {"a", "b", "c", "d"}
    # What anyone's DuckDB sees.
    assert lake.query(
        "SELECT subreddit, id, title, selftext, author, score FROM posts WHERE id = 'b' ORDER BY subreddit"
    ).to_pylist() == [
        {"subreddit": "python", "id": "b", "title": "[deleted]", "selftext": None, "author": "[deleted]", "score": 1},
        {"subreddit": "rust", "id": "b", "title": "title b", "selftext": "text of b", "author": "user_b", "score": 0},
    ]
    # A bare glob still finds the replaced file's old values: not a reader of the lake.
    glob = f"{lake.uri}/posts/subreddit=*/dt=*/*.parquet"
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}') WHERE author = 'user_b'").fetchall() == [(2,)]
    assert sorted(f.parent.name for f in map(Path, lake.purge("posts"))) == ["dt=2024-03-01", "dt=2024-03-02"]
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}') WHERE author = 'user_b'").fetchall() == [(1,)]
    assert not any(f.exists() for f in replaced)


def test_redacting_again_rewrites_nothing(lake: Lake) -> None:
    lake.write("posts", "python", authored(["a", "b"]))
    lake.redact("posts", "python", {"a"}, REDACTED)
    files = visible_files(Path(lake.uri))

    again = lake.redact("posts", "python", {"a"}, REDACTED)

    assert again == RedactResult("posts", "python", frozenset({"a"}), frozenset(), 1)
    assert visible_files(Path(lake.uri)) == files


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nope": "x"}, "unknown column"),
        ({"title": None, "bodyy": None}, "unknown column"),
        ({"id": "x"}, "cannot set"),
        ({"subreddit": "x"}, "cannot set"),
        ({"dt": None}, "cannot set"),
        ({"title": 3}, "does not fit"),
        ({"score": 1.5}, "does not fit"),
        ({"created_utc": dt.datetime(2024, 1, 1)}, "does not fit"),  # naive
        ({}, "at least one column"),
    ],
)
def test_redact_refuses_bad_values_and_rewrites_nothing(lake: Lake, values: dict[str, object], message: str) -> None:
    lake.write("posts", "python", authored(["a"]))
    files = visible_files(Path(lake.uri))

    with pytest.raises(ValueError, match=message):
        lake.redact("posts", "python", {"a"}, values)
    assert visible_files(Path(lake.uri)) == files


def test_redact_of_ids_that_are_not_stored(lake: Lake) -> None:
    assert lake.redact("posts", "python", {"a"}, REDACTED) == RedactResult(
        "posts", "python", frozenset(), frozenset({"a"})
    )
    lake.write("posts", "python", authored(["a"]))
    files = visible_files(Path(lake.uri))
    assert lake.redact("posts", "python", {"x"}, REDACTED).not_found == {"x"}
    assert lake.redact("posts", "rust", {"a"}, REDACTED).not_found == {"a"}
    assert lake.redact("posts", "python", set(), REDACTED).redacted == set()
    assert visible_files(Path(lake.uri)) == files
    with pytest.raises(TypeError):
        lake.redact("posts", "python", "a", REDACTED)


def test_redact_sets_a_value_in_files_written_before_its_column_existed(lake: Lake) -> None:
    lake.write("posts", "python", posts(["old"]))  # no author column yet
    lake.write("posts", "python", authored(["new"], created=DAY2))

    lake.redact("posts", "python", {"old"}, {"author": "[deleted]", "selftext": None})

    assert lake.query("SELECT id, author, selftext FROM posts ORDER BY id").to_pylist() == [
        {"id": "new", "author": "user_new", "selftext": "text of new"},
        {"id": "old", "author": "[deleted]", "selftext": None},
    ]


def test_redact_in_an_append_table_covers_every_snapshot_of_an_id(lake: Lake) -> None:
    for minute in range(3):
        lake.append("post_metrics", "python", authored(["a", "b"]).set_column(
            2, "collected_at", pa.array([DAY1 + dt.timedelta(minutes=minute)] * 2, TS)
        ))

    result = lake.redact("post_metrics", "python", {"a"}, {"author": "[deleted]"})

    assert result.rows == 3
    rows = lake.query("SELECT id, author, count(*) AS n FROM post_metrics GROUP BY ALL ORDER BY id").to_pylist()
    assert rows == [{"id": "a", "author": "[deleted]", "n": 3}, {"id": "b", "author": "user_b", "n": 3}]


# -- latest snapshot per key ------------------------------------------------------------


def fetches(post_ids: Sequence[str], num_comments: Sequence[int], collected: Sequence[dt.datetime]) -> pa.Table:
    return pa.table(
        {
            "post_id": pa.array(list(post_ids), pa.string()),
            "num_comments": pa.array(list(num_comments), pa.int64()),
            "comments": pa.array(list(num_comments), pa.int64()),
            "collected_at": pa.array(list(collected), TS),
        }
    )


def test_latest_returns_the_newest_row_per_key(lake: Lake) -> None:
    lake.append("comment_fetches", "python", fetches(["p1", "p2"], [3, 5], [DAY1, DAY1]))
    lake.append("comment_fetches", "python", fetches(["p1"], [9], [DAY3]))
    lake.append("comment_fetches", "python", fetches(["p2", "p3"], [4, 1], [DAY1 - dt.timedelta(hours=1), DAY2]))
    lake.append("comment_fetches", "rust", fetches(["p1"], [100], [DAY3 + dt.timedelta(days=1)]))

    latest = lake.latest("comment_fetches", "Python", ["post_id", "num_comments", "collected_at"], key="post_id")

    assert latest.column_names == ["post_id", "num_comments", "collected_at"]
    assert sorted(latest.to_pylist(), key=lambda r: r["post_id"]) == [
        {"post_id": "p1", "num_comments": 9, "collected_at": DAY3},
        {"post_id": "p2", "num_comments": 5, "collected_at": DAY1},
        {"post_id": "p3", "num_comments": 1, "collected_at": DAY2},
    ]
    # Only the asked-for columns, in the asked-for order; the partition columns can be asked for.
    assert lake.latest("comment_fetches", "python", ["num_comments", "dt"], key="post_id").sort_by(
        "num_comments"
    ).to_pylist() == [
        {"num_comments": 1, "dt": DAY2.date()},
        {"num_comments": 5, "dt": DAY1.date()},
        {"num_comments": 9, "dt": DAY3.date()},
    ]


def test_latest_of_nothing_is_an_empty_table_with_the_columns(lake: Lake) -> None:
    empty = lake.latest("comment_fetches", "python", ["post_id", "num_comments"], key="post_id")
    assert (empty.num_rows, empty.column_names) == (0, ["post_id", "num_comments"])

    lake.append("comment_fetches", "rust", fetches(["p1"], [1], [DAY1]))
    assert lake.latest("comment_fetches", "python", ["post_id"], key="post_id").num_rows == 0


def test_latest_refuses_columns_the_table_does_not_have(lake: Lake) -> None:
    lake.append("comment_fetches", "python", fetches(["p1"], [1], [DAY1]))

    with pytest.raises(ValueError, match="no column"):
        lake.latest("comment_fetches", "python", ["post_id", "nope"], key="post_id")
    with pytest.raises(ValueError, match="no column"):
        lake.latest("comment_fetches", "python", ["post_id"])  # key defaults to "id"
    with pytest.raises(ValueError, match="non-empty"):
        lake.latest("comment_fetches", "python", [], key="post_id")


def test_latest_over_a_hundred_thousand_snapshots_is_quick(lake: Lake) -> None:
    n_posts, rounds = 20_000, 5  # 100k rows in 5 files
    post_ids = [f"p{i}" for i in range(n_posts)]
    for r in range(rounds):
        when = DAY1 + dt.timedelta(hours=r)
        lake.append("comment_fetches", "python", fetches(post_ids, [r] * n_posts, [when] * n_posts))

    started = time.perf_counter()
    latest = lake.latest("comment_fetches", "python", ["post_id", "num_comments"], key="post_id")
    elapsed = time.perf_counter() - started

    assert latest.num_rows == n_posts
    assert set(latest.column("num_comments").to_pylist()) == {rounds - 1}
    assert elapsed < 2.0

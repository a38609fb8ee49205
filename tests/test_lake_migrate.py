"""`redditlake lake migrate`: an old Parquet-folder lake becomes Delta tables, in place."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from redditlake import audit, cli
from redditlake.lake import Lake
from redditlake.lake import migrate as migration
from redditlake.quality import results

TS = pa.timestamp("us", tz="UTC")
DAY1 = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
DAY2 = dt.datetime(2024, 3, 2, 12, tzinfo=dt.UTC)


def old_file(folder: Path, rows: pa.Table, mode: str | None) -> Path:
    """A file as the old writer published it: content-hash name, mode in the metadata."""
    if mode:
        rows = rows.replace_schema_metadata({b"redditlake.mode": mode.encode()})
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(repr(rows.to_pylist()).encode() + folder.as_posix().encode()).hexdigest()[:32]
    path = folder / f"part-{digest}.parquet"
    pq.write_table(rows, path)
    return path


def posts(ids: list[str], created: dt.datetime, title: str = "t") -> pa.Table:
    return pa.table({"id": ids, "created_utc": pa.array([created] * len(ids), TS), "title": [title] * len(ids)})


@pytest.fixture
def old_lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    day1 = root / "posts" / "subreddit=python" / "dt=2024-03-01"
    old_file(day1, posts(["a", "b"], DAY1), "dedup")
    old_file(day1, posts(["b"], DAY1, "again"), "dedup")  # left twice by a crashed compaction
    old_file(root / "posts" / "subreddit=python" / "dt=2024-03-02", posts(["c"], DAY2), "dedup")
    old_file(root / "posts" / "subreddit=rust" / "dt=2024-03-01", posts(["a"], DAY1), "dedup")
    snapshot = pa.table({"id": ["a", "a"], "score": [1, 2], "collected_at": pa.array([DAY1, DAY1], TS)})
    old_file(root / "post_metrics" / "subreddit=python" / "dt=2024-03-01", snapshot, "append")
    run = results.SCHEMAS["data_quality_metrics"].empty_table().to_pylist()
    run.append({"run_id": "r1", "metric_name": "m", "metric_value": 1.0, "subreddit_name": "python",
                "table_name": "posts", "calculated_at": DAY1, "flow_run_id": None})
    old_file(root / "_quality" / "data_quality_metrics" / "dt=2024-03-01",
             pa.Table.from_pylist(run, schema=results.SCHEMAS["data_quality_metrics"]), None)
    trail = pa.Table.from_pylist([{"ts": DAY2, "id": "x", "action": "query", "user": "u", "flow_run": None,
                                   "sql": "SELECT 1", "tables": ["posts"], "rows": 1, "detail": None}], schema=audit.SCHEMA)
    old_file(root / "_audit" / "dt=2024-03-02", trail, None)
    (root / "_locks" / "posts").mkdir(parents=True)
    (root / "_locks" / "posts" / "python.lock").write_text("")
    return root


def test_collect_on_an_old_lake_says_in_one_line_what_to_run(old_lake: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["collect", "python", "--lake", str(old_lake)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"run `redditlake lake migrate --lake {old_lake}` once" in err


def test_migrate_turns_each_table_and_area_into_delta_dedups_and_can_run_again(
    old_lake: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli.main(["lake", "migrate", "--lake", str(old_lake)]) == 0
    out = capsys.readouterr().out
    assert "posts: 4 rows in Delta, 1 duplicate rows dropped" in out

    lake = Lake.open(old_lake)
    assert migration.old_format_folders(lake) == [] and migration.needs_migration(lake) == []
    assert sorted(lake.tables()) == ["post_metrics", "posts"]
    assert lake.query("SELECT subreddit, id, dt FROM posts ORDER BY ALL").to_pylist() == [
        {"subreddit": "python", "id": "a", "dt": dt.date(2024, 3, 1)},
        {"subreddit": "python", "id": "b", "dt": dt.date(2024, 3, 1)},
        {"subreddit": "python", "id": "c", "dt": dt.date(2024, 3, 2)},
        {"subreddit": "rust", "id": "a", "dt": dt.date(2024, 3, 1)},
    ]
    assert sorted(lake.read("post_metrics").column("score").to_pylist()) == [1, 2]  # snapshots all kept
    assert results.read(lake, "data_quality_metrics").column("run_id").to_pylist() == ["r1"]
    assert audit.read(lake).column("sql").to_pylist() == ["SELECT 1"]
    assert not list(old_lake.rglob("part-????????????????????????????????.parquet"))
    assert not (old_lake / "_locks").exists()
    # New writes go through Delta and still dedup against what was migrated.
    assert lake.write("posts", "python", posts(["a", "d"], DAY1)).written == 1

    assert cli.main(["lake", "migrate", "--lake", str(old_lake)]) == 0
    assert "nothing to migrate" in capsys.readouterr().out


def test_a_migration_killed_after_a_commit_finishes_on_the_next_run_without_duplicates(
    old_lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake.open(old_lake)
    real_remove = migration._remove

    def dies_before_deleting(*args: object) -> None:
        raise KeyboardInterrupt("killed between the commit and the deletion of the old files")

    monkeypatch.setattr(migration, "_remove", dies_before_deleting)
    with pytest.raises(KeyboardInterrupt):
        migration.migrate(lake)
    # The first folder migrated (_audit) is committed, its old file still there.
    assert audit.read(lake).num_rows == 1 and list((old_lake / "_audit").rglob("part-*.parquet"))

    monkeypatch.setattr(migration, "_remove", real_remove)
    migration.migrate(lake)
    assert audit.read(lake).num_rows == 1
    ids = lake.query("SELECT subreddit, id FROM posts").to_pylist()
    assert len(ids) == 4 and len({(r["subreddit"], r["id"]) for r in ids}) == 4
    assert migration.needs_migration(lake) == []

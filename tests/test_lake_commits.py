"""One row per id under concurrent writers, stalls and crashes, by Delta's commit protocol.

On S3 a Delta commit is a conditional PUT (``If-None-Match: *``) of the next log version.
moto's server implements that condition as check-then-store, not atomically: these tests
show that the writers use the protocol and handle losing a commit, not that moto is
race-free (real S3 is). Writers are separate processes started fresh (spawn or a new
interpreter): delta-rs refuses to run in a process forked after it loaded.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from s3proxy import holding_proxy
from s3server import list_keys

from redditlake.lake import Lake
from redditlake.lake.maintenance import CompactionPolicy, compact_due

REPO = Path(__file__).resolve().parents[1]
DAY = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def rows(ids: list[str]) -> pa.Table:
    return pa.table({
        "id": pa.array(ids, pa.string()),
        "created_utc": pa.array([DAY + dt.timedelta(days=int(i[1:]) % 3) for i in ids], pa.timestamp("us", tz="UTC")),
        "title": pa.array([f"title {i}" for i in ids], pa.string()),
    })


def write_batches(uri: str, endpoint: str, seed: int) -> int:
    """One spawned writer: 6 batches of 30 ids, overlapping the other writers' batches."""
    lake = Lake.open(uri, endpoint_url=endpoint)
    written = 0
    for batch in range(6):
        start = (seed * 11 + batch * 17) % 90
        written += lake.write("posts", "python", rows([f"p{i}" for i in range(start, start + 30)])).written
    return written


def test_four_processes_on_s3_store_each_id_once_while_a_compaction_and_a_redaction_run(
    s3_endpoint: str, bucket: str
) -> None:
    uri = f"s3://{bucket}/lake"
    lake = Lake.open(uri, endpoint_url=s3_endpoint)
    lake.write("posts", "python", rows(["p0"]))
    compactions = 0
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        running = pool.starmap_async(write_batches, [(uri, s3_endpoint, seed) for seed in range(4)])
        while not running.ready():  # rewrites the writers' partitions under them, over and over
            compact_due(lake, CompactionPolicy(min_files=2, after_days=0))
            lake.redact("posts", "python", {"p0", "p45"}, {"title": "[deleted]"})
            compactions += 1
        written = running.get(timeout=600)

    assert compactions >= 1
    stored = lake.read("posts").column("id").to_pylist()
    expected = {f"p{(seed * 11 + batch * 17) % 90 + k}" for seed in range(4) for batch in range(6) for k in range(30)}
    assert [i for i, n in Counter(stored).items() if n > 1] == []
    assert set(stored) == expected | {"p0"}
    assert sum(written) + 1 == len(stored)
    assert lake.query("SELECT title FROM posts WHERE id = 'p0'").column("title").to_pylist() == ["[deleted]"]


WRITER = """
import sys
from redditlake.lake import Lake
sys.path.insert(0, sys.argv[4])
from test_lake_commits import rows
lake = Lake.open(sys.argv[1], endpoint_url=sys.argv[2])
print(lake.write("posts", "python", rows(sys.argv[3].split(","))).written, flush=True)
"""


def start_writer(uri: str, endpoint: str, ids: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, uri, endpoint, ",".join(ids), str(Path(__file__).parent)],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ},
    )


def test_a_writer_frozen_mid_commit_loses_its_commit_and_stores_no_duplicate(s3_endpoint: str, bucket: str) -> None:
    uri = f"s3://{bucket}/lake"
    lake = Lake.open(uri, endpoint_url=s3_endpoint)
    lake.write("posts", "python", rows(["p0"]))
    with holding_proxy(s3_endpoint) as (via_proxy, proxy):
        proxy.hold_next_commit()
        frozen = start_writer(uri, via_proxy, [f"p{i}" for i in range(0, 20)])
        assert proxy.held.wait(60), "the writer never reached its commit"
        os.kill(frozen.pid, signal.SIGSTOP)  # data files written, commit PUT in flight
        # There is no lease to outlive: however long the stall, the frozen commit can only
        # be the next log version or nothing. Meanwhile another writer commits that version.
        assert lake.write("posts", "python", rows([f"p{i}" for i in range(10, 30)])).written == 20
        time.sleep(2)
        proxy.release()
        assert proxy.answered.wait(30)
        os.kill(frozen.pid, signal.SIGCONT)
        out, _ = frozen.communicate(timeout=120)

    assert frozen.returncode == 0
    assert proxy.held_status == 412  # the late commit was refused: that version was taken
    assert out.split() == ["9"]  # p1..p9: retried on the new snapshot, the rest was stored
    stored = lake.read("posts").column("id").to_pylist()
    assert len(stored) == len(set(stored)) == 30


def data_keys(endpoint: str, bucket: str) -> set[str]:
    return {k for k in list_keys(endpoint, bucket) if k.endswith(".parquet") and "_delta_log" not in k}


def test_a_writer_killed_between_data_file_and_commit_leaves_an_orphan_that_vacuum_removes(
    s3_endpoint: str, bucket: str
) -> None:
    uri = f"s3://{bucket}/lake"
    lake = Lake.open(uri, endpoint_url=s3_endpoint)
    lake.write("posts", "python", rows(["p0"]))
    committed = data_keys(s3_endpoint, bucket)
    with holding_proxy(s3_endpoint) as (via_proxy, proxy):
        proxy.hold_next_commit()
        killed = start_writer(uri, via_proxy, [f"p{i}" for i in range(0, 12)])
        assert proxy.held.wait(60), "the writer never reached its commit"
        killed.kill()
        killed.wait(timeout=30)
        proxy.release(forward=False)  # its commit never reached S3
        orphans = data_keys(s3_endpoint, bucket) - committed
        assert orphans  # its data files were uploaded...
        assert lake.existing_ids("posts", "python") == {"p0"}  # ...and nobody sees them

    rerun = lake.write("posts", "python", rows([f"p{i}" for i in range(0, 12)]))
    assert (rerun.written, rerun.duplicates_skipped) == (11, 1)
    stored = lake.read("posts").column("id").to_pylist()
    assert len(stored) == len(set(stored)) == 12

    # Maintenance vacuums files no commit names once they are older than the retention.
    compact_due(lake, CompactionPolicy(min_files=1000, after_days=1000, retention_hours=0))
    assert not orphans & data_keys(s3_endpoint, bucket)
    assert sorted(lake.read("posts").column("id").to_pylist()) == sorted(stored)


def test_a_write_from_a_stale_copy_of_the_table_loses_its_commit_and_retries_on_a_fresh_read(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"s3://{bucket}/lake"
    first, other = Lake.open(uri, endpoint_url=s3_endpoint), Lake.open(uri, endpoint_url=s3_endpoint)
    assert first.write("posts", "python", rows([f"p{i}" for i in range(0, 5)])).written == 5  # its copy is kept
    assert other.write("posts", "python", rows([f"p{i}" for i in range(3, 10)])).written == 5
    # The kept copy is not caught up: its MERGE does not see p5..p9 and would insert them again.
    monkeypatch.setattr(DeltaTable, "update_incremental", lambda self: None)

    result = first.write("posts", "python", rows([f"p{i}" for i in range(5, 15)]))

    assert (result.written, result.duplicates_skipped) == (5, 5)  # the retry read the other's commit
    stored = first.read("posts").column("id").to_pylist()
    assert len(stored) == len(set(stored)) == 15

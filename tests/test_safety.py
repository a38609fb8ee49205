"""Safe to hand to a data team: `gc` cannot destroy the lake, `query` reads the lake and nothing
else, and `serve` listens on 127.0.0.1 and answers probes without touching Reddit or the lake.
Everything through the real CLI, on a lake the real collect flow wrote."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from s3server import TEST_CREDENTIALS, list_keys, make_bucket, moto_s3_server, s3_client

from conftest import sim_env, sim_settings
from redditlake import audit, cli
from redditlake.lake import Lake
from redditlake.simulator import SimulatorConfig, SimulatorThread

SUB = "python"


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a digest of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(capsys) -> str:
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in out + err
    return lines[0]


@pytest.fixture(scope="module")
def collected(prefect_api, tmp_path_factory) -> Iterator[tuple[SimulatorThread, Path]]:
    """A simulator and a lake freshly collected from it by the real collect flow."""
    from flows.collect import collect

    sim = SimulatorThread(SimulatorConfig(posts_per_subreddit=20, comments_per_post_mean=4, requests_per_window=1000,
                                          window_seconds=10)).start()
    lake_dir = tmp_path_factory.mktemp("collected") / "lake"
    try:
        summary = asyncio.run(collect([SUB], sim_settings(sim, str(lake_dir), sorts=["new"], limit=15)))[0]
        assert summary.ok and summary.comments > 0, summary.line()
        yield sim, lake_dir
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    # moto's server logs each request from its own thread, to whatever stream the CLI's logging
    # set up in an earlier test (closed since): quiet, so stderr holds only what the CLI says.
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    try:
        with moto_s3_server() as endpoint:
            yield endpoint
    finally:
        werkzeug.setLevel(level)


# -- gc never destroys the lake -------------------------------------------------------------


@pytest.mark.prefect
def test_gc_on_the_lake_folder_refuses_and_deletes_nothing(collected, tmp_path, capsys):
    _, lake_dir = collected
    before = tree(lake_dir)
    assert len([f for f in before if f.endswith(".parquet")]) > 5

    # The command: results pointed at the lake that is configured (by --lake here).
    assert cli.main(["gc", "--results", str(lake_dir), "--lake", str(lake_dir)]) == 1
    assert "gc refuses" in one_line_error(capsys)
    # A folder inside the lake, and the folder holding it.
    assert cli.main(["gc", "--results", str(lake_dir / "posts"), "--lake", str(lake_dir)]) == 1
    assert "it is the lake" in one_line_error(capsys)
    assert cli.main(["gc", "--results", str(lake_dir.parent), "--lake", str(lake_dir)]) == 1
    assert "it is the lake" in one_line_error(capsys)
    # Another lake than the configured one: its files give it away.
    assert cli.main(["gc", "--results", str(lake_dir), "--lake", str(tmp_path / "other-lake")]) == 1
    assert "holds a lake's files" in one_line_error(capsys)
    assert tree(lake_dir) == before


def test_gc_on_an_s3_bucket_root_holding_a_lake_refuses(s3_endpoint, tmp_path, monkeypatch, capsys):
    from test_lake import DAY1, posts

    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    bucket = f"gc-root-{uuid.uuid4().hex[:10]}"
    make_bucket(s3_endpoint, bucket)
    lake = Lake.open(f"s3://{bucket}/lake", endpoint_url=s3_endpoint)
    lake.write("posts", SUB, posts(["a", "b"], created=[DAY1, DAY1], subreddit=[SUB] * 2))
    audit.record(lake, "query", sql="SELECT 1")
    before = list_keys(s3_endpoint, bucket)
    assert len(before) >= 2

    assert cli.main(["gc", "--results", f"s3://{bucket}", "--lake", f"s3://{bucket}/lake"]) == 1
    assert f"gc refuses s3://{bucket}: it is the lake" in one_line_error(capsys)
    assert cli.main(["gc", "--results", f"s3://{bucket}/", "--lake", f"s3://other-{bucket}/lake"]) == 1
    assert "holds a lake's files" in one_line_error(capsys)
    assert list_keys(s3_endpoint, bucket) == before

    # A result-storage block without a folder of its own is refused when saved.
    from blocks.storage import build_blocks
    from redditlake.errors import ConfigError

    with pytest.raises(ConfigError, match="prefix of its own"):
        build_blocks(bucket, "", s3_endpoint)


def prefect_records(folder: Path) -> dict[str, str]:
    """Records written by Prefect's own ResultStore: name -> what it holds."""
    from prefect.cache_policies import INPUTS
    from prefect.filesystems import LocalFileSystem
    from prefect.results import ResultStore
    from prefect.serializers import JSONSerializer

    storage = LocalFileSystem(basepath=str(folder))
    json_store = ResultStore(result_storage=storage, serializer=JSONSerializer())
    now = datetime.now(UTC)
    json_store.write({"old": 1}, expiration=now - timedelta(hours=1))
    cached = INPUTS.compute_key(None, {"subreddit": SUB}, {})  # a cache policy's key, as a cached task has
    json_store.write({"fresh": 1}, key=cached, expiration=now + timedelta(hours=1))
    json_store.write({"forever": 1})
    ResultStore(result_storage=storage).write(["pickled by default"])  # Prefect's default serializer
    kinds = {}
    for path in folder.iterdir():
        record = json.loads(path.read_bytes())
        result = record["result"]
        kinds[path.name] = "pickled" if record["metadata"]["serializer"]["type"] == "pickle" else next(iter(json.loads(result)))
    assert sorted(kinds.values()) == ["forever", "fresh", "old", "pickled"] and cached in kinds
    return kinds


def test_gc_deletes_expired_and_pickled_prefect_records_and_leaves_everything_else(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    kinds = prefect_records(results)
    by_kind = {kind: name for name, kind in kinds.items()}
    # Not Prefect result records: gc must neither read nor delete them.
    unknown = {
        "notes.txt": b"someone's notes",
        "data.parquet": b"PAR1 not really",
        "0" * 32: b"a record's name, not its shape",  # named like one, but not JSON
        "1" * 32: json.dumps({"metadata": {"serializer": {"type": "json"}, "prefect_version": "3.9.1"},
                              "result": "{}", "extra": 1}).encode(),
        "sub/" + "2" * 32: pickle.dumps({"raw": "pickle"}),
    }
    # A record copied under another name: its storage_key names another file.
    unknown["3" * 32] = (results / by_kind["old"]).read_bytes()
    for name, content in unknown.items():
        (results / name).parent.mkdir(exist_ok=True)
        (results / name).write_bytes(content)
    before = tree(results)

    assert cli.main(["gc", "--results", str(results), "--lake", str(tmp_path / "lake"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert tree(results) == before
    assert f"{results / by_kind['pickled']}: would delete unread" in out
    assert "would delete 1 expired, 1 not data-only, 0 naming forgotten items; 2 records kept, 6 other files left alone" in out
    assert "(dry run: nothing deleted)" in out

    assert cli.main(["gc", "--results", str(results), "--lake", str(tmp_path / "lake")]) == 0
    out = capsys.readouterr().out
    assert "10 files, deleted 1 expired, 1 not data-only, 0 naming forgotten items; 2 records kept, 6 other files left alone" in out
    for name in unknown:
        assert f"{results / name}: left alone: not a Prefect result record" in out
    left = tree(results)
    assert set(left) == {by_kind["fresh"], by_kind["forever"], *unknown}
    assert all(left[name] == before[name] for name in left)


# -- query reads the lake and nothing else --------------------------------------------------


FORBIDDEN = {
    "copy into the lake": "COPY (SELECT 'x' AS a) TO '{lake}/posts/planted.csv'",
    "copy anywhere": "COPY (SELECT 'x' AS a) TO '{outside}/copied.csv'",
    "read a file outside": "SELECT * FROM read_text('/etc/passwd')",
    "read the environment": "SELECT * FROM read_csv('/proc/self/environ')",
    "list outside": "SELECT * FROM glob('{outside}/*')",
    "read beside the lake": "SELECT * FROM read_text('{lake}/../secret.txt')",
    "attach": "ATTACH '{outside}/other.duckdb' AS other",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set": "SET enable_external_access = true",
    "create table": "CREATE TABLE kept AS SELECT * FROM posts",
    "pragma": "PRAGMA database_list",
    "export": "EXPORT DATABASE '{outside}/export'",
    "smuggled after a select": "SELECT count(*) FROM posts; COPY (SELECT 1) TO '{outside}/smuggled.csv'",
    "explain analyze": "EXPLAIN ANALYZE COPY (SELECT 1) TO '{lake}/explained.csv'",
}


@pytest.mark.prefect
@pytest.mark.parametrize("form", FORBIDDEN)
def test_query_refuses_what_is_not_a_read_of_the_lake(form, collected, tmp_path, capsys):
    _, lake_dir = collected
    outside = tmp_path / "outside"
    outside.mkdir()
    (lake_dir.parent / "secret.txt").write_text("beside the lake")
    sql = FORBIDDEN[form].format(lake=lake_dir, outside=outside)
    lake = Lake.open(str(lake_dir))
    before_lake, trail_before = tree(lake_dir), audit.read(lake).num_rows

    assert cli.main(["query", sql, "--lake", str(lake_dir)]) == 1
    line = one_line_error(capsys)
    assert line.startswith("redditlake: error: query refused: "), line
    assert "passwd" not in capsys.readouterr().out and "root:" not in line

    entries = audit.read(lake).to_pylist()
    assert len(entries) in (trail_before + 1, trail_before + 2)  # a refusal after a start, or before one
    assert entries[0]["action"] == "query" and entries[0]["detail"].startswith("refused: ")
    assert entries[0]["sql"] == audit.mask(sql)
    assert list(outside.iterdir()) == []
    new = set(tree(lake_dir)) - set(before_lake)
    assert all(f.startswith("_audit/") for f in new), new


@pytest.mark.prefect
def test_an_ordinary_query_over_the_views_works_and_is_audited_before_it_runs(collected, capsys):
    _, lake_dir = collected
    lake = Lake.open(str(lake_dir))
    sql = ("WITH c AS (SELECT link_id, count(*) AS n FROM comments GROUP BY ALL) "
           "SELECT count(*) AS posts, sum(c.n) AS comments FROM posts p LEFT JOIN c ON c.link_id = 't3_' || p.id")
    assert cli.main(["query", sql, "--lake", str(lake_dir), "--format", "csv"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header == "posts,comments" and int(row.split(",")[0]) == 15 and int(row.split(",")[1]) > 0
    assert cli.main(["query", "DESCRIBE posts", "--lake", str(lake_dir)]) == 0
    assert "subreddit" in capsys.readouterr().out
    done, started = audit.read(lake, action="query", limit=4).to_pylist()[2:4]
    assert started["detail"] == "started" and started["rows"] is None and started["ts"] < done["ts"]
    assert done["rows"] == 1 and done["sql"] == sql and done["tables"] == ["comments", "posts"]


# -- serve: loopback by default, probes that touch neither Reddit nor the lake --------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port``, from the kernel's tables (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:  # four little-endian 32-bit words
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def start_serve(port: int, lake_dir: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "redditlake.cli", "serve", "--port", str(port), "--lake", str(lake_dir), *extra],
        env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not listening_addresses(port):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "serve did not start listening"
        time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()  # the process this test started, by its handle
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def get(url: str) -> tuple[int, dict | str]:
    import httpx

    r = httpx.get(url, timeout=120)
    return r.status_code, (r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text)


def test_serve_listens_on_loopback_only_unless_told_otherwise(tmp_path):
    port = free_port()
    proc = start_serve(port, tmp_path / "lake", {})
    try:
        assert listening_addresses(port) == {"127.0.0.1"}
        status, text = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "redditlake_api_requests" in text
    finally:
        stop(proc)
    assert not (tmp_path / "lake").exists()  # serving an empty lake wrote nothing there


@pytest.mark.prefect
def test_healthz_answers_from_recent_state_with_no_reddit_request_and_no_lake_write(collected):
    sim, lake_dir = collected
    port = free_port()
    env = {k: v for k, v in sim_env(sim).items()}
    proc = start_serve(port, lake_dir, env, "--deep-check-seconds", "3600")
    try:
        status, first = get(f"http://127.0.0.1:{port}/healthz")  # waits for the start-up deep check
        assert status == 200 and first["ok"], first
        checks = {c["name"]: c for c in first["checks"]}
        assert checks["reddit api"]["ok"] and "requests" in checks["api history"]["detail"], checks
        requests, files = sim.stats()["requests"], tree(lake_dir)
        bodies = [get(f"http://127.0.0.1:{port}/healthz") for _ in range(2)]
        metrics_status, _ = get(f"http://127.0.0.1:{port}/metrics")
        assert sim.stats()["requests"] == requests, "a probe made a Reddit request"
        assert tree(lake_dir) == files, "a probe wrote to the lake"
    finally:
        stop(proc)
    assert [s for s, _ in bodies] == [200, 200] and metrics_status == 200
    assert all(body["checked_at"] == first["checked_at"] for _, body in bodies)  # the cached deep check


# -- what the lake writes locally is not world-readable -------------------------------------


@pytest.mark.prefect
def test_the_lake_and_its_catalog_are_not_readable_by_other_users(collected, tmp_path, capsys):
    _, lake_dir = collected
    catalog = tmp_path / "quality.duckdb"
    assert cli.main(["quality", "catalog", "--lake", str(lake_dir), "--output", str(catalog)]) == 0
    capsys.readouterr()
    assert len(list(lake_dir.rglob("*.parquet"))) > 5
    # The Delta writer's files get the umask's mode; the root it creates shuts others out of all of them.
    assert lake_dir.stat().st_mode & 0o007 == 0, oct(lake_dir.stat().st_mode)
    assert catalog.stat().st_mode & 0o007 == 0, oct(catalog.stat().st_mode)
    # A lake folder the user made first keeps the user's mode; a new one nested deeper is private throughout.
    nested = tmp_path / "new" / "deeper" / "lake"
    Lake.open(str(nested)).append_area("_audit_probe", pa.table({"ts": [datetime.now(UTC)]}), "ts")
    assert all(p.stat().st_mode & 0o007 == 0 for p in (nested, nested.parent, nested.parent.parent))


# -- the pseudonym key in deployments: a Secret block, not a worker's environment -----------


@pytest.mark.prefect
def test_the_pseudonym_key_comes_from_a_secret_block_named_in_the_lake_block(prefect_api, tmp_path, monkeypatch):
    from prefect.blocks.system import Secret

    from blocks.lake import LakeLocation, apply_lake_block, save_lake_block
    from redditlake.config import load_settings
    from redditlake.privacy import Pseudonymiser

    key, tag = f"k-{uuid.uuid4().hex}", uuid.uuid4().hex[:8]
    monkeypatch.setenv("REDDITLAKE_PSEUDONYM_KEY", key)
    save_lake_block(f"lake-{tag}", str(tmp_path / "lake"), pseudonym_key_block=f"pseudonym-{tag}")
    monkeypatch.delenv("REDDITLAKE_PSEUDONYM_KEY")  # a worker's environment: no key in it

    assert Secret.load(f"pseudonym-{tag}").get() == key
    assert key not in LakeLocation.load(f"lake-{tag}").model_dump_json()
    settings = asyncio.run(apply_lake_block(load_settings(env={}), f"lake-{tag}"))
    assert settings.privacy.pseudonym_key is not None
    assert Pseudonymiser(settings.privacy.pseudonym_key.get_secret_value()).pseudonym("Someone") == \
        Pseudonymiser(key).pseudonym("Someone")
    unkeyed = asyncio.run(apply_lake_block(load_settings(env={}), None))
    assert unkeyed.privacy.pseudonym_key is None


def test_query_on_an_s3_lake_reads_its_views_and_nothing_else(s3_endpoint, monkeypatch, capsys):
    from test_lake import DAY1, posts

    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    bucket = f"query-{uuid.uuid4().hex[:10]}"
    make_bucket(s3_endpoint, bucket)
    uri = f"s3://{bucket}/lake"
    Lake.open(uri, endpoint_url=s3_endpoint).write("posts", SUB, posts(["a", "b", "c"], created=[DAY1] * 3, subreddit=[SUB] * 3))

    assert cli.main(["query", "SELECT count(*) AS n FROM posts", "--lake", uri, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "3"]
    assert cli.main(["query", "SELECT * FROM read_text('/etc/passwd')", "--lake", uri]) == 1
    assert one_line_error(capsys).startswith("redditlake: error: query refused: Permission Error")


def test_the_lake_deletes_nothing_outside_its_tables(tmp_path):
    from redditlake.lake import delta
    from test_lake import DAY1, posts

    lake = Lake.open(str(tmp_path / "lake"))
    lake.write("posts", SUB, posts(["a"], created=[DAY1], subreddit=[SUB]))
    lake.redact("posts", SUB, ["a"], {"title": "[deleted]"})  # leaves a replaced file for the vacuum
    beside = tmp_path / "lake-beside.parquet"
    in_root = tmp_path / "lake" / "notes.parquet"
    for path in (beside, in_root):
        path.write_bytes(b"someone else's")
    removed = delta.vacuum(lake.location, "posts", 0, full=True)  # the most a vacuum deletes
    assert removed and all(r.startswith("subreddit=") for r in removed), removed
    assert beside.read_bytes() == in_root.read_bytes() == b"someone else's"
    assert lake.read("posts").column("title").to_pylist() == ["[deleted]"]

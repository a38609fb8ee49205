"""What the lake forgets, the caches forget too: no Reddit content in Prefect's result
storage or database, no pickle ever loaded from it, expired results deleted for real,
and an audit trail of every query."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import pickle
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr
from s3server import TEST_CREDENTIALS, list_keys, make_bucket, s3_client

from conftest import query_rows as rows, sim_settings
from redditlake import audit, cli
from redditlake.lake import Lake
from redditlake.lake.location import open_location
from redditlake.result_storage import collect_garbage, verdict
from redditlake.outcome import lines as lines_of

SUB = "python"
# Columns whose text users wrote (a body may mention u/someone): names there are content, not identity.
FREE_TEXT = {
    "title", "selftext", "body", "url", "domain", "permalink", "media", "link_flair_text",
    "description", "public_description",
}


# -- helpers: where content could hide ----------------------------------------------------


class Planted:
    """Unpickling this creates ``marker``: proof that a pickle was executed."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_record(marker: Path, key: str) -> bytes:
    """A result record exactly as Prefect writes one with its default (pickle) serializer."""
    from prefect._internal.result_records import ResultRecord, ResultRecordMetadata
    from prefect.serializers import PickleSerializer

    meta = ResultRecordMetadata(storage_key=key, expiration=None, serializer=PickleSerializer())
    return ResultRecord(metadata=meta, result=Planted(str(marker))).serialize()


def json_record(key: str, payload: object, expiration: datetime | None = None) -> bytes:
    from prefect._internal.result_records import ResultRecord, ResultRecordMetadata
    from prefect.serializers import JSONSerializer

    meta = ResultRecordMetadata(storage_key=key, expiration=expiration, serializer=JSONSerializer())
    return ResultRecord(metadata=meta, result=payload).serialize()


def key(label: str) -> str:
    """A result file name as Prefect makes one (an MD5 hex digest); gc touches no other name."""
    return hashlib.md5(label.encode()).hexdigest()


def decoded(content: bytes) -> str:
    """A file's text, with a result record's base64 payload decoded too (pickles keep strings as UTF-8)."""
    text = content.decode("utf-8", errors="replace")
    try:
        result = json.loads(content).get("result")
        if isinstance(result, str):
            text += base64.b64decode(result).decode("utf-8", errors="replace")
    except (ValueError, AttributeError, TypeError):
        pass
    return text


def tree_texts(root: Path) -> dict[str, str]:
    return {str(p): decoded(p.read_bytes()) for p in root.rglob("*") if p.is_file() and p.suffix != ".parquet"}


def s3_texts(endpoint: str, bucket: str, prefix: str = "") -> dict[str, str]:
    s3 = s3_client(endpoint)
    return {
        k: decoded(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
        for k in list_keys(endpoint, bucket, prefix)
        if not k.endswith(".parquet")
    }


def prefect_database_text(of_the_run: str) -> str:
    """Every row of the Prefect server's database (the session's test server), as SQL text;
    ``of_the_run`` is a line the run logged: it must be there, or this is not the database
    the run wrote to and finding nothing in it would prove nothing."""
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    asyncio.run(APILogHandler.aflush())  # logs are shipped in batches
    path = PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1]
    con = sqlite3.connect(path)
    try:
        text = "\n".join(con.iterdump())
    finally:
        con.close()
    assert of_the_run in text, f"{of_the_run!r} is not in {path}: not the run's database"
    return text


def lake_strings(lake: Lake, *, skip_free_text: bool) -> set[str]:
    """Every string under the lake: every value of every Parquet file (old versions no longer in
    a snapshot, ``_audit``, the log's checkpoints, nested values too) and the whole text of every
    other file (the ``_delta_log`` commits)."""
    fs, root = lake.location.filesystem, lake.location.root
    from pyarrow import fs as pafs

    found: set[str] = set()

    def add(v: object) -> None:
        if isinstance(v, str):
            found.add(v)
        elif isinstance(v, dict):
            for x in v.values():
                add(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                add(x)

    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        if info.type != pafs.FileType.File:
            continue
        with fs.open_input_file(info.path) as f:
            if not info.path.endswith(".parquet"):
                found.add(f.read().decode("utf-8", errors="replace"))
                continue
            table = pq.read_table(f)
        for name in table.column_names:
            if skip_free_text and name in FREE_TEXT:
                continue
            for v in table.column(name).to_pylist():
                add(v)
    return found


def catalog_text(path: Path) -> str:
    """Every value of every table and view of the DuckDB catalog, and the file's bytes."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        parts = [str(con.execute(f'SELECT * FROM "{n}"').fetchall()) for n in names]
    finally:
        con.close()
    return "\n".join(parts) + path.read_bytes().decode("utf-8", errors="replace")


def collected_names(sim, lake: Lake) -> set[str]:
    """Real names of the accounts whose posts and comments were collected (distinctive ones:
    a 4-letter name could occur in any file by chance)."""
    names = {sim.world.post(p).author for (p,) in rows(lake, "SELECT id FROM posts")}
    names |= {sim.world.comment(c).author for (c,) in rows(lake, "SELECT id FROM comments")}
    return {n for n in names if n and len(n) >= 7 and n not in ("[deleted]", "AutoModerator")}


def pseudonymised(settings):
    privacy = settings.privacy.model_copy(update={"pseudonymise_authors": True, "pseudonym_key": SecretStr("k3y-for-tests")})
    return settings.model_copy(update={"privacy": privacy})


def result_storage_path() -> Path:
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

    return Path(PREFECT_LOCAL_STORAGE_PATH.value())


# -- the Proof ----------------------------------------------------------------------------


@pytest.mark.prefect
def test_pseudonymised_collect_leaves_no_author_name_outside_the_lake_text(prefect_api, make_sim, tmp_path):
    from flows.collect import collect

    sim = make_sim(posts_per_subreddit=25, comments_per_post_mean=6)
    lake_uri = str(tmp_path / "lake")
    settings = pseudonymised(sim_settings(sim, lake_uri, sorts=["new"], limit=20, users=True))
    lake = Lake.open(lake_uri)

    summary = asyncio.run(collect([SUB], settings))[0]
    assert summary.ok and summary.comments > 0 and summary.users > 0, summary.line()
    names = collected_names(sim, lake)
    assert len(names) >= 5

    home = Path(os.environ["PREFECT_HOME"])
    places = {"prefect home": tree_texts(home), "result storage": tree_texts(result_storage_path())}
    places["prefect database"] = {"db": prefect_database_text(summary.line())}
    for place, texts in places.items():
        leaks = {(n, f) for f, text in texts.items() for n in names if n in text}
        assert not leaks, f"author names in the {place}: {sorted(leaks)[:3]}"
    assert not names & lake_strings(lake, skip_free_text=True), "a real author name reached the lake"


@pytest.mark.prefect
def test_the_same_with_lake_and_result_storage_on_s3(prefect_api, make_sim, s3_endpoint, monkeypatch):
    from prefect.settings import PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK, temporary_settings

    from blocks.storage import build_blocks
    from flows.collect import collect
    from flows.refresh import refresh

    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"forget-{uuid.uuid4().hex[:12]}"
    make_bucket(s3_endpoint, bucket)
    tag = uuid.uuid4().hex[:8]
    credentials, storage = build_blocks(bucket, "prefect-results", s3_endpoint)
    credentials.save(f"forget-aws-{tag}", overwrite=True)
    storage.save(f"forget-results-{tag}", overwrite=True)

    sim = make_sim(posts_per_subreddit=25, comments_per_post_mean=6)
    settings = pseudonymised(sim_settings(sim, f"s3://{bucket}/lake", sorts=["new"], limit=20, users=True))
    settings = settings.model_copy(update={"lake": settings.lake.model_copy(update={"endpoint_url": s3_endpoint})})
    lake = Lake.open(f"s3://{bucket}/lake", endpoint_url=s3_endpoint)
    # Bait: where an earlier version cached comment batches, a stale pickle; gc must remove it.
    s3_client(s3_endpoint).put_object(Bucket=bucket, Key=f"prefect-results/{key('stale')}", Body=pickled_record(Path("/nonexistent/x"), key("stale")))

    with temporary_settings({PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK: f"s3-bucket/forget-results-{tag}"}):
        summary = asyncio.run(collect([SUB], settings))[0]
        assert summary.ok and summary.comments > 0 and summary.users > 0, summary.line()
        names = collected_names(sim, lake)
        assert len(names) >= 5
        texts = s3_texts(s3_endpoint, bucket)  # result storage and anything else in the bucket
        texts["prefect database"] = prefect_database_text(summary.line())
        leaks = {(n, k) for k, text in texts.items() for n in names if n in text}
        assert not leaks, f"author names outside the lake: {sorted(leaks)[:3]}"
        assert not names & lake_strings(lake, skip_free_text=True), "a real author name reached the S3 lake"

        # Nothing of the run was persisted (with a default storage block set, Prefect would
        # persist every flow's and task's result unless told not to).
        assert list_keys(s3_endpoint, bucket, "prefect-results/") == [f"prefect-results/{key('stale')}"]
        # refresh ends with gc, which finds the S3 result storage through the block by itself.
        lines = lines_of(asyncio.run(refresh([SUB], settings)))
        after = "\n".join(s3_texts(s3_endpoint, bucket).values())
        assert not [n for n in names if n in after], "author names outside the lake after refresh"
    assert any(f"s3://{bucket}/prefect-results/{key('stale')}: deleted unread" in line for line in lines), lines
    assert [k for k in list_keys(s3_endpoint, bucket, "prefect-results/") if not k.endswith("/")] == []


@pytest.mark.prefect
def test_a_comment_deleted_and_redacted_is_found_nowhere_afterwards(prefect_api, make_sim, tmp_path):
    from flows.collect import collect
    from flows.refresh import refresh

    sim = make_sim(posts_per_subreddit=25, comments_per_post_mean=8)
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=20)
    lake = Lake.open(lake_uri)
    assert asyncio.run(collect([SUB], settings))[0].ok

    # A comment whose text is its own (generated text repeats; a shared sentence proves nothing).
    bodies = rows(lake, "SELECT id, body FROM comments WHERE length(body) > 40")
    counts: dict[str, int] = {}
    for _, body in bodies:
        counts[body] = counts.get(body, 0) + 1
    comment_id, body = next((i, b) for i, b in bodies if counts[b] == 1)
    assert body in lake_strings(lake, skip_free_text=False)

    # An older version of redditlake cached the raw comment batch: once as JSON (unexpired),
    # once pickled. Both must go when the lake forgets the comment.
    storage = result_storage_path()
    storage.mkdir(parents=True, exist_ok=True)
    raw = {"id": comment_id, "name": f"t1_{comment_id}", "body": body}
    (storage / key("old-json-batch")).write_bytes(json_record(key("old-json-batch"), [raw], datetime.now(UTC) + timedelta(days=1)))
    (storage / key("old-pickled-batch")).write_bytes(pickled_record(tmp_path / "executed", key("old-pickled-batch")))
    keep = json_record(key("other-flow"), {"n": 1}, datetime.now(UTC) + timedelta(days=1))
    (storage / key("other-flow")).write_bytes(keep)

    sim.world.delete(f"t1_{comment_id}")
    lines = lines_of(asyncio.run(refresh([SUB], settings)))
    assert "comments" in lines[0] and (comment_id,) in rows(lake, "SELECT id FROM deletions"), lines

    assert body not in lake_strings(lake, skip_free_text=False), "the deleted comment is still in the lake"
    assert rows(lake, f"SELECT body FROM comments WHERE id = '{comment_id}'") == [(None,)]
    leftovers = [f for f, text in tree_texts(storage).items() if body in text or comment_id in text]
    assert not leftovers, f"the deleted comment survives in the result storage: {leftovers}"
    assert not (storage / key("old-pickled-batch")).exists() and not (tmp_path / "executed").exists()
    assert (storage / key("other-flow")).read_bytes() == keep  # another flow's unexpired result is left alone
    assert body not in prefect_database_text(lines[0]), "the deleted comment is in Prefect's database"
    assert body not in "\n".join(tree_texts(Path(os.environ["PREFECT_HOME"])).values())


@pytest.mark.prefect
def test_a_pickle_planted_in_the_result_storage_is_never_executed(prefect_api, make_sim, tmp_path, capsys):
    from prefect.cache_policies import INPUTS

    from flows.collect import collect

    sim = make_sim(posts_per_subreddit=20, comments_per_post_mean=4)
    settings = sim_settings(sim, str(tmp_path / "lake"), sorts=["new"], limit=10)
    assert asyncio.run(collect([SUB], settings))[0].ok
    storage = result_storage_path()
    storage.mkdir(parents=True, exist_ok=True)

    # The bait works: Prefect's own reader executes it (with a marker of its own).
    from prefect._internal.result_records import ResultRecord

    probe = tmp_path / "probe"
    ResultRecord.deserialize(pickled_record(probe, "probe"))
    assert probe.exists()

    # Planted where a cached fetch-about would be read (the key the former cache policy
    # computed), over every result file there is, and as raw pickle bytes.
    marker = tmp_path / "executed"
    source = settings.reddit.oauth_url
    keys = {(INPUTS - "client").compute_key(None, {"subreddit": SUB, "source": source}, {})}
    keys |= {p.name for p in storage.iterdir() if p.is_file()}
    for k in keys:
        (storage / k).write_bytes(pickled_record(marker, k))
    (storage / "planted-raw").write_bytes(pickle.dumps(Planted(str(marker))))

    summary = asyncio.run(collect([SUB], settings))[0]
    assert summary.ok, summary.line()
    assert not marker.exists(), "a pickle from the result storage was executed"

    assert cli.main(["gc", "--results", str(storage)]) == 0
    out = capsys.readouterr().out
    assert "deleted unread: not a data-only (JSON) result record" in out
    assert not any((storage / k).exists() for k in keys)
    # Raw pickle bytes are no result record: gc names them and leaves them to a person.
    assert f"{storage / 'planted-raw'}: left alone: not a Prefect result record" in out
    assert not marker.exists()


def test_a_query_writes_an_audit_row_and_audit_shows_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "s3cr3t-value-of-the-app")
    lake_dir = tmp_path / "lake"
    lake = Lake.open(str(lake_dir))
    sql = "SELECT 42 AS answer, 's3cr3t-value-of-the-app' AS a, 'AKIAIOSFODNN7EXAMPLE' AS b, 'hello' AS c"
    assert cli.main(["query", sql, "--lake", str(lake_dir), "--format", "json"]) == 0
    assert cli.main(["query", "SELECT * FROM nowhere WHERE password = 'hunter2'", "--lake", str(lake_dir)]) == 1
    capsys.readouterr()

    assert cli.main(["audit", "--lake", str(lake_dir), "--format", "json"]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["action"] for e in entries] == ["query"] * 4
    failed, failed_start, ok, ok_start = entries  # each query: an entry before it runs, then its outcome
    assert failed_start["detail"] == ok_start["detail"] == "started" and ok_start["sql"] == ok["sql"]
    assert ok["rows"] == 1 and ok["user"] and "'hello'" in ok["sql"] and "42 AS answer" in ok["sql"]
    assert "s3cr3t" not in ok["sql"] and "AKIA" not in ok["sql"] and ok["sql"].count("'***'") == 2
    assert failed["rows"] is None and failed["tables"] == "nowhere" and "failed:" in failed["detail"]
    assert "hunter2" not in failed["sql"]
    # Nothing of the secrets anywhere in the trail's files, and the trail is not a queryable table.
    assert not {s for s in lake_strings(lake, skip_free_text=False) if "s3cr3t" in s or "hunter2" in s}
    assert "_audit" not in lake.tables() and (lake_dir / "_audit").is_dir()


def test_audit_records_tables_touched_and_appends_only(tmp_path):
    from test_lake import DAY1, posts

    lake = Lake.open(str(tmp_path / "lake"))
    lake.write("posts", SUB, posts(["a", "b"], created=[DAY1, DAY1], subreddit=[SUB] * 2))
    from redditlake.query import run_query

    run_query(lake, "SELECT p.id FROM posts p JOIN posts q ON p.id = q.id")
    first = audit.read(lake).to_pylist()
    assert len(first) == 2 and first[0]["tables"] == ["posts"] and first[0]["rows"] == 2 and first[1]["detail"] == "started"
    audit.record(lake, "export", rows=2, detail="to out.csv with token='abc'")
    after = audit.read(lake).to_pylist()
    assert [e["action"] for e in after] == ["export", "query", "query"] and after[1:] == first
    assert after[0]["detail"] == "to out.csv with token='***'"
    assert audit.read(lake, action="query", limit=1).num_rows == 1


def test_mask_keeps_ordinary_literals_and_hides_credentials():
    keep = "SELECT * FROM posts WHERE author = 'someone' AND url LIKE 'https://www.reddit.com/r/python/comments/abc123def456/%'"
    assert audit.mask(keep) == keep
    assert audit.mask("CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's', ENDPOINT 'h:9000')") == (
        "CREATE SECRET (TYPE s3, KEY_ID '***', SECRET '***', ENDPOINT 'h:9000')"
    )
    assert audit.mask("SELECT 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'") == "SELECT '***'"
    assert audit.mask("SELECT 'my-key-123'", ["my-key-123"]) == "SELECT '***'"


# -- gc of the result storage ---------------------------------------------------------------


def test_verdicts_on_result_files(tmp_path):
    now = datetime.now(UTC)
    k = key("k")
    assert verdict(k, json_record(k, {"a": 1}, now - timedelta(seconds=1)), now) == "expired"
    assert verdict(k, json_record(k, {"a": 1}, now + timedelta(hours=1)), now) is None
    assert verdict(k, json_record(k, {"a": 1}), now) is None
    assert verdict(k, json_record(k, {"id": "xyz789"}), now, ["xyz789"]) == "forgotten"
    assert verdict(k, pickled_record(tmp_path / "never", k), now) == "refused"
    assert verdict(k, pickle.dumps({"a": 1}), now) == "unknown"
    assert verdict(k, b"not json", now) == "unknown"
    assert not (tmp_path / "never").exists()


def test_gc_deletes_expired_and_pickled_results_on_s3(s3_endpoint, monkeypatch, tmp_path):
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"gc-{uuid.uuid4().hex[:12]}"
    make_bucket(s3_endpoint, bucket)
    s3 = s3_client(s3_endpoint)
    now = datetime.now(UTC)
    files = {
        f"results/{key('expired')}": json_record(key("expired"), {"a": 1}, now - timedelta(minutes=1)),
        f"results/{key('fresh')}": json_record(key("fresh"), {"a": 1}, now + timedelta(minutes=10)),
        f"results/{key('pickled')}": pickled_record(tmp_path / "executed", key("pickled")),
        f"elsewhere/{key('x')}": json_record(key("x"), {"a": 1}, now - timedelta(minutes=1)),
    }
    for name, body in files.items():
        s3.put_object(Bucket=bucket, Key=name, Body=body)

    lake = open_location(f"s3://{bucket}/lake", endpoint_url=s3_endpoint)
    result = collect_garbage(open_location(f"s3://{bucket}/results", endpoint_url=s3_endpoint), lake=lake)
    assert result.expired == [f"s3://{bucket}/results/{key('expired')}"]
    assert result.refused == [f"s3://{bucket}/results/{key('pickled')}"]
    # (pyarrow leaves a "results/" folder marker behind a deletion)
    assert [k for k in list_keys(s3_endpoint, bucket) if not k.endswith("/")] == [f"elsewhere/{key('x')}", f"results/{key('fresh')}"]
    assert not (tmp_path / "executed").exists()


def test_gc_command_on_a_folder(tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / key("old")).write_bytes(json_record(key("old"), [1], datetime.now(UTC) - timedelta(days=1)))
    assert cli.main(["gc", "--results", str(folder), "--lake", str(tmp_path / "lake")]) == 0
    assert "1 files, deleted 1 expired" in capsys.readouterr().out
    assert not (folder / key("old")).exists()


def test_forget_user_redacts_their_posts_comments_and_profiles_everywhere(tmp_path, capsys, monkeypatch):
    from redditlake.landing import Landing
    from redditlake.clock import now_utc

    lake_dir = tmp_path / "lake"
    landing = Landing(Lake.open(str(lake_dir)), None)
    t = 1_700_000_000
    post = lambda i, author, sub: {"id": i, "name": f"t3_{i}", "subreddit": sub, "title": f"title by {author} {i}",
                                   "selftext": f"text {i}", "author": author, "author_fullname": f"t2_{author}",
                                   "created_utc": t, "num_comments": 1, "score": 1, "permalink": f"/r/{sub}/comments/{i}/"}
    comment = lambda i, author, link: {"id": i, "name": f"t1_{i}", "link_id": f"t3_{link}", "parent_id": f"t3_{link}",
                                       "author": author, "author_fullname": f"t2_{author}", "body": f"body {i} by {author}",
                                       "created_utc": t, "score": 1, "subreddit": "python"}
    user = lambda author: {"name": author, "id": f"id{author}", "created_utc": t, "link_karma": 5, "comment_karma": 7}
    now = now_utc()
    landing.posts("python", [post("p1", "Leaver_42", "python"), post("p2", "stayer", "python")], now)
    landing.posts("rust", [post("p3", "leaver_42", "rust")], now)
    landing.comments("python", [comment("c1", "Leaver_42", "p2"), comment("c2", "stayer", "p1")], now)
    landing.users("python", [user("Leaver_42"), user("stayer")], now)
    results = tmp_path / "results"
    results.mkdir()
    (results / key("mentions")).write_bytes(json_record(key("mentions"), {"author": "Leaver_42"}))
    (results / key("other")).write_bytes(json_record(key("other"), {"author": "stayer"}))

    assert cli.main(["forget-user", "Leaver_42", "--lake", str(lake_dir), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "forgot the account in 2 subreddits: 2 posts, 1 comments, 1 users" in out, out
    lake = landing.lake
    # Physically gone: no file under the lake holds the name, old versions and the log included.
    texts = lake_strings(lake, skip_free_text=False)
    assert not {s for s in texts if "leaver_42" in s.lower()}, files_holding(lake, "Leaver_42")
    purged = rows(lake, "SELECT count(*), count(purged_at) FROM deletions WHERE reason = 'user_request'")
    assert purged == [(3, 3)]
    assert rows(lake, "SELECT id, title, author FROM posts ORDER BY id") == [
        ("p1", "[deleted]", "[deleted]"), ("p2", "title by stayer p2", "stayer"), ("p3", "[deleted]", "[deleted]")]
    assert rows(lake, "SELECT id, body FROM comments ORDER BY id") == [("c1", None), ("c2", "body c2 by stayer")]
    assert rows(lake, "SELECT author, link_karma FROM users ORDER BY author") == [("[deleted]", None), ("stayer", 5)]
    assert {r[0] for r in rows(lake, "SELECT id FROM deletions WHERE reason = 'user_request'")} == {"p1", "p3", "c1"}
    assert not (results / key("mentions")).exists() and (results / key("other")).exists()
    assert [e["action"] for e in audit.read(lake).to_pylist()] == ["forget-user"]
    assert cli.main(["forget-user", "[deleted]", "--lake", str(lake_dir)]) == 1


def files_holding(lake: Lake, needle: str) -> list[str]:
    """Files of a local lake whose raw bytes hold ``needle`` (to say where a leak is)."""
    return [str(p) for p in Path(lake.location.root).rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_forget_user_drops_the_account_from_quarantine_quality_results_and_catalog(tmp_path, capsys, monkeypatch):
    from redditlake.landing import Landing
    from redditlake.clock import now_utc
    from redditlake.privacy import Pseudonymiser
    from redditlake.quality import catalog, results

    monkeypatch.setenv("REDDITLAKE_PSEUDONYM_KEY", "k3y-for-the-reference")
    lake_dir = tmp_path / "lake"
    landing = Landing(Lake.open(str(lake_dir)), None, required_fields={"posts": ["title"]})
    now = now_utc()
    untitled = lambda i, author, text: {"id": i, "name": f"t3_{i}", "subreddit": SUB, "selftext": text, "author": author,
                                        "created_utc": 1_700_000_000, "num_comments": 0, "score": 1}
    landing.posts(SUB, [untitled("q1", "Leaver_42", "only leaver wrote this"), untitled("q2", "stayer", "stays")], now)
    landing.posts("rust", [untitled("q3", "leaver_42", "and this")], now)
    sample = {"run_id": "r1", "table_name": "users", "subreddit": SUB, "expectation": "link_karma at least min_karma",
              "success": False, "unexpected_count": 2, "unexpected_ids": ["Leaver_42", "stayer"], "validated_at": now}
    results.write(landing.lake, "expectation_results", [sample])
    db = catalog.build(landing.lake, tmp_path / "quality.duckdb")
    assert "only leaver wrote this" in catalog_text(db) and "Leaver_42" in catalog_text(db)

    assert cli.main(["forget-user", "Leaver_42", "--lake", str(lake_dir)]) == 0
    out = capsys.readouterr().out
    lake = landing.lake
    assert rows(lake, "SELECT id, raw IS NULL FROM quarantine ORDER BY id") == [("q1", True), ("q2", False), ("q3", True)]
    assert results.read(lake, "expectation_results").column("unexpected_ids").to_pylist() == [["[deleted]", "stayer"]]
    assert not {s for s in lake_strings(lake, skip_free_text=False) if "leaver" in s.lower()}
    text = catalog_text(db).lower()
    assert "leaver" not in text and "stayer" in text, "the catalog keeps the account"
    assert "forgot the account: 2 quarantined, 1 quality samples" in out, out
    # Purged: no file of the lake, older Delta versions included, holds the forgotten text or name.
    assert files_holding(lake, "only leaver wrote this") == [] and files_holding(lake, "Leaver_42") == []

    # The trail names the request by a keyed reference: the same for the same account, never the name.
    assert cli.main(["forget-user", "u/leaver_42", "--lake", str(lake_dir)]) == 0
    details = [e["detail"] for e in audit.read(lake, action="forget-user").to_pylist()]
    reference = Pseudonymiser("k3y-for-the-reference").reference("Leaver_42")
    assert len(details) == 2 and all(d.startswith(f"account {reference}: ") for d in details), details
    assert not [d for d in details if "leaver" in d.lower()]
    monkeypatch.delenv("REDDITLAKE_PSEUDONYM_KEY")
    assert cli.main(["forget-user", "Leaver_42", "--lake", str(lake_dir)]) == 0
    assert audit.read(lake, action="forget-user", limit=1).column("detail")[0].as_py().startswith("account not recorded")

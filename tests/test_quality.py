"""The quality layer: validation before write, GX suites on landed batches, the DuckDB catalog,
integrity checks — through the real pipeline (simulator over HTTP, asyncpraw, Prefect, Parquet)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from redditlake import audit

from conftest import query_rows, sim_env, sim_settings
from redditlake.config import DataQualitySettings
from redditlake.lake import Lake
from redditlake.landing import Landing
from redditlake.models import Comment, CommentFetch, Post, parse_batch
from redditlake.quality import anomalies, batch, catalog, results
from redditlake.simulator.config import ABSENT
from redditlake.outcome import lines as lines_of

ROOT = Path(__file__).resolve().parents[1]


def _catalog_rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# -- validation before write (no Prefect) ------------------------------------------------------


def test_text_cleaning_removes_and_counts_nul_and_lone_surrogates_and_keeps_the_rest():
    now = datetime.now(UTC)
    kept = "AT&amp;T <b> 🐍 مرحبا zero\u200bwidth"
    parsed = parse_batch(
        Post,
        [{"id": "a1", "subreddit": "python", "title": "x\x00y\ud83dz " + kept, "selftext": "\x00\x00", "created_utc": 1.7e9}],
        now,
    )
    assert parsed.rows.column("title").to_pylist() == ["xyz " + kept]
    assert parsed.rows.column("selftext").to_pylist() == [""]
    assert (parsed.cleaning.nul_bytes, parsed.cleaning.lone_surrogates, parsed.cleaning.fields_changed) == (3, 1, 2)


def test_failing_rows_are_quarantined_with_reason_and_raw_json_never_blocking_the_batch():
    now = datetime.now(UTC)
    base = {"subreddit": "python", "title": "t", "author": "a", "created_utc": 1.7e9}
    things = [
        {**base, "id": "ok1"},
        {**base, "id": "Bad-Id"},
        {**base, "id": "r1", "upvote_ratio": 2.0},
        {**base, "id": "nt", "title": None},
        {**base, "id": "cm", "created_utc": "yesterday"},
    ]
    parsed = parse_batch(Post, things, now, DataQualitySettings().required_fields)
    assert parsed.rows.column("id").to_pylist() == ["ok1"]
    quarantined = {r["id"]: r["reason"] for r in parsed.quarantined.to_pylist()}
    assert quarantined == {
        "Bad-Id": "id: id 'Bad-Id' is not base36 (lower-case letters and digits, at most 13)",
        "r1": "upvote_ratio: upvote_ratio 2.0 is outside [0, 1]",
        "nt": "missing required field title",
        "cm": "ValueError: could not convert string to float: 'yesterday'",
    }
    assert json.loads(parsed.quarantined.column("raw")[1].as_py())["upvote_ratio"] == 2.0

    comments = parse_batch(
        Comment,
        [{"id": "c1", "subreddit": "python", "link_id": "t1_x", "parent_id": "t3_x", "created_utc": 1.7e9}],
        now,
    )
    assert comments.quarantined.column("reason").to_pylist() == ["link_id: link_id 't1_x' is not a fullname (t3_<base36>)"]


def test_a_bad_item_is_quarantined_once_across_runs_reading_only_the_days_it_could_be_in(tmp_path):
    lake = Lake.open(tmp_path / "lake")
    day1 = datetime(2026, 11, 1, 12, tzinfo=UTC)
    created = (day1 - timedelta(days=2)).timestamp()
    base = {"subreddit": "python", "title": "t", "author": "a", "created_utc": created}
    bad = [{**base, "id": "r1", "upvote_ratio": 2.0}, {**base, "id": "r2", "title": None},
           {**base, "upvote_ratio": 3.0}]  # no id: keyed by its raw JSON
    required = DataQualitySettings().required_fields
    for run, when in enumerate((day1, day1 + timedelta(days=1), day1 + timedelta(days=1, hours=1))):
        Landing(lake, required_fields=required).posts("python", [{**base, "id": f"ok{run}"}, *bad], when)
    stored = lake.read("quarantine").to_pylist()
    assert sorted((r["id"], r["reason"], r["dt"]) for r in stored if r["id"]) == [
        ("r1", "upvote_ratio: upvote_ratio 2.0 is outside [0, 1]", day1.date()),
        ("r2", "missing required field title", day1.date()),
    ]
    assert [json.loads(r["raw"])["upvote_ratio"] for r in stored if r["id"] is None] == [3.0]

    # the same id failing for another reason is another record
    Landing(lake).posts("python", [{**base, "id": "r1", "upvote_ratio": -1.0}], day1 + timedelta(days=2))
    assert sorted(r["reason"] for r in lake.read("quarantine").to_pylist() if r["id"] == "r1") == [
        "upvote_ratio: upvote_ratio -1.0 is outside [0, 1]", "upvote_ratio: upvote_ratio 2.0 is outside [0, 1]",
    ]
    # bounded: a sighting before the item was created cannot exist, so that day is not read (proved by
    # planting one there: it does not stop the new record); nor is anything past the lookback
    early = datetime(2026, 10, 1, tzinfo=UTC)
    Landing(lake).posts("python", [{**base, "id": "r9", "created_utc": early.timestamp(), "upvote_ratio": 5.0}], early)
    later = {**base, "id": "r9", "upvote_ratio": 5.0, "created_utc": (early + timedelta(days=5)).timestamp()}
    Landing(lake).posts("python", [later], day1)
    Landing(lake, quarantine_lookback_days=1).posts("python", [{**later, "id": "r1", "upvote_ratio": 2.0}],
                                                   day1 + timedelta(days=3))
    counts = {}
    for r in lake.read("quarantine").to_pylist():
        counts[r["id"]] = counts.get(r["id"], 0) + 1
    assert counts == {"r1": 3, "r2": 1, None: 1, "r9": 2}


def test_post_metrics_and_users_suites_name_bad_ids_ranges_and_timestamps():
    from redditlake.models import PostMetric, User

    now = datetime.now(UTC)
    m = lambda i, **kw: PostMetric(**{"id": i, "collected_at": now, "score": 5, "num_comments": 2,  # noqa: E731
                                      "upvote_ratio": 0.9, **kw})
    metrics = PostMetric.to_arrow([m("a1"), m("a2"), m("a2"), m("Bad!"), m("a3", upvote_ratio=1.5),
                                   m("a4", num_comments=-1), m("a5", collected_at=now + timedelta(days=1)),
                                   m("a6", score=-20_000), m("a1", collected_at=now - timedelta(hours=1))])
    settings = DataQualitySettings()
    result = batch.validate(batch.Batch("post_metrics", "python", metrics), settings, now)
    failed = {o.name: o.unexpected_ids for o in result.failed}
    assert failed == {
        "id well-formed": ["Bad!"], "one sighting per id and time": ["a2"], "upvote_ratio in range": ["a3"],
        "num_comments in range": ["a4"], "collected_at not in the future": ["a5"],
        "score at least min_post_score": ["a6"],
    }
    assert result.run["expectations"] == 8 and result.run["rows"] == 9

    u = lambda name, **kw: User(**{"author": name, "account_id": "t2_abc", "created_utc": now - timedelta(days=900),  # noqa: E731
                                   "link_karma": 10, "comment_karma": 10, "total_karma": 20, "is_suspended": False,
                                   "is_mod": None, "is_gold": None, "verified": None, "has_verified_email": None,
                                   "collected_at": now, **kw})
    users = User.to_arrow([u("alice"), u("u_0123456789abcdef0123"), u("x"), u("bob", account_id="t2_NOPE"),
                           u("carol", comment_karma=-5000), u("dave", created_utc=datetime(2001, 1, 1, tzinfo=UTC)),
                           u("erin", account_id=None, created_utc=None, link_karma=None, comment_karma=None)])
    result = batch.validate(batch.Batch("users", "python", users), settings, now)
    assert {o.name: o.unexpected_ids for o in result.failed} == {
        "author well-formed": ["x"], "account_id well-formed": ["bob"], "comment_karma at least min_karma": ["carol"],
        "account created_utc plausible": ["dave"],
    }
    clean = batch.validate(batch.Batch("users", "python", User.to_arrow([u("alice"), u("erin")])), settings, now)
    assert clean.run["success"] and clean.run["expectations"] == 9 and clean.run["score"] == 1.0


def test_an_item_landed_twice_in_one_run_is_one_item_while_a_batch_holding_it_twice_fails():
    from redditlake.models import Post, PostMetric

    now = datetime.now(UTC)
    post = lambda i, score: Post.from_api({"id": i, "name": f"t3_{i}", "subreddit": "python",  # noqa: E731
                                           "title": f"t {i}", "author": "a", "score": score, "num_comments": 0,
                                           "created_utc": (now - timedelta(hours=40)).timestamp()}, now)
    settings = DataQualitySettings()
    # An archive follow lands p1 in its follow pass and again, settled, in its settle pass.
    follow = batch.Batch("posts", "python", Post.to_arrow([post("p1", 1), post("p2", 1)]))
    settle = batch.Batch("posts", "python", Post.to_arrow([post("p1", 9)]))
    (merged,) = batch.merge([follow, settle])
    assert sorted(zip(merged.rows.column("id").to_pylist(), merged.rows.column("score").to_pylist())) == [
        ("p1", 9), ("p2", 1)]  # the later sighting
    assert batch.validate(merged, settings, now).run["success"]
    # One batch holding an id twice is still a failure of "id unique".
    twice = batch.Batch("posts", "python", Post.to_arrow([post("p3", 1), post("p3", 2)]))
    (alone,) = batch.merge([twice])
    assert {o.name for o in batch.validate(alone, settings, now).failed} == {"id unique"}
    # Snapshot tables keep every sighting: two metrics rows of p1 in one run are two rows.
    m = lambda i, at: PostMetric(id=i, collected_at=at, score=1, num_comments=0, upvote_ratio=None)  # noqa: E731
    (metrics,) = batch.merge([batch.Batch("post_metrics", "python", PostMetric.to_arrow([m("p1", now)])),
                              batch.Batch("post_metrics", "python",
                                          PostMetric.to_arrow([m("p1", now + timedelta(seconds=1))]))])
    assert metrics.rows.num_rows == 2


def test_a_long_run_validates_as_it_goes_holding_at_most_validate_every_rows(tmp_path):
    from redditlake.quality.recorder import Recorder

    lake = Lake.open(tmp_path / "lake")
    now = datetime.now(UTC)
    recorder = Recorder(lake, DataQualitySettings(validate_every_rows=10), "backfill")
    landing = Landing(lake, recorder=recorder)
    for i in range(5):  # 5 batches of 4 posts: validated after the 3rd (12 rows) and at the end
        landing.posts("python", [_post(f"b{i}x{j}", 0, now.timestamp() - 60) for j in range(4)], now)
        assert recorder._rows < 10
    assert [sum(b.run["rows"] for b in r.batches) for r in recorder.reports] == [12]
    recorder.flush()
    assert [b.run["rows"] for b in recorder.merged().batches] == [12, 8]
    assert sorted(results.read(lake, "validation_runs").column("rows").to_pylist()) == [8, 12]
    assert recorder.unannounced().batches and not recorder.unannounced().batches  # events go out once


def test_batch_score_follows_the_documented_formula():
    o = [
        gx_outcome("a", "critical", 10, 0), gx_outcome("b", "warning", 10, 2), gx_outcome("c", "critical", 10, 5),
    ]
    # (3·valid_share + 3·1 + 1·0.8 + 3·0.5) / (3 + 3 + 1 + 3) with valid_share = 10/12
    assert batch.score(o, valid=10, quarantined=2) == round((3 * 10 / 12 + 3 + 0.8 + 1.5) / 10, 6)


def gx_outcome(name: str, severity: str, n: int, bad: int):
    from redditlake.quality.gxrun import Outcome

    return Outcome(name, "expect_x", severity, bad == 0, n, bad, 100.0 * bad / n, None)


def test_anomalies_are_robust_z_scores_against_the_subreddits_own_history():
    now = datetime.now(UTC)
    settings = DataQualitySettings(anomaly_runs=10, anomaly_z=3.5)
    history = [
        {"run_id": f"r{i}", "metric_name": "rows", "metric_value": v, "subreddit_name": "python", "table_name": "posts",
         "calculated_at": now - timedelta(hours=10 - i), "flow_run_id": None}
        for i, v in enumerate([100, 104, 98, 101, 99, 103, 97, 102])
    ]
    table = results.SCHEMAS["data_quality_metrics"].empty_table().from_pylist(history, schema=results.SCHEMAS["data_quality_metrics"])
    current = [{"run_id": "now", "metric_name": "rows", "metric_value": v, "subreddit_name": "python", "table_name": "posts"}
               for v in (3.0,)]
    found = anomalies.detect(current, table, settings, now)
    assert [(a["metric_name"], a["value"], a["median"], a["history_runs"]) for a in found] == [("rows", 3.0, 100.5, 8)]
    assert found[0]["robust_z"] < -3.5
    assert anomalies.detect([{**current[0], "metric_value": 101.0}], table, settings, now) == []
    assert anomalies.detect(current, table.slice(0, 4), settings, now) == []  # too little history to judge


# -- the real pipeline -------------------------------------------------------------------------


@pytest.mark.prefect
def test_nasty_and_broken_content_through_the_pipeline_lands_exact_catalog_rows(prefect_api, make_sim, tmp_path):
    from flows.collect import collect

    sim = make_sim(posts_per_subreddit=20, comments_per_post_mean=3, subreddits=["python", "aww"])
    pids = sim.world.post_ids("python")
    commented = [p for p in pids if len(sim.world.comment_ids(p)) >= 2][:2]
    plain = [p for p in pids if p not in commented]
    nul, ratio, untitled, low, long_title = plain[:5]
    future_comment = sim.world.comment_ids(commented[0])[0]
    bad_score_comment = sim.world.comment_ids(commented[1])[-1]
    future = (datetime.now(UTC) + timedelta(days=30)).timestamp()
    sim.world.config.thing_overrides.update(
        {
            nul: {"title": "NUL\x00 and a lone \ud83d surrogate"},
            ratio: {"upvote_ratio": 1.7, "num_comments": 0},
            untitled: {"title": ABSENT, "num_comments": 0},
            low: {"score": -50_000},
            long_title: {"title": "x" * 350},
            future_comment: {"created_utc": future},
            bad_score_comment: {"score": "lots"},
        }
    )
    lake_uri = str(tmp_path / "lake")
    settings = sim_settings(sim, lake_uri, sorts=["new"], limit=100)

    state = asyncio.run(collect(["python", "secretclub"], settings, return_state=True))
    assert state.is_failed()  # secretclub is private: the run says so, python's data landed all the same
    summaries = state.result(raise_on_failure=False)
    assert summaries[0].ok, summaries[0].line()

    lake = Lake.open(lake_uri)
    db = tmp_path / "quality.duckdb"  # the default: next to the local lake, rebuilt after the run
    assert db.exists()
    q = lambda sql: _catalog_rows(db, sql)  # noqa: E731

    assert sorted(q("SELECT table_name, id, reason FROM quarantine")) == sorted([
        ("posts", ratio, "upvote_ratio: upvote_ratio 1.7 is outside [0, 1]"),
        ("posts", untitled, "missing required field title"),
        ("comments", bad_score_comment, "ValueError: invalid literal for int() with base 10: 'lots'"),
    ])
    assert json.loads(q(f"SELECT raw FROM quarantine WHERE id = '{ratio}'")[0][0])["upvote_ratio"] == 1.7
    stored = {r[0]: r[1] for r in lake.duckdb().execute("SELECT id, title FROM posts").fetchall()}
    assert ratio not in stored and untitled not in stored and len(stored) == 18
    assert stored[nul] == "NUL and a lone  surrogate"

    failing = q("""SELECT table_name, expectation, unexpected_ids, unexpected_count FROM expectation_results
                   WHERE NOT success AND table_name <> 'api_requests' ORDER BY 1, 2""")
    assert failing == [
        ("comments", "created_utc plausible", [future_comment], 1),
        # post_metrics holds every sighting, of quarantined posts too: its own suite sees them
        ("post_metrics", "score at least min_post_score", [low], 1),
        ("post_metrics", "upvote_ratio in range", [ratio], 1),
        ("posts", "score at least min_post_score", [low], 1),
        ("posts", "title 1-300 chars", [long_title], 1),
    ]
    metrics = dict(q("""SELECT metric_name, metric_value FROM data_quality_metrics
                        WHERE table_name = 'posts' AND subreddit_name = 'python'"""))
    truth = lake.duckdb().execute(
        """SELECT count(*) FILTER (author = '[deleted]'), count(*) FILTER (length(selftext) > 10000),
                  count(*) FILTER (score < 0) FROM posts WHERE subreddit = 'python'"""
    ).fetchone()
    assert {k: metrics[k] for k in ("rows", "rows_written", "quarantined", "nul_bytes_removed",
                                    "lone_surrogates_removed", "deleted_authors", "long_texts", "negative_scores")} == {
        "rows": 18, "rows_written": 18, "quarantined": 2, "nul_bytes_removed": 1, "lone_surrogates_removed": 1,
        "deleted_authors": truth[0], "long_texts": truth[1], "negative_scores": truth[2],
    }
    (run_id, rows, quarantined, success, score), = q(
        "SELECT run_id, rows, quarantined, success, score FROM validation_runs WHERE table_name = 'posts'"
    )
    assert (rows, quarantined, success) == (18, 2, False)
    weights = {"critical": 3.0, "warning": 1.0}
    exp = q(f"SELECT severity, unexpected_percent, success FROM expectation_results WHERE run_id = '{run_id}'")
    formula = (3 * 18 / 20 + sum(weights[s] * (1 - p / 100) for s, p, _ in exp)) / (3 + sum(weights[s] for s, _, _ in exp))
    assert score == pytest.approx(formula) and metrics["quality_score"] == pytest.approx(formula)

    jobs = q("SELECT job_type, subreddit, status, error_message IS NULL, items_collected > 0 FROM collection_jobs ORDER BY 2")
    assert jobs == [("collect", "python", "completed", True, True), ("collect", "secretclub", "failed", False, False)]
    assert q("SELECT count(*) FROM api_requests")[0][0] > 0
    assert q("SELECT subreddit, table_name FROM latest_scores ORDER BY 1, 2") == [
        ("python", "api_requests"), ("python", "comments"), ("python", "post_metrics"), ("python", "posts"),
        ("python", "subreddits"),
        ("secretclub", "api_requests"),  # its one request, a 403, is judged too
    ]
    assert q("""SELECT expectation, success FROM expectation_results
                WHERE subreddit = 'secretclub' AND expectation = 'status 2xx'""") == [("status 2xx", False)]

    # the run's artifacts, next to it in Prefect
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["quality-collect", "quality-collect-summary"])),
                sort=ArtifactSort.CREATED_DESC,
            )

    found: dict = {}
    for a in asyncio.run(artifacts()):  # other tests' runs publish under the same keys: take the newest
        found.setdefault(a.key, a)
    assert found["quality-collect"].type == "table" and "python" in str(found["quality-collect"].data)
    assert "| r/python |" in found["quality-collect-summary"].data

    # the degraded batch (secretclub's one request, a 403) is an event on the Prefect API, tied to the run
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    async def degraded_events():
        async with get_client() as client:
            for _ in range(120):  # the server persists events in the background: wait for them
                wanted = EventFilter(event=EventNameFilter(name=["redditlake.quality.degraded"]),
                                     resource=EventResourceFilter(id=["redditlake.subreddit.secretclub"]))
                page = await client.read_events(filter=wanted, limit=50)  # the server's maximum page
                mine = [e for e in page.events
                        if any(r.id == f"prefect.flow-run.{state.state_details.flow_run_id}" for r in e.related)]
                if mine:
                    return mine
                await asyncio.sleep(0.5)
            return []

    events = asyncio.run(degraded_events())
    (rows, score), = q("SELECT rows, score FROM validation_runs WHERE subreddit = 'secretclub' AND table_name = 'api_requests'")
    assert [(e.payload["table"], e.payload["rows"], e.payload["score"], e.payload["failed"]) for e in events] == [
        ("api_requests", rows, score, ["status 2xx"])  # rows as the catalog has them: 1 or 2 seen across runs
    ]

    # `redditlake quality` names the failing expectations and their ids
    out = _cli("quality", "--lake", lake_uri).stdout
    assert f"FAILED title 1-300 chars (warning): 1 rows, e.g. {long_title}" in out

    # a second run sees the same bad posts again: judged again, quarantined once
    asyncio.run(collect(["python"], settings, return_state=True))
    assert q("SELECT quarantined FROM validation_runs WHERE table_name = 'posts' ORDER BY validated_at") == [(2,), (2,)]
    assert q("SELECT count(*), count(DISTINCT (table_name, id, reason)) FROM quarantine") == [(3, 3)]


def test_deployed_flows_record_their_jobs_and_validations_through_the_one_shared_path(
    prefect_api, make_sim, tmp_path, monkeypatch
):
    """`collect-scheduled` (what `redditlake deploy` schedules) and `collect-subreddit` run on its own
    land collection_jobs and validation_runs like the CLI's `collect` does."""
    from flows.collect import collect_subreddit
    from flows.scheduled import collect_scheduled

    sim = make_sim(posts_per_subreddit=8, comments_per_post_mean=2, subreddits=["python", "aww"])
    lake_uri = str(tmp_path / "lake")
    for name, value in sim_env(sim, lake_uri).items():  # a deployment reads its settings from the environment
        monkeypatch.setenv(name, value)

    state = asyncio.run(collect_scheduled("python", sorts=["new"], limit=20, return_state=True))
    assert state.is_completed(), state.message
    db = tmp_path / "quality.duckdb"
    q = lambda sql: _catalog_rows(db, sql)  # noqa: E731
    assert q("SELECT job_type, subreddit, status, flow_run_id, items_collected, requests FROM collection_jobs") == [
        ("collect", "python", "completed", str(state.state_details.flow_run_id), 8 + len(query_rows(
            Lake.open(lake_uri), "SELECT id FROM comments")), len(query_rows(Lake.open(lake_uri), "SELECT 1 FROM api_requests"))),
    ]
    lake = Lake.open(lake_uri)
    stored = dict(query_rows(lake, "SELECT 'posts', count(*) FROM posts UNION ALL SELECT 'comments', count(*) FROM comments "
                                   "UNION ALL SELECT 'api_requests', count(*) FROM api_requests "
                                   "UNION ALL SELECT 'post_metrics', count(*) FROM post_metrics"))
    assert stored["posts"] == 8 and stored["comments"] > 0
    runs = dict(q("SELECT table_name, rows FROM validation_runs WHERE subreddit = 'python'"))
    assert {t: runs[t] for t in stored} == stored and runs["subreddits"] == 1

    from flows.refresh import refresh

    asyncio.run(refresh(["python"]))  # the deletion-compliance flow: its job, its post_metrics and requests judged
    refresh_requests = len(query_rows(lake, "SELECT 1 FROM api_requests")) - stored["api_requests"]
    assert q("SELECT job_type, status, items_collected FROM collection_jobs WHERE job_type = 'refresh'") == [
        ("refresh", "completed", 8 + stored["comments"])
    ]
    assert sorted(q("SELECT table_name, rows FROM validation_runs WHERE job = 'refresh'")) == [
        ("api_requests", refresh_requests), ("post_metrics", 8)
    ]

    standalone = asyncio.run(collect_subreddit("aww", return_state=True))
    assert standalone.is_completed()
    assert q("SELECT job_type, status, flow_run_id FROM collection_jobs WHERE subreddit = 'aww'") == [
        ("collect", "completed", str(standalone.state_details.flow_run_id))
    ]
    assert q("SELECT count(*) FROM validation_runs WHERE subreddit = 'aww' AND table_name = 'api_requests'") == [(1,)]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "redditlake.cli", *args], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})}, timeout=600,
    )


# -- integrity over the lake -------------------------------------------------------------------


def _post(pid: str, num_comments: int, created: float) -> dict:
    return {"id": pid, "subreddit": "python", "title": f"post {pid}", "author": f"u{pid}", "created_utc": created,
            "num_comments": num_comments, "score": 1, "upvote_ratio": 1.0}


def _comment(cid: str, post: str, parent: str, depth: int, created: float) -> dict:
    return {"id": cid, "subreddit": "python", "link_id": f"t3_{post}", "parent_id": parent, "depth": depth,
            "created_utc": created, "body": "b", "author": "x"}


def test_quality_check_judges_threads_by_their_fetch_not_by_num_comments(tmp_path):
    now = datetime.now(UTC)
    t = (now - timedelta(hours=2)).timestamp()
    lake = Lake.open(tmp_path / "lake")
    landing = Landing(lake)
    landing.posts("python", [_post("p1", 2, t), _post("p2", 10, t), _post("p3", 5, t)], now)
    landing.comments("python", [
        _comment("c1", "p1", "t3_p1", 0, t), _comment("c2", "p1", "t1_c1", 1, t),  # p1: all 2
        _comment("c3", "p2", "t3_p2", 0, t), _comment("c4", "p2", "t1_c3", 1, t),  # p2: 2 of 10, fetch complete
        _comment("c5", "p3", "t3_p3", 0, t),  # p3: two stubs given up
    ], now)
    lake.append("comment_fetches", "python", CommentFetch.to_arrow(
        [CommentFetch(post_id="p1", num_comments=2, comments=2, collected_at=now, complete=True),
         CommentFetch(post_id="p2", num_comments=10, comments=2, collected_at=now, complete=True),
         CommentFetch(post_id="p3", num_comments=5, comments=1, collected_at=now, unexpandable=2, complete=True)]))

    cut = _cli("quality", "check", "--no-suites", "--lake", str(tmp_path / "lake"))
    lines = cut.stdout.splitlines()
    assert cut.returncode == 1 and lines[-1] == "quality check: 1 blocking finding(s) in 1 post(s): p3", cut.stdout + cut.stderr
    assert ("FAIL cut_thread r/python post p3: tree landed without 2 stub(s) the API never expanded (given up): "
            "their comments are missing") in lines
    # p2's 8 missing of 10 are a metric (with p3's 4: 12 of 17 counted), not a failure.
    assert ("threads r/python: 12 comments counted in num_comments are in no stored tree (70.6%; Reddit hides "
            "deleted, removed and spam-filtered ones)") in lines
    assert not any(" p2" in line or " p1" in line for line in lines if line.startswith("FAIL"))
    from redditlake.coverage_report import coverage  # `redditlake coverage` counts cut threads by the same rule

    per_day, _ = coverage(lake, "python")
    assert [dict(zip(per_day.columns, r))["cut_threads"] for r in per_day.rows] == [1]

    # A later fetch of p3 that finished replaces the cut one; a fetch that did not finish is cut too.
    later = now + timedelta(minutes=1)
    lake.append("comment_fetches", "python", CommentFetch.to_arrow(
        [CommentFetch(post_id="p3", num_comments=5, comments=1, collected_at=later, complete=True),
         CommentFetch(post_id="p1", num_comments=2, comments=1, collected_at=later, complete=False)]))
    landing.comments("python", [_comment("c9", "gone", "t1_c8", 3, t)], now)  # its post and parent never stored
    done = _cli("quality", "check", "--no-suites", "--lake", str(tmp_path / "lake"), "python", "--since", "7d")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "FAIL cut_thread r/python post p1: tree fetch did not finish: comments are missing" in lines
    assert "FAIL orphan_comment r/python post gone comment c9: post t3_gone is not stored" in lines
    assert "FAIL broken_parent r/python post gone comment c9: parent t1_c8 is not stored" in lines
    assert lines[-1] == "quality check: 3 blocking finding(s) in 2 post(s): gone, p1"
    assert not any("p3" in line or "p2" in line for line in lines if line.startswith("FAIL"))
    found = _catalog_rows(tmp_path / "quality.duckdb",
                          "SELECT DISTINCT \"check\", post_id FROM integrity_findings ORDER BY 1, 2")
    assert found == [("broken_parent", "gone"), ("cut_thread", "p1"), ("cut_thread", "p3"), ("orphan_comment", "gone")]
    metrics = _catalog_rows(tmp_path / "quality.duckdb", """SELECT metric_value FROM data_quality_metrics
        WHERE metric_name = 'unshown_comments' AND table_name = 'threads' ORDER BY calculated_at""")
    assert metrics == [(12.0,), (12.0,)]

    bad = _cli("quality", "check", "--since", "a week", "--lake", str(tmp_path / "lake"))
    assert bad.returncode == 1 and bad.stderr.startswith("redditlake: error: --since 'a week'") and "Traceback" not in bad.stderr


def test_a_jump_in_the_unshown_share_is_an_anomaly_not_a_failure(tmp_path):
    now = datetime.now(UTC)
    t = (now - timedelta(hours=2)).timestamp()
    lake = Lake.open(tmp_path / "lake")
    landing = Landing(lake)
    landing.posts("python", [_post("p1", 4, t)], now)
    landing.comments("python", [_comment("c1", "p1", "t3_p1", 0, t)], now)  # 1 of 4 in a finished fetch
    lake.append("comment_fetches", "python", CommentFetch.to_arrow(
        [CommentFetch(post_id="p1", num_comments=4, comments=1, collected_at=now, complete=True)]))
    for i, share in enumerate([0.04, 0.05, 0.06, 0.05, 0.04]):  # five earlier checks
        results.write(lake, "data_quality_metrics", [{
            "run_id": f"h{i}", "metric_name": "unshown_share", "metric_value": share, "subreddit_name": "python",
            "table_name": "threads", "calculated_at": now - timedelta(days=5 - i)}])

    done = _cli("quality", "check", "--no-suites", "--lake", str(tmp_path / "lake"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warn anomaly r/python unshown_share 0.7500: median 0.0500 of 5 checks, robust z 47.2" in done.stdout.splitlines()
    found = results.read(lake, "anomalies").to_pylist()
    assert [(a["subreddit"], a["table_name"], a["metric_name"], a["value"]) for a in found] == [
        ("python", "threads", "unshown_share", 0.75)]


@pytest.mark.prefect
@pytest.mark.timeout(900)  # three CLI runs through Prefect, two of them collecting
def test_quality_check_passes_a_complete_simulator_lake_with_hidden_comments_and_names_each_defect(
        prefect_api, make_sim, tmp_path):
    from redditlake.simulator import FaultConfig

    sim = make_sim(subreddits=["python", "aww"], posts_per_subreddit=40, comments_per_post_mean=25)
    uri = str(tmp_path / "lake")
    env = sim_env(sim, PREFECT_API_URL=prefect_api)
    collected = _cli("collect", "python", "--limit", "25", "--lake", uri, env=env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    lake = Lake.open(uri)
    # Complete: every comment the API shows is stored, and Reddit's count is higher on some threads.
    short = query_rows(lake, """SELECT p.id, p.num_comments, count(c.id) FROM posts p
        LEFT JOIN comments c ON c.link_id = 't3_' || p.id GROUP BY ALL HAVING count(c.id) < p.num_comments""")
    assert len(short) >= 3, short
    for pid, _, stored in short:
        assert stored == len(sim.world.comment_ids(pid)) and sim.world.hidden_comment_ids(pid), pid

    clean = _cli("quality", "check", "--lake", uri)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert not [line for line in clean.stdout.splitlines() if line.startswith("FAIL")]
    assert clean.stdout.splitlines()[-1].startswith("quality check: ") and "no blocking findings" in clean.stdout
    unshown = sum(n - stored for _, n, stored in short)
    assert f"threads r/python: {unshown} comments counted in num_comments are in no stored tree" in clean.stdout

    # A real cut thread: the API never expands some stubs of r/aww's trees, and the collector gives them up.
    sim.set_faults(FaultConfig(unexpandable_rate=0.1))
    cut_run = _cli("collect", "aww", "--limit", "10", "--lake", uri, env=env)
    assert cut_run.returncode == 0 and "cut threads" in cut_run.stdout, cut_run.stdout + cut_run.stderr
    cut = {r[0] for r in query_rows(lake, "SELECT post_id FROM comment_fetches WHERE unexpandable > 0")}
    assert cut
    for pid in cut:  # the loss is real: the tree shows more than the lake holds
        ((stored,),) = query_rows(lake, f"SELECT count(*) FROM comments WHERE link_id = 't3_{pid}'")
        assert stored < len(sim.world.comment_ids(pid)), pid
    # The others, written into the lake as a faulty writer would.
    now = datetime.now(UTC)
    t = (now - timedelta(hours=1)).timestamp()
    landing = Landing(lake)
    landing.posts("python", [_post("zzmissing", 4, t)], now)  # comments, but no tree landed
    landing.comments("python", [_comment("zzorphan", "zzgone", "t3_zzgone", 0, t)], now)  # its post is not stored
    stored = lake.read("comments", "python")
    collected_one = stored.filter(pc.not_equal(stored.column("id"), "zzorphan")).slice(0, 1)  # not the orphan
    twice = collected_one.drop_columns([c for c in ("dt",) if c in stored.column_names])
    lake.append("comments", "python", twice, dt_column="created_utc")  # one id stored twice
    dup_id, dup_post = twice.column("id")[0].as_py(), twice.column("link_id")[0].as_py()[3:]

    broken = _cli("quality", "check", "--no-suites", "--lake", uri)
    lines = broken.stdout.splitlines()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    fails = [line for line in lines if line.startswith("FAIL")]
    assert {line.split()[4].rstrip(":") for line in fails if line.startswith("FAIL cut_thread r/aww post ")} == cut
    assert "FAIL tree_missing r/python post zzmissing: num_comments 4, no comment tree landed" in fails
    assert "FAIL orphan_comment r/python post zzgone comment zzorphan: post t3_zzgone is not stored" in fails
    assert f"FAIL duplicate_id r/python post {dup_post} comment {dup_id}: comments: id stored 2 times" in fails
    assert len(fails) == len(cut) + 3, fails
    assert lines[-1].startswith(f"quality check: {len(cut) + 3} blocking finding(s)")


# -- concurrent writers ------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, uuid
    from datetime import UTC, datetime
    from redditlake.lake import Lake
    from redditlake.quality import results
    lake = Lake.open(sys.argv[1], endpoint_url=sys.argv[3] or None)
    for i in range(int(sys.argv[2])):
        now = datetime.now(UTC)
        results.write(lake, "validation_runs", [{"run_id": uuid.uuid4().hex, "suite": "posts.default",
            "table_name": "posts", "subreddit": "python", "job": "collect", "rows": i, "quarantined": 0,
            "expectations": 1, "failed_expectations": 0, "success": True, "score": 1.0, "validated_at": now}])
    """
)


def _two_writers(uri: str, endpoint: str = "", n: int = 40) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, uri, str(n), endpoint], cwd=ROOT) for _ in range(2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]


def test_two_processes_writing_results_at_once_lose_nothing(tmp_path):
    uri = str(tmp_path / "lake")
    _two_writers(uri)
    path = catalog.build(Lake.open(uri), tmp_path / "q.duckdb")
    assert _catalog_rows(path, "SELECT count(*), count(DISTINCT run_id) FROM validation_runs") == [(80, 80)]


def test_results_and_catalog_on_s3_with_two_writers(tmp_path, monkeypatch):
    from s3server import TEST_CREDENTIALS, make_bucket, moto_s3_server

    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with moto_s3_server() as endpoint:
        make_bucket(endpoint, "quality-lake")
        uri = "s3://quality-lake/data"
        _two_writers(uri, endpoint, n=15)
        lake = Lake.open(uri, endpoint_url=endpoint)
        path = catalog.build(lake, tmp_path / "q.duckdb")
    assert _catalog_rows(path, "SELECT count(*), count(DISTINCT run_id) FROM validation_runs") == [(30, 30)]
    assert _catalog_rows(path, "SELECT count(*) FROM quarantine") == [(0,)]


# -- _quality stays cheap as history grows ------------------------------------------------------


def _metric_rows(run_id: str, when: datetime, value: float, sub: str = "python") -> list[dict]:
    return [{"run_id": run_id, "metric_name": "rows", "metric_value": value, "subreddit_name": sub,
             "table_name": "posts", "calculated_at": when}]


def test_anomaly_baseline_reads_only_the_newest_days_it_needs(tmp_path):
    lake = Lake.open(tmp_path / "lake")
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    for d in range(1, 41):  # one run a day for 40 days; the baseline needs 6
        results.write(lake, "data_quality_metrics", _metric_rows(f"r{d}", now - timedelta(days=d), 100.0 + d % 3))
    results.write(lake, "data_quality_metrics", _metric_rows("other", now - timedelta(days=2), 5.0, sub="aww"))
    # Old days that must not be read: their committed files made unreadable (reading them would raise).
    for d in (8, 30):
        folder = tmp_path / "lake" / "_quality" / "data_quality_metrics" / f"dt={(now - timedelta(days=d)).date()}"
        for f in folder.glob("*.parquet"):
            f.write_bytes(b"not parquet")
    settings = DataQualitySettings(anomaly_runs=6)
    history = results.recent_metrics(lake, {("python", "posts")}, 6, 90, now.date())
    assert sorted(history.column("run_id").to_pylist(), key=lambda r: int(r[1:])) == [f"r{d}" for d in range(1, 8)]

    from redditlake.quality.run import check_landed

    spike = batch.Batch("posts", "python", _landed_posts(now, 3))
    report = check_landed(lake, [spike], settings.model_copy(update={"anomaly_lookback_days": 90}), now=now)
    assert [(a["metric_name"], a["history_runs"], a["median"]) for a in report.anomalies if a["metric_name"] == "rows"] == [
        ("rows", 6, 101.0)
    ]
    with pytest.raises((OSError, ValueError)):  # the proof that the planted files would have been noticed
        results.read(lake, "data_quality_metrics")


def _landed_posts(now: datetime, n: int):
    return Post.to_arrow(Post.from_api({"id": f"p{i}", "subreddit": "python", "title": "t", "author": "a",
                                        "created_utc": now.timestamp() - 60}, now) for i in range(n))


def test_maintain_lake_compacts_the_quality_results_without_losing_a_row(prefect_api, tmp_path):
    from flows.maintenance import maintain

    lake_uri = str(tmp_path / "lake")
    lake = Lake.open(lake_uri)
    old = datetime.now(UTC) - timedelta(days=3)
    for i in range(30):
        results.write(lake, "data_quality_metrics", _metric_rows(f"m{i}", old + timedelta(minutes=i), float(i)))
    for i in range(3):
        results.write(lake, "data_quality_metrics", _metric_rows(f"n{i}", datetime.now(UTC), float(i)))
    lines = lines_of(asyncio.run(maintain(lake=lake_uri)))
    assert "_quality/data_quality_metrics: 1/1 due partitions compacted (of 2), files 33 → 4, 0 old files vacuumed" in lines
    live = DeltaTable(str(tmp_path / "lake" / "_quality" / "data_quality_metrics")).file_uris()
    assert len([f for f in live if f"dt={old.date()}" in f]) == 1
    kept = [r["metric_value"] for r in results.read(lake, "data_quality_metrics").to_pylist()
            if r["run_id"][0] in "mn" and r["metric_name"] == "rows"]  # the flow adds its files-per-partition rows
    assert sorted(kept) == sorted([float(i) for i in range(30)] + [0.0, 1.0, 2.0])


# -- the HTML report ---------------------------------------------------------------------------


# Appended to a copy of the report (the report itself has no script): where Chromium drew each
# chart's texts, grid lines, target line and bars, relative to its chart.
MEASURE = """<script>
const out = [...document.querySelectorAll('svg')].map(svg => {
  const box = svg.getBoundingClientRect();
  const rel = r => ({x: r.left - box.left, y: r.top - box.top, w: r.width, h: r.height});
  const all = sel => [...svg.querySelectorAll(sel)];
  return {label: svg.getAttribute('aria-label'), width: box.width, height: box.height,
    texts: all('text').map(t => ({cls: t.getAttribute('class'), text: t.textContent, ...rel(t.getBoundingClientRect())})),
    grid: all('line.grid').map(l => ({value: l.dataset.value, ...rel(l.getBoundingClientRect())})),
    target: all('line.target').map(l => rel(l.getBoundingClientRect())),
    bars: all('rect.bar').map(b => ({name: b.dataset.name, ...rel(b.getBoundingClientRect())})),
    series: all('polyline.series').length};
});
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def _drawn(page: Path, tmp_path: Path) -> dict[str, dict]:
    """Each chart of the page as Chromium drew it, by its title; skips without Chromium."""
    import html as html_lib
    import re

    chromium = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
    if chromium is None:
        pytest.skip("no /usr/bin/chromium on this machine: the page was checked as HTML only")
    probe = tmp_path / f"measured-{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}",
         "--window-size=1100,900", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom.stdout, re.S)
    assert dom.returncode == 0 and found, dom.stderr[-500:]
    return {chart["label"]: chart for chart in json.loads(html_lib.unescape(found.group(1)))}


def _inside(chart: dict) -> None:
    """No text of the chart runs past its edges (a cut legend or label)."""
    for t in chart["texts"]:
        assert t["w"] > 0 and t["x"] >= 0 and t["x"] + t["w"] <= chart["width"] + 0.5, (chart["label"], t)
        assert t["y"] >= 0 and t["y"] + t["h"] <= chart["height"] + 0.5, (chart["label"], t)


def _at(chart: dict, value: str, axis: str) -> float:
    (line,) = [g for g in chart["grid"] if g["value"] == value]
    return line[axis]


def _scores(lake: Lake, days: int, subs: dict[str, list[float]]) -> None:
    today = datetime.now(UTC).replace(hour=12)
    for sub, scores in subs.items():
        for i in range(days):
            when = today - timedelta(days=days - 1 - i)
            results.write(lake, "validation_runs", [{
                "run_id": f"{sub}{i}", "suite": "posts.default", "table_name": "posts", "subreddit": sub, "job": "collect",
                "rows": 100 + i, "quarantined": 0, "expectations": 1, "failed_expectations": 0, "success": True,
                "score": scores[i % len(scores)], "validated_at": when}])


def test_html_report_of_a_fresh_lake_draws_scores_on_0_to_1_with_the_target_and_whole_labels(tmp_path):
    lake = Lake.open(tmp_path / "lake")
    _scores(lake, 1, {"python": [1.0], "datascience": [1.0]})  # what one demo run leaves
    results.write(lake, "expectation_results", [{
        "run_id": "python0", "table_name": "posts", "subreddit": "python", "expectation": "title 1-300 chars",
        "expectation_type": "expect_column_value_lengths_to_be_between", "severity": "warning", "kwargs": "{}",
        "success": False, "element_count": 100, "unexpected_count": 1, "unexpected_percent": 1.0,
        "unexpected_ids": ["pythonx0"], "validated_at": datetime.now(UTC)}])
    (tmp_path / "config.yaml").write_text("data_quality:\n  score_target: 0.9\n", encoding="utf-8")
    out = tmp_path / "report.html"
    done = _cli("--config", str(tmp_path / "config.yaml"), "quality", "report", "--html", str(out),
                "--lake", str(tmp_path / "lake"))
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "<script" not in page and "title 1-300 chars" in page and "pythonx0" in page
    assert "One day of history so far" in page and "<polyline" not in page  # no lone dots posing as a trend
    trail = audit.read(lake).to_pylist()  # the report is on the audit trail, where it went included
    assert [(e["action"], e["detail"]) for e in trail] == [("quality-report", f"to {out}")]

    charts = _drawn(out, tmp_path)
    score = charts["Quality score (0 to 1)"]
    assert [t["text"] for t in score["texts"] if t["cls"] == "xtick"] == ["0", "0.25", "0.5", "0.75", "1"]
    x0, x1 = _at(score, "0", "x"), _at(score, "1", "x")
    assert x1 - x0 > 300
    (target,) = score["target"]
    assert target["x"] == pytest.approx(x0 + 0.9 * (x1 - x0), abs=1)  # the configured target, not the default
    assert [t["text"] for t in score["texts"] if t["cls"] == "target-label"] == ["target 0.9"]
    assert sorted(b["name"] for b in score["bars"]) == ["r/datascience", "r/python"]
    for bar in score["bars"]:  # scores of 1.0 reach the axis' 1, drawn from its 0
        assert bar["x"] == pytest.approx(x0, abs=1) and bar["x"] + bar["w"] == pytest.approx(x1, abs=1)
    assert sorted(t["text"] for t in score["texts"] if t["cls"] == "label") == ["r/datascience", "r/python"]
    rows = charts["Rows validated (posts + comments)"]
    assert [t["text"] for t in rows["texts"] if t["cls"] == "value"] == ["100", "100"]
    for chart in charts.values():
        _inside(chart)


def test_html_report_of_ninety_days_draws_trends_with_axes_target_and_legend_that_fit(tmp_path):
    lake = Lake.open(tmp_path / "lake")
    _scores(lake, 90, {"python": [0.99, 0.97, 1.0], "datascience": [0.93, 0.96], "askscience": [0.5, 0.8]})
    out = tmp_path / "report.html"
    done = _cli("quality", "report", "--html", str(out), "--lake", str(tmp_path / "lake"))
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 4 and page.count('class="series"') == 6 and "90 day(s) of history" in page

    charts = _drawn(out, tmp_path)
    daily = charts["Quality score per day (0 to 1)"]
    assert daily["series"] == 3
    assert [t["text"] for t in daily["texts"] if t["cls"] == "ytick"] == ["0", "0.25", "0.5", "0.75", "1"]
    y0, y1 = _at(daily, "0", "y"), _at(daily, "1", "y")
    assert y0 - y1 > 150  # 1 drawn above 0, over most of the chart's height
    (target,) = daily["target"]
    assert target["y"] == pytest.approx(y0 + 0.95 * (y1 - y0), abs=1) and target["w"] > 400
    assert [t["text"] for t in daily["texts"] if t["cls"] == "legend"] == ["r/askscience", "r/datascience", "r/python"]
    days = [t["text"] for t in daily["texts"] if t["cls"] == "xtick"]
    first = (datetime.now(UTC) - timedelta(days=89)).date()
    assert days[0] == first.isoformat() and days[-1] == datetime.now(UTC).strftime("%m-%d") and len(days) <= 7
    latest = charts["Quality score (0 to 1)"]
    bars = {b["name"]: b for b in latest["bars"]}
    x0, x1 = _at(latest, "0", "x"), _at(latest, "1", "x")
    assert bars["r/askscience"]["w"] == pytest.approx(0.8 * (x1 - x0), abs=1)  # day 89: the second value
    for chart in charts.values():
        _inside(chart)


def test_a_new_sweep_at_the_listing_cap_is_a_coverage_gap_with_its_time_range(tmp_path):
    from redditlake.coverage_report import listing_cap_gap
    from redditlake.quality.coverage import coverage_finding

    now = datetime.now(UTC)
    lake = Lake.open(tmp_path / "lake")
    old = now - timedelta(days=3)
    Landing(lake).posts("python", [_post("old1", 0, old.timestamp())], now)
    sweep = [_post(f"n{i}", 0, (now - timedelta(hours=i)).timestamp()) for i in range(3)]
    gap = listing_cap_gap(lake, "python", "new", sweep, now, cap=3)
    row = coverage_finding(gap, "python", sweep)
    assert row["check"] == "coverage_gap" and row["value"] == 3.0 and row["post_id"] == "n2"
    assert row["detail"] == (
        f"new sweep hit the 3-item cap: posts from {old.isoformat()} "
        f"to {datetime.fromtimestamp(int(sweep[-1]['created_utc']) + 1, tz=UTC).isoformat()} may be unreachable"
    )
    assert listing_cap_gap(lake, "python", "new", sweep[:2], now, cap=3) is None
    assert listing_cap_gap(lake, "python", "hot", sweep, now, cap=3) is None


def test_catalog_counts_deleted_removed_and_unavailable_per_subreddit_and_day_tolerating_absence(tmp_path):
    import pyarrow as pa

    from redditlake.models import Deletion

    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    lake = Lake.open(tmp_path / "lake")
    path = catalog.build(lake, tmp_path / "q.duckdb")  # nothing at all yet: empty tables, no error
    assert _catalog_rows(path, "SELECT count(*) FROM deletion_counts") == [(0,)]

    lake.append("deletions", "python", Deletion.to_arrow([
        Deletion(id="a", kind="posts", reason="deleted", scope="content", collected_at=now),
        Deletion(id="b", kind="comments", reason="removed", scope="content", collected_at=now),
        Deletion(id="c", kind="comments", reason="account_deleted", scope="author", collected_at=now),
        Deletion(id="d", kind="posts", reason="policy_after_unavailable", scope="content", collected_at=now),
    ]))
    path = catalog.build(lake, tmp_path / "q.duckdb")  # deletions, but no `unavailable` table
    assert _catalog_rows(path, "SELECT * FROM deletion_counts") == [("python", now.date(), 2, 1, 1, 0)]

    lake.append("unavailable", "python", pa.table({
        "id": ["e", "f"], "kind": ["posts", "comments"], "reason": ["removed", "deleted"],
        "seen_at": pa.array([now, now + timedelta(days=1)], pa.timestamp("us", tz="UTC")),
    }), dt_column="seen_at")
    path = catalog.build(lake, tmp_path / "q.duckdb")
    assert _catalog_rows(path, "SELECT * FROM deletion_counts ORDER BY day") == [
        ("python", now.date(), 2, 1, 1, 1), ("python", now.date() + timedelta(days=1), 0, 0, 0, 1),
    ]

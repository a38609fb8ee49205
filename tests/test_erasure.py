"""Erasure reaches every copy: after `forget-user NAME`, or a refresh that sees the account
deleted, the name and the text of that account are in no file the runs wrote: the lake's
tables, quarantine, the quality results and catalog, the logs, Prefect's database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest

from conftest import query_rows as rows, sim_env, sim_settings
from redditlake import audit
from redditlake.lake import Lake
from redditlake.privacy import Pseudonymiser
from redditlake.quality import results
from redditlake.simulator.config import ABSENT
from test_forget import catalog_text, lake_strings, prefect_database_text, tree_texts

SUB = "python"
KEY = "k3y-for-the-audit-reference"
LIMIT = 20


def redditlake(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "redditlake.cli", *args],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in out.stderr, out.stderr
    return out


def pick_account(sim, limit: int, items: int) -> tuple[str, str, list[tuple[str, str]]]:
    """(name, a post of theirs, ``items`` more of their posts and comments) among what a
    collection of the newest ``limit`` posts lands: a name long enough not to occur anywhere
    by chance."""
    world = sim.world
    newest = world.post_ids(SUB)[-limit:]
    written: dict[str, list[tuple[str, str]]] = {}
    for pid in newest:
        written.setdefault(world.post(pid).author, []).append(("posts", pid))
    for pid in newest:
        for cid in world.comment_ids(pid):
            written.setdefault(world.comment(cid).author, []).append(("comments", cid))
    for author, things in written.items():
        account = world.account(author)
        if len(author) < 7 or account is None or account.suspended or account.deleted:
            continue
        posts = [i for table, i in things if table == "posts"]
        if not posts:
            continue
        # Not a comment under the post that goes to quarantine: its tree may not be fetched.
        others = [(t, i) for t, i in things
                  if i != posts[0] and not (t == "comments" and world.comment(i).post_id == posts[0])]
        if len(others) >= items:
            return author, posts[0], others[:items]
    raise AssertionError(f"no account with a post and {items} more items among the newest {limit} posts")


def sampled_ids(lake: Lake) -> set[str]:
    """The failing-row samples of every stored expectation result."""
    samples = results.read(lake, "expectation_results").column("unexpected_ids").to_pylist()
    return {i for ids in samples if ids for i in ids}


def file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.prefect
@pytest.mark.timeout(900)  # two CLI processes importing Prefect, and perhaps the session's server start-up
def test_forget_user_reaches_quarantine_quality_results_catalog_logs_and_prefect(prefect_api, make_sim, tmp_path):
    name, post_id, [(table, item)] = pick_account(make_sim(posts_per_subreddit=30, comments_per_post_mean=10), LIMIT, 1)
    secret_text = f"only-{uuid.uuid4().hex}-wrote-this"  # content no one else has
    said = f"a-comment-{uuid.uuid4().hex}"
    sim = make_sim(
        posts_per_subreddit=30, comments_per_post_mean=10,
        # Their post fails validation (quarantined with its raw JSON), their comment lands, their
        # profile fails a `users` expectation, and the first request for it answers 503 (retried).
        thing_overrides={post_id: {"title": ABSENT, "selftext": secret_text}, item: {"body" if table == "comments" else "selftext": said},
                         name: {"link_karma": -5000}},
        faults={"fail_paths": {f"/user/{name}/about": 1}},
    )
    lake_dir, catalog = tmp_path / "lake", tmp_path / "quality.duckdb"
    env = sim_env(sim, str(lake_dir), PREFECT_API_URL=prefect_api, REDDITLAKE_PSEUDONYM_KEY=KEY,
                  # As a worker that ships the project's own logs to Prefect does.
                  PREFECT_LOGGING_EXTRA_LOGGERS="redditlake")
    collected = redditlake("collect", SUB, "--limit", str(LIMIT), "--users", env=env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    lake = Lake.open(str(lake_dir))
    home = Path(os.environ["PREFECT_HOME"])

    # Positive controls: the account is in every place scanned below, and the logs scanned
    # are this run's (its retry of the profile is in the captured log and in Prefect's database).
    quarantined = rows(lake, "SELECT raw FROM quarantine")
    assert any(name in raw and secret_text in raw for (raw,) in quarantined), quarantined
    assert said in lake_strings(lake, skip_free_text=False)
    assert {name, said} <= lake_strings(lake, skip_free_text=False)
    assert name in catalog_text(catalog) and secret_text in catalog_text(catalog)
    failing = duckdb.connect(str(catalog), read_only=True).execute(
        "SELECT unexpected_ids FROM expectation_results WHERE table_name = 'users' AND NOT success").fetchall()
    assert any(name in ids for (ids,) in failing), failing
    retried = "/about: server_error: HTTP 503; retry 1"  # the profile request, whatever the path shows
    assert retried in collected.stderr, collected.stderr
    prefect_database_text(retried)  # the run's own logs reached the database scanned

    forgot = redditlake("forget-user", name, env=env)
    assert forgot.returncode == 0, forgot.stderr

    places = {f"lake {k}": v for k, v in file_bytes(lake_dir).items()}
    places["lake values"] = "\n".join(lake_strings(lake, skip_free_text=False)).encode()
    places["catalog"] = catalog_text(catalog).encode()
    places["prefect database"] = prefect_database_text(retried).encode()
    places |= {f"prefect home {k}": v.encode() for k, v in tree_texts(home).items()}
    places["logs"] = (collected.stdout + collected.stderr + forgot.stdout + forgot.stderr).encode()
    leaks = {
        (needle, where) for needle in (name, secret_text, said) for where, data in places.items()
        if needle.encode() in data or needle.lower().encode() in data
    }
    assert not leaks, f"survives: {sorted(leaks)}"
    assert "1 quarantined" in forgot.stdout and "1 quality samples" in forgot.stdout, forgot.stdout

    # The quarantined row and the failing sample stay, without the account.
    assert rows(lake, f"SELECT raw FROM quarantine WHERE id = '{post_id}'") == [(None,)]
    trail = audit.read(lake, action="forget-user").to_pylist()
    assert len(trail) == 1 and f"account {Pseudonymiser(KEY).reference(name)}:" in trail[0]["detail"], trail


@pytest.mark.prefect
@pytest.mark.timeout(900)  # a collection and two refreshes, and perhaps the session's server start-up
def test_refresh_rechecks_author_only_redactions_and_erases_a_deleted_account(prefect_api, make_sim, tmp_path):
    from flows.collect import collect
    from flows.refresh import refresh

    world = dict(posts_per_subreddit=40, comments_per_post_mean=10)
    name, post_id, [(table, gone), (other_table, kept)] = pick_account(make_sim(**world), 30, 2)
    sim = make_sim(**world, thing_overrides={post_id: {"title": ABSENT}, name: {"link_karma": -5000}})
    lake_dir = tmp_path / "lake"
    settings = sim_settings(sim, str(lake_dir), sorts=["new"], limit=30, users=True)
    lake = Lake.open(str(lake_dir))
    assert asyncio.run(collect([SUB], settings))[0].ok
    text = {"posts": "selftext", "comments": "body"}
    before = {i: rows(lake, f"SELECT {text[t]} FROM {t} WHERE id = '{i}'")[0][0] for t, i in ((table, gone), (other_table, kept))}
    assert name in lake_strings(lake, skip_free_text=False)
    assert any(name in raw for (raw,) in rows(lake, "SELECT raw FROM quarantine"))
    assert name in sampled_ids(lake)

    # The account is deleted: its items keep their text and lose their author, everywhere.
    sim.world.delete(f"t2_{sim.world.account(name).id}")
    asyncio.run(refresh([SUB], settings))
    assert rows(lake, f"SELECT author, {text[table]} FROM {table} WHERE id = '{gone}'") == [("[deleted]", before[gone])]
    assert rows(lake, f"SELECT scope FROM deletions WHERE id = '{gone}' AND kind = '{table}'") == [("author",)]
    assert name not in lake_strings(lake, skip_free_text=False), "the deleted account survives in the lake"
    assert name not in sampled_ids(lake) and name not in catalog_text(tmp_path / "quality.duckdb")

    # Later one item itself is deleted: the next refresh asks about it again and sees it; the
    # other stays as it was, and is not redacted for its author a second time.
    sim.world.delete(f"{'t3' if table == 'posts' else 't1'}_{gone}")
    asyncio.run(refresh([SUB], settings))
    assert rows(lake, f"SELECT {text[table]} FROM {table} WHERE id = '{gone}'") == [(None,)]
    assert sorted(rows(lake, f"SELECT scope FROM deletions WHERE id = '{gone}' AND kind = '{table}'")) == [
        ("author",), ("content",)]
    assert rows(lake, f"SELECT {text[other_table]} FROM {other_table} WHERE id = '{kept}'") == [(before[kept],)]
    assert rows(lake, f"SELECT scope FROM deletions WHERE id = '{kept}' AND kind = '{other_table}'") == [("author",)]


def test_the_http_libraries_log_no_account_name(caplog):
    import logging

    import redditlake.reddit.transport  # noqa: F401  (installs the filter, as every client does)

    url = "https://oauth.reddit.com/user/Leaver_42/about?raw_json=1"
    with caplog.at_level(logging.DEBUG, logger="asyncprawcore"):
        logging.getLogger("asyncprawcore").warning("Retrying due to %s: %s %s", "401 status", "GET", url)
        logging.getLogger("asyncprawcore").debug("Fetching: %s %s at %s", "GET", url, 1.0)
    assert [r.getMessage() for r in caplog.records] == [
        "Retrying due to 401 status: GET https://oauth.reddit.com/user/*/about?raw_json=1",
        "Fetching: GET https://oauth.reddit.com/user/*/about?raw_json=1 at 1.0",
    ]

"""A run's verdict travels as fields, not as words in its report: a failure reworded is still a failure.

The commands are run in-process with their flow replaced by one that returns fixed outcomes,
so no Prefect server starts; what is judged is only how the CLI turns outcomes into an exit code.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest

from redditlake import cli
from redditlake.archive.search import BackfillResult
from redditlake.compliance import RefreshResult
from redditlake.outcome import Outcome, exit_code
from redditlake.pipeline import SubredditSummary
from redditlake.stream.runner import StreamSummary


@dataclass(frozen=True)
class Reworded(Outcome):
    """A failure reported in other words than today's (``FAILED`` is nowhere in it)."""

    def line(self) -> str:
        return f"{self.subject}: gave up ({self.reason})"


GAVE_UP = Reworded("r/python pullpush posts", ok=False, reason="archive down")
DONE = Outcome("r/python pullpush comments", detail="10 rows, 10 new, 1 requests", items=10, requests=1)


@pytest.fixture
def no_prefect(monkeypatch):
    """The commands' Prefect set-up, and the Reddit credentials check, made no-ops."""
    from redditlake import prefect_server
    from redditlake.cli import common
    from redditlake.reddit import auth

    monkeypatch.setattr(prefect_server, "api_for_run", lambda: contextlib.nullcontext(lambda: None))
    monkeypatch.setattr(common, "quiet_prefect_env", lambda: None)
    monkeypatch.setattr(auth, "verify_credentials", lambda settings: None)


def returning(outcomes):
    async def flow(*args, **kwargs):
        return outcomes

    return flow


def test_a_failure_without_the_word_failed_still_fails_the_backfill(no_prefect, monkeypatch, tmp_path, capsys):
    import flows.backfill

    assert "FAILED" not in GAVE_UP.line()
    monkeypatch.setattr(flows.backfill, "backfill", returning([DONE, GAVE_UP]))
    code = cli.main(["backfill", "python", "--since", "2026-01-01", "--until", "2026-01-02", "--lake", str(tmp_path)])
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [DONE.line(), GAVE_UP.line()]  # printed as the outcomes render

    monkeypatch.setattr(flows.backfill, "backfill", returning([DONE]))
    assert cli.main(["backfill", "python", "--since", "2026-01-01", "--lake", str(tmp_path)]) == 0


def test_a_failure_without_the_word_failed_still_fails_the_stream(no_prefect, monkeypatch, tmp_path):
    import flows.stream

    monkeypatch.setattr(flows.stream, "stream", returning([GAVE_UP]))
    assert cli.main(["stream", "python", "--duration", "1", "--lake", str(tmp_path)]) == 1
    gap = Outcome("r/python comments", detail="GAP …", warn=True)  # a gap is a warning, not a failure
    monkeypatch.setattr(flows.stream, "stream", returning([gap]))
    assert cli.main(["stream", "python", "--duration", "1", "--lake", str(tmp_path)]) == 0


def test_a_subreddit_an_operator_must_act_on_fails_the_refresh_whatever_its_line_says(no_prefect, monkeypatch, tmp_path):
    import flows.refresh

    unreadable = Outcome("r/python", must_act=True, detail="hidden from this app — 3 items unavailable, kept")
    monkeypatch.setattr(flows.refresh, "refresh", returning([unreadable]))
    assert cli.main(["refresh", "python", "--lake", str(tmp_path)]) == 1
    monkeypatch.setattr(flows.refresh, "refresh", returning([GAVE_UP]))
    assert cli.main(["refresh", "python", "--lake", str(tmp_path)]) == 1
    monkeypatch.setattr(flows.refresh, "refresh", returning([DONE]))
    assert cli.main(["refresh", "python", "--lake", str(tmp_path)]) == 0


def test_each_result_type_gives_its_verdict_and_todays_line():
    failed = SubredditSummary("python", ok=False, error="r/python is private")
    assert failed.outcome() == Outcome("r/python", ok=False, reason="r/python is private")
    assert failed.line() == "r/python: FAILED: r/python is private"
    done = SubredditSummary("python", posts=3, posts_written=2, comments=5, requests=4, seconds=1.25)
    assert done.outcome().ok and done.outcome().items == 8 and done.outcome().requests == 4
    assert done.line() == "r/python: 3 posts (2 new), 5 comments (0 new), 4 requests, 1.2s"

    job = BackfillResult("python", "pullpush", "posts", ok=False, error="HTTP 503")
    assert not job.outcome().ok and job.line() == "r/python pullpush posts: FAILED: HTTP 503"

    dark = RefreshResult("python", state="banned", unavailable=2)
    assert dark.outcome().ok and dark.outcome().must_act and dark.outcome().bad
    assert dark.line() == "r/python: banned — 2 items unavailable, kept"

    summary = StreamSummary(["python"], items={"python posts": 2}, failed={"secret": "r/secret is private"})
    assert [o.ok for o in summary.outcomes()] == [True, False, True]
    assert summary.lines()[1] == "r/secret: FAILED: r/secret is private"


def test_the_exit_code_is_the_worst_outcome():
    assert exit_code([]) == 0
    assert exit_code([DONE, Outcome.note("stream: 0 items")]) == 0
    assert exit_code([DONE, GAVE_UP]) == 1
    assert exit_code([Outcome("r/python", must_act=True)]) == 1
    assert Outcome.failed("x.zst", "torn").prefixed("full sweep").line() == "full sweep x.zst: FAILED: torn"

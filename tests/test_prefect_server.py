"""The local Prefect servers: `redditlake server`, and the one a run starts for itself.

Real processes throughout: the CLI as a user runs it, real Prefect servers, the
simulator over HTTP, the UI rendered in headless Chromium.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, processes_with, rendered_dom, sim_env
from redditlake import orphans
from redditlake.lake import Lake
from redditlake.prefect_server import healthy

STARTUP_S = 600  # a fresh server takes 8 s idle, over 2 min on a loaded machine


def _env(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_SERVER_UI_API_URL",
                                                             "PREFECT_UI_API_URL")}
    return {**base, "PREFECT_HOME": str(home), **extra}


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "redditlake.cli", *args],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def _start_server(home: Path, port: int) -> tuple[subprocess.Popen, str]:
    """`redditlake server --port PORT`, once it answers; and the UI URL it printed."""
    server = _cli("server", "--port", str(port), env=_env(home))
    note = home / "redditlake-server.json"
    deadline = time.monotonic() + STARTUP_S
    while _noted_pid(note) != server.pid:
        if server.poll() is not None:
            pytest.fail(f"redditlake server exited with {server.returncode}: {server.communicate()}")
        assert time.monotonic() < deadline, "redditlake server did not come up"
        time.sleep(0.5)
    printed = server.stderr.readline()  # printed right after the note is written
    ui = re.search(r"its UI on (http://\S+?);", printed)
    assert ui, printed
    return server, ui.group(1)


def _noted_pid(note: Path) -> int | None:
    try:
        return json.loads(note.read_text())["pid"]
    except (OSError, ValueError, KeyError):  # not there yet, or being written
        return None


def _stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)


@pytest.mark.prefect
def test_a_run_without_a_prefect_server_starts_one_for_itself_and_stops_it(sim, tmp_path):
    home = tmp_path / "prefect-home"  # a new user: no server anywhere, no Prefect home yet
    out = subprocess.run(
        [sys.executable, "-m", "redditlake.cli", "collect", "python", "--limit", "5", "--no-comments"],
        env=_env(home, **sim_env(sim, str(tmp_path / "lake"))), capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("r/python: 5 posts (5 new)"), out.stdout
    # Its logs reached the server before it stopped, and nothing of it is left running.
    assert "Error logging to API" not in out.stderr, out.stderr
    assert processes_with(f"PREFECT_HOME={home}") == []
    assert not list((home / "redditlake-servers").glob("*.json"))  # nothing left to clean up next time
    # The "View at" links it printed lead to that stopped server: the user is told where to look instead.
    assert "stopped with this run" in out.stderr and "`redditlake server` shows them" in out.stderr, out.stderr
    assert Lake.open(str(tmp_path / "lake")).read("posts").num_rows == 5


@pytest.mark.prefect
def test_the_ui_redditlake_server_prints_lists_the_runs_that_used_it(sim, tmp_path):
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = free_port()  # not the default port: the UI must be told this one
    server, ui = _start_server(home, port)
    try:
        assert ui == f"http://127.0.0.1:{port}"
        out = subprocess.run(
            [sys.executable, "-m", "redditlake.cli", "collect", "python", "--limit", "5", "--no-comments"],
            env=_env(home, **sim_env(sim, str(tmp_path / "lake"))), capture_output=True, text=True, timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, out.stderr
        # The run is recorded in that server: it was used, not a temporary one.
        req = urllib.request.Request(f"{ui}/api/flow_runs/filter", data=b"{}",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert {"r/python"} <= {run["name"] for run in json.load(r)}
        assert "stopped with this run" not in out.stderr  # no server of its own

        # What a user sees opening the printed URL: the dashboard lists the run (the page is
        # built by scripts calling the API; told another API URL, it says it cannot connect).
        dom = rendered_dom(ui, tmp_path / "chromium-profile")
        assert "Unable to connect" not in dom and "Can't connect" not in dom, dom[-3000:]
        assert "Dashboard" in dom, dom[-3000:]
        # The runs page lists runs by name (the dashboard shows counts and charts, and which
        # runs it names depends on its time window). A loaded machine may run out of Chromium's
        # time budget before the list came back from the API: rendered again, with more time.
        for budget_ms in (20000, 60000, 120000):
            dom = rendered_dom(f"{ui}/runs", tmp_path / f"chromium-runs-{budget_ms}", budget_ms=budget_ms)
            assert "Unable to connect" not in dom and "Can't connect" not in dom, dom[-3000:]
            if "r/python" in dom:
                break
        assert "r/python" in dom, dom[-3000:]
    finally:
        _stop(server)
    assert not (home / "redditlake-server.json").exists()  # a stopped server is not advertised


@pytest.mark.prefect
def test_redditlake_server_starts_again_right_after_a_stop(tmp_path):
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = free_port()
    server, ui = _start_server(home, port)
    try:
        # A request the server answers and closes: its side of the connection stays in
        # TIME_WAIT for a minute after the stop, which is no reason to refuse the port.
        assert _get_json(f"{ui}/api/health") is True
    finally:
        _stop(server)
    assert server.returncode == 0, server.communicate()

    again, ui = _start_server(home, port)
    try:
        assert _get_json(f"{ui}/ui-settings")["api_url"] == f"http://127.0.0.1:{port}/api"
    finally:
        _stop(again)
    assert again.returncode == 0, again.communicate()


@pytest.mark.prefect
def test_a_killed_run_leaves_no_prefect_server_behind(make_sim, tmp_path):
    sim = make_sim(posts_per_subreddit=60, comments_per_post_mean=15, requests_per_window=3, window_seconds=60)
    home = tmp_path / "prefect-home"
    run = _cli("collect", "python", env=_env(home, **sim_env(sim, str(tmp_path / "lake"))))
    left: list[int] = []
    try:
        deadline = time.monotonic() + STARTUP_S
        notes = home / "redditlake-servers"
        while not list(notes.glob("*.json")):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run started no server"
            time.sleep(0.2)
        (note,) = notes.glob("*.json")
        url = json.loads(note.read_text())["url"]
        while not healthy(url):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run's server did not answer"
            time.sleep(0.2)
        # While the run lasts, the "View at" links it prints work: its server serves the UI,
        # told its own API URL.
        ui = url.removesuffix("/api")
        assert _get_json(f"{ui}/ui-settings")["api_url"] == url
        page = urllib.request.urlopen(urllib.request.Request(f"{ui}/runs", headers={"Accept": "text/html"}),
                                      timeout=30)
        assert page.status == 200 and b"<html" in page.read()

        assert run.poll() is None, "the run ended before it could be killed"  # a slow budget keeps it going
        run.kill()
        run.wait(timeout=60)
        deadline = time.monotonic() + 20
        while (left := processes_with(f"PREFECT_HOME={home}")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == [], "the killed run's Prefect server is still running"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in left:  # what this test started and the code under test left running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.prefect
def test_the_links_a_run_prints_open_its_run_while_it_lasts(make_sim, tmp_path):
    sim = make_sim(posts_per_subreddit=60, comments_per_post_mean=15, requests_per_window=3, window_seconds=60)
    home = tmp_path / "prefect-home"
    run = _cli("collect", "python", env=_env(home, **sim_env(sim, str(tmp_path / "lake"))))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in run.stderr], daemon=True).start()
    try:
        deadline = time.monotonic() + STARTUP_S
        link = None
        while link is None:
            assert time.monotonic() < deadline, "the run printed no link to its flow run"
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert run.poll() is None, "the run ended without printing a link to its flow run"
                continue
            link = re.search(r"View at (http://\S+/runs/flow-run/\S+)", line)
        dom = rendered_dom(link.group(1), tmp_path / "chromium-profile")
        assert run.poll() is None, "the run ended before its link was opened"  # a slow budget keeps it going
        assert "Unable to connect" not in dom and "Can't connect" not in dom, dom[-3000:]
        assert re.search(r"<title>Flow Run: [\w-]+ • Prefect Server", dom), dom[-3000:]
    finally:
        run.kill()
        run.wait(timeout=60)


def test_a_server_whose_starter_is_gone_is_ended_on_the_next_start(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
    orphan = subprocess.Popen(sleep, start_new_session=True)
    kept = subprocess.Popen(sleep, start_new_session=True)
    try:
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        orphan_note = orphans.record(orphan.pid, "http://127.0.0.1:1/api")
        kept_note = orphans.record(kept.pid, "http://127.0.0.1:2/api")  # its starter (this test) lives on
        about = json.loads(orphan_note.read_text())
        orphan_note.write_text(json.dumps({**about, "parent": int(gone.stdout), "parent_started": 1}))

        assert orphans.reap() == [orphan.pid]
        assert orphan.wait(timeout=30) == -signal.SIGKILL
        assert kept.poll() is None and kept_note.exists()
        assert not orphan_note.exists()
        # A noted PID now held by another process (another start time) is never signalled.
        kept_note.write_text(json.dumps({**json.loads(kept_note.read_text()), "parent_started": 1, "started": 1}))
        assert orphans.reap() == []
        assert kept.poll() is None and not kept_note.exists()
    finally:
        for proc in (orphan, kept):
            if proc.poll() is None:
                proc.kill()
                proc.wait()

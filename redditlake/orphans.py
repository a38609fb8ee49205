"""Notes of the server processes this tool started, to end the ones whose starter is gone.

Each server is tied to the process that started it (``redditlake.tether``), so it dies
with it. A server that outlived its starter anyway (one started by an older version, or
a kernel without the parent-death signal) is found from these notes on the next start
and ended. A process is identified by its PID *and* its start time, so a PID the kernel
has since given to another process is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path


def notes_dir() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser() / "redditlake-servers"


def started(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None: no such process, or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name before ")" may hold spaces


def record(pid: int, url: str) -> Path | None:
    """Note that ``pid`` (a process-group leader, serving ``url``) was started by this process."""
    note = notes_dir() / f"{pid}.json"
    me = os.getpid()
    about = {"pid": pid, "started": started(pid), "parent": me, "parent_started": started(me), "url": url}
    try:
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(json.dumps(about))
    except OSError:
        return None  # a read-only Prefect home: the tie to this process still holds
    return note


def reap() -> list[int]:
    """End the noted servers whose starter is gone; the PIDs ended."""
    ended = []
    try:
        notes = list(notes_dir().glob("*.json"))
    except OSError:
        return ended
    for note in notes:
        try:
            n = json.loads(note.read_text())
            pid, parent = int(n["pid"]), int(n["parent"])
        except (OSError, ValueError, KeyError, TypeError):
            note.unlink(missing_ok=True)
            continue
        if n.get("parent_started") is not None and started(parent) == n["parent_started"]:
            continue  # its run is still going
        if n.get("started") is not None and started(pid) == n["started"]:
            try:
                os.killpg(pid, signal.SIGKILL)  # the server and any worker it started
                ended.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        note.unlink(missing_ok=True)
    return ended

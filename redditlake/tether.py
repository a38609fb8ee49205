"""Run a Python module as a child that dies with its parent: ``python -m redditlake.tether PPID MODULE ARGS...``.

A server started for one CLI run must not outlive the run, however the run ends (a
SIGKILL, the OOM killer). Linux's parent-death signal does that; it is set here, in the
child itself, because setting it between fork and exec (``preexec_fn``) would run Python
in a forked copy of a process that holds threads and native libraries that refuse fork.
The module then runs in this same process (no second interpreter start-up), so the
signal covers the server itself.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def tie_to_parent(parent: int) -> bool:
    """Ask the kernel for SIGKILL when ``parent`` ends; False when it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the signal was armed: we were re-parented already.
    return os.getppid() == parent


def main(argv: list[str]) -> None:
    parent, module, *args = argv
    if not tie_to_parent(int(parent)):
        sys.exit(f"{module}: the process that started it is gone; not starting")
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def argv(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m module args`` tied to this process.

    Start it from the main thread: the kernel sends the signal when the *thread* that
    started the child ends, so a short-lived worker thread would take the server with it.
    """
    return [sys.executable, "-m", "redditlake.tether", str(os.getpid()), module, *args]


if __name__ == "__main__":
    main(sys.argv[1:])

"""Progress lines for long backfills: done fraction, rows, rate and ETA, at most every few seconds."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

log = logging.getLogger("redditlake.backfill")


class Progress:
    def __init__(self, label: str, every_seconds: float = 5.0, clock=time.monotonic) -> None:
        self.label = label
        self.every = every_seconds
        self._clock = clock
        self.started = clock()
        self._last = float("-inf")
        self.rows = 0
        self.written = 0

    def update(self, fraction: float, rows: int, written: int, *, force: bool = False) -> str | None:
        """Count a step; log a line when one is due. Returns the line (for tests), else None."""
        self.add(rows, written)
        now = self._clock()
        if not force and now - self._last < self.every:
            return None
        self._last = now
        line = self.line(fraction, now)
        log.info("%s", line)
        return line

    def add(self, rows: int = 0, written: int = 0) -> None:
        """Count without logging (rows are fetched per page, written per landed batch)."""
        self.rows += rows
        self.written += written

    def line(self, fraction: float, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        fraction = min(max(fraction, 0.0), 1.0)
        rate = self.rows / elapsed
        if fraction >= 1:
            eta = "done"
        elif fraction > 0:
            eta = "ETA " + str(timedelta(seconds=round(elapsed * (1 - fraction) / fraction)))
        else:
            eta = "ETA unknown"
        return (f"{self.label}: {fraction:6.1%} {self.rows} rows ({self.written} new), "
                f"{rate:,.0f} rows/s, {eta}")

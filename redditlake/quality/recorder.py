"""What a flow run landed, validated in bounded memory: the one quality path of every flow.

A ``Landing`` with a ``Recorder`` hands it each batch it lands (content tables,
post metrics, users). The recorder keeps them until ``validate_every_rows``
rows wait, then validates them (``run.check_landed``: suites, results to
``_quality``, anomalies) in the landing's thread and keeps only the small
``QualityReport``. So a collection validates its batches once at the end, and a
backfill of millions of rows or a stream running for hours validates as it
goes instead of holding everything it landed. ``flush`` validates the rest.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from redditlake.config import DataQualitySettings
from redditlake.lake import Lake
from redditlake.quality.run import QualityReport, check_landed


_log = logging.getLogger(__name__)


@dataclass
class Recorder:
    lake: Lake
    settings: DataQualitySettings
    job: str
    flow_run_id: str | None = None
    reports: list[QualityReport] = field(default_factory=list)
    _pending: list[Any] = field(default_factory=list)
    _rows: int = 0
    _emitted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, batch: Any) -> None:
        """A landed batch (``landing.LandedBatch`` or ``batch.Batch``); validates when enough wait."""
        with self._lock:
            self._pending.append(batch)
            self._rows += batch.rows.num_rows
            full = self._rows >= self.settings.validate_every_rows
        if full:
            try:
                self.flush()
            except Exception as exc:  # judging the data must never stop it landing: say so, go on
                _log.error("quality check of %s batches failed (%s: %s); the data is stored, rerun "
                           "`redditlake quality check` later", self.job, type(exc).__name__, exc)

    def flush(self) -> QualityReport:
        """Validate what waits; its report (also kept in ``reports``)."""
        with self._lock:
            batches, self._pending, self._rows = self._pending, [], 0
        report = check_landed(self.lake, batches, self.settings, flow_run_id=self.flow_run_id, job=self.job)
        with self._lock:
            self.reports.append(report)
        return report

    def merged(self) -> QualityReport:
        """Every validation of the run as one report."""
        with self._lock:
            return QualityReport.combine(self.reports, self.settings.score_target)

    def unannounced(self) -> QualityReport:
        """The validations not yet handed out by this method (to emit their events once)."""
        with self._lock:
            fresh, self._emitted = self.reports[self._emitted :], len(self.reports)
        return QualityReport.combine(fresh, self.settings.score_target)

"""Run a suite (``suites.Spec`` list) on an in-memory batch with Great Expectations 1.x.

GX is imported on first use only (6-8 s on a quiet machine, ~280 MB) and one
ephemeral context serves the whole process: no files, no network, progress
bars off. The batch is a pandas DataFrame (GX's SQL path over DuckDB fails in
1.24 with duckdb-engine). Calls are serialised: the context is not thread-safe.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from redditlake.quality.suites import Spec

# Ids of failing rows kept per expectation: enough to find them, bounded in size.
SAMPLE_IDS = 20

_lock = threading.Lock()
_state: dict[str, Any] = {}


@dataclass
class Outcome:
    """One expectation's verdict on one batch."""

    name: str
    expectation: str
    severity: str
    success: bool
    element_count: int
    unexpected_count: int
    unexpected_percent: float
    observed_value: str | None
    unexpected_ids: list[str] = field(default_factory=list)
    kwargs: str = "{}"

    @property
    def pass_share(self) -> float:
        """Share of rows meeting the expectation (1 or 0 for aggregate ones)."""
        if self.element_count and (self.unexpected_count or self.success):
            return max(0.0, 1.0 - self.unexpected_percent / 100.0)
        return 1.0 if self.success else 0.0


def _context() -> tuple[Any, Any, Any]:
    if "gx" not in _state:
        import great_expectations as gx

        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = {"globally": False}
        asset = ctx.data_sources.add_pandas("redditlake").add_dataframe_asset("batch")
        _state.update(gx=gx, ctx=ctx, batch=asset.add_batch_definition_whole_dataframe("whole"))
    return _state["gx"], _state["ctx"], _state["batch"]


def preload() -> threading.Thread:
    """Import GX and build the context in the background (a flow starts it while it fetches)."""

    def load() -> None:
        with _lock:
            _context()

    thread = threading.Thread(target=load, name="gx-preload", daemon=True)
    thread.start()
    return thread


def _expectation(gx: Any, spec: Spec) -> Any:
    cls_name = "".join(part.capitalize() for part in spec.expectation.split("_"))
    cls = getattr(gx.expectations, cls_name)
    return cls(**spec.kwargs, meta={"name": spec.name, "severity": spec.severity})


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _columns(spec: Spec) -> list[str]:
    """The columns an expectation reads (``column``, ``column_A``/``column_B``, ``column_list``)."""
    out: list[str] = []
    for key, value in spec.kwargs.items():
        if key.startswith("column"):
            out += value if isinstance(value, list) else [value]
    return out


def run_suite(frame: pd.DataFrame, specs: list[Spec], index_column: str | None) -> list[Outcome]:
    """Validate ``frame`` against ``specs``; one ``Outcome`` per spec, in the specs' order."""
    if not specs:
        return []
    specs = [s for s in specs if all(c in frame.columns for c in _columns(s))]
    with _lock:
        gx, ctx, batch = _context()
        name = f"suite-{uuid.uuid4().hex[:12]}"
        suite = ctx.suites.add(gx.ExpectationSuite(name=name))
        for spec in specs:
            suite.add_expectation(_expectation(gx, spec))
        definition = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
        result_format: dict[str, Any] = {"result_format": "COMPLETE"}
        if index_column and index_column in frame.columns:
            result_format["unexpected_index_column_names"] = [index_column]
        try:
            result = definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)
        finally:
            ctx.validation_definitions.delete(name)
            ctx.suites.delete(name)
    by_name = {r.expectation_config.meta["name"]: r for r in result.results}
    outcomes = []
    for spec in specs:
        r = by_name[spec.name]
        res = r.result or {}
        ids: list[str] = []
        for entry in res.get("unexpected_index_list") or []:
            value = entry.get(index_column) if isinstance(entry, dict) else None
            if value is not None and not (isinstance(value, float) and pd.isna(value)) and str(value) not in ids:
                ids.append(str(value))
            if len(ids) >= SAMPLE_IDS:
                break
        observed = res.get("observed_value")
        outcomes.append(
            Outcome(
                name=spec.name,
                expectation=spec.expectation,
                severity=spec.severity,
                success=bool(r.success),
                element_count=int(res.get("element_count") or len(frame)),
                unexpected_count=int(res.get("unexpected_count") or 0),
                unexpected_percent=float(res.get("unexpected_percent") or 0.0),
                observed_value=None if observed is None else json.dumps(observed, default=_jsonable),
                unexpected_ids=sorted(ids),
                kwargs=json.dumps(spec.kwargs, default=_jsonable, sort_keys=True),
            )
        )
    return outcomes

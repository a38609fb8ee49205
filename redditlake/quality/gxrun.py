"""Run a suite (``suites.Spec`` list) on an in-memory batch with Great Expectations 1.x.

GX is imported on first use only (6-8 s on a quiet machine, ~280 MB) and one
ephemeral context serves the whole process: no files, no network, progress
bars off. Each distinct suite is built once per process and reused for every
batch (its per-batch values are suite parameters). The batch is a pandas DataFrame (GX's SQL path over DuckDB fails in
1.24 with duckdb-engine). Calls are serialised: the context is not thread-safe.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from redditlake.quality.suites import Spec, spec_columns

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


def _resolved(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
        return parameters[value["$PARAMETER"]]
    return value


def _definition(gx: Any, ctx: Any, batch: Any, specs: list[Spec]) -> Any:
    """The GX suite and validation definition of ``specs``: built on first use, then reused for
    every batch in the process (building them cost ~0.1-0.2 s a batch; values that change per
    batch are suite parameters, see ``suites.parameters``). The caller holds ``_lock``."""
    key = json.dumps([(s.name, s.expectation, s.kwargs, s.severity) for s in specs], sort_keys=True, default=str)
    cache = _state.setdefault("definitions", {})
    if key not in cache:
        name = f"suite-{uuid.uuid4().hex[:12]}"
        suite = ctx.suites.add(gx.ExpectationSuite(name=name))
        for spec in specs:
            suite.add_expectation(_expectation(gx, spec))
        cache[key] = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    return cache[key]


def run_suite(
    frame: pd.DataFrame, specs: list[Spec], index_column: str | None, parameters: dict[str, Any] | None = None
) -> list[Outcome]:
    """Validate ``frame`` against ``specs`` (their ``$PARAMETER``s from ``parameters``); one
    ``Outcome`` per spec whose columns the frame has, in the specs' order."""
    parameters = parameters or {}
    specs = [s for s in specs if all(c in frame.columns for c in spec_columns(s))]
    if not specs:
        return []
    # SUMMARY, not COMPLETE: the sample of failing ids is all we keep, a full list per
    # expectation would grow with the batch.
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_IDS * 5}
    if index_column and index_column in frame.columns:
        result_format["unexpected_index_column_names"] = [index_column]
    with _lock:
        gx, ctx, batch = _context()
        definition = _definition(gx, ctx, batch, specs)
        result = definition.run(
            batch_parameters={"dataframe": frame}, expectation_parameters=parameters, result_format=result_format
        )
    by_name = {r.expectation_config.meta["name"]: r for r in result.results}
    outcomes = []
    for spec in specs:
        r = by_name[spec.name]
        res = r.result or {}
        ids: list[str] = []
        for entry in res.get("partial_unexpected_index_list") or []:
            value = entry.get(index_column) if isinstance(entry, dict) else None
            if value is not None and not (isinstance(value, float) and pd.isna(value)) and str(value) not in ids:
                ids.append(str(value))
            if len(ids) >= SAMPLE_IDS:
                break
        observed = res.get("observed_value")
        kwargs = {k: _resolved(v, parameters) for k, v in spec.kwargs.items()}
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
                kwargs=json.dumps(kwargs, default=_jsonable, sort_keys=True),
            )
        )
    return outcomes

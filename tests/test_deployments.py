"""Deployments are written once, in deployments/collection.yaml: every spec points at a flow
that accepts its parameters, and prefect.yaml does not describe them a second time."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

from redditlake.collection import deployment_specs, load_collection

ROOT = Path(__file__).resolve().parents[1]
SPECS = deployment_specs(load_collection(ROOT / "deployments/collection.yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s['flow_name']}/{s['name']}" for s in SPECS])
def test_each_deployment_points_at_a_flow_that_accepts_its_parameters(spec, monkeypatch):
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(spec["entrypoint"])
    assert flow.name == spec["flow_name"]
    flow.validate_parameters(spec["parameters"])
    schedule = spec["schedule"]
    assert schedule.get("interval", 60) >= 60 or len(schedule["cron"].split()) == 5


def test_prefect_yaml_does_not_describe_the_collection_twice():
    assert not yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_a_deployment_with_a_bad_parameter_is_caught():
    flow = load_flow_from_entrypoint(str(ROOT / "flows/scheduled.py") + ":collect_scheduled")
    with pytest.raises(Exception):
        flow.validate_parameters({"subreddit": "python", "sorts": ["newest"]})

"""prefect.yaml describes deployments Prefect can build: real entrypoints, valid parameters, crons."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_each_deployment_points_at_a_flow_that_accepts_its_parameters(deployment, monkeypatch):
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    flow.validate_parameters(deployment.get("parameters", {}))
    for schedule in deployment["schedules"]:
        assert len(schedule["cron"].split()) == 5
    assert deployment["work_pool"]["name"]


def test_a_deployment_with_a_bad_parameter_is_caught():
    flow = load_flow_from_entrypoint(str(ROOT / "flows/collect.py") + ":collect")
    with pytest.raises(Exception):
        flow.validate_parameters({"subreddits": ["python"], "sorts": ["newest"]})

"""Deployments are written once, in deployments/collection.yaml: every spec points at a flow
that accepts its parameters, and prefect.yaml does not describe them a second time."""

from __future__ import annotations

import inspect
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from cronsim import CronSim
from prefect.exceptions import ParameterTypeError
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
    if "interval" in schedule:
        assert schedule["interval"] >= 60, schedule
    else:  # a cron Prefect's server accepts: cronsim parses it and it fires within a year
        fires = CronSim(schedule["cron"], datetime(2026, 1, 1, tzinfo=timezone.utc))
        assert next(fires) < datetime(2027, 1, 1, tzinfo=timezone.utc)


def test_each_schedule_is_the_one_the_collection_file_states():
    raw = yaml.safe_load((ROOT / "deployments/collection.yaml").read_text())
    by_name = {(s["flow_name"], s["name"]): s["schedule"] for s in SPECS}
    units = {"m": 60, "h": 3600, "d": 86400}
    for entry in raw["collection"]["subreddits"]:
        freq = entry["collection_frequency"]
        want = ({"interval": int(freq[:-1]) * units[freq[-1]]} if freq[-1] in units and freq[:-1].isdigit()
                else {"cron": freq})
        assert {k: v for k, v in by_name[("collect-scheduled", entry["name"])].items() if k in want} == want, entry
    crons = {flow: sched.get("cron") for (flow, _), sched in by_name.items() if flow != "collect-scheduled"}
    assert crons.get("refresh") == raw["refresh"]["schedule"], crons
    assert crons.get("maintain-lake") == raw["maintenance"]["schedule"], crons
    assert crons.get("stream") == raw["stream"]["schedule"], crons


def test_prefect_yaml_does_not_describe_the_collection_twice():
    assert not yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_a_deployment_with_a_bad_parameter_is_caught():
    flow = load_flow_from_entrypoint(str(ROOT / "flows/scheduled.py") + ":collect_scheduled")
    flow.validate_parameters({"subreddit": "python", "sorts": ["new"]})  # the control: a good one passes
    with pytest.raises(ParameterTypeError, match="sorts"):
        flow.validate_parameters({"subreddit": "python", "sorts": ["newest"]})


def test_every_deployment_passes_the_blocks_its_flow_needs(monkeypatch):
    """Every deployed flow reads or writes the lake, so each gets the lake block; each that asks
    Reddit (collect, refresh, stream, maintain-lake's sweep) gets the Reddit block too. A
    deployment without them would run on a worker's default lake, or fail for want of keys."""
    monkeypatch.chdir(ROOT)
    config = load_collection(ROOT / "deployments/collection.yaml")
    followed = config.collection.subreddits[0].model_copy(update={"name": "askscience", "source": "arcticshift"})
    config = config.model_copy(update={
        "blocks": config.blocks.model_copy(update={"reddit": "the-app", "lake": "the-lake"}),
        "collection": config.collection.model_copy(update={"subreddits": [*config.collection.subreddits, followed]}),
    })
    specs = deployment_specs(config)
    assert {s["flow_name"] for s in specs} == {"collect-scheduled", "follow-archive", "refresh", "stream", "maintain-lake"}
    for spec in specs:
        flow = load_flow_from_entrypoint(spec["entrypoint"])
        takes = inspect.signature(flow.fn).parameters
        params = spec["parameters"]
        assert params.get("lake_block") == "the-lake", spec["name"]
        if "reddit_block" in takes:
            assert params.get("reddit_block") == "the-app", spec["name"]
        asks_reddit = spec["flow_name"] != "follow-archive"  # maintain-lake's sweep is a collect
        assert not asks_reddit or "reddit_block" in takes, spec["name"]
        flow.validate_parameters(params)

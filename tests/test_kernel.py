"""Every flow run starts the same way (``flows.kernel``): settings, the run's overrides, then the
saved blocks, applied once and in one order, whichever flow and whichever route (CLI, deployment)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from prefect_aws import AwsCredentials
from pydantic import SecretStr

import flows.common
from blocks.lake import LakeLocation
from blocks.reddit import RedditApp
from flows.kernel import prepare_run, run_settings
from redditlake.config import load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def saved_blocks(monkeypatch, tmp_path):
    """A lake block and a Reddit App block, as a Prefect server would return them."""
    lakes = {"the-lake": LakeLocation(uri=str(tmp_path / "block-lake"))}
    apps = {"the-app": RedditApp(client_id="id-from-block", client_secret=SecretStr("secret"), user_agent="ua")}

    async def load_lake(name, *args, **kwargs):
        return lakes[name]

    async def load_app(name, *args, **kwargs):
        return apps[name]

    monkeypatch.setattr(LakeLocation, "aload", load_lake)
    monkeypatch.setattr(RedditApp, "aload", load_app)
    lakes["s3-lake"] = LakeLocation(uri="s3://bucket/lake", endpoint_url="http://127.0.0.1:9", credentials=AwsCredentials(
        aws_access_key_id="AKIAFROMTHEBLOCK", aws_secret_access_key="secret-from-the-block", region_name="eu-west-2"))
    return tmp_path


def test_overrides_then_blocks_and_the_lake_block_wins_over_a_lake_parameter(saved_blocks):
    base = load_settings(env={})
    settings = asyncio.run(run_settings(base, lake=str(saved_blocks / "param-lake"), reddit_block="the-app",
                                        lake_block="the-lake", limit=7, comments=False))
    assert settings.lake.uri == str(saved_blocks / "block-lake")
    assert settings.reddit.client_id == "id-from-block" and settings.reddit.block == "the-app"
    assert settings.collect.limit == 7 and settings.collect.comments is False

    plain = asyncio.run(run_settings(base, lake=str(saved_blocks / "param-lake")))
    assert plain.lake.uri == str(saved_blocks / "param-lake") and plain.reddit.client_id is None


def test_the_run_context_opens_the_lake_only_when_used_and_lands_into_that_same_lake(saved_blocks):
    run = asyncio.run(prepare_run("backfill", load_settings(env={}), lake_block="the-lake"))
    assert run._lake is None  # nothing opened (nor created) by preparing
    assert run.landing.lake is run.lake
    assert run.lake.location.uri.rstrip("/").endswith("block-lake")


def test_no_flow_applies_blocks_or_opens_its_landing_on_its_own():
    """The kernel is the one route: a flow that loaded a block or opened a landing itself would
    skip what the kernel applies (and the next change to it)."""
    own = re.compile(r"(?<![.\w])(apply_lake_block|apply_reddit_block|open_landing|start_recording)\(")
    offenders = [f"{path.name}: {m.group(1)}" for path in sorted((ROOT / "flows").glob("*.py"))
                 if path.name not in {"kernel.py", "common.py"} for m in own.finditer(path.read_text())]
    assert offenders == []


def test_a_lake_blocks_keys_open_its_lake_and_stay_out_of_the_process_environment(saved_blocks, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(flows.common, "require_delta", lambda lake: None)  # no S3 server here: the keys are the point

    run = asyncio.run(prepare_run("refresh", load_settings(env={}), lake_block="s3-lake"))
    s3 = run.lake.location.s3
    assert (s3.access_key, s3.secret_key, s3.region) == ("AKIAFROMTHEBLOCK", "secret-from-the-block", "eu-west-2")
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} & set(os.environ)
    assert "secret-from-the-block" not in run.settings.model_dump_json()  # a parameter's JSON shows no key


def test_a_lake_key_in_the_config_file_is_refused(tmp_path):
    from redditlake.errors import ConfigError

    path = tmp_path / "settings.yaml"
    path.write_text("lake:\n  uri: s3://bucket/lake\n  secret_access_key: nope\n")
    with pytest.raises(ConfigError, match="lake.secret_access_key is a secret"):
        load_settings(path, env={})

"""A Prefect block naming the lake: where it is and how to reach it, for deployments.

Deployments name the block (``blocks.lake`` in ``deployments/collection.yaml``)
instead of carrying a bucket and keys in every worker's environment. Register the
block types once, then save one::

    uv run prefect block register -m blocks
    uv run python -m blocks.lake NAME s3://bucket/prefix [--endpoint-url URL]   # keys from AWS_* variables

The keys live in a prefect-aws ``AwsCredentials`` block (secret fields, never printed).
The pseudonym key (when authors are pseudonymised) lives in a Prefect ``Secret`` block
the lake block names, saved from ``REDDITLAKE_PSEUDONYM_KEY`` with
``--pseudonym-key-block KEYNAME``: workers then need it in no environment.
"""

from __future__ import annotations

import argparse
import os

from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from prefect_aws import AwsCredentials
from pydantic import Field, SecretStr

from redditlake.config import Settings
from redditlake.errors import ConfigError


class LakeLocation(Block):
    _block_type_name = "Redditlake Lake"
    _description = "Where redditlake's Parquet lake is: a folder or s3://bucket/prefix, its endpoint and credentials."

    uri: str = Field(description="a folder, or s3://bucket/prefix")
    endpoint_url: str | None = Field(None, description="an S3-compatible store's endpoint (MinIO, R2, ...)")
    credentials: AwsCredentials | None = Field(None, description="keys for S3; none: the task role or AWS_* variables")
    pseudonym_key_block: str | None = Field(None, description="the Secret block holding the pseudonym key of this lake")


async def apply_lake_block(settings: Settings, name: str | None) -> Settings:
    """Settings pointing at the named block's lake, with its keys in the lake settings (the flows
    open the lake with them: ``flows.common.open_lake``); the process environment is left alone."""
    if not name:
        return settings
    block = await LakeLocation.aload(name)
    creds = block.credentials
    keys: dict[str, object] = {}
    if creds is not None:
        if creds.aws_access_key_id and creds.aws_secret_access_key:
            keys.update(access_key_id=creds.aws_access_key_id, secret_access_key=creds.aws_secret_access_key)
        if creds.aws_session_token:
            keys["session_token"] = SecretStr(creds.aws_session_token)
        if creds.region_name:
            keys["region"] = creds.region_name
    endpoint = block.endpoint_url or (creds.aws_client_parameters.endpoint_url if creds else None)
    lake = settings.lake.model_copy(update={"uri": block.uri, "endpoint_url": endpoint or settings.lake.endpoint_url, **keys})
    settings = settings.model_copy(update={"lake": lake})
    if block.pseudonym_key_block:
        key = SecretStr((await Secret.aload(block.pseudonym_key_block)).get())
        settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"pseudonym_key": key})})
    return settings


def save_lake_block(name: str, uri: str, endpoint_url: str | None = None, pseudonym_key_block: str | None = None) -> LakeLocation:
    """Save the lake block; with ``pseudonym_key_block``, also the ``Secret`` block it names,
    holding ``REDDITLAKE_PSEUDONYM_KEY``."""
    if pseudonym_key_block:
        key = os.environ.get("REDDITLAKE_PSEUDONYM_KEY")
        if not key:
            raise ConfigError("--pseudonym-key-block saves REDDITLAKE_PSEUDONYM_KEY, which is not set")
        Secret(value=key).save(pseudonym_key_block, overwrite=True)
    credentials = None
    if uri.startswith("s3://"):
        credentials = AwsCredentials(
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
    block = LakeLocation(uri=uri, endpoint_url=endpoint_url, credentials=credentials, pseudonym_key_block=pseudonym_key_block)
    block.save(name, overwrite=True)
    return block


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="save a Redditlake Lake block")
    p.add_argument("name")
    p.add_argument("uri")
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    p.add_argument("--pseudonym-key-block", help="also save REDDITLAKE_PSEUDONYM_KEY as this Secret block and name it")
    a = p.parse_args()
    save_lake_block(a.name, a.uri, a.endpoint_url, a.pseudonym_key_block)
    print(f"saved Redditlake Lake block {a.name!r} ({a.uri}); name it in collection.yaml under blocks.lake")

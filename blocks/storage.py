"""Blocks for serverless workers: S3 result storage for Prefect, and where ``gc`` finds it.

redditlake's own tasks persist no results (see ``tasks/reddit.py``), but a
worker on ECS has no disk that outlives it, so any flow that does persist
results needs them in S3. Save the blocks once, then run workers with
``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK=s3-bucket/redditlake-results``::

    uv run python -m blocks.storage BUCKET [--prefix prefect-results] [--endpoint-url URL]

AWS credentials come from the standard variables (or the ECS task role when
none are set); ``--endpoint-url`` (or ``AWS_ENDPOINT_URL_S3``) points at an
S3-compatible store (MinIO, R2, Ceph, …). ``result_location`` resolves the
storage a process's Prefect uses, for ``redditlake gc``.
"""

from __future__ import annotations

import argparse
import os

from prefect.filesystems import LocalFileSystem
from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket

from redditlake.errors import ConfigError
from redditlake.lake.location import Location, open_location

CREDENTIALS_BLOCK = "redditlake-aws"
RESULTS_BLOCK = "redditlake-results"


def build_blocks(bucket: str, prefix: str, endpoint_url: str | None) -> tuple[AwsCredentials, S3Bucket]:
    if not prefix.strip("/"):
        # An empty folder puts Prefect's results at the bucket root, beside a lake that may share it.
        raise ConfigError("the result storage needs a prefix of its own (e.g. prefect-results), not the bucket root")
    credentials = AwsCredentials(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint_url) if endpoint_url else AwsClientParameters(),
    )
    return credentials, S3Bucket(bucket_name=bucket, bucket_folder=prefix, credentials=credentials)


def save_blocks(bucket: str, prefix: str = "prefect-results", endpoint_url: str | None = None) -> str:
    credentials, storage = build_blocks(bucket, prefix, endpoint_url)
    credentials.save(CREDENTIALS_BLOCK, overwrite=True)
    storage.save(RESULTS_BLOCK, overwrite=True)
    return f"s3-bucket/{RESULTS_BLOCK}"


async def result_location() -> Location:
    """Where this process's Prefect persists results (the local Prefect home, or the saved
    S3 bucket block of ``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK``), as a lake ``Location``
    that ``redditlake.result_storage`` can list and delete in."""
    from prefect.results import aget_default_result_storage
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url is None and settings.results.default_storage_block is None:
        # No server to hold a default storage block: asking would start an ephemeral one (10-15 s).
        return open_location(settings.results.local_storage_path)
    storage = await aget_default_result_storage()
    if isinstance(storage, LocalFileSystem):
        if not storage.basepath:
            raise ConfigError(
                "the default result storage is a LocalFileSystem block without a basepath (the working "
                "directory, where ./lake lives): give it a folder of its own, or pass --results PATH"
            )
        return open_location(storage.basepath)
    if isinstance(storage, S3Bucket):
        creds = storage.credentials
        env = {"AWS_REGION": getattr(creds, "region_name", None) or ""}
        if getattr(creds, "aws_access_key_id", None) and getattr(creds, "aws_secret_access_key", None):
            env["AWS_ACCESS_KEY_ID"] = creds.aws_access_key_id
            env["AWS_SECRET_ACCESS_KEY"] = creds.aws_secret_access_key.get_secret_value()
        params = getattr(creds, "aws_client_parameters", None)
        endpoint = getattr(params, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        folder = (storage.bucket_folder or "").strip("/")
        if not folder:
            raise ConfigError(
                f"the default result storage is the root of bucket {storage.bucket_name} (its block's bucket_folder "
                "is empty), where anything else in the bucket lives too: give the block a folder of its own "
                "(`python -m blocks.storage BUCKET` saves one with prefect-results), or pass --results s3://BUCKET/PREFIX"
            )
        return open_location(f"s3://{storage.bucket_name}/{folder}", endpoint_url=endpoint, env={**os.environ, **{k: v for k, v in env.items() if v}})
    raise ConfigError(
        f"result storage {type(storage).__name__} is not supported by gc: use a local folder or an S3Bucket block, "
        "or pass --results PATH|s3://bucket/prefix"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bucket")
    p.add_argument("--prefix", default="prefect-results")
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    a = p.parse_args()
    try:
        slug = save_blocks(a.bucket, a.prefix, a.endpoint_url)
    except ConfigError as exc:
        raise SystemExit(f"blocks.storage: error: {exc}") from None
    print(f"saved; run workers with PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK={slug}")

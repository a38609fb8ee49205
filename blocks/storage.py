"""Blocks for serverless workers: S3 result storage for Prefect's task cache.

A worker on ECS has no disk that outlives it; cached task results (a
subreddit's ``about``, batches of comment trees) must live in S3 for a retried
flow to reuse them. Save the blocks once, then run workers with
``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK=s3-bucket/redditlake-results``::

    uv run python -m blocks.storage BUCKET [--prefix prefect-results] [--endpoint-url URL]

AWS credentials come from the standard variables (or the ECS task role when
none are set); ``--endpoint-url`` (or ``AWS_ENDPOINT_URL_S3``) points at an
S3-compatible store (MinIO, R2, Ceph, …).
"""

from __future__ import annotations

import argparse
import os

from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket

CREDENTIALS_BLOCK = "redditlake-aws"
RESULTS_BLOCK = "redditlake-results"


def build_blocks(bucket: str, prefix: str, endpoint_url: str | None) -> tuple[AwsCredentials, S3Bucket]:
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


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bucket")
    p.add_argument("--prefix", default="prefect-results")
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    a = p.parse_args()
    slug = save_blocks(a.bucket, a.prefix, a.endpoint_url)
    print(f"saved; run workers with PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK={slug}")

"""Where a lake lives: a local folder or an S3 (or S3-compatible) prefix.

Turns the string given to ``Lake.open`` into a ``pyarrow.fs`` file system
plus a root path inside it, so the rest of the package has one code path for
both. S3 settings follow the AWS conventions (endpoint from the argument,
then ``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL``; credentials from the
standard ``AWS_*`` variables; region from ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, default us-east-1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pyarrow import fs as pafs

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class S3Settings:
    """Connection settings for an S3 lake, shared by pyarrow and delta-rs."""

    bucket: str
    prefix: str  # without leading or trailing "/", may be ""
    endpoint_url: str | None
    region: str
    access_key: str | None
    secret_key: str | None
    session_token: str | None


@dataclass(frozen=True)
class Location:
    """A lake root: the file system, the root path in it, and its URI."""

    filesystem: pafs.FileSystem
    root: str  # path as the file system spells it ("/abs/dir" or "bucket/prefix")
    uri: str  # what users see: an absolute local path or "s3://bucket/prefix"
    s3: S3Settings | None  # None for a local lake

    @property
    def is_local(self) -> bool:
        return self.s3 is None

    def path(self, *parts: str) -> str:
        """Join validated segments under the root (always "/" separated)."""
        return "/".join([self.root, *parts])

    def uri_of(self, path: str) -> str:
        """The user-facing URI of a path inside this file system."""
        return path if self.is_local else f"s3://{path}"


def open_location(
    uri: str | os.PathLike[str],
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Location:
    """Resolve ``uri`` (a folder or ``s3://bucket[/prefix]``) to a Location."""
    environ = os.environ if env is None else env
    text = os.fspath(uri)
    if text.startswith("s3://"):
        return _s3_location(text, endpoint_url, region, environ)
    if "://" in text:
        raise ValueError(f"unsupported lake URI {text!r}: use a folder or s3://bucket/prefix")
    root = Path(text).expanduser().resolve()
    return Location(filesystem=pafs.LocalFileSystem(), root=root.as_posix(), uri=root.as_posix(), s3=None)


def _s3_location(text: str, endpoint_url: str | None, region: str | None, environ: Mapping[str, str]) -> Location:
    parts = urlsplit(text)
    bucket = parts.netloc
    prefix = parts.path.strip("/")
    if not bucket:
        raise ValueError(f"S3 lake URI {text!r} has no bucket")
    if prefix and any(seg in ("", ".", "..") for seg in prefix.split("/")):
        raise ValueError(f"S3 lake URI {text!r} has an empty or relative path segment")
    settings = S3Settings(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=endpoint_url or environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None,
        region=region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        access_key=environ.get("AWS_ACCESS_KEY_ID") or None,
        secret_key=environ.get("AWS_SECRET_ACCESS_KEY") or None,
        session_token=environ.get("AWS_SESSION_TOKEN") or None,
    )
    root = f"{bucket}/{prefix}" if prefix else bucket
    return Location(filesystem=s3_filesystem(settings), root=root, uri=f"s3://{root}", s3=settings)


def s3_filesystem(settings: S3Settings) -> pafs.S3FileSystem:
    """A pyarrow S3 file system for these settings.

    Explicit keys are passed only when set, so that without them pyarrow falls
    back to the AWS SDK's default chain (profiles, instance roles, …).
    """
    kwargs: dict[str, object] = {"region": settings.region}
    if settings.endpoint_url:
        endpoint = urlsplit(settings.endpoint_url)
        # pyarrow wants host:port and the scheme separately.
        kwargs["endpoint_override"] = endpoint.netloc or endpoint.path
        kwargs["scheme"] = endpoint.scheme or "https"
    if settings.access_key and settings.secret_key:
        kwargs["access_key"] = settings.access_key
        kwargs["secret_key"] = settings.secret_key
        if settings.session_token:
            kwargs["session_token"] = settings.session_token
    # The lake never creates buckets: a typo must fail, not make a new bucket.
    kwargs["allow_bucket_creation"] = False
    kwargs["allow_bucket_deletion"] = False
    return pafs.S3FileSystem(**kwargs)

"""Per-(table, subreddit) write locks, so check-then-write cannot race.

Dedup reads the ids already stored and then writes the rest; two writers of
the same partition must not interleave those steps.

* Local lake: ``fcntl.flock`` on ``{lake}/_locks/{table}/{subreddit}.lock``,
  kept outside every table folder so no reader ever sees it. flock locks
  belong to an open file description, so they exclude other threads of this
  process (each ``acquire`` opens the file anew) as well as other processes,
  and the kernel drops them when a holder dies.
* S3 lake: a lock object ``{prefix}/_locks/{table}/{subreddit}.lock`` created
  with a conditional PUT (``If-None-Match: *``), which S3 (since 2024), MinIO
  and moto ≥ 5.0 refuse with 412 when the object exists. It is released with
  ``DELETE`` + ``If-Match: <our ETag>`` so we never delete a lock someone
  else took over. The holder renews the object (a PUT with ``If-Match``)
  every third of ``stale_after_s`` while it holds the lock; an object not
  renewed for ``stale_after_s``, by the server's own clock (its ``Date``
  against the object's ``Last-Modified``, so clock skew between machines
  does not matter), belongs to a holder that died (a killed worker) and is
  broken. So a crash delays the partition's next writer by about
  ``stale_after_s``, well inside a waiter's ``timeout_s``, and a long write
  keeps its lock. Limitation: a server that ignores conditional headers
  gives no cross-process exclusion at all.
  Threads of one process are additionally serialised by an in-process lock,
  because moto's check-then-store for conditional PUTs is not atomic.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from redditlake.lake.location import LazyS3Client, Location, S3Settings
from redditlake.lake.storage import FILE_MODE, make_private_dirs

LOCKS_FOLDER = "_locks"
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_STALE_AFTER_S = 90.0
_POLL_S = 0.05


class LockTimeout(TimeoutError):
    """The partition stayed locked by another writer for too long."""


class PartitionLocker(Protocol):
    def lock(self, table: str, subreddit: str) -> AbstractContextManager[None]: ...


def locker_for(location: Location, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> PartitionLocker:
    if location.s3 is None:
        return FileLocker(location.path(LOCKS_FOLDER), timeout_s=timeout_s)
    return S3Locker(location.s3, timeout_s=timeout_s)


class FileLocker:
    """flock-based locks for a local lake."""

    def __init__(self, folder: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.folder = folder
        self.timeout_s = timeout_s

    @contextmanager
    def lock(self, table: str, subreddit: str) -> Iterator[None]:
        directory = f"{self.folder}/{table}"
        make_private_dirs(directory)  # often the first write of a new lake: its root too
        fd = os.open(f"{directory}/{subreddit}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            deadline = time.monotonic() + self.timeout_s
            # Non-blocking attempts in a loop, so a hung holder cannot block
            # us forever; the lock file itself is never deleted (deleting it
            # would let two writers lock two different inodes).
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(f"{table}/{subreddit} is locked by another writer") from None
                    time.sleep(_POLL_S)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class _ProcessLocks:
    """One threading.Lock per lock key, shared by every S3Locker of the process.

    This is process-wide state on purpose: two ``Lake`` objects opened on the
    same bucket in one process must exclude each other.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


_PROCESS_LOCKS = _ProcessLocks()


class S3Locker(LazyS3Client):
    """Lock objects created with conditional PUTs, plus an in-process lock."""

    def __init__(
        self,
        settings: S3Settings,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
    ) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.stale_after_s = stale_after_s

    def _s3_settings(self) -> S3Settings:
        return self.settings

    def _key(self, table: str, subreddit: str) -> str:
        parts = [p for p in (self.settings.prefix, LOCKS_FOLDER, table, f"{subreddit}.lock") if p]
        return "/".join(parts)

    @contextmanager
    def lock(self, table: str, subreddit: str) -> Iterator[None]:
        key = self._key(table, subreddit)
        local = _PROCESS_LOCKS.get(f"{self.settings.endpoint_url}|{self.settings.bucket}|{key}")
        if not local.acquire(timeout=self.timeout_s):
            raise LockTimeout(f"{table}/{subreddit} is locked by another thread")
        try:
            lease = _Lease(self, key, self._acquire_object(key))
            try:
                yield
            finally:
                self._release_object(key, lease.stop())
        finally:
            local.release()

    def _acquire_object(self, key: str) -> str:
        from botocore.exceptions import ClientError

        s3 = self._s3()
        body = _holder()
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                response = s3.put_object(Bucket=self.settings.bucket, Key=key, Body=body, IfNoneMatch="*")
                return str(response["ETag"])
            except ClientError as error:
                code = _status(error)
                if code == 404:
                    # The lake never creates buckets (see location.py).
                    raise FileNotFoundError(f"S3 bucket {self.settings.bucket!r} does not exist") from error
                # 412: the lock exists. 409: a concurrent conditional write
                # to the same key is in flight (real S3); just try again.
                if code not in (409, 412):
                    raise
            self._break_if_stale(key)
            if time.monotonic() > deadline:
                raise LockTimeout(f"s3://{self.settings.bucket}/{key} is held by another writer")
            time.sleep(_POLL_S * 4)

    def _break_if_stale(self, key: str) -> None:
        from botocore.exceptions import ClientError

        s3 = self._s3()
        try:
            current = s3.head_object(Bucket=self.settings.bucket, Key=key)
        except ClientError:
            return  # Gone meanwhile: the next PUT will tell.
        if _age_on_server(current) > self.stale_after_s:
            try:
                # If-Match: delete only the stale object we just read, not a
                # fresh lock another writer created (or its holder renewed) since.
                s3.delete_object(Bucket=self.settings.bucket, Key=key, IfMatch=current["ETag"])
            except ClientError:
                pass

    def _renew(self, key: str, etag: str) -> str | None:
        """The lock object rewritten if it is still ours; its new ETag, or None when it is not."""
        from botocore.exceptions import ClientError

        try:
            response = self._s3().put_object(Bucket=self.settings.bucket, Key=key, Body=_holder(), IfMatch=etag)
        except ClientError as error:
            if _status(error) in (404, 412):
                return None
            raise
        return str(response["ETag"])

    def _release_object(self, key: str, etag: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._s3().delete_object(Bucket=self.settings.bucket, Key=key, IfMatch=etag)
        except ClientError as error:
            if _status(error) not in (404, 412):
                raise
            # 412/404: our lock was broken as stale and maybe re-taken; the
            # other holder's object is left alone.


def _status(error: Exception) -> int:
    response = getattr(error, "response", {}) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _holder() -> bytes:
    """What a lock object says about its holder (for people looking at a stuck lock)."""
    return json.dumps(
        {"owner": f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}", "renewed_at": time.time()}
    ).encode()


def _age_on_server(head: dict[str, Any]) -> float:
    """Seconds since the object was last written, both ends read off the server's clock."""
    from email.utils import parsedate_to_datetime

    modified = head["LastModified"]
    try:
        now = parsedate_to_datetime(head["ResponseMetadata"]["HTTPHeaders"]["date"])
    except (KeyError, TypeError, ValueError):
        import datetime as dt

        now = dt.datetime.now(dt.timezone.utc)  # no Date header: our clock, the best left
    return (now - modified).total_seconds()


class _Lease:
    """Keeps a held S3 lock object fresh from a daemon thread until stopped."""

    def __init__(self, locker: S3Locker, key: str, etag: str) -> None:
        self.locker, self.key, self.etag = locker, key, etag
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lock-lease:{key}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.locker.stale_after_s / 3
        while not self._stop.wait(interval):
            try:
                etag = self.locker._renew(self.key, self.etag)
            except Exception:  # noqa: BLE001 - a failed renewal is retried at the next interval
                continue
            if etag is None:  # broken as stale meanwhile (we were unreachable that long)
                return
            self.etag = etag

    def stop(self) -> str:
        """Stop renewing; the ETag to release with."""
        self._stop.set()
        self._thread.join()
        return self.etag

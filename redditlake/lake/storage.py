"""File operations on the lake's file system: list, publish atomically, delete.

Publishing is the one place where local disk and S3 differ:

* local: the bytes go to a temporary file in the target folder named
  ``.part-….parquet.<token>.tmp``. The leading dot hides it from pyarrow's
  dataset discovery (it skips names starting with "." or "_") and the ``.tmp``
  suffix hides it from DuckDB's ``*.parquet`` globs (DuckDB does *not* skip
  dot files). The file is fsynced, renamed over the final name with
  ``os.replace`` (atomic on POSIX), and the folder is fsynced so the rename
  survives a power cut. A crash leaves at most an invisible ``.tmp`` file.
* S3: a PUT (or a completed multipart upload) is atomic, so the file is
  serialised in memory and then uploaded to its final key in one write.
  Streaming the Parquet writer straight to S3 would be unsafe: pyarrow's S3
  stream has no abort, and closing it (which its destructor also does) after
  a failure in *our* code would complete the upload with a truncated file.
  With the bytes complete before the upload starts, the only failures left
  are upload failures, and Arrow completes a multipart upload only after
  every part succeeded.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
from pyarrow import fs as pafs

from redditlake.lake.location import LazyS3Client, Location, S3Settings

DATA_SUFFIX = ".parquet"
TEMP_SUFFIX = ".tmp"
# Names pyarrow's dataset discovery ignores; we hide the same from listings so
# that what the lake reads is exactly what readers of the lake see.
HIDDEN_PREFIXES = (".", "_")
# What the lake holds is what users wrote: owner and group may read it, others not (the umask
# can only narrow these further).
FILE_MODE = 0o640
DIR_MODE = 0o750
# A listing that met a folder being created is repeated (see ``Storage._list``);
# each retry can only fail if yet another folder appears during it.
_LIST_ATTEMPTS = 5


def is_data_file(name: str) -> bool:
    """True for a published Parquet file (not a temp file, not a hidden one)."""
    return name.endswith(DATA_SUFFIX) and not name.startswith(HIDDEN_PREFIXES)


def is_temp_file(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


class Storage(LazyS3Client):
    """The lake's file system, seen as folders of published Parquet files."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.fs = location.filesystem

    def data_files(self, directory: str, *, recursive: bool = False) -> list[str]:
        """Published data files under ``directory`` (sorted; [] if missing)."""
        return [info.path for info in self.data_file_infos(directory, recursive=recursive)]

    def data_file_infos(self, directory: str, *, recursive: bool = False) -> list[pafs.FileInfo]:
        """``data_files`` with the sizes the listing returned (sorted by path).

        Handing these (rather than paths) to ``pyarrow.dataset`` spares one
        HEAD request per file on S3: pyarrow needs a file's size to read its
        footer and takes it from the FileInfo when there is one.
        """
        return sorted(
            (
                info
                for info in self._list(directory, recursive=recursive)
                if info.type == pafs.FileType.File and is_data_file(info.base_name)
            ),
            key=lambda info: info.path,
        )

    def subfolders(self, directory: str) -> list[str]:
        """Names of the folders directly under ``directory`` ([] if missing).

        On S3 these are the common prefixes of a delimited listing, so this
        costs one request per 1000 folders, not a walk of every key.
        """
        return sorted(
            info.base_name for info in self._list(directory, recursive=False) if info.type == pafs.FileType.Directory
        )

    def _list(self, directory: str, *, recursive: bool) -> list[pafs.FileInfo]:
        """One listing; a folder created while it ran is listed again.

        Arrow's local listing with ``allow_not_found`` reads the folder and,
        when that fails, checks whether the folder exists: if a concurrent
        writer's ``makedirs`` created it in between (the first write of a new
        table, subreddit or day, or of the lake itself), the check finds it and
        Arrow raises the read's "Cannot list directory" FileNotFoundError
        instead of returning nothing. Listing again then succeeds. (Nothing in
        the lake removes folders, so a folder never vanishes under a listing.)
        """
        selector = pafs.FileSelector(directory, allow_not_found=True, recursive=recursive)
        for attempt in range(_LIST_ATTEMPTS):
            try:
                infos: list[pafs.FileInfo] = self.fs.get_file_info(selector)
                return infos
            except FileNotFoundError:
                if attempt == _LIST_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def open_atomic(self, path: str) -> Iterator[pa.NativeFile]:
        """Yield a stream; its bytes appear at ``path`` only if the block succeeds."""
        if self.location.is_local:
            with self._open_atomic_local(path) as out:
                yield out
        else:
            with self._open_atomic_s3(path) as out:
                yield out

    @contextmanager
    def _open_atomic_local(self, path: str) -> Iterator[pa.NativeFile]:
        directory, name = path.rsplit("/", 1)
        make_private_dirs(directory)
        temp = f"{directory}/.{name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
        try:
            with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as raw:
                yield pa.PythonFile(raw, mode="w")
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(temp, path)
        except BaseException:
            # Includes KeyboardInterrupt: never leave our own temp file behind
            # when we are still alive to remove it.
            _unlink_quietly(temp)
            raise
        _fsync_directory(directory)

    @contextmanager
    def _open_atomic_s3(self, path: str) -> Iterator[pa.NativeFile]:
        buffer = pa.BufferOutputStream()
        yield buffer
        data = buffer.getvalue()
        with self.fs.open_output_stream(path) as out:
            out.write(data)

    def any_missing(self, paths: list[str]) -> bool:
        """True if one of these files does not exist (any more)."""
        if not paths:
            return False
        infos: list[pafs.FileInfo] = self.fs.get_file_info(paths)
        return any(info.type == pafs.FileType.NotFound for info in infos)

    def _check_inside(self, path: str) -> None:
        # Deletes are for files of this lake only, whatever path a caller computed.
        if not path.startswith(self.location.root.rstrip("/") + "/") or "/../" in f"{path}/":
            raise ValueError(f"refusing to delete {path}: not inside the lake {self.location.uri}")

    def delete(self, path: str) -> None:
        """Delete one file of the lake; a file already gone is not an error."""
        self._check_inside(path)
        try:
            self.fs.delete_file(path)
        except FileNotFoundError:
            pass

    def delete_all(self, paths: list[str]) -> None:
        """Delete files; any already gone is not an error.

        On S3 one DeleteObjects request per 1,000 files: Arrow's ``delete_file``
        costs three round trips per file (HEAD, DELETE, and a PUT re-creating
        the folder marker it keeps), which made deleting a compacted
        partition's sources most of the compaction's requests.
        """
        for path in paths:
            self._check_inside(path)
        if self.location.s3 is None or len(paths) < 2:
            for path in paths:
                self.delete(path)
            return
        bucket = self.location.s3.bucket
        keys = [path.removeprefix(f"{bucket}/") for path in paths]
        for start in range(0, len(keys), 1000):
            answer = self._s3().delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}
            )
            errors = [e for e in answer.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if errors:
                first = errors[0]
                raise OSError(
                    f"S3 refused to delete {len(errors)} file(s), e.g. {first.get('Key')}: {first.get('Code')} "
                    f"{first.get('Message')}; they hold rows already in the compacted file, the next compaction "
                    "of the partition removes them"
                )

    def _s3_settings(self) -> S3Settings:  # boto3, for batch deletes on S3
        assert self.location.s3 is not None
        return self.location.s3

    def remove_stale_temp_files(self, directory: str, *, older_than_s: float) -> list[str]:
        """Remove temp files a crashed writer left in ``directory`` (local only)."""
        if not self.location.is_local:
            return []  # S3 writes never leave temp objects.
        cutoff = time.time() - older_than_s
        removed = []
        for info in self._list(directory, recursive=False):
            if info.type != pafs.FileType.File or not is_temp_file(info.base_name):
                continue
            if info.mtime is not None and info.mtime.timestamp() < cutoff:
                _unlink_quietly(info.path)
                removed.append(info.path)
        return removed


def make_private_dirs(directory: str) -> None:
    """``os.makedirs`` with ``DIR_MODE`` for every folder it creates (makedirs gives it to the last only)."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            pass


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

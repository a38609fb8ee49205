"""The lake's folders as seen through its file system: listing and existence only.

Every byte of data written into the lake goes through ``delta``; this module only
looks, apart from the health probe's write-and-delete of one object outside every table.
"""

from __future__ import annotations

import os
import uuid

from pyarrow import fs as pafs

from redditlake.lake.location import Location

# What the lake holds is what users wrote: owner and group may read it, others not. A local
# lake's root is created with DIR_MODE, so others cannot reach any file in it whatever mode
# the Delta writer gives its files.
FILE_MODE = 0o640
DIR_MODE = 0o750
# A listing that met a folder being created is repeated (see ``Storage._list``).
_LIST_ATTEMPTS = 5


class Storage:
    """Folders of the lake (local or S3)."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.fs = location.filesystem

    def subfolders(self, directory: str) -> list[str]:
        """Names of the folders directly under ``directory`` ([] if missing).

        On S3 these are the common prefixes of a delimited listing: one request per
        1000 folders, not a walk of every key.
        """
        return sorted(
            info.base_name for info in self._list(directory, recursive=False) if info.type == pafs.FileType.Directory
        )

    def files(self, directory: str) -> list[pafs.FileInfo]:
        """Every file under ``directory``, recursively ([] if missing)."""
        return [info for info in self._list(directory, recursive=True) if info.type == pafs.FileType.File]

    def exists(self, directory: str) -> bool:
        """True if ``directory`` holds anything (on S3: one delimited listing, which names the
        folders and the files right under it alike)."""
        if self.location.is_local:
            return self.fs.get_file_info(directory).type == pafs.FileType.Directory
        return bool(self._list(directory, recursive=False))

    def probe_writable(self) -> None:
        """Write and delete one small object under ``_healthz/``: raises if the lake refuses writes."""
        folder = self.location.path("_healthz")
        if self.location.is_local:
            self.fs.create_dir(folder, recursive=True)
        path = f"{folder}/probe-{uuid.uuid4().hex}"
        with self.fs.open_output_stream(path) as out:
            out.write(b"ok")
        self.fs.delete_file(path)

    def _list(self, directory: str, *, recursive: bool) -> list[pafs.FileInfo]:
        """One listing; a folder created while it ran is listed again.

        Arrow's local listing with ``allow_not_found`` reads the folder and, when that
        fails, checks whether it exists: if a concurrent writer created it in between,
        Arrow raises "Cannot list directory" instead of returning nothing. Listing again
        then succeeds.
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

"""Validation of the names that become path segments of the lake.

Table and subreddit names are joined into file paths and object keys, so this
module is a security boundary: nothing reaches the file system unless it
matched one of these patterns in full (``re.fullmatch``: no ``/``, ``..``,
NUL, newline or unicode look-alikes).
"""

from __future__ import annotations

import re

# The subreddit-name rule has its own leaf module so that every layer can check names with it.
from redditlake.subreddit_names import SUBREDDIT_PATTERN
# Lower-case words joined by underscores. The first character must be a
# letter: names starting with "_" are reserved for the lake's own folders
# (``_locks``) and are ignored by pyarrow's dataset discovery anyway.
TABLE_PATTERN = re.compile(r"[a-z][a-z_]{0,62}")
# Partition columns derived from the path; a data column of the same name
# would be shadowed by the Hive partition value (see ``redditlake.lake``).
PARTITION_COLUMNS = ("subreddit", "dt")


def table_name(name: object) -> str:
    """Return ``name`` if it is a valid table name, else raise ValueError."""
    if not isinstance(name, str) or not TABLE_PATTERN.fullmatch(name):
        raise ValueError(
            f"invalid table name {name!r}: expected lower-case letters and "
            "underscores, starting with a letter (at most 63 characters)"
        )
    return name


def subreddit_partition(name: object) -> str:
    """Return the partition value (lower-cased) for a subreddit name.

    Raises ValueError for anything that is not a plain subreddit name, for
    example ``"../x"``, ``"a/b"``, ``"a"`` or a 22-character name.
    """
    if not isinstance(name, str) or not SUBREDDIT_PATTERN.fullmatch(name):
        raise ValueError(f"invalid subreddit name {name!r}: expected 2-21 characters from A-Z, a-z, 0-9 and _")
    return name.lower()

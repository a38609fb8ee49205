"""The one rule for a subreddit name, for every place that takes one.

A subreddit name becomes a path segment of the lake (``subreddit=<name>``) and an
object key, so this rule is a security boundary: ``re.fullmatch`` admits no ``/``,
``..``, NUL, newline or unicode look-alike. The CLI, the flows, the archive,
``collection.yaml`` and the lake itself (``lake.names``) all check names with it,
so a name the lake would refuse is refused where the user typed it.

A leaf module (it imports only ``errors``) so that ``lake/`` and ``reddit/``, which
import nothing above them, can use it, and loading ``collection.yaml`` does not
load the lake.
"""

from __future__ import annotations

import re

from redditlake.errors import InvalidSubredditName

# Reddit's own rule for subreddit names (letters, digits, underscore, 2–21).
SUBREDDIT_NAME = r"[A-Za-z0-9_]{2,21}"
SUBREDDIT_PATTERN = re.compile(SUBREDDIT_NAME)


def validate_subreddit(name: str) -> str:
    """A subreddit name as a user typed it (``r/`` prefix and surrounding spaces allowed),
    returned bare with its case kept; raises InvalidSubredditName, whose message says what
    to type instead."""
    name = name.strip()
    name = name[2:] if name.lower().startswith("r/") else name
    if not SUBREDDIT_PATTERN.fullmatch(name):
        raise InvalidSubredditName(name)
    return name

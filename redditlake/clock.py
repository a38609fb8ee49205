"""Time, in UTC, the one way every part of the package reads it.

A leaf module (standard library only) so the lake, the clients, the archive
and stream followers, the flows and the CLI can all import it without
depending on each other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now_utc() -> datetime:
    """The current moment, timezone-aware in UTC (what ``collected_at`` and run times hold)."""
    return datetime.now(UTC)


def utc(epoch: Any) -> datetime | None:
    """Reddit sends epoch floats; ``edited`` is ``false`` when never edited."""
    if epoch is None or epoch is False or epoch is True:
        return None
    return datetime.fromtimestamp(float(epoch), tz=UTC)

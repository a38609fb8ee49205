"""Redaction: replacing stored values of some rows, for deletion compliance.

Reddit's terms require removing content its authors deleted. ``Lake.redact``
sets the values in one Delta commit (a MERGE, see ``delta.set_values``); the
files holding the old values leave the current snapshot at once and the disk
when ``Lake.purge`` (or maintenance's vacuum) runs.

What redaction does not reach: copies outside the lake, such as older object
versions in a versioned S3 bucket, or backups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from redditlake.lake.batch import ID_COLUMN
from redditlake.lake.names import PARTITION_COLUMNS

# Columns a redaction may not set: the key that makes a row "the same row",
# and the partition columns, which come from the path.
PROTECTED_COLUMNS = (ID_COLUMN, *PARTITION_COLUMNS)


@dataclass(frozen=True)
class RedactResult:
    """What one ``Lake.redact`` call did."""

    table: str
    subreddit: str  # the partition value (lower-cased)
    redacted: frozenset[str]  # requested ids stored in the partition: their rows now hold the values
    not_found: frozenset[str]  # requested ids not stored for this subreddit
    rows: int = 0  # rows holding a redacted id (more than one per id only in append tables)


def check_values(schema: pa.Schema, values: Mapping[str, object]) -> dict[str, pa.Scalar]:
    """The replacement values as Arrow scalars of their columns' types.

    ``schema`` is the union of the partition's file schemas. Raises
    ValueError for an empty mapping, a column the partition does not have, a
    protected column, a value that does not fit its column's type exactly
    (``1.5`` for an integer column, a naive datetime for a UTC timestamp)
    and a null for a non-nullable column.
    """
    if not values:
        raise ValueError("redact needs at least one column value to set")
    protected = sorted(set(values) & set(PROTECTED_COLUMNS))
    if protected:
        raise ValueError(f"redact cannot set {protected}: the id and the partition columns identify a row")
    unknown = sorted(set(values) - set(schema.names))
    if unknown:
        stored = sorted(set(schema.names) - set(PROTECTED_COLUMNS))
        raise ValueError(f"unknown column(s) {unknown}; the columns that can be set are {stored}")
    scalars: dict[str, pa.Scalar] = {}
    for column, value in values.items():
        target = schema.field(column)
        if value is None and not target.nullable:
            raise ValueError(f"column {column!r} is not nullable")
        try:
            scalar = pa.scalar(value, type=target.type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"{value!r} does not fit column {column!r} ({target.type}): {error}") from None
        if value is not None and scalar.as_py() != value:
            raise ValueError(f"{value!r} does not fit column {column!r} ({target.type}) exactly")
        scalars[column] = scalar
    return scalars

"""Redaction: replacing stored values of some rows, for deletion compliance.

Reddit's terms require removing content its authors deleted. ``Lake.redact``
finds the ``dt`` partitions of a (table, subreddit) holding any of the given
ids and rewrites each with ``compact.rewrite_partition``, passing the rows
through ``replace_values``. It therefore publishes and cleans up exactly like
compaction does (see ``compact``): the redacted file is written atomically,
then the files it replaces are deleted; a crash in between leaves the old
rows visible next to the redacted ones until the next redaction or
compaction of that partition deletes them, and never loses a row.

What redaction does not reach: copies outside the lake's published files,
such as older object versions in a versioned S3 bucket, backups, or a
crashed local writer's hidden ``.tmp`` file (swept by compaction once an
hour old).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

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
    files_replaced: list[str] = field(default_factory=list)  # URIs of the files deleted
    files: list[str] = field(default_factory=list)  # URIs of the files written


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


@dataclass
class ValueReplacer:
    """The edit ``rewrite_partition`` applies: set ``values`` in the rows of ``ids``.

    Every other row and every other column is left as it is. A column the
    partition's files lack (one added to the table later) is added only for
    a non-null value, null in the other rows; readers see null there anyway.
    Counts the rows it matched in ``rows``.
    """

    ids: pa.Array  # string
    values: dict[str, pa.Scalar]
    key: str = ID_COLUMN  # the column ``ids`` are values of
    rows: int = 0

    def __call__(self, table: pa.Table) -> pa.Table:
        matched = pc.fill_null(pc.is_in(table.column(self.key).cast(pa.string()), value_set=self.ids), False)
        self.rows += pc.sum(matched).as_py() or 0
        for column, scalar in self.values.items():
            index = table.schema.get_field_index(column)
            if index >= 0:
                kept = table.schema.field(index)
                value = scalar.cast(kept.type)
                table = table.set_column(index, kept, pc.if_else(matched, value, table.column(index)))
            elif scalar.is_valid:
                missing = pa.scalar(None, type=scalar.type)
                table = table.append_column(pa.field(column, scalar.type), pc.if_else(matched, scalar, missing))
        return table


@dataclass
class PerIdValues:
    """The edit ``Lake.update_column`` applies: row ``i``'s ``column`` becomes ``values[i]``.

    Unlike ``ValueReplacer`` each id gets its own value (one array aligned with ``ids``).
    """

    ids: pa.Array  # string, unique
    column: str
    values: pa.Array  # aligned with ``ids``, of the column's type
    rows: int = 0

    def __call__(self, table: pa.Table) -> pa.Table:
        at = pc.index_in(table.column(ID_COLUMN).cast(pa.string()), value_set=self.ids)
        matched = pc.is_valid(at)
        self.rows += pc.sum(matched).as_py() or 0
        index = table.schema.get_field_index(self.column)
        kept = table.schema.field(index)
        new = pc.take(self.values, at).cast(kept.type)
        return table.set_column(index, kept, pc.if_else(matched, new, table.column(index)))

"""Audit trail of data access: who read what from the lake, when, and how much.

Every ``redditlake query`` (and any export or quality report that calls
``record``) appends one row to the ``_audit`` Delta table in the lake itself
(partitioned by ``dt``), so the trail lives wherever the data lives (local or
S3) and serverless workers need no disk. Each event is one blind-append commit,
never rewritten; the table's history is itself a record of every append.
Nothing here edits or deletes it (maintenance only compacts its files).

SQL text and details are stored with secrets masked: the values of the
secret environment variables (Reddit secret, pseudonym key, AWS keys), and
string literals that look like credentials (after ``password``, ``secret``,
``token``, ``key_id``, … or shaped like an access key or a long token).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
import sys
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from redditlake.errors import RedditLakeError
from redditlake.lake import Lake

FOLDER = "_audit"
MASK = "***"
SECRET_ENV = (
    "REDDIT_CLIENT_SECRET", "REDDITLAKE_PSEUDONYM_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "PREFECT_API_KEY",
)
SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("id", pa.string()),
        ("action", pa.string()),
        ("user", pa.string()),
        ("flow_run", pa.string()),
        ("sql", pa.string()),
        ("tables", pa.list_(pa.string())),
        ("rows", pa.int64()),
        ("detail", pa.string()),
    ]
)

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_CREDENTIAL_WORD = re.compile(
    r"(pass(word|wd)?|secret|token|api_?key|key_?id|access_?key|private_?key|credential|authorization|auth_?token|bearer|pseudonym_?key)"
    r"[\w\"]*\s*(=|:=|:|,|\s|=>)?\s*$",
    re.IGNORECASE,
)
_CREDENTIAL_SHAPES = (
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)
# A whole literal that is one long run of token characters with letters and digits mixed
# (API secrets, session tokens); URLs and prose have ':' or spaces and are kept.
_TOKEN = re.compile(r"(?=[^']*\d)(?=[^']*[A-Za-z])[A-Za-z0-9+/_.=-]{24,}")


def mask(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """``text`` with known secrets and credential-looking string literals replaced by ``***``."""
    if text is None:
        return None
    known = [s for s in [*secrets, *(os.environ.get(v) for v in SECRET_ENV)] if s and len(s) >= 4]
    for secret in sorted(set(known), key=len, reverse=True):
        text = text.replace(secret, MASK)

    def literal(m: re.Match[str]) -> str:
        value = m.group(0)[1:-1]
        before = text[max(0, m.start() - 40) : m.start()]
        if (
            _CREDENTIAL_WORD.search(before)
            or _TOKEN.fullmatch(value)
            or any(p.search(value) for p in _CREDENTIAL_SHAPES)
        ):
            return f"'{MASK}'"
        return m.group(0)

    return _LITERAL.sub(literal, text)


def who() -> tuple[str, str | None]:
    """(OS user, Prefect flow run) of this process; the flow run only inside one."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (some containers): the uid still identifies
        user = f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    flow_run = os.environ.get("PREFECT__FLOW_RUN_ID")
    context = sys.modules.get("prefect.context")  # never import Prefect just to ask (2-3 s)
    if context is not None:
        run = getattr(context.FlowRunContext.get(), "flow_run", None)
        if run is not None:
            flow_run = f"{run.id} ({run.name})"
    return user, flow_run


def record(
    lake: Lake,
    action: str,
    *,
    sql: str | None = None,
    tables: Iterable[str] = (),
    rows: int | None = None,
    detail: str | None = None,
    secrets: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> str:
    """Append one audit row to the lake (one commit); returns the URI of the audit table.

    ``action`` names the access ("query", "export", "quality-report", …),
    ``sql`` the statement run, ``tables`` the lake tables it read, ``rows``
    how many rows it returned or wrote, ``detail`` anything else worth keeping
    (a destination, an error). ``secrets`` are masked in addition to the
    secret environment variables.
    """
    secrets = list(secrets)
    now = now or dt.datetime.now(dt.UTC)
    user, flow_run = who()
    row = pa.Table.from_pylist(
        [
            {
                "ts": now, "id": uuid.uuid4().hex, "action": action, "user": user, "flow_run": flow_run,
                "sql": mask(sql, secrets), "tables": sorted(set(tables)), "rows": rows,
                "detail": mask(detail, secrets),
            }
        ],
        schema=SCHEMA,
    )
    try:
        lake.append_area(FOLDER, row, "ts")
    except OSError as exc:  # no unaudited access: the read it records is refused instead
        raise RedditLakeError(
            f"cannot append to the audit trail {lake.location.uri_of(lake.location.path(FOLDER))} ({exc}); "
            "access to the lake is audited, so this identity needs write access to its _audit/ folder"
        ) from None
    return lake.location.uri_of(lake.location.path(FOLDER))


def read(lake: Lake, *, action: str | None = None, limit: int | None = None) -> pa.Table:
    """Audit rows, newest first (optionally one action, at most ``limit``)."""
    table = lake.read_area(FOLDER, SCHEMA)
    if action:
        table = table.filter(pc.equal(table.column("action"), action))
    table = table.sort_by([("ts", "descending")])
    return table.slice(0, limit) if limit else table

"""Console logging for the CLI: one line per event, text or JSON.

Tracebacks are kept out of the console unless ``--verbose`` (an expected
failure, such as a private subreddit failing its flow run, is reported in one
line; the full record still reaches Prefect's API log handler, so the UI shows
it). Secrets never reach a log: settings hold them as ``SecretStr``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class _OneLine(logging.Formatter):
    def __init__(self, *args, tracebacks: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks:
            return super().format(record)
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


class JsonFormatter(_OneLine):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("flow_run_name", "task_run_name"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and self.tracebacks:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_info and record.exc_info[1] is not None:
            entry["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(*, verbose: bool = False, json_format: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_format:
        handler.setFormatter(JsonFormatter(tracebacks=verbose))
    else:
        handler.setFormatter(_OneLine("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S", tracebacks=verbose))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # Progress of long runs: our loggers and the flow-run lines, not Prefect's internals.
    for name in ("redditlake", "prefect.flow_runs"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)

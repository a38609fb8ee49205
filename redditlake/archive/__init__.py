"""History beyond Reddit's 1,000-item listings: Pushshift-compatible archive APIs and dump files.

``client`` talks to PullPush / Arctic Shift, ``search`` backfills by created_utc windows,
``dumps`` streams zstandard NDJSON files, ``plan`` turns the command line into jobs. Rows land in
the same ``posts``/``comments`` tables with ``source`` set; positions in ``backfill_progress``.
"""

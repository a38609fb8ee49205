"""Data quality: GX suites on every landed batch, integrity checks over the lake, a DuckDB catalog.

``suites``     the expectations of each table, as data (built from ``data_quality`` settings)
``gxrun``      runs a suite on an in-memory batch with Great Expectations (imported lazily, once)
``batch``      one landed batch → a validation run, expectation results, metrics, a score
``results``    result rows as Parquet under ``{lake}/_quality/…`` (atomic, concurrent writers safe)
``integrity``  completeness and integrity across tables over the whole lake (``quality check``)
``threads``    the one rule of a cut comment thread (what the fetch knew, not ``num_comments``)
``anomalies``  robust z-scores of a subreddit's metrics against its own history
``catalog``    the DuckDB file users open (``quality.duckdb``), rebuilt from the results
``report``     the static HTML report

Nothing here imports Prefect; ``tasks/quality.py`` wraps it for the flows.
"""

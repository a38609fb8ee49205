"""Human-readable summaries of a run's quality (Prefect markdown artifact)."""

from __future__ import annotations

from typing import Any

from redditlake.quality.run import QualityReport


def markdown_summary(report: QualityReport, jobs: list[dict[str, Any]]) -> str:
    lines = ["# Data quality", ""]
    per_sub = report.per_subreddit()
    if not per_sub and not jobs:
        return "# Data quality\n\nNothing landed in this run."
    if per_sub:
        lines += ["| subreddit | items | quarantined | quality score | failed expectations |", "|---|---|---|---|---|"]
        lines += [
            f"| r/{r['subreddit']} | {r['items']} | {r['quarantined']} | {r['quality_score']} | {r['failed_expectations']} |"
            for r in per_sub
        ]
    failed_jobs = [j for j in jobs if j.get("status") != "completed"]
    lines += ["", f"Score target: {report.target}. Below it: "
              + (", ".join(f"r/{b.run['subreddit']} {b.run['table_name']} ({b.run['score']:.3f})" for b in report.degraded) or "none") + "."]
    if report.anomalies:
        lines += ["", "## Anomalies", ""]
        lines += [
            f"- r/{a['subreddit']} {a['table_name']} `{a['metric_name']}` = {a['value']:.4g} "
            f"(median {a['median']:.4g}, robust z {a['robust_z']:.2f})"
            for a in report.anomalies
        ]
    if failed_jobs:
        lines += ["", "## Failed subreddits", ""] + [f"- r/{j['subreddit']}: {j['error_message']}" for j in failed_jobs]
    return "\n".join(lines)

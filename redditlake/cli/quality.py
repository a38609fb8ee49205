"""``redditlake quality``: latest scores, ``check``, ``catalog``, ``report``."""

from __future__ import annotations

import argparse


def add_parsers(sub) -> None:
    qa = sub.add_parser("quality", help="data quality: latest scores and failing expectations; check, catalog, report")
    qa.add_argument("--lake", help="lake location (default: ./lake or $REDDITLAKE_LAKE)")
    qs = qa.add_subparsers(dest="quality_command", metavar="ACTION")
    qc = qs.add_parser("check", help="integrity and completeness over the stored lake; exit 1 naming posts with "
                       "cut threads, missing trees, orphan comments, broken parent chains or duplicate ids")
    qc.add_argument("subreddits", nargs="*", metavar="SUB", help="only these subreddits (default: all)")
    qc.add_argument("--since", help="only items created within this long, e.g. 7d, 12h")
    qc.add_argument("--no-suites", dest="suites", action="store_false", help="skip the GX suites over stored partitions")
    qc.add_argument("--lake", dest="quality_lake", help="lake location")
    qk = qs.add_parser("catalog", help="rebuild the DuckDB quality catalog (quality.duckdb) from the lake")
    qk.add_argument("--output", help="catalog file (default: data_quality.catalog, next to a local lake)")
    qk.add_argument("--lake", dest="quality_lake", help="lake location")
    qr = qs.add_parser("report", help="write a static HTML report (scores, volume, failing expectations, completeness)")
    qr.add_argument("--html", required=True, metavar="FILE", help="the page to write")
    qr.add_argument("--lake", dest="quality_lake", help="lake location")


def cmd_quality(args: argparse.Namespace) -> int:
    from redditlake.config import load_settings
    from redditlake.lake import Lake
    from redditlake.quality import commands

    settings = load_settings(args.config)
    uri = getattr(args, "quality_lake", None) or args.lake or settings.lake.uri
    lake = Lake.open(uri, endpoint_url=settings.lake.endpoint_url)
    action = args.quality_command
    if action == "check":
        code, lines = commands.check(settings, lake, args.subreddits, args.since, suites=args.suites)
        print("\n".join(lines))
        return code
    if action == "catalog":
        print(f"catalog written: {commands.build_catalog(settings, lake, args.output)}")
        return 0
    if action == "report":
        from redditlake.quality.report import write_report

        print(f"report written: {write_report(lake, settings.data_quality, args.html)}")
        return 0
    print("\n".join(commands.status_lines(lake, settings.data_quality.score_target)))
    return 0


COMMANDS = {"quality": cmd_quality}

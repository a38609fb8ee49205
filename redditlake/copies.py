"""An account outside its own rows: the copies ``forget-user`` and ``refresh`` must reach too.

Posts, comments and profiles are redacted row by row (``forget``,
``compliance``). The same account is also named in ``quarantine`` (the raw
JSON of its items that failed validation: name and text) and in the quality
results (the sampled failing rows of a ``users`` expectation are account
names), and the DuckDB catalog is built from both. Logs never name an account
(``reddit.requestlog.public_path``): a written log line cannot be taken back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from redditlake.lake import Lake
from redditlake.models import QUARANTINE_TABLE
from redditlake.quality import catalog, quarantine, results


@dataclass
class Erased:
    quarantined: int = 0  # quarantined rows whose raw JSON was dropped
    quality_ids: int = 0  # names replaced in failing-row samples
    catalog: Path | None = None  # the catalog file rebuilt

    def parts(self) -> list[str]:
        done = [f"{self.quarantined} quarantined"] if self.quarantined else []
        done += [f"{self.quality_ids} quality samples"] if self.quality_ids else []
        return done


def erase_account_copies(lake: Lake, names: Iterable[str], catalog_file: Path | None = None) -> Erased:
    """Drop ``names`` (accounts as stored, and as given) from quarantine and the quality results;
    then rebuild ``catalog_file`` when it exists, so its copies of both go too."""
    names = {n for n in names if n}
    erased = Erased()
    if not names:
        return erased
    erased.quarantined = quarantine.forget_accounts(lake, names)
    if erased.quarantined:
        lake.purge(QUARANTINE_TABLE)  # the files holding the raw JSON go now, not at the next vacuum
    erased.quality_ids = results.forget_ids(lake, names)
    if erased.quality_ids:
        lake.purge_area(results.area("expectation_results"))
    if catalog_file is not None and catalog_file.exists():
        erased.catalog = catalog.build(lake, catalog_file)
    return erased

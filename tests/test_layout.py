"""The package explains itself: no top-level module of ``redditlake/`` shares its name with one
in a package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "redditlake"


def test_no_top_level_module_shares_its_name_with_one_in_a_package():
    # The simulator stands in for Reddit and imports nothing of ours: its config is its own.
    inner = {p.name for p in PACKAGE.glob("*/*.py")
             if p.name not in ("__init__.py", "__main__.py") and p.parent.name != "simulator"}
    shared = sorted(p.name for p in PACKAGE.glob("*.py") if p.name in inner)
    assert not shared, f"{shared} name two modules each: rename the top-level one to say what it is"

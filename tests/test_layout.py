"""The package explains itself: README's "How it works" names every package and top-level
module of ``redditlake/``, and no top-level module shares its name with one in a package."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "redditlake"


def how_it_works() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## How it works")
    return readme[start : readme.index("\n## ", start + 1)]


def top_level() -> list[str]:
    modules = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    packages = [f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    return sorted(modules + packages)


def test_how_it_works_names_every_package_and_module():
    text = how_it_works()
    unnamed = [name for name in top_level() if not re.search(rf"(?<![\w/.]){re.escape(name)}", text)]
    assert not unnamed, f"README's How it works does not name {unnamed}: add a line for each"


def test_no_top_level_module_shares_its_name_with_one_in_a_package():
    # The simulator stands in for Reddit and imports nothing of ours: its config is its own.
    inner = {p.name for p in PACKAGE.glob("*/*.py")
             if p.name not in ("__init__.py", "__main__.py") and p.parent.name != "simulator"}
    shared = sorted(p.name for p in PACKAGE.glob("*.py") if p.name in inner)
    assert not shared, f"{shared} name two modules each: rename the top-level one to say what it is"

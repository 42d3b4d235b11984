"""pyproject.toml declares every third-party package the bot imports, and nothing it does not."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = (re.split(r"[<>=!~\[;\s]", spec, maxsplit=1)[0] for spec in project["dependencies"])
    return {name.lower().replace("_", "-") for name in names}


def _imported_distributions() -> dict[str, set[str]]:
    """Distribution name -> the modules of bot/ and cogs/ importing it."""
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top in ("bot", "cogs"):
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(dist.lower().replace("_", "-"), set()).add(path.name)
    return found


def test_every_imported_package_is_declared() -> None:
    imported = _imported_distributions()
    missing = {dist: sorted(files) for dist, files in imported.items() if dist not in _declared()}
    assert missing == {}


def test_every_declared_package_is_imported() -> None:
    # brotli is never imported: aiohttp uses it to decode br bodies when it is installed;
    # tzdata neither: zoneinfo reads it when the system has no time zone database.
    unused = _declared() - set(_imported_distributions()) - {"brotli", "tzdata"}
    assert unused == set()

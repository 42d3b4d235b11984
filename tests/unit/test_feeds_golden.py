"""Hand-written feeds next to their expected normalised output.

Regenerate the expected files after an intended change with:
    PAPERBOY_REGEN_GOLDEN=1 .venv/bin/pytest tests/unit/test_feeds_golden.py
then read the diff before committing it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import to_iso
from bot.feeds import ParsedFeed, parse_feed

GOLDEN = Path(__file__).resolve().parent / "golden" / "feeds"
NOW = datetime(2025, 6, 10, tzinfo=UTC)
REGENERATE = os.environ.get("PAPERBOY_REGEN_GOLDEN") == "1"

# name of the input file -> (the URL it was "fetched" from, response headers)
CASES: dict[str, tuple[str, dict[str, str]]] = {
    "wordpress_rss2.xml": (
        "https://redweekly.example/feed/",
        {"Content-Type": "application/rss+xml; charset=UTF-8"},
    ),
    "atom10.xml": ("https://notes.example/atom.xml", {"Content-Type": "application/atom+xml"}),
    "rss10.xml": ("https://archive.example/index.rdf", {}),
    "jsonfeed11.json": (
        "https://coop.example/feed.json",
        {"Content-Type": "application/feed+json"},
    ),
    "relative_links.xml": ("https://branch.example/news/feed/", {"Content-Type": "text/xml"}),
    "duplicate_guids.xml": ("https://dup.example/feed", {}),
    "mischief.xml": ("https://mischief.example/rss", {"content-type": "text/html"}),
}


def to_jsonable(feed: ParsedFeed) -> dict[str, Any]:
    """The feed as plain JSON values, datetimes as ISO strings."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return to_iso(value)
        if isinstance(value, dict):
            return {key: convert(inner) for key, inner in value.items()}
        if isinstance(value, list | tuple):
            return [convert(inner) for inner in value]
        return value

    fields = dataclasses.asdict(feed)
    # Only a poll that passes known keys skips items; the golden files predate the count.
    assert fields.pop("known_items") == 0
    return convert(fields)


def test_every_golden_input_has_a_case() -> None:
    inputs = {p.name for p in GOLDEN.iterdir() if not p.name.endswith(".expected.json")}
    assert inputs == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    url, headers = CASES[name]
    feed = parse_feed((GOLDEN / name).read_bytes(), url=url, headers=headers, now=NOW)
    actual = to_jsonable(feed)
    expected_path = GOLDEN / f"{name}.expected.json"
    if REGENERATE:
        text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        expected_path.write_text(text, encoding="utf-8")
    assert expected_path.exists(), f"no golden file; run with PAPERBOY_REGEN_GOLDEN=1 for {name}"
    assert actual == json.loads(expected_path.read_text(encoding="utf-8"))

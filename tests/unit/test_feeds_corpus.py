"""Every document of feedparser's own test suite goes through parse_feed without surprises.

The corpus lives in `shared/corpus/feedparser/`, beside the repository; it is never copied in.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.errors import FeedError
from bot.feeds import ParsedFeed, parse_feed

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "feedparser"
FILES = sorted(CORPUS.rglob("*.xml")) if CORPUS.is_dir() else []
NOW = datetime(2026, 1, 1, tzinfo=UTC)
# Controls other than newline, and the bidi overrides/isolates clean_text removes.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MULTI_LINE_FIELDS = {"summary", "summary_html", "content_html", "description"}


def strings_of(value: Any, field: str = "") -> list[tuple[str, str]]:
    """Every (field name, string) inside a parsed feed."""
    if isinstance(value, str):
        return [(field, value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [
            pair
            for f in dataclasses.fields(value)
            for pair in strings_of(getattr(value, f.name), f.name)
        ]
    if isinstance(value, tuple | list):
        return [pair for inner in value for pair in strings_of(inner, field)]
    return []


def check_output(feed: ParsedFeed) -> None:
    for field, text in strings_of(feed):
        text.encode("utf-8")  # no lone surrogates
        assert not FORBIDDEN.search(text), (field, text)
        if field not in MULTI_LINE_FIELDS:
            assert "\n" not in text, (field, text)
    for item in feed.items:
        for moment in (item.published, item.updated):
            assert moment is None or moment.utcoffset() is not None
        for link in (item.url, item.image_url):
            assert link is None or link.startswith(("http://", "https://"))


def test_corpus_is_present() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"feedparser corpus not found at {CORPUS} (it is shared, not in the repo)")
    assert len(FILES) > 1000


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_document(path: Path) -> None:
    try:
        feed = parse_feed(path.read_bytes(), url="https://example.com/feed/", now=NOW)
    except FeedError as error:
        assert error.kind in ("not-a-feed", "parse-error")
        assert str(error).endswith(".")
        return
    check_output(feed)


def test_corpus_mostly_parses() -> None:
    """A guard against a normaliser that rejects everything (which would pass the test above)."""
    if not CORPUS.is_dir():
        pytest.skip(f"feedparser corpus not found at {CORPUS}")
    wellformed = sorted((CORPUS / "wellformed").rglob("*.xml"))
    refused = []
    for path in wellformed:
        try:
            parse_feed(path.read_bytes(), url="https://example.com/feed/", now=NOW)
        except FeedError:
            refused.append(path.name)
    assert refused == []

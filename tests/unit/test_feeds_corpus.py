"""Every document of feedparser's own test suite goes through parse_feed without surprises.

The corpus lives in `shared/corpus/feedparser/`, beside the repository; it is never copied in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import FeedError
from bot.feeds import parse_feed
from tests.unit.support import check_output

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "feedparser"
FILES = sorted(CORPUS.rglob("*.xml")) if CORPUS.is_dir() else []
NOW = datetime(2026, 1, 1, tzinfo=UTC)


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

"""Known items are skipped before normalisation: the parse of a changed feed costs its new items.

`normalise_feed(known_keys=...)` must return exactly the unknown items of the full result, in the
same order, after the same dedupe and `max_items` cut, and never normalise a known item.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bench.feedserver import render_feed
from bot.errors import FeedError
from bot.feeds import fast, parse, parse_feed
from bot.feeds.fast import parse_feed_fast_or_full
from bot.feeds.models import ParsedFeed, RawEntry

NOW = datetime(2026, 1, 1, tzinfo=UTC)
URL = "https://example.com/feed/"
GOLDEN_FEEDS = Path(__file__).parent / "golden" / "feeds"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "feedparser"


def documents() -> list[Path]:
    """The golden feeds, and the shared feedparser corpus when it is there."""
    found = [p for p in sorted(GOLDEN_FEEDS.iterdir()) if not p.name.endswith(".expected.json")]
    if CORPUS.is_dir():
        found += sorted(CORPUS.rglob("*.xml"))
    return found


def assert_skips_exactly_the_known(
    full: ParsedFeed, known: frozenset[str], got: ParsedFeed
) -> None:
    assert got.items == tuple(item for item in full.items if item.key not in known)
    assert got.known_items == len(full.items) - len(got.items)
    assert (got.title, got.site_url, got.icon_url) == (full.title, full.site_url, full.icon_url)


def test_every_document_gives_the_unknown_items_of_the_full_parse() -> None:
    checked = 0
    for path in documents():
        body = path.read_bytes()
        try:
            full = parse_feed(body, url=URL, now=NOW)
        except FeedError:
            continue
        if len(full.items) < 2:
            continue
        # Every other item known: the survivors must keep their places around the gaps.
        known = frozenset(item.key for item in full.items[::2])
        for parser in (parse_feed, parse_feed_fast_or_full):
            got = parser(body, url=URL, now=NOW, known_keys=known)
            assert_skips_exactly_the_known(full, known, got)
        checked += 1
    assert checked >= 5


def test_the_farm_feed_with_all_but_its_newest_item_known() -> None:
    body = render_feed(7, 1, host="h1.test", epoch=NOW - timedelta(days=30))
    full = parse_feed(body, url=URL, now=NOW)
    known = frozenset(item.key for item in full.items[1:])

    got = parse_feed_fast_or_full(body, url=URL, now=NOW, known_keys=known)

    assert got.items == full.items[:1] and got.known_items == 19


def test_known_items_are_never_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    body = render_feed(3, 2, host="h1.test", epoch=NOW - timedelta(days=30))
    full = parse_feed(body, url=URL, now=NOW)
    known = frozenset(item.key for item in full.items[2:])
    normalised: list[RawEntry] = []
    original = parse.normalise_entry

    def counting(entry: RawEntry, **kwargs: object) -> object:
        normalised.append(entry)
        return original(entry, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parse, "normalise_entry", counting)
    got = parse_feed_fast_or_full(body, url=URL, now=NOW, known_keys=known)

    assert len(got.items) == 2 and len(normalised) == 2


def rss(*items: tuple[str | None, str | None, str, datetime]) -> bytes:
    """RSS 2.0 of (guid, link, title, date) items, in the order given."""
    parts = []
    for guid, link, title, date in items:
        parts.append(
            "<item>"
            + (f'<guid isPermaLink="false">{guid}</guid>' if guid else "")
            + (f"<link>{link}</link>" if link else "")
            + f"<title>{title}</title><pubDate>{format_datetime(date, usegmt=True)}</pubDate>"
            + "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
        "<link>https://example.com/</link><description>d</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def test_known_items_keep_their_slots_in_the_max_items_cut() -> None:
    day = timedelta(days=1)
    body = rss(
        ("a", None, "Oldest", NOW - 5 * day),
        ("b", None, "Newest", NOW - day),
        ("c", None, "Middle", NOW - 3 * day),
        ("d", None, "Older", NOW - 4 * day),
    )
    full = parse_feed(body, url=URL, now=NOW, max_items=3)
    assert [item.title for item in full.items] == ["Newest", "Middle", "Older"]

    got = parse_feed(body, url=URL, now=NOW, max_items=3, known_keys={"guid:b"})

    # "Oldest" stays cut: the known newest item still counts towards the three.
    assert [item.title for item in got.items] == ["Middle", "Older"] and got.known_items == 1


def test_an_item_keyed_by_its_text_is_known_once_normalised() -> None:
    body = rss((None, None, "No guid, no link", NOW - timedelta(days=1)))
    (only,) = parse_feed(body, url=URL, now=NOW).items
    assert only.key.startswith("hash:")

    got = parse_feed(body, url=URL, now=NOW, known_keys={only.key})

    assert got.items == () and got.known_items == 1


def test_a_known_key_repeated_in_the_feed_counts_once() -> None:
    body = rss(
        ("a", None, "First copy", NOW - timedelta(days=1)),
        ("a", None, "Stale copy", NOW - timedelta(days=2)),
        ("b", None, "New", NOW - timedelta(days=3)),
    )
    got = parse_feed(body, url=URL, now=NOW, known_keys={"guid:a"})

    assert [item.title for item in got.items] == ["New"] and got.known_items == 1


def test_the_fast_path_converts_no_html_of_known_items(monkeypatch: pytest.MonkeyPatch) -> None:
    body = render_feed(3, 2, host="h1.test", epoch=NOW - timedelta(days=30))
    keys = [item.key for item in parse_feed(body, url=URL, now=NOW).items]
    conversions: list[str] = []
    original = fast._Reader.html

    def counting(self: fast._Reader, value: str, kind: str, base: str | None = None) -> object:
        conversions.append(value)
        return original(self, value, kind, base)

    monkeypatch.setattr(fast._Reader, "html", counting)
    parse_feed_fast_or_full(body, url=URL, now=NOW)
    everything = len(conversions)
    conversions.clear()
    got = parse_feed_fast_or_full(body, url=URL, now=NOW, known_keys=frozenset(keys[2:]))

    # Title, description and content of each of the 18 known items are left alone.
    assert len(got.items) == 2 and len(conversions) == everything - 18 * 3


def content_item(content: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
        "<link>https://example.com/</link><description>d</description><item><title>Same</title>"
        f"<description>Same summary</description><content:encoded>{content}</content:encoded>"
        "</item></channel></rss>"
    ).encode()


def test_content_text_is_read_for_an_item_keyed_by_its_text() -> None:
    # With a summary, the content's text is only needed for the key of an item with no guid
    # and no link; it must still be read then, so that different contents are different items.
    (first,) = parse_feed(content_item("One body"), url=URL, now=NOW).items
    (second,) = parse_feed(content_item("Another body"), url=URL, now=NOW).items
    assert first.key.startswith("hash:") and first.key != second.key
    assert first.summary == second.summary == "Same summary"

"""What parsing a feed produces: plain frozen values, safe to store and render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One normalised entry. Text fields are cleaned (NFC, no control or bidi characters)."""

    key: str
    """Identity within the feed (see `identity.entry_key`); never depends on dates."""
    guid: str | None
    title: str
    """Plain single-line text; may hold Discord markdown or mentions: escape when rendering."""
    url: str | None
    """Absolute http(s) link to the article, resolved against the feed URL."""
    published: datetime | None
    """Aware UTC, or None when missing or absurd."""
    updated: datetime | None
    author: str | None
    categories: tuple[str, ...]
    summary: str
    """Plain text of the description, paragraphs separated by blank lines."""
    summary_html: str
    """Sanitised HTML of the description."""
    content_html: str
    """Sanitised HTML of the full content (content:encoded, Atom content), or empty."""
    image_url: str | None

    @property
    def date(self) -> datetime | None:
        """The best date for ordering: published, else updated."""
        return self.published or self.updated


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A whole normalised feed, items newest first when dates allow, else in document order."""

    title: str
    site_url: str | None
    feed_url: str
    description: str
    icon_url: str | None
    items: tuple[ParsedItem, ...]
    bozo: bool
    """The document was not well-formed but still gave usable items."""
    format: str
    """What it was: feedparser's version name (`rss20`, `atom10`, ...) or `json1`/`json1.1`."""
    known_items: int = 0
    """Items left out because the caller already knew their keys (`normalise_feed`)."""


@dataclass(frozen=True, slots=True)
class RawEntry:
    """An entry as a format reader found it, before normalisation (internal to `bot.feeds`).

    Every text field is HTML (plain text arrives escaped), so one normaliser serves all formats.
    """

    guid: str | None = None
    link: str | None = None
    title_html: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    summary_html: str = ""
    content_html: str = ""
    image_candidates: tuple[str, ...] = ()
    known_key: str | None = None
    """Set by a reader that found the entry's key among the caller's known keys; the entry then
    carries only what `normalise_feed` reads of an entry it skips (guid, dates)."""


@dataclass(frozen=True, slots=True)
class RawFeed:
    """A feed as a format reader found it, before normalisation (internal to `bot.feeds`)."""

    title_html: str
    site_url: str | None
    description_html: str
    icon_url: str | None
    entries: tuple[RawEntry, ...]
    bozo: bool
    format: str

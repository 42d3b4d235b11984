"""The feedparser internals bot/feeds relies on, in one place.

feedparser's public API is `parse()`; it has none for cleaning an HTML fragment or for the
decoding it applies before parsing. JSON Feed content must get the same cleaning and link
resolution as RSS, and the entity guard must see the text exactly as `parse()` will, so these
helpers are imported from feedparser's modules here, pinned by `feedparser<6.1` in pyproject.toml
and checked by tests/unit/test_feeds_feedparser_internals.py.
"""

from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import resolve_relative_uris


def sanitize_html(fragment: str) -> str:
    """An HTML fragment cleaned by feedparser's own rules (the ones RSS content gets)."""
    return str(_sanitize_html(fragment, "utf-8", "text/html"))


def absolute_links(fragment: str, base: str) -> str:
    """An HTML fragment with its relative links resolved against `base`, as feedparser does."""
    return str(resolve_relative_uris(fragment, base, "utf-8", "text/html"))


def as_utf8(headers: dict[str, str], body: bytes) -> bytes:
    """The document as UTF-8, decoded the way `feedparser.parse` decodes it."""
    return bytes(convert_to_utf8(headers, body, {}))

"""The feedparser internals bot/feeds relies on, in one place.

feedparser's public API is `parse()`; it has none for cleaning an HTML fragment. JSON Feed
content must get the same cleaning and link resolution as RSS, so these helpers are imported
from feedparser's modules here, pinned by `feedparser<6.1` in pyproject.toml and checked by
tests/unit/test_feeds_feedparser_internals.py. (bot/feeds/fast.py reuses more of them, checked
by its golden tests against `parse()`.)
"""

from feedparser.sanitizer import _sanitize_html
from feedparser.urls import resolve_relative_uris


def sanitize_html(fragment: str) -> str:
    """An HTML fragment cleaned by feedparser's own rules (the ones RSS content gets)."""
    return str(_sanitize_html(fragment, "utf-8", "text/html"))


def absolute_links(fragment: str, base: str) -> str:
    """An HTML fragment with its relative links resolved against `base`, as feedparser does."""
    return str(resolve_relative_uris(fragment, base, "utf-8", "text/html"))

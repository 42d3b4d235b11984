"""Feed ingestion, pure part: parse RSS, Atom and JSON Feed bytes into clean, keyed items."""

from bot.feeds.discover import fallback_paths, find_feed_links, looks_like_html
from bot.feeds.identity import canonical_url, entry_key, resolve_http_url
from bot.feeds.models import ParsedFeed, ParsedItem
from bot.feeds.parse import parse_feed, parse_feed_off_loop

__all__ = [
    "ParsedFeed",
    "ParsedItem",
    "canonical_url",
    "entry_key",
    "fallback_paths",
    "find_feed_links",
    "looks_like_html",
    "parse_feed",
    "parse_feed_off_loop",
    "resolve_http_url",
]

"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/), read into raw entries."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.errors import FeedError
from bot.feeds._feedparser import absolute_links, sanitize_html  # the same rules as RSS
from bot.feeds.models import RawEntry, RawFeed

_VERSION = re.compile(r"https?://jsonfeed\.org/version/1(?:\.\d+)?/?$")
_JSON_TYPES = ("application/feed+json", "application/json")
_VERSION_SNIFF = re.compile(rb'"version"\s*:\s*"https?://jsonfeed\.org/version/1')


def looks_like_json_feed(body: bytes, content_type: str | None) -> bool:
    """True when the body should be read as JSON Feed: a JSON media type or a jsonfeed version."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    start = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(b"{"):
        return False
    return media_type in _JSON_TYPES or bool(_VERSION_SNIFF.search(body[:65536]))


def read_json_feed(body: bytes, *, url: str) -> RawFeed:
    """Parse a JSON Feed document; raises FeedError for broken JSON or a JSON that is not a feed."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise FeedError("parse-error", "The JSON feed is not valid UTF-8 text.") from None
    except (ValueError, RecursionError):
        # RecursionError: deeply nested arrays; ValueError also covers over-long integers.
        raise FeedError("parse-error", "The JSON feed is not valid JSON.") from None
    if not isinstance(document, dict):
        raise FeedError("not-a-feed", "This JSON document is not a JSON Feed.")
    version = _text(document.get("version"))
    items = document.get("items")
    if not _VERSION.match(version):
        raise FeedError(
            "not-a-feed", "This JSON document is not a JSON Feed (no jsonfeed version)."
        )
    if not isinstance(items, list):
        raise FeedError("parse-error", "The JSON feed has no list of items.")
    base = _text(document.get("home_page_url")) or url
    entries = tuple(_entry(item, base) for item in items if isinstance(item, dict))
    return RawFeed(
        title_html=html.escape(_text(document.get("title"))),
        site_url=_text(document.get("home_page_url")) or None,
        description_html=html.escape(_text(document.get("description"))),
        icon_url=_text(document.get("icon")) or _text(document.get("favicon")) or None,
        entries=entries,
        bozo=len(entries) != len(items),
        format="json1.1" if version.rstrip("/").endswith("1.1") else "json1",
    )


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: Any) -> str:
    """A string field, or "" when the value is of another type: it is dropped, never coerced.

    A number in `url` would otherwise become a link relative to the feed (".../1.2").
    """
    if isinstance(value, str):
        # JSON may spell lone surrogates ("\ud800"), which no encoder downstream accepts.
        return _LONE_SURROGATE.sub("\ufffd", value)
    return ""


def _id(value: Any) -> str:
    """An item id: a string, or a number, which JSON Feed 1.1 says readers coerce to a string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _clean_html(fragment: str, base: str) -> str:
    return sanitize_html(absolute_links(fragment, base))


def _plain_to_html(text: str) -> str:
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _date(value: Any) -> datetime | None:
    text = _text(value).strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # RFC 3339 requires an offset; guessing one would invent a time
    return moment.astimezone(UTC)


def _authors(item: dict[str, Any]) -> str | None:
    authors = item.get("authors")
    if not isinstance(authors, list):
        authors = [item.get("author")]
    names = [_text(a.get("name")) for a in authors if isinstance(a, dict)]
    names = [name for name in names if name.strip()]
    return ", ".join(names) or None


def _entry(item: dict[str, Any], base: str) -> RawEntry:
    content_html = _text(item.get("content_html"))
    if content_html:
        content_html = _clean_html(content_html, base)
    elif _text(item.get("content_text")):
        content_html = _plain_to_html(_text(item.get("content_text")))
    summary = _text(item.get("summary"))
    tags = item.get("tags")
    images = [_text(item.get("image")), _text(item.get("banner_image"))]
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        images += [
            _text(a.get("url"))
            for a in attachments
            if isinstance(a, dict) and _text(a.get("mime_type")).lower().startswith("image/")
        ]
    return RawEntry(
        guid=_id(item.get("id")) or None,
        link=_text(item.get("url")) or _text(item.get("external_url")) or None,
        title_html=html.escape(_text(item.get("title"))),
        published=_date(item.get("date_published")),
        updated=_date(item.get("date_modified")),
        author=_authors(item),
        categories=tuple(_text(t) for t in tags if _text(t)) if isinstance(tags, list) else (),
        summary_html=_plain_to_html(summary) if summary else "",
        content_html=content_html,
        image_candidates=tuple(image for image in images if image),
    )

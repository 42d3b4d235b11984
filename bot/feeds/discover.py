"""Finding a site's feed: links declared in its HTML, well-known paths, and telling HTML from feeds.

Pure pieces only; the network loop that tries them lives with the fetcher.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

from bot.feeds.entities import prolog_of
from bot.feeds.identity import resolve_http_url

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
    }
)
"""`type` values of `<link rel="alternate">` that point at a feed."""

FALLBACK_PATHS = ("/feed/", "/rss/", "/feed.xml", "/atom.xml", "/index.xml", "/rss.xml")
_MAX_SNIFF_BYTES = 64 * 1024
_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_HTML_ROOTS = frozenset({"html", "head", "body", "div", "p", "script", "meta", "title", "table"})
_ROOT_NAME = re.compile(r"<([^\s/>]+)")


class _LinkCollector(HTMLParser):
    """Collects the href of every `<link rel="alternate">` whose type is a feed type."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {name: (value or "") for name, value in attrs}
        rels = values.get("rel", "").lower().split()
        media_type = values.get("type", "").split(";")[0].strip().lower()
        if "alternate" in rels and media_type in FEED_TYPES and values.get("href"):
            self.hrefs.append(values["href"])

    handle_startendtag = handle_starttag


def find_feed_links(html: bytes | str, base_url: str) -> list[str]:
    """Absolute feed URLs from `<link rel="alternate">` tags, deduplicated, in page order."""
    if isinstance(html, bytes):
        # Attributes that matter are ASCII; a wrong guess only garbles text we ignore.
        html = html.decode("utf-8", "replace")
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    base = _declared_base(html, base_url)
    found: list[str] = []
    for href in collector.hrefs:
        absolute = resolve_http_url(href, base)
        if absolute and absolute not in found:
            found.append(absolute)
    return found


def _declared_base(html: str, page_url: str) -> str:
    """The page's `<base href>`, if any and http(s), else the page URL itself."""
    match = re.search(r"<base\b[^>]*\bhref\s*=\s*[\"']?([^\"'\s>]+)", html, re.IGNORECASE)
    if match:
        resolved = resolve_http_url(match.group(1), page_url)
        if resolved:
            return resolved
    return page_url


def fallback_paths(base_url: str) -> list[str]:
    """Usual feed addresses of a site, to try when its page declares none (WordPress first)."""
    parts = urlsplit(base_url)
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    candidates = [root + path for path in FALLBACK_PATHS]
    candidates.append(urlunsplit((parts.scheme, parts.netloc, "/", "feed=rss2", "")))
    return candidates


def root_element(body: bytes) -> str | None:
    """The lowercased name of the document's first element, or None if there is none in sight."""
    head = body[:_MAX_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:4].count(b"\x00") >= 2:
        text = _decode_utf16(head)
    else:
        text = head.decode("latin-1")
    prolog = prolog_of(text)
    match = _ROOT_NAME.match(text, len(prolog))
    return match.group(1).lower() if match else None


def _decode_utf16(head: bytes) -> str:
    big_endian = head.startswith(b"\xfe\xff") or (len(head) > 1 and head[0] == 0)
    return head.decode("utf-16-be" if big_endian else "utf-16-le", "replace")


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """True when the document is a web page rather than a feed, judged by its content first.

    Servers often label feeds `text/html`, so the first element decides when it is known; the
    header decides only when the content is ambiguous.
    """
    if body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return False  # JSON, perhaps a JSON Feed; never a web page
    root = root_element(body)
    if root is not None and root.rsplit(":", 1)[-1] in _FEED_ROOTS:
        return False
    if root in _HTML_ROOTS or (root is not None and root.startswith("!doctype")):
        return True
    head = body[:1024].lstrip().lower()
    if head.startswith(b"<!doctype html"):
        return True
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type in ("text/html", "application/xhtml+xml")

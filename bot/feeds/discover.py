"""Finding a site's feed: links declared in its HTML, well-known paths, and telling HTML from feeds.

Pure pieces only; the network loop that tries them lives with the fetcher.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
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


MAX_HEAD_CHARS = 64 * 1024
"""Discovery reads the document head only: up to `</head>`, `<body>` or this many characters."""
_SPACE = " \t\n\r\f"
# Elements whose content is text, not markup: a '<' inside them starts no tag.
_RAW_TEXT = frozenset({"script", "style", "title", "textarea"})
_RAW_TEXT_END = {name: re.compile(f"</{name}", re.IGNORECASE) for name in _RAW_TEXT}


def find_feed_links(page: bytes | str, base_url: str) -> list[str]:
    """Absolute feed URLs from `<link rel="alternate">` tags, deduplicated, in page order.

    Only the document head is read, with one forward scan (no backtracking regex, no
    HTMLParser, whose unclosed comments cost quadratic time).
    """
    if isinstance(page, bytes):
        # Attributes that matter are ASCII; a wrong guess only garbles text we ignore.
        page = page[: MAX_HEAD_CHARS * 4].decode("utf-8", "replace")
    base = base_url
    seen_base = False
    hrefs: list[str] = []
    for name, attributes in head_tags(page):
        if name == "base" and not seen_base and attributes.get("href"):
            # The first <base href> is the document's base (HTML's "frozen base URL").
            seen_base = True
            base = resolve_http_url(attributes["href"], base_url) or base_url
        elif name == "link" and _is_feed_link(attributes):
            hrefs.append(attributes["href"])
    found: list[str] = []
    for href in hrefs:
        absolute = resolve_http_url(href, base)
        if absolute and absolute not in found:
            found.append(absolute)
    return found


def _is_feed_link(attributes: dict[str, str]) -> bool:
    rels = attributes.get("rel", "").lower().split()
    media_type = attributes.get("type", "").split(";")[0].strip().lower()
    return "alternate" in rels and media_type in FEED_TYPES and bool(attributes.get("href"))


def head_tags(document: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The start tags of a document's head as (lowercased name, attributes), in one linear scan.

    Stops at `</head>`, `<body>`, the first MAX_HEAD_CHARS characters, an unclosed comment or an
    unclosed tag. Attribute names are lowercased, values unescaped; the first of a name wins.
    """
    text = document[:MAX_HEAD_CHARS]
    end = len(text)
    i = 0
    while True:
        i = text.find("<", i)
        if i < 0 or i + 1 >= end:
            return
        following = text[i + 1]
        if text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            if close < 0:
                return
            i = close + 3
        elif following in "!?":
            close = text.find(">", i + 2)
            if close < 0:
                return
            i = close + 1
        elif following == "/":
            name, after = _tag_name(text, i + 2)
            close = text.find(">", after)
            if name == "head" or close < 0:
                return
            i = close + 1
        elif following.isascii() and following.isalpha():
            name, after = _tag_name(text, i + 1)
            attributes, i = _attributes(text, after)
            if i < 0:
                return  # a tag cut off by the end of what we read
            yield name, attributes
            if name == "body":
                return
            if name in _RAW_TEXT:
                close_match = _RAW_TEXT_END[name].search(text, i)
                if close_match is None:
                    return
                i = close_match.start()
        else:
            i += 1


def _tag_name(text: str, i: int) -> tuple[str, int]:
    start, end = i, len(text)
    while i < end and text[i] not in _SPACE and text[i] not in "/>":
        i += 1
    return text[start:i].lower(), i


def _attributes(text: str, i: int) -> tuple[dict[str, str], int]:
    """A tag's attributes from i, and the index after its '>' (-1 if the tag never closes)."""
    attributes: dict[str, str] = {}
    end = len(text)
    while True:
        while i < end and (text[i] in _SPACE or text[i] == "/"):
            i += 1
        if i >= end:
            return attributes, -1
        if text[i] == ">":
            return attributes, i + 1
        start = i
        i += 1  # the first character belongs to the name, even '=' (as in HTML)
        while i < end and text[i] not in _SPACE and text[i] not in "/>=":
            i += 1
        name = text[start:i].lower()
        while i < end and text[i] in _SPACE:
            i += 1
        value = ""
        if i < end and text[i] == "=":
            i += 1
            while i < end and text[i] in _SPACE:
                i += 1
            if i < end and text[i] in "\"'":
                close = text.find(text[i], i + 1)
                if close < 0:
                    return attributes, -1
                value = text[i + 1 : close]
                i = close + 1
            else:
                start = i
                while i < end and text[i] not in _SPACE and text[i] != ">":
                    i += 1
                value = text[start:i]
        attributes.setdefault(name, html.unescape(value))


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

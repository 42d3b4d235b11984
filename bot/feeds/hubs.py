"""WebSub discovery: the hubs and the topic (`rel="self"`) a feed advertises.

W3C WebSub, section 4: a publisher names its hubs and the topic's own address in HTTP `Link`
headers or in the document as `<link rel="hub" href="...">` (`atom:link` in RSS). The headers
come first. Only the document's head is read: these links sit at channel or feed level, before
the first item, so the work is bounded whatever the size of the feed (no parse, no event-loop
stall). In a JSON Feed, the `hubs` of type WebSub and `feed_url` before `items` count too.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

HEAD_BYTES = 64 * 1024
"""How much of the document is searched for hub links (the channel's head, before any item)."""
MAX_URL_LENGTH = 2048
MAX_HUBS = 4
"""More advertised hubs than this are ignored (one is used; the rest are kept for display)."""

_LINK_TAG = re.compile(rb"<(?:[A-Za-z0-9_.-]+:)?link\b([^<>]{0,4096})>", re.IGNORECASE)
_FIRST_ITEM = re.compile(rb"<(?:[A-Za-z0-9_.-]+:)?(?:item|entry)\b", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_HEADER_LINK = re.compile(r"<([^<>]{1,4096})>((?:\s*;\s*[^;,<>]*)*)")
_JSON_STRING = r'"((?:[^"\\\x00-\x1f]|\\.){1,4096})"'
_JSON_ITEMS = re.compile(rb'"items"\s*:')
_JSON_HUBS = re.compile(r'"hubs"\s*:\s*\[([^\[\]]{0,8192})\]')
_JSON_OBJECT = re.compile(r"\{[^{}]{0,4096}\}")
_JSON_TYPE = re.compile(r'"type"\s*:\s*' + _JSON_STRING)
_JSON_URL = re.compile(r'"url"\s*:\s*' + _JSON_STRING)
_JSON_FEED_URL = re.compile(r'"feed_url"\s*:\s*' + _JSON_STRING)


@dataclass(frozen=True)
class HubLinks:
    """What a feed advertised: hub addresses in order of preference, and its topic URL."""

    hubs: tuple[str, ...] = ()
    self_url: str | None = None

    @property
    def hub(self) -> str | None:
        """The hub Paperboy subscribes at: the first advertised."""
        return self.hubs[0] if self.hubs else None


def find_hub_links(body: bytes | None, headers: Mapping[str, str], *, base_url: str) -> HubLinks:
    """Hubs and self link from the `Link` header, then from the document's head."""
    hubs: list[str] = []
    self_urls: list[str] = []
    for href, rels in _header_links(headers.get("link", "")):
        _collect(href, rels, base_url, hubs, self_urls)
    if body:
        found = _json_links(body) if body.lstrip()[:1] == b"{" else _document_links(body)
        for href, rels in found:
            _collect(href, rels, base_url, hubs, self_urls)
    return HubLinks(tuple(hubs[:MAX_HUBS]), self_urls[0] if self_urls else None)


def _collect(href: str, rels: set[str], base: str, hubs: list[str], selves: list[str]) -> None:
    if not rels & {"hub", "self"}:
        return
    url = _absolute_http_url(href, base)
    if url is None:
        return
    if "hub" in rels and url not in hubs:
        hubs.append(url)
    if "self" in rels:
        selves.append(url)


def _absolute_http_url(href: str, base: str) -> str | None:
    href = href.strip()
    if not href or len(href) > MAX_URL_LENGTH:
        return None
    try:
        url = urljoin(base, href)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        return None
    return url.split("#", 1)[0]


def _header_links(value: str) -> list[tuple[str, set[str]]]:
    """(target, rel values) of each link in a `Link` header (RFC 8288), leniently."""
    links = []
    for match in _HEADER_LINK.finditer(value[: 16 * 1024]):
        rels: set[str] = set()
        for param in match.group(2).split(";"):
            name, _, raw = param.partition("=")
            if name.strip().lower() == "rel":
                rels.update(raw.strip().strip('"').lower().split())
        links.append((match.group(1), rels))
    return links


def _document_links(body: bytes) -> list[tuple[str, set[str]]]:
    """(href, rel values) of the `<link>` and `<atom:link>` elements before the first item."""
    head = body[:HEAD_BYTES]
    first_item = _FIRST_ITEM.search(head)
    if first_item is not None:
        head = head[: first_item.start()]
    links = []
    for match in _LINK_TAG.finditer(head):
        attributes = {
            name.lower(): html.unescape(double or single)
            for name, double, single in _ATTRIBUTE.findall(
                match.group(1).decode("utf-8", "replace")
            )
        }
        href = attributes.get("href")
        if href:
            links.append((href, set(attributes.get("rel", "").lower().split())))
    return links


def _json_links(body: bytes) -> list[tuple[str, set[str]]]:
    """The WebSub `hubs` and the `feed_url` of a JSON Feed, from its head before `items`."""
    head = body.lstrip()[:HEAD_BYTES]
    items = _JSON_ITEMS.search(head)
    text = (head[: items.start()] if items else head).decode("utf-8", "replace")
    links: list[tuple[str, set[str]]] = []
    feed_url = _JSON_FEED_URL.search(text)
    if feed_url:
        links.append((_json_text(feed_url.group(1)), {"self"}))
    hubs = _JSON_HUBS.search(text)
    for hub in _JSON_OBJECT.findall(hubs.group(1) if hubs else ""):
        kind, url = _JSON_TYPE.search(hub), _JSON_URL.search(hub)
        if kind and url and _json_text(kind.group(1)).lower() == "websub":
            links.append((_json_text(url.group(1)), {"hub"}))
    return links


def _json_text(raw: str) -> str:
    """A JSON string's content (escapes decoded), '' if it is not valid."""
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""

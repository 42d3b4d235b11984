"""WebSub discovery: the hubs and the topic (`rel="self"`) a feed advertises.

W3C WebSub, section 4: a publisher names its hubs and the topic's own address in HTTP `Link`
headers or in the document as `<link rel="hub" href="...">` (`atom:link` in RSS). The headers
come first. Only the document's head is read: these links sit at channel or feed level, before
the first item, so the work is bounded whatever the size of the feed (no parse, no event-loop
stall). JSON Feed's `hubs` are only found through the `Link` header.
"""

from __future__ import annotations

import html
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
        for href, rels in _document_links(body):
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

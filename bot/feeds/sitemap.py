"""Sitemaps read like feeds: a Google News sitemap or a plain sitemap with `<lastmod>` dates.

Pure: bytes in, a ParsedFeed (or the child sitemaps of an index) out. The parser is lxml's
iterparse with entities unresolved, no network and no DTD, and each element is dropped once
read, so time and memory stay linear in the document; at most MAX_SITEMAP_URLS are kept.
Items have their page's URL and what the sitemap says (a news title, a date); the title and
standfirst of the pages themselves come from `bot.ingest.sitemaps`, which reads the new ones.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from lxml import etree

from bot.errors import FeedError
from bot.feeds.discover import root_element
from bot.feeds.entities import check_entities
from bot.feeds.identity import resolve_http_url
from bot.feeds.models import ParsedFeed, RawEntry, RawFeed
from bot.feeds.parse import normalise_feed
from bot.textutil import clean_text

MAX_SITEMAP_URLS = 50_000
"""The sitemaps.org limit for one file; entries past it are not read."""
MAX_CHILD_SITEMAPS = 3
"""Of a sitemap index, only this many sitemaps (the most recently modified) are followed."""
MAX_FIELD_CHARS = 2_048
_SITEMAP_ROOTS = frozenset({"urlset", "sitemapindex"})
_NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
_IMAGE = "{http://www.google.com/schemas/sitemap-image/1.1}"


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One `<url>` (or `<sitemap>` of an index) as the sitemap states it."""

    loc: str
    lastmod: datetime | None = None
    news_title: str = ""
    news_published: datetime | None = None
    publication: str = ""
    image: str = ""

    @property
    def date(self) -> datetime | None:
        """The news publication date, else the last modification."""
        return self.news_published or self.lastmod


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A parsed sitemap: its page entries, or (for an index) the sitemaps it lists."""

    is_index: bool
    is_news: bool
    entries: tuple[SitemapEntry, ...]


def is_sitemap(body: bytes) -> bool:
    """Whether a document is a sitemaps.org urlset or sitemap index."""
    root = root_element(body)
    return root is not None and root.rsplit(":", 1)[-1] in _SITEMAP_ROOTS


def parse_sitemap(body: bytes, *, url: str, max_urls: int = MAX_SITEMAP_URLS) -> Sitemap:
    """The entries of a sitemap or sitemap index, in document order, at most `max_urls`.

    Raises FeedError("parse-error") for a document that is not readable XML or declares
    dangerous entities, FeedError("not-a-feed") for XML that is not a sitemap.
    """
    check_entities(body.decode("utf-8", "replace"))
    entries: list[SitemapEntry] = []
    root_name = ""
    is_news = False
    events = etree.iterparse(
        io.BytesIO(body),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        for event, element in events:
            if not isinstance(element.tag, str):
                continue
            local = etree.QName(element).localname
            if event == "start":
                if not root_name:
                    root_name = local
                    if root_name not in _SITEMAP_ROOTS:
                        raise FeedError("not-a-feed", "This document is not a sitemap.")
                continue
            if local not in ("url", "sitemap"):
                continue
            entry = _entry(element, url)
            is_news = is_news or bool(entry and (entry.news_title or entry.news_published))
            element.clear()  # keep memory flat: read elements are dropped
            if entry is not None:
                entries.append(entry)
                if len(entries) >= max_urls:
                    break
    except etree.XMLSyntaxError as error:
        raise FeedError("parse-error", f"The sitemap is not readable XML ({error}).") from None
    if not root_name:
        raise FeedError("not-a-feed", "This document is not a sitemap.")
    return Sitemap(root_name == "sitemapindex", is_news, tuple(entries))


def _entry(element: etree._Element, base: str) -> SitemapEntry | None:
    fields: dict[str, str] = {}
    for child in element.iter():
        if not isinstance(child.tag, str) or child is element:
            continue
        tag = child.tag
        text = (child.text or "")[:MAX_FIELD_CHARS].strip()
        if tag.endswith("}loc") and tag.startswith(_IMAGE):
            fields.setdefault("image", text)
        elif tag.endswith("}loc") or tag == "loc":
            fields.setdefault("loc", text)
        elif tag.endswith("lastmod"):
            fields.setdefault("lastmod", text)
        elif tag == f"{_NEWS}title":
            fields.setdefault("title", text)
        elif tag == f"{_NEWS}publication_date":
            fields.setdefault("published", text)
        elif tag == f"{_NEWS}name":
            fields.setdefault("publication", text)
    loc = resolve_http_url(clean_text(fields.get("loc", ""), single_line=True), base)
    if not loc:
        return None
    return SitemapEntry(
        loc=loc,
        lastmod=parse_w3c_date(fields.get("lastmod", "")),
        news_title=clean_text(fields.get("title", ""), single_line=True),
        news_published=parse_w3c_date(fields.get("published", "")),
        publication=clean_text(fields.get("publication", ""), single_line=True),
        image=resolve_http_url(fields.get("image", ""), base) or "",
    )


def parse_w3c_date(value: str) -> datetime | None:
    """A sitemap date (W3C datetime: a date, or a date and time with a zone) in UTC, or None."""
    value = value.strip()
    if not value or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a bare date or local time: taken as UTC
    return moment.astimezone(UTC)


def newest_first(entries: tuple[SitemapEntry, ...]) -> list[SitemapEntry]:
    """Entries newest first by their date; undated ones after, in document order."""
    dated = sorted(
        (e for e in entries if e.date),
        key=lambda e: e.date or datetime.min.replace(tzinfo=UTC),
        reverse=True,
    )
    return dated + [e for e in entries if e.date is None]


def sitemap_feed(
    entries: tuple[SitemapEntry, ...], *, url: str, now: datetime, is_news: bool, max_items: int
) -> ParsedFeed:
    """Sitemap entries as a feed, newest first, at most `max_items`. Each item's key is its URL,
    so reading its page later (title, standfirst) never makes it a new item."""
    chosen = newest_first(entries)[: max(0, max_items)]
    publication = next((e.publication for e in chosen if e.publication), "")
    raw = RawFeed(
        title_html=html.escape(publication or (urlsplit(url).hostname or url)),
        site_url=_site_of(url),
        description_html="",
        icon_url=None,
        entries=tuple(
            RawEntry(
                guid=entry.loc,
                link=entry.loc,
                title_html=html.escape(entry.news_title),
                published=entry.news_published or entry.lastmod,
                updated=entry.lastmod,
                image_candidates=(entry.image,) if entry.image else (),
            )
            for entry in chosen
        ),
        bozo=False,
        format="news-sitemap" if is_news else "sitemap",
    )
    return normalise_feed(raw, url=url, now=now, max_items=max_items)


def _site_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/" if parts.netloc else None


@dataclass(frozen=True, slots=True)
class SitemapRead:
    """A sitemap read for following: a feed of its pages, or the child sitemaps to read."""

    feed: ParsedFeed | None
    children: tuple[str, ...] = ()


def read_sitemap(body: bytes, *, url: str, now: datetime, max_items: int) -> SitemapRead:
    """A urlset as a feed, or an index's most recently modified MAX_CHILD_SITEMAPS sitemaps.

    Runs in a worker of the pool (see `bot.ingest.sitemaps`).
    """
    sitemap = parse_sitemap(body, url=url)
    if sitemap.is_index:
        children = [entry.loc for entry in newest_first(sitemap.entries)]
        return SitemapRead(None, tuple(children[:MAX_CHILD_SITEMAPS]))
    feed = sitemap_feed(
        sitemap.entries, url=url, now=now, is_news=sitemap.is_news, max_items=max_items
    )
    return SitemapRead(feed)


def merge_feeds(feeds: list[ParsedFeed], *, url: str, max_items: int) -> ParsedFeed:
    """The child sitemaps of an index as one feed, newest first, each URL once."""
    seen: set[str] = set()
    items = []
    for feed in feeds:
        for item in feed.items:
            if item.key not in seen:
                seen.add(item.key)
                items.append(item)
    dated = sorted(
        (i for i in items if i.date),
        key=lambda i: i.date or datetime.min.replace(tzinfo=UTC),
        reverse=True,
    )
    ordered = dated + [i for i in items if i.date is None]
    first = feeds[0] if feeds else None
    return ParsedFeed(
        title=first.title if first else (urlsplit(url).hostname or url),
        site_url=first.site_url if first else _site_of(url),
        feed_url=url,
        description="",
        icon_url=None,
        items=tuple(ordered[: max(0, max_items)]),
        bozo=False,
        format=first.format if first else "sitemap",
    )

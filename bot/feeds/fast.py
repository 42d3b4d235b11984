"""A gated fast path for RSS 2.0 and Atom 1.0: the same `ParsedFeed` as `parse_feed`, at a
fraction of the CPU, for the documents where that sameness can be shown.

feedparser (pure Python, SAX plus its own HTML sanitiser) is most of a changed feed's CPU. For
the common case, a strict UTF-8, well-formed RSS 2.0 or Atom 1.0 document built from a known set
of elements, the fast path reads the tree lxml builds (in C) and reproduces what feedparser does
to each field, reusing feedparser's own helpers (URL joining, date parsing, HTML sniffing, and
for HTML beyond plain tags its URI resolver and sanitiser) so the rules cannot drift. The gate
(`read_fast` returning None) refuses everything else: other encodings, formats and XML
versions, DTDs and entities, unknown or repeated elements, nested markup, xml:base outside Atom
text constructs, and text that feedparser would re-decode (its cp1252 and double-UTF-8
repairs). A refused document, or any exception, goes to `parse_feed` (feedparser). Our own
normalisation and sanitising (`normalise_feed`) run on both paths.

Why fastfeedparser and feedparser-rs were not used instead: BENCHMARKS.md, finding 2b.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import _urljoin, make_safe_absolute_uri, resolve_relative_uris
from lxml import etree

from bot.feeds.models import ParsedFeed, RawEntry, RawFeed
from bot.feeds.parse import normalise_feed, parse_feed, quick_key, struct_to_datetime

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
MEDIA = "{http://search.yahoo.com/mrss/}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
# Qualified names compared for every element (built once, not per comparison).
_ATOM_LINK = f"{ATOM}link"
_CONTENT_ENCODED = f"{CONTENT}encoded"
_DC_CREATOR = f"{DC}creator"
_DC_DATE = f"{DC}date"
_MEDIA_CONTENT = f"{MEDIA}content"
_MEDIA_THUMBNAIL = f"{MEDIA}thumbnail"

# Elements whose value the fast path reads (anything it does not know is refused).
_RSS_CHANNEL_READ = frozenset({"title", "link", "description", "image"})
_RSS_IMAGE_CHILDREN = frozenset({"url", "title", "link", "width", "height", "description"})
_RSS_ITEM_READ = frozenset(
    {"title", "link", "guid", "pubDate", _DC_DATE, "author", _DC_CREATOR, "category",
     "description", _CONTENT_ENCODED, "enclosure", _MEDIA_CONTENT, _MEDIA_THUMBNAIL}
)  # fmt: skip
_RSS_ITEM_REPEATABLE = frozenset({"category", _MEDIA_CONTENT, _MEDIA_THUMBNAIL})
_RSS_ITEM_MEDIA = frozenset({_MEDIA_CONTENT, _MEDIA_THUMBNAIL})
# Pairs feedparser files under one field: an item with both is refused.
_RSS_ITEM_DATES = frozenset({"pubDate", _DC_DATE})
_RSS_ITEM_AUTHORS = frozenset({"author", _DC_CREATOR})
# Leaf elements feedparser keeps in fields Paperboy never reads; their text cannot leak into ours.
_RSS_CHANNEL_IGNORED = frozenset(
    {"language", "copyright", "managingEditor", "webMaster", "pubDate", "lastBuildDate",
     "category", "generator", "docs", "ttl", "rating", "skipHours", "skipDays",
     "{http://purl.org/rss/1.0/modules/syndication/}updatePeriod",
     "{http://purl.org/rss/1.0/modules/syndication/}updateFrequency"}
)  # fmt: skip
_RSS_ITEM_IGNORED = frozenset(
    {"comments", "{http://wellformedweb.org/CommentAPI/}commentRss",
     "{http://purl.org/rss/1.0/modules/slash/}comments"}
)  # fmt: skip
_ATOM_FEED_READ = frozenset({"title", "subtitle", "link", "icon", "logo", "entry"})
_ATOM_FEED_IGNORED = frozenset({"id", "updated", "generator", "rights", "author"})
_ATOM_ENTRY_READ = frozenset(
    {"id", "title", "link", "published", "updated", "author", "category", "summary", "content"}
)
_ATOM_ENTRY_REPEATABLE = frozenset({"link", "category"})
_ATOM_TEXT_TYPES = {None: "text/plain", "text": "text/plain", "html": "text/html"}

_DECLARED = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_XML_VERSION = re.compile(rb"""^<\?xml\s+version\s*=\s*["']1\.0["']""")
_XML_MEDIA_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/xml", "text/xml"}
)
# Characters feedparser rewrites after parsing: C1 controls (its cp1252 mapping) and pairs that
# would decode again as UTF-8 (its "double-encoded UTF-8" repair). Either refuses the document.
_REDECODED = re.compile("[\x80-\x9f]|[\xc2-\xf4][\x80-\xbf]")
# HTML that feedparser's URI resolver and sanitiser give back unchanged (tests/unit/
# test_feeds_fastpath.py checks this against both, on generated fragments): text without
# `<`, `>` or `&`, the entities below, and attribute-less tags feedparser always allows.
_PLAIN_TAG = re.compile(
    r"</?(?:p|b|i|em|strong|blockquote|ul|ol|li|h[1-6]|code|pre|sub|sup|small|cite|q)>"
)
_OTHER_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt|quot);)")
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=False
)


# Attributes each element may carry (built once: this runs for every element of a feed).
_ENCLOSURE_ATTRIBUTES = frozenset({"url", "type", "length"})
_GUID_ATTRIBUTES = frozenset({"isPermaLink"})
_RSS_CATEGORY_ATTRIBUTES = frozenset({"domain"})
_THUMBNAIL_ATTRIBUTES = frozenset({"url", "width", "height"})
_MEDIA_ATTRIBUTES = frozenset({"url", "medium", "type", "width", "height"})
_ATOM_TEXT_ATTRIBUTES = frozenset({"type", XML_BASE})
_ATOM_LINK_ATTRIBUTES = frozenset({"href", "rel", "type", "title", "length"})
_ATOM_CATEGORY_ATTRIBUTES = frozenset({"term", "scheme", "label"})
_NO_ATTRIBUTES: frozenset[str] = frozenset()


# The form nearly every RSS feed writes its dates in (RFC 2822's, English names, numeric or GMT
# zone). feedparser reads it with its RFC 822 reader after its W3DTF reader declines it; this
# reads it the same way (a Hypothesis test holds the two together) at a third of the cost.
# Anything else, including other case or spacing, goes to feedparser.
_COMMON_RFC822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) "
    r"(?:GMT|([+-])(\d{2})(\d{2}))"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


def feedparser_date(value: str) -> datetime | None:
    """A date string as feedparser reads it, in UTC, or None when it reads none."""
    return struct_to_datetime(_parse_date(value))


class Refused(Exception):
    """The document is outside what the fast path can read exactly like feedparser."""


def parse_feed_fast_or_full(
    body: bytes,
    *,
    url: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
    max_items: int = 200,
    known_keys: Collection[str] = frozenset(),
) -> ParsedFeed:
    """`parse_feed`, taking the fast path when the gate admits the document.

    Same arguments, same result, same errors: a refused document, or any failure on the fast
    path, is parsed by `parse_feed` (feedparser) instead.
    """
    if now.tzinfo is None:
        raise ValueError("parse_feed needs an aware `now`")
    raw = read_fast(body, url=url, headers=headers, known_keys=known_keys)
    if raw is None:
        return parse_feed(
            body, url=url, now=now, headers=headers, max_items=max_items, known_keys=known_keys
        )
    return normalise_feed(raw, url=url, now=now, max_items=max_items, known_keys=known_keys)


def read_fast(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    known_keys: Collection[str] = frozenset(),
) -> RawFeed | None:
    """The document as feedparser would have read it, or None when the gate refuses it.

    Entries whose key is in `known_keys` keep only guid, link and dates (all `normalise_feed`
    reads of an entry it skips).
    """
    raw, _ = read_fast_or_why(body, url=url, headers=headers, known_keys=known_keys)
    return raw


def read_fast_or_why(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    known_keys: Collection[str] = frozenset(),
) -> tuple[RawFeed | None, str]:
    """`read_fast`, with the gate's reason when it refuses (for benchmarks and debugging)."""
    try:
        root = admitted_root(body, headers)
        if root is None:
            return None, "encoding, declaration, DTD, well-formedness or root"
        reader = _Reader(url, known_keys)
        raw = reader.read_rss(root) if root.tag == "rss" else reader.read_atom(root)
        if not raw.entries:
            return None, "no entries"  # feedparser decides what an empty feed means
        return raw, ""
    except Exception as error:  # the gate's contract: whatever goes wrong, feedparser decides
        return None, f"{type(error).__name__}: {error}"


def admitted_root(body: bytes, headers: Mapping[str, str] | None) -> Any:
    """The parsed root element when the document passes the byte-level gate, else None."""
    if body.startswith(b"\xef\xbb\xbf") or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if body.startswith(b"<?xml") and not _XML_VERSION.match(body):
        return None  # XML 1.1 and odd declarations: expat (feedparser's strict parser) differs
    declared = _DECLARED.match(body[:200])
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return None
    if not _content_type_allows_utf8(headers, ascii_only=text.isascii()):
        return None
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if (
        root.tag == "rss"
        and root.get("version") == "2.0"
        and dict(root.attrib) == {"version": "2.0"}
    ):
        return root
    if root.tag == f"{ATOM}feed":
        return root
    return None


def _content_type_allows_utf8(headers: Mapping[str, str] | None, *, ascii_only: bool) -> bool:
    """Whether feedparser, given these headers, would decode the body as UTF-8 without a fuss."""
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    content_type = lowered.get("content-type")
    if content_type is None:
        return True
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip().lower()
    if media_type not in _XML_MEDIA_TYPES:
        return False
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
    if charset is None:
        # RFC 3023: text/xml without a charset is US-ASCII, and feedparser follows it.
        return media_type != "text/xml" or ascii_only
    return charset in ("utf-8", "utf8")


def is_plain_html(value: str) -> bool:
    """Whether `value` is plain HTML: known bare tags, four entities, no other `<`, `>`, `&`,
    and no carriage return (feedparser's sanitiser turns CR LF into LF)."""
    if "\r" in value:
        return False
    if "<" in value:
        # A space, not nothing, where a tag was: "&am<p>p;" must not become an entity.
        value = _PLAIN_TAG.sub(" ", value)
    return "<" not in value and ">" not in value and not _OTHER_AMPERSAND.search(value)


def _redecoded(text: str) -> bool:
    """Whether feedparser would re-decode `text` (cp1252 or double UTF-8); ASCII never is, and
    `isascii` answers that without a regex scan of the whole text."""
    return not text.isascii() and _REDECODED.search(text) is not None


def _local(tag: Any) -> str:
    return tag if isinstance(tag, str) else ""


class _Reader:
    """One document's fields, computed the way feedparser's handlers compute them."""

    def __init__(self, url: str, known_keys: Collection[str] = frozenset()) -> None:
        self.url = url
        self.base = make_safe_absolute_uri("", url) or make_safe_absolute_uri(url) or ""
        self.known_keys = known_keys

    def known_key(self, guid: str | None, link_of: Callable[[], str | None]) -> str | None:
        """The entry's key if the caller knows it, else None.

        A known entry's fields are then left unconverted, since `normalise_feed` skips it by
        this key: the gate's checks still ran on all of it; only conversions that feedparser too
        makes field by field are left out. The link is only resolved when there is no guid.
        """
        if not self.known_keys:
            return None
        key = quick_key(RawEntry(guid=guid or None), base_url=self.url)
        if key is None:  # no usable guid: the key is the link's
            key = quick_key(RawEntry(guid=guid or None, link=link_of() or None), base_url=self.url)
        return key if key is not None and key in self.known_keys else None

    # ------------------------------------------------------------ field rules
    def text(self, element: Any) -> str:
        """An element's stripped text; refused if it holds markup, comments or re-decoded text."""
        if len(element):
            raise Refused("nested markup")
        value = (element.text or "").strip()
        if _redecoded(value):
            raise Refused("feedparser would re-decode this text")
        return value

    def html(self, value: str, kind: str, base: str | None = None) -> tuple[str, str]:
        """(value, type) of a text construct after feedparser's HTML handling.

        Plain HTML (no attributes, no unusual entities) is what feedparser's URI resolver and
        sanitiser give back unchanged, so it skips them; any other HTML goes through those two
        feedparser functions, called exactly as feedparser calls them.
        """
        if kind not in _FeedParserMixin.html_types or is_plain_html(value):
            return value, kind
        resolved = resolve_relative_uris(value, base or self.base, "utf-8", kind)
        cleaned = str(_sanitize_html(resolved, "utf-8", kind))
        if _redecoded(cleaned):
            raise Refused("feedparser would re-decode this text")
        return cleaned, kind

    def rss_text_type(self, value: str, default: str) -> str:
        """feedparser's guess for RSS: text/plain turns to HTML when it looks like HTML."""
        if default == "text/plain" and _FeedParserMixin.looks_like_html(value):
            return "text/html"
        return default

    def uri(self, value: str) -> str:
        return str(_urljoin(self.base, value)) if value else value

    @staticmethod
    def as_html(value: str, kind: str) -> str:
        """The same rule as parse._detail_html: plain text escaped, line breaks kept."""
        if "html" in kind:
            return value
        return html.escape(value, quote=False).replace("\n", "<br>")

    @staticmethod
    def date(value: str) -> datetime | None:
        """The date as feedparser reads it; the common RFC 822 form is read here directly."""
        common = _COMMON_RFC822.fullmatch(value)
        if common is None:
            return feedparser_date(value)
        day, month, year, hour, minute, second, sign, offset_hours, offset_minutes = common.groups()
        try:
            stamp = datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                tzinfo=UTC,
            )  # fmt: skip
            if sign and (offset_hours != "00" or offset_minutes != "00"):
                offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
                stamp = stamp - offset if sign == "+" else stamp + offset
        except (ValueError, OverflowError):
            # feedparser's RFC 822 reader gives up here and its other readers have a go.
            return feedparser_date(value)
        return stamp

    @staticmethod
    def check_attributes(element: Any, allowed: frozenset[str]) -> None:
        if not element.keys():
            return  # most elements carry none, and `keys` is lxml's cheapest way to ask
        for name, value in element.items():
            if name not in allowed or _redecoded(value):
                raise Refused(f"attribute {name}")

    # ------------------------------------------------------------ RSS 2.0
    def read_rss(self, root: Any) -> RawFeed:
        channels = [child for child in root if child.tag == "channel"]
        if len(channels) != 1 or len(root) != 1 or (root.text and root.text.strip()):
            raise Refused("rss must hold exactly one channel")
        channel = channels[0]
        self.check_attributes(channel, _NO_ATTRIBUTES)  # an xml:base here would move every link
        seen: set[str] = set()
        title = link = description = ""
        title_kind = "text/plain"
        icon: str | None = None
        entries: list[RawEntry] = []
        for child in channel:
            tag = _local(child.tag)
            if tag == "item":
                entries.append(self.rss_item(child))
                continue
            if tag == _ATOM_LINK:
                # WordPress's rel="self": feedparser files it under links, never as the site.
                rel = self.atom_link(child)[1]
                if child.get("rel") is None or rel == "alternate":
                    raise Refused("atom:link that may name the site")
                continue
            if tag in _RSS_CHANNEL_IGNORED:
                if len(child):
                    raise Refused(f"{tag} has children")
                continue
            if tag not in _RSS_CHANNEL_READ or tag in seen:
                raise Refused(f"channel element {tag or child!r}")
            seen.add(tag)
            self.check_attributes(child, _NO_ATTRIBUTES)
            if tag == "image":
                icon = self.rss_image(child)
            elif tag == "title":
                title = self.text(child)
                title_kind = self.rss_text_type(title, "text/plain")
                title, title_kind = self.html(title, title_kind)
            elif tag == "link":
                link = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", self.uri(self.text(child)))
            else:
                description, _ = self.html(self.text(child), "text/html")
        return RawFeed(
            title_html=self.as_html(title, title_kind),
            site_url=link or None,
            description_html=description,
            icon_url=icon,
            entries=tuple(entries),
            bozo=False,
            format="rss20",
        )

    def rss_image(self, image: Any) -> str | None:
        url: str | None = None
        names = [_local(child.tag) for child in image]
        if len(set(names)) != len(names) or not set(names) <= _RSS_IMAGE_CHILDREN:
            raise Refused("image children")
        for child in image:
            self.check_attributes(child, _NO_ATTRIBUTES)
            value = self.text(child)
            if child.tag == "url":
                url = self.uri(value) or None
        return url if url and url.strip() else None

    def rss_item(self, item: Any) -> RawEntry:
        self.check_attributes(item, _NO_ATTRIBUTES)
        seen: set[str] = set()
        fields: dict[str, Any] = {"categories": [], "media": [], "thumbnails": [], "images": []}
        for child in item:
            tag = _local(child.tag)
            if tag in _RSS_ITEM_IGNORED:
                if len(child):
                    raise Refused(f"{tag} has children")
                continue
            if tag not in _RSS_ITEM_READ:
                raise Refused(f"item element {tag or child!r}")
            if tag in seen and tag not in _RSS_ITEM_REPEATABLE:
                raise Refused(f"repeated {tag}")
            seen.add(tag)
            self.rss_item_field(tag, child, fields)
        if seen >= _RSS_ITEM_DATES or seen >= _RSS_ITEM_AUTHORS:
            raise Refused("two elements for one field")
        guid = fields.get("guid")

        def link_of() -> str | None:
            link = self.rss_link(fields["link"]) if "link" in fields else None
            if guid is not None and fields.get("guid_is_link") and link is None:
                link = guid
            return link

        known_key = self.known_key(guid, link_of)
        if known_key is not None:
            return RawEntry(
                guid=guid or None,
                published=fields.get("published"),
                updated=fields.get("updated"),
                known_key=known_key,
            )
        link = link_of()
        title: tuple[str, str] = ("", "text/plain")
        if "title" in fields:
            value = fields["title"]
            title = self.html(value, self.rss_text_type(value, "text/plain"))
        content = self.html(fields["content"], "text/html")[0] if "content" in fields else None
        summary = self.html(fields["summary"], "text/html")[0] if "summary" in fields else None
        if summary is None and content is not None:
            summary = content
        return RawEntry(
            guid=guid or None,
            link=link or None,
            title_html=self.as_html(*title),
            published=fields.get("published"),
            updated=fields.get("updated"),
            author=fields.get("author") or None,
            categories=tuple(fields["categories"]),
            summary_html="" if summary == content else summary or "",
            content_html=content or "",
            # parse._image_candidates' order: media:content, media:thumbnail, then enclosures.
            image_candidates=tuple(
                url for url in (*fields["media"], *fields["thumbnails"], *fields["images"]) if url
            ),
        )

    def rss_item_field(self, tag: str, child: Any, fields: dict[str, Any]) -> None:
        if tag == "enclosure":
            self.check_attributes(child, _ENCLOSURE_ATTRIBUTES)
            if len(child) or (child.text or "").strip():
                raise Refused("enclosure with content")
            if child.get("type", "").lower().startswith("image/") and child.get("url"):
                fields["images"].append(child.get("url"))
            return
        if tag in _RSS_ITEM_MEDIA:
            self.media(tag, child, fields)
            return
        if tag == "guid":
            self.check_attributes(child, _GUID_ATTRIBUTES)
            is_link = child.get("isPermaLink", "true") == "true"
            value = self.text(child)
            fields["guid"] = self.uri(value) if is_link else value
            fields["guid_is_link"] = is_link
            return
        if tag == "category":
            self.check_attributes(child, _RSS_CATEGORY_ATTRIBUTES)
            fields["categories"].append(self.text(child))
            return
        self.check_attributes(child, _NO_ATTRIBUTES)
        value = self.text(child)
        # HTML fields are converted once the item is known to be new (see rss_item).
        if tag == "title":
            fields["title"] = value
        elif tag == "link":
            fields["link"] = value  # resolved by rss_link, once the item is known to be new
        elif tag == "pubDate":
            fields["published"] = self.date(value)
        elif tag == _DC_DATE:
            fields["updated"] = self.date(value)
        elif tag in _RSS_ITEM_AUTHORS:
            fields["author"] = value
        elif tag == "description":
            fields["summary"] = value
        elif tag == _CONTENT_ENCODED:
            fields["content"] = value

    def rss_link(self, value: str) -> str:
        """An RSS item link as feedparser resolves it."""
        value = self.uri(value).replace("&amp;", "&")
        return re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", value)

    def media(self, tag: str, child: Any, fields: dict[str, Any]) -> None:
        if len(child) or (child.text or "").strip():
            raise Refused("media element with content")
        if tag == _MEDIA_THUMBNAIL:
            self.check_attributes(child, _THUMBNAIL_ATTRIBUTES)
            fields["thumbnails"].append(child.get("url", ""))
            return
        self.check_attributes(child, _MEDIA_ATTRIBUTES)
        medium = child.get("medium", "").lower()
        kind = child.get("type", "").lower()
        if medium == "image" or kind.startswith("image/") or (not medium and not kind):
            fields["media"].append(child.get("url", ""))

    # ------------------------------------------------------------ Atom 1.0
    def atom_text(self, element: Any) -> tuple[str, str]:
        return self.html(*self.atom_text_unconverted(element))

    def atom_text_unconverted(self, element: Any) -> tuple[str, str, str | None]:
        """(value, type, base) of an Atom text construct, checked but not yet through `html`."""
        self.check_attributes(element, _ATOM_TEXT_ATTRIBUTES)
        kind = _ATOM_TEXT_TYPES.get(element.get("type"))
        if kind is None:
            raise Refused("atom text type")
        base = None
        if element.get(XML_BASE) is not None:
            # WordPress marks content with xml:base; feedparser resolves relative links in the
            # HTML against it (see _FeedParserMixin.unknown_starttag).
            base = make_safe_absolute_uri(self.base, element.get(XML_BASE)) or self.base
        return self.text(element), kind, base

    def read_atom(self, root: Any) -> RawFeed:
        self.check_attributes(root, frozenset({"{http://www.w3.org/XML/1998/namespace}lang"}))
        seen: set[str] = set()
        title: tuple[str, str] = ("", "text/plain")
        subtitle: tuple[str, str] = ("", "text/plain")
        site: str | None = None
        icon = logo = None
        entries: list[RawEntry] = []
        for child in root:
            tag = _local(child.tag).removeprefix(ATOM)
            if not _local(child.tag).startswith(ATOM):
                raise Refused(f"feed element {child.tag!r}")
            if tag == "entry":
                entries.append(self.atom_entry(child))
                continue
            if tag in _ATOM_FEED_IGNORED:
                if tag == "author":
                    self.atom_author(child)  # validated, though only entries' authors are read
                elif len(child):
                    raise Refused(f"{tag} has children")
                continue
            if tag not in _ATOM_FEED_READ or (tag in seen and tag != "link"):
                raise Refused(f"feed element {tag}")
            seen.add(tag)
            if tag == "title":
                title = self.atom_text(child)
            elif tag == "subtitle":
                subtitle = self.atom_text(child)
            elif tag == "link":
                href, rel, kind = self.atom_link(child)
                if rel == "alternate" and kind in _FeedParserMixin.html_types:
                    site = href
            elif tag == "icon":
                self.check_attributes(child, _NO_ATTRIBUTES)
                icon = self.uri(self.text(child))
            else:
                self.check_attributes(child, _NO_ATTRIBUTES)
                logo = self.uri(self.text(child))
        feed_icon = next((c for c in (icon, logo) if c and c.strip()), None)
        return RawFeed(
            title_html=self.as_html(*title),
            site_url=site or None,
            description_html=self.as_html(*subtitle),
            icon_url=feed_icon,
            entries=tuple(entries),
            bozo=False,
            format="atom10",
        )

    def atom_link(self, link: Any) -> tuple[str, str, str]:
        """(resolved href, rel, type) as feedparser's _start_link sets them."""
        self.check_attributes(link, _ATOM_LINK_ATTRIBUTES)
        if len(link) or (link.text or "").strip():
            raise Refused("link with content")
        # feedparser lowercases rel and type before it looks at them.
        rel = link.get("rel", "alternate").lower()
        kind = link.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
        href = link.get("href")
        if not href:
            raise Refused("link without href")
        return self.uri(href), rel, _FeedParserMixin.map_content_type(kind)

    def atom_author(self, author: Any) -> str:
        self.check_attributes(author, frozenset())
        if (author.text or "").strip():
            raise Refused("author text")
        parts: dict[str, str] = {}
        for child in author:
            tag = _local(child.tag).removeprefix(ATOM)
            if tag not in ("name", "email", "uri") or tag in parts:
                raise Refused("author children")
            self.check_attributes(child, _NO_ATTRIBUTES)
            parts[tag] = self.text(child)
        name, email = parts.get("name"), parts.get("email")
        if name and email:
            return f"{name} ({email})"
        return name or email or ""

    def atom_entry(self, entry: Any) -> RawEntry:
        self.check_attributes(entry, frozenset())
        seen: set[str] = set()
        fields: dict[str, Any] = {"categories": [], "images": []}
        for child in entry:
            if not _local(child.tag).startswith(ATOM):
                raise Refused(f"entry element {child.tag!r}")
            tag = child.tag.removeprefix(ATOM)
            if tag not in _ATOM_ENTRY_READ:
                raise Refused(f"entry element {tag}")
            if tag in seen and tag not in _ATOM_ENTRY_REPEATABLE:
                raise Refused(f"repeated {tag}")
            seen.add(tag)
            if tag == "link":
                href, rel, kind = self.atom_link(child)
                if rel == "alternate" and kind in _FeedParserMixin.html_types:
                    fields["link"] = href
                elif rel == "enclosure" and child.get("type", "").lower().startswith("image/"):
                    fields["images"].append(href)
            elif tag == "category":
                self.check_attributes(child, _ATOM_CATEGORY_ATTRIBUTES)
                if len(child) or (child.text or "").strip():
                    raise Refused("category with content")
                fields["categories"].append(child.get("term") or child.get("label") or "")
            elif tag == "author":
                fields["author"] = self.atom_author(child)
            elif tag in ("title", "summary", "content"):
                # Converted once the entry is known to be new (see below).
                fields[tag] = self.atom_text_unconverted(child)
            else:
                self.check_attributes(child, _NO_ATTRIBUTES)
                value = self.text(child)
                if tag == "id":
                    fields["id"] = self.uri(value)
                else:
                    fields[tag] = self.date(value)
        if not fields.get("link") and fields.get("id"):
            fields["link"] = fields["id"]  # feedparser: an Atom id stands in for a missing link
        known_key = self.known_key(fields.get("id"), lambda: fields.get("link"))
        if known_key is not None:
            return RawEntry(
                guid=fields.get("id") or None,
                published=fields.get("published"),
                updated=fields.get("updated"),
                known_key=known_key,
            )
        for tag in ("title", "summary", "content"):
            if tag in fields:
                fields[tag] = self.html(*fields[tag])
        content = fields.get("content")
        content_html = self.as_html(*content) if content else ""
        summary = fields.get("summary")
        if summary is not None:
            summary_html = self.as_html(*summary)
        else:
            # feedparser copies content's value, not its type, so parse.py reads it as HTML.
            summary_html = content[0] if content else ""
        return RawEntry(
            guid=fields.get("id") or None,
            link=fields.get("link") or None,
            title_html=self.as_html(*fields.get("title", ("", "text/plain"))),
            published=fields.get("published"),
            updated=fields.get("updated"),
            author=fields.get("author") or None,
            categories=tuple(fields["categories"]),
            summary_html="" if summary_html == content_html else summary_html,
            content_html=content_html,
            image_candidates=tuple(url for url in fields["images"] if url),
        )

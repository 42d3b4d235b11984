"""Bytes and headers in, clean items out: RSS, Atom (via feedparser) and JSON Feed.

Everything here is pure: no network, no database, and `now` is passed in.
"""

from __future__ import annotations

import asyncio
import functools
import html
import io
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import feedparser

from bot.errors import FeedError
from bot.feeds.discover import looks_like_html, root_element
from bot.feeds.entities import check_entities
from bot.feeds.identity import entry_key, resolve_http_url
from bot.feeds.jsonfeed import looks_like_json_feed, read_json_feed
from bot.feeds.models import ParsedFeed, ParsedItem, RawEntry, RawFeed
from bot.textcodec import decode_xml
from bot.textutil import clean_text, html_to_text, strip_unsafe
from bot.workpool import JobOutOfMemory, JobTimedOut

if TYPE_CHECKING:
    from bot.workpool import Priority, WorkPool

EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
"""Dates before this are taken as broken (epoch zero, year 1) and dropped."""
FUTURE_TOLERANCE = timedelta(days=2)
"""Dates further ahead than this are taken as broken; closer ones are time zone slop."""

# Caps on what one item may carry, so a hostile feed cannot make a title the size of a book.
MAX_TITLE_CHARS = 500
MAX_AUTHOR_CHARS = 200
MAX_CATEGORY_CHARS = 100
_MAX_AUTHOR_SOURCE_CHARS = 8 * MAX_AUTHOR_CHARS
MAX_CATEGORIES = 30
MAX_SUMMARY_CHARS = 4_000
MAX_DERIVED_SUMMARY_CHARS = 600
"""When an item has no description, its summary is the start of its content, this long."""

_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_IMG_TAG = re.compile(r"<img\b", re.I)
# Applied to one tag's text only: on a whole document, `<img\b[^>]*?\bsrc` rescans to the
# next '>' from every `<img`, quadratic when none follows.
_SRC_ATTRIBUTE = re.compile(r"""\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_EMAIL = r"[^\s@()<>]+@[^\s@()<>]+"
# feedparser's own split of author and e-mail garbles names for long top-level domains.
_AUTHOR_WITH_EMAIL = (
    re.compile(rf"{_EMAIL}\s*\((?P<name>.+)\)"),
    re.compile(rf"(?P<name>.+?)\s*[(<]\s*(?:mailto:)?{_EMAIL}\s*[)>]"),
)
_HEADERS_FOR_FEEDPARSER = ("content-type", "content-language")
_XML_DECLARATION = re.compile(r"<\?xml[ \t\r\n]")
_MAX_DECLARATION_CHARS = 1024
_UTF8_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
T = TypeVar("T")


async def parse_feed_off_loop(
    body: bytes,
    *,
    url: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
    max_items: int = 200,
    pool: WorkPool | None = None,
    priority: Priority = "system",
    known_keys: Collection[str] = frozenset(),
) -> ParsedFeed:
    """`parse_feed` off the event loop: feedparser is pure Python, and a hostile feed would
    otherwise hold the loop (and Discord's heartbeat) for seconds.

    The gated fast path (`bot.feeds.fast`, golden-tested to give the same result) reads the
    documents it admits; items whose key is in `known_keys` are left out unnormalised (see
    `normalise_feed`), so a poll only pays for, and only ships back, what is new.

    With a `pool`, in a worker process under its deadline and memory cap; past either, a
    FeedError (``too-slow`` or ``too-large``) for the feed's health. Without one (tools and
    tests), in a thread.
    """
    # bot.feeds.fast builds on this module, so it is imported when first needed.
    from bot.feeds.fast import parse_feed_fast_or_full

    job = functools.partial(
        parse_feed_fast_or_full,
        body,
        url=url,
        now=now,
        headers=dict(headers) if headers is not None else None,
        max_items=max_items,
        # A frozenset pickles compactly and answers `in` in constant time in the worker.
        known_keys=frozenset(known_keys),
    )
    return await run_feed_job(job, pool=pool, priority=priority)


async def run_feed_job(
    job: Callable[[], T], *, pool: WorkPool | None, priority: Priority = "system"
) -> T:
    """Run a picklable job that reads a feed (`parse_feed_off_loop`'s, or a caller's that also
    derives from the result) in the pool, or without one in a thread; the pool's deadline and
    memory cap become FeedError ``too-slow`` and ``too-large`` for the feed's health."""
    if pool is None:
        return await asyncio.to_thread(job)
    try:
        return await pool.run(job, priority=priority, what="this feed")
    except JobTimedOut as error:
        raise FeedError("too-slow", str(error)) from None
    except JobOutOfMemory as error:
        raise FeedError("too-large", str(error)) from None


def parse_feed(
    body: bytes,
    *,
    url: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
    max_items: int = 200,
    known_keys: Collection[str] = frozenset(),
) -> ParsedFeed:
    """Parse and normalise a feed document fetched from `url` (`known_keys`: see
    `normalise_feed`).

    Raises FeedError("not-a-feed") for web pages and other non-feeds, FeedError("parse-error") for
    feeds broken beyond use or declaring dangerous entities. A broken feed that still yields
    items is accepted with `bozo=True`.
    """
    if now.tzinfo is None:
        raise ValueError("parse_feed needs an aware `now`")
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    content_type = lowered.get("content-type", "")
    if not body.strip():
        raise FeedError("not-a-feed", "The address returned an empty document, not a feed.")
    if looks_like_json_feed(body, content_type):
        raw = read_json_feed(body, url=url)
    elif looks_like_html(body, content_type):
        raise FeedError(
            "not-a-feed",
            "This page is a web page, not a feed; try the site's feed address "
            "or let Paperboy discover it.",
        )
    else:
        raw = _read_with_feedparser(body, url=url, headers=lowered)
    return normalise_feed(raw, url=url, now=now, max_items=max_items, known_keys=known_keys)


def as_utf8_for_feedparser(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """The document as UTF-8 declaring itself UTF-8, and a Content-Type saying the same.

    We decide the encoding (WHATWG labels only, see bot.textcodec) so feedparser never picks a
    codec itself: its own choice honours any label Python knows, `punycode` included.
    """
    text = decode_xml(body, content_type).text
    if _XML_DECLARATION.match(text):
        close = text.find("?>", 0, _MAX_DECLARATION_CHARS)
        if close >= 0:
            text = text[close + 2 :]
    utf8 = (_UTF8_DECLARATION + text).encode("utf-8", "replace")
    if content_type:
        media_type = content_type.split(";", 1)[0].strip()
        content_type = f"{media_type}; charset=utf-8"
    return utf8, content_type


def _read_with_feedparser(body: bytes, *, url: str, headers: dict[str, str]) -> RawFeed:
    passed = {name: headers[name] for name in _HEADERS_FOR_FEEDPARSER if headers.get(name)}
    passed["content-location"] = url  # the base for relative links
    utf8, content_type = as_utf8_for_feedparser(body, passed.get("content-type"))
    if content_type:
        passed["content-type"] = content_type
    # The guard sees the text exactly as feedparser will: feedparser only rewrites our declaration.
    check_entities(utf8.decode("utf-8"))
    # A stream, never bytes: feedparser opens bytes that look like a path as a local file.
    result = feedparser.parse(io.BytesIO(utf8), response_headers=passed)
    feed: dict[str, Any] = dict(result.get("feed") or {})
    entries: list[Any] = list(result.get("entries") or [])
    version = str(result.get("version") or "")
    bozo = bool(result.get("bozo"))
    if not entries and not version:
        root = root_element(body)
        if root is not None and root.rsplit(":", 1)[-1] in _FEED_ROOTS:
            raise FeedError(
                "parse-error", "The feed is too broken to read: no items could be found."
            )
        raise FeedError(
            "not-a-feed", "This document is not a feed: it is neither RSS, Atom nor JSON Feed."
        )
    exception = result.get("bozo_exception")
    # A missing or generic Content-Type is the server's slip, not a broken document.
    broken = bozo and not isinstance(
        exception, feedparser.NonXMLContentType | feedparser.CharacterEncodingOverride
    )
    if broken and not entries and not _get(feed, "title"):
        raise FeedError("parse-error", "The feed is too broken to read: no title and no items.")
    return RawFeed(
        title_html=_detail_html(feed, "title"),
        site_url=_text_of(_get(feed, "link")) or None,
        description_html=_detail_html(feed, "subtitle"),
        icon_url=_feed_icon(feed),
        entries=tuple(_raw_entry(entry) for entry in entries if isinstance(entry, dict)),
        bozo=broken,
        format=version or "unknown",
    )


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    # dict.get skips FeedParserDict's key aliases, some of which warn (warnings are errors here).
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _detail_html(mapping: Mapping[str, Any], key: str) -> str:
    """A text construct as HTML: feedparser's value, escaped when it said the value is plain."""
    value = _text_of(_get(mapping, key))
    detail = _get(mapping, f"{key}_detail")
    kind = _text_of(_get(detail, "type")) if isinstance(detail, dict) else "text/html"
    if "html" in kind:
        return value
    # Plain text keeps its line breaks once it is HTML.
    return html.escape(value, quote=False).replace("\n", "<br>")


def _feed_icon(feed: Mapping[str, Any]) -> str | None:
    image = _get(feed, "image")
    for candidate in (_get(image, "href") if isinstance(image, dict) else None,
                      _get(feed, "icon"), _get(feed, "logo")):  # fmt: skip
        if isinstance(candidate, str) and candidate.strip():
            return candidate
    return None


def struct_to_datetime(value: Any) -> datetime | None:
    """feedparser's date (a UTC struct_time) as an aware datetime; None for anything else."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        # feedparser gives UTC struct_times; a leap second (60) is clamped rather than refused.
        return datetime(*value[:5], min(value[5], 59), tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None


def _raw_entry(entry: Mapping[str, Any]) -> RawEntry:
    contents = _get(entry, "content")
    content_html = ""
    if isinstance(contents, list) and contents:
        ordered = sorted(
            (c for c in contents if isinstance(c, dict)),
            key=lambda c: "html" not in _text_of(_get(c, "type")),
        )
        if ordered:
            content_html = _detail_html(
                {"v": _get(ordered[0], "value"), "v_detail": ordered[0]}, "v"
            )
    summary_html = _detail_html(entry, "summary")
    if summary_html == content_html:
        summary_html = ""  # feedparser copies content:encoded here when there is no description
    tags = _get(entry, "tags")
    categories: list[str] = []
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict):
                categories.append(_text_of(_get(tag, "term")) or _text_of(_get(tag, "label")))
    return RawEntry(
        guid=_text_of(_get(entry, "id")) or None,
        link=_text_of(_get(entry, "link")) or None,
        title_html=_detail_html(entry, "title"),
        published=struct_to_datetime(_get(entry, "published_parsed")),
        updated=struct_to_datetime(_get(entry, "updated_parsed")),
        author=_text_of(_get(entry, "author")) or None,
        categories=tuple(categories),
        summary_html=summary_html,
        content_html=content_html,
        image_candidates=tuple(_image_candidates(entry)),
    )


def _image_candidates(entry: Mapping[str, Any]) -> list[str]:
    """Declared images in order of trust: media:content, media:thumbnail, image enclosures."""
    found: list[str] = []
    media = _get(entry, "media_content")
    if isinstance(media, list):
        for item in media:
            if not isinstance(item, dict):
                continue
            medium = _text_of(_get(item, "medium")).lower()
            kind = _text_of(_get(item, "type")).lower()
            if medium == "image" or kind.startswith("image/") or (not medium and not kind):
                found.append(_text_of(_get(item, "url")))
    thumbnails = _get(entry, "media_thumbnail")
    if isinstance(thumbnails, list):
        found += [_text_of(_get(t, "url")) for t in thumbnails if isinstance(t, dict)]
    links = _get(entry, "links")
    if isinstance(links, list):
        for link in links:
            if (
                isinstance(link, dict)
                and _get(link, "rel") == "enclosure"
                and _text_of(_get(link, "type")).lower().startswith("image/")
            ):
                found.append(_text_of(_get(link, "href")))
    return [url for url in found if url]


def normalise_feed(
    raw: RawFeed,
    *,
    url: str,
    now: datetime,
    max_items: int = 200,
    known_keys: Collection[str] = frozenset(),
) -> ParsedFeed:
    """A reader's raw feed as clean items: deduped by key, newest first, at most `max_items`.

    An entry whose key, computed from its raw guid or link alone (`quick_key`), is in
    `known_keys` is not normalised and not returned: it still takes its place in the dedupe, the
    date order and the `max_items` cut, so the items returned are exactly the unknown ones among
    those a call without `known_keys` returns, and `known_items` counts the others.
    """
    kept: list[tuple[datetime | None, ParsedItem | None]] = []  # None: a known, skipped item
    seen: set[str] = set()
    for entry in raw.entries:
        key = entry.known_key
        if key is None and known_keys:
            key = quick_key(entry, base_url=url)
        if key is not None and key in known_keys:
            if key not in seen:
                seen.add(key)
                kept.append((entry_date(entry, now), None))
            continue
        item = normalise_entry(entry, base_url=url, now=now)
        # The first of a repeated guid wins: feeds list newest first, later copies are stale.
        if item is None or item.key in seen:
            continue
        seen.add(item.key)
        # An item keyed by its text (no guid, no link) is only known once normalised.
        kept.append((item.date, None if item.key in known_keys else item))
    if kept and all(date is not None for date, _ in kept):
        kept.sort(key=lambda pair: pair[0] or EARLIEST_DATE, reverse=True)
    kept = kept[: max(0, max_items)]
    items = tuple(item for _, item in kept if item is not None)
    return ParsedFeed(
        title=_single_line(html_to_text(raw.title_html), MAX_TITLE_CHARS),
        site_url=resolve_http_url(raw.site_url, url),
        feed_url=url,
        description=_truncate(html_to_text(raw.description_html), MAX_SUMMARY_CHARS),
        icon_url=resolve_http_url(raw.icon_url, url),
        items=items,
        bozo=raw.bozo,
        format=raw.format,
        known_items=len(kept) - len(items),
    )


def quick_key(entry: RawEntry, *, base_url: str) -> str | None:
    """The key `normalise_entry` would give the entry, from its guid or link alone; None when it
    has neither (its key then hashes the normalised title and text)."""
    guid = clean_text(entry.guid, single_line=True) if entry.guid else ""
    if guid.strip():
        return entry_key(guid=guid, link=None, title="", content="")
    link = resolve_http_url(entry.link, base_url)
    if link and link.strip():
        return entry_key(guid=None, link=link, title="", content="")
    return None


def entry_date(entry: RawEntry, now: datetime) -> datetime | None:
    """`ParsedItem.date` of the entry's item, without normalising the rest of it."""
    return _sane_date(entry.published, now) or _sane_date(entry.updated, now)


def normalise_entry(entry: RawEntry, *, base_url: str, now: datetime) -> ParsedItem | None:
    """One clean item, or None when the entry has nothing to show (no title, link or text)."""
    title = _single_line(html_to_text(entry.title_html), MAX_TITLE_CHARS)
    link = resolve_http_url(entry.link, base_url)
    guid = clean_text(entry.guid, single_line=True) if entry.guid else ""
    summary = html_to_text(entry.summary_html) if entry.summary_html else ""
    keyed_by_text = not (guid.strip() or (link and link.strip()))
    # The content's text (HTML to text of the longest field) is only needed for a summary the
    # item lacks, or for a key when there is neither guid nor link; most items have neither need.
    content_text = ""
    if entry.content_html and (not summary or keyed_by_text):
        content_text = html_to_text(entry.content_html)
    if summary:
        summary = _truncate(summary, MAX_SUMMARY_CHARS)
    else:
        summary = _truncate(content_text, MAX_DERIVED_SUMMARY_CHARS)
    if not (title or link or summary or guid):
        return None
    return ParsedItem(
        key=entry_key(guid=guid, link=link, title=title, content=content_text or summary),
        guid=guid or None,
        title=title,
        url=link,
        published=_sane_date(entry.published, now),
        updated=_sane_date(entry.updated, now),
        author=_author_name(entry.author or ""),
        categories=_categories(entry.categories),
        summary=summary,
        summary_html=_safe_html(entry.summary_html),
        content_html=_safe_html(entry.content_html),
        image_url=_image(entry, base_url),
    )


def _sane_date(moment: datetime | None, now: datetime) -> datetime | None:
    """The date in UTC, or None if it is before 1990 or more than two days ahead of `now`."""
    if moment is None or moment.tzinfo is None:
        return None
    if moment < EARLIEST_DATE or moment > now + FUTURE_TOLERANCE:
        return None
    return moment.astimezone(UTC)


def _author_name(raw: str) -> str | None:
    """The author's name; an e-mail address beside it ("a@b (Name)", "Name <a@b>") is dropped."""
    # The author line is never sanitized by feedparser: only a name's worth of it is read.
    text = clean_text(html_to_text(raw[:_MAX_AUTHOR_SOURCE_CHARS]), single_line=True)
    for pattern in _AUTHOR_WITH_EMAIL:
        match = pattern.fullmatch(text)
        if match and match.group("name").strip():
            text = match.group("name").strip()
            break
    return _truncate(text, MAX_AUTHOR_CHARS) or None


def _categories(raw: Sequence[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    kept: list[str] = []
    for value in raw:
        # WordPress escapes category names inside CDATA, so one unescape gives the real name.
        name = _single_line(html.unescape(value), MAX_CATEGORY_CHARS)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            kept.append(name)
        if len(kept) >= MAX_CATEGORIES:
            break
    return tuple(kept)


def _image(entry: RawEntry, base_url: str) -> str | None:
    candidates = list(entry.image_candidates)
    for fragment in (entry.content_html, entry.summary_html):
        source = _first_img_src(fragment)
        if source is not None:
            candidates.append(html.unescape(source))
    for candidate in candidates:
        resolved = resolve_http_url(candidate, base_url)
        if resolved:
            return resolved
    return None


def _first_img_src(fragment: str) -> str | None:
    """The src of the first `<img>` that has one, in one forward scan."""
    position = 0
    while (tag := _IMG_TAG.search(fragment, position)) is not None:
        close = fragment.find(">", tag.end())
        if close < 0:
            return None  # no tag closes after this one, so no later one does either
        match = _SRC_ATTRIBUTE.search(fragment, tag.end(), close)
        if match:
            return next(group for group in match.groups() if group is not None)
        position = close + 1
    return None


def _safe_html(fragment: str) -> str:
    # HTML stays HTML, but control and bidi characters go, like everywhere else.
    return strip_unsafe(fragment).replace("\t", " ").strip()


def _single_line(text: str, limit: int) -> str:
    return _truncate(clean_text(text, single_line=True), limit)


def _truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"

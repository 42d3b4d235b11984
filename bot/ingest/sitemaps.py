"""Reading what a feed address returns, sitemaps included: new pages become items.

A sitemap says only where pages are (and, for a Google News sitemap, their titles and dates).
So when a sitemap is followed, the pages of its new URLs are fetched and read by the existing
extraction (in the worker pool) for their title and standfirst, newest first and at most
MAX_PAGE_READS_PER_POLL per poll; the rest wait for the next poll. A sitemap index is followed
one level down, to its MAX_CHILD_SITEMAPS most recently modified sitemaps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.articles.extract import Extracted, extract_in_thread
from bot.errors import FeedError, FetchError, PaperboyError
from bot.feeds import ParsedFeed, ParsedItem, parse_feed_off_loop
from bot.feeds.parse import MAX_DERIVED_SUMMARY_CHARS, MAX_TITLE_CHARS
from bot.feeds.sitemap import SitemapRead, is_sitemap, merge_feeds, read_sitemap
from bot.fetch import Fetcher, FetchResult
from bot.textutil import clean_text
from bot.workpool import JobOutOfMemory, JobTimedOut

if TYPE_CHECKING:
    from bot.workpool import Priority, WorkPool

log = logging.getLogger(__name__)

MAX_PAGE_READS_PER_POLL = 5
"""Pages of new sitemap URLs read in one poll (newest first); the others wait for the next."""


@dataclass(frozen=True)
class DocumentRead:
    """A feed or sitemap as read for one poll."""

    feed: ParsedFeed
    deferred: int = 0
    """New sitemap pages left out of `feed` until their pages are read (past the per-poll
    budget, or unreadable for now). When non-zero the next poll must fetch the sitemap in full."""


KnownKeys = Callable[[Sequence[str]], Awaitable[set[str]]]
"""Which of these item keys the feed has already recorded (storage's `known_entry_keys`)."""


async def read_document(
    fetcher: Fetcher,
    result: FetchResult,
    *,
    now: datetime,
    max_items: int,
    pool: WorkPool | None,
    priority: Priority,
    known: KnownKeys | None = None,
    seeding: bool = True,
    page_reads: int = MAX_PAGE_READS_PER_POLL,
) -> DocumentRead:
    """A fetched feed or sitemap as a ParsedFeed, and how many new items wait for next time.

    For a sitemap, the pages of up to `page_reads` URLs not in `known` are read for their
    title and standfirst. When `seeding` (a feed's first read, whose items are only recorded as
    seen) every item is kept; otherwise a new page not read yet is left out and counted in
    `deferred`, so it is announced once its page has been read.
    """
    body = result.body or b""
    if not is_sitemap(body):
        return DocumentRead(
            await parse_feed_off_loop(
                body,
                url=result.url,
                headers=result.headers,
                now=now,
                max_items=max_items,
                pool=pool,
                priority=priority,
            )
        )
    feed = await _sitemap_feed(fetcher, body, result.url, now, max_items, pool, priority)
    seen = await known([item.key for item in feed.items]) if known is not None else set()
    fresh = [item for item in feed.items if item.key not in seen]
    chosen = fresh[: max(0, page_reads)]
    reads = await asyncio.gather(
        *(_read_page(fetcher, item, now, pool, priority) for item in chosen)
    )
    read = {item.key: enriched for item, enriched in zip(chosen, reads, strict=True)}
    items: list[ParsedItem] = []
    deferred = 0
    for item in feed.items:
        better = read.get(item.key)
        if better is not None:
            items.append(better)
        elif item.key in seen or seeding or (item.key in read and item.title):
            items.append(item)  # seen, only recorded, or a failed read that still has a title
        else:
            deferred += 1
    return DocumentRead(dataclasses.replace(feed, items=tuple(items)), deferred)


async def _off_loop(
    body: bytes, url: str, now: datetime, max_items: int, pool: WorkPool | None, priority: Priority
) -> SitemapRead:
    job = functools.partial(read_sitemap, body, url=url, now=now, max_items=max_items)
    if pool is None:
        return await asyncio.to_thread(job)
    try:
        return await pool.run(job, priority=priority, what="this sitemap")
    except JobTimedOut as error:
        raise FeedError("too-slow", str(error)) from None
    except JobOutOfMemory as error:
        raise FeedError("too-large", str(error)) from None


async def _sitemap_feed(
    fetcher: Fetcher,
    body: bytes,
    url: str,
    now: datetime,
    max_items: int,
    pool: WorkPool | None,
    priority: Priority,
) -> ParsedFeed:
    read = await _off_loop(body, url, now, max_items, pool, priority)
    if read.feed is not None:
        return read.feed
    feeds: list[ParsedFeed] = []
    problems: list[str] = []
    for child in read.children:
        try:
            fetched = await fetcher.fetch(child, kind="feed", now=now)
            if fetched.body is None:
                continue
            nested = await _off_loop(fetched.body, fetched.url, now, max_items, pool, priority)
        except (FetchError, FeedError) as error:
            problems.append(f"{child}: {error}")
            continue
        if nested.feed is not None:  # an index inside an index is not followed: one level only
            feeds.append(nested.feed)
    if not feeds:
        detail = f" ({problems[0]})" if problems else ""
        raise FeedError(
            "parse-error",
            f"The sitemap index at {url} lists no sitemap of pages Paperboy could read{detail}.",
        )
    return merge_feeds(feeds, url=url, max_items=max_items)


async def _read_page(
    fetcher: Fetcher, item: ParsedItem, now: datetime, pool: WorkPool | None, priority: Priority
) -> ParsedItem | None:
    """The item with its page's title, standfirst, author and image; None if unreadable."""
    if not item.url:
        return None
    try:
        page = await fetcher.fetch(item.url, kind="page", now=now)
        extracted = await extract_in_thread(
            page.body or b"", page.url, content_type=page.content_type, pool=pool, priority=priority
        )
    except PaperboyError as error:
        log.info("Sitemap page %s could not be read: %s", item.url, error)
        return None
    return with_page(item, extracted)


def with_page(item: ParsedItem, page: Extracted) -> ParsedItem:
    """A sitemap item completed by what its page says; the sitemap's own title and date win."""
    standfirst = page.description or page.text
    summary = clean_text(standfirst)[:MAX_DERIVED_SUMMARY_CHARS].strip()
    return dataclasses.replace(
        item,
        title=item.title or page.title[:MAX_TITLE_CHARS],
        summary=summary or item.summary,
        author=item.author or page.author or None,
        published=item.published or page.published,
        image_url=item.image_url or page.image_url or None,
    )

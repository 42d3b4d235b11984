"""Finding the feed behind an address a moderator typed: the address itself, links, usual paths."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import FeedError, FetchError
from bot.feeds import (
    ParsedFeed,
    fallback_paths,
    find_feed_links,
    looks_like_html,
    parse_feed_off_loop,
)
from bot.fetch import Fetcher, FetchResult

if TYPE_CHECKING:
    from bot.workpool import Priority, WorkPool

log = logging.getLogger(__name__)

MAX_DECLARED_CANDIDATES = 8
"""A hostile page could declare thousands of feed links; only the first few are tried."""


async def resolve_feed(
    fetcher: Fetcher,
    url: str,
    now: datetime,
    *,
    max_items: int = 200,
    pool: WorkPool | None = None,
    priority: Priority = "member",
) -> tuple[str, ParsedFeed]:
    """The feed's own URL and its parsed content, for a feed URL or a site's page.

    A web page is searched for `<link rel="alternate">` feeds, then the usual feed paths are
    tried; the first candidate that parses wins. Raises FetchError when `url` itself cannot be
    fetched, FeedError("not-a-feed") when nothing found is a feed, FeedError("parse-error") when
    `url` is a feed too broken to read. With a `pool`, the page and feeds are read in its
    workers (JobTimedOut when the page takes too long); without one, in threads.
    """

    async def parse(result: FetchResult) -> ParsedFeed:
        return await parse_feed_off_loop(
            result.body or b"",
            url=result.url,
            headers=result.headers,
            now=now,
            max_items=max_items,
            pool=pool,
            priority=priority,
        )

    first = await fetcher.fetch(url, kind="feed", now=now)
    body = first.body or b""
    is_page = looks_like_html(body, first.content_type)
    if not is_page:
        try:
            return first.url, await parse(first)
        except FeedError as error:
            if error.kind != "not-a-feed":
                raise
    declared = await _declared_feeds(body, first.url, pool, priority) if is_page else []
    usual = [path for path in fallback_paths(first.url) if path not in declared]
    tried: set[str] = {first.url}
    for candidate in declared + usual:
        if candidate in tried:
            continue
        tried.add(candidate)
        try:
            result = await fetcher.fetch(candidate, kind="feed", now=now)
            if result.body is None:
                continue
            return result.url, await parse(result)
        except (FetchError, FeedError) as error:
            log.debug("Feed candidate %s rejected: %s", candidate, error)
    what = "a web page" if is_page else "not a feed"
    if declared:
        plural = "s" if len(declared) != 1 else ""
        tried_part = f"{len(declared)} feed link{plural} the page declares and "
    else:
        tried_part = "no declared feed links, then " if is_page else ""
    raise FeedError(
        "not-a-feed",
        f"{url} is {what}, and Paperboy found no feed there: it tried {tried_part}"
        f"{len(usual)} usual feed addresses such as /feed/ and /rss.xml. "
        "Give the address of the feed itself.",
    )


async def _declared_feeds(
    body: bytes, page_url: str, pool: WorkPool | None, priority: Priority
) -> list[str]:
    """The page's declared feed links; the HTML parser is pure Python, so never on the loop."""
    if pool is None:
        found = await asyncio.to_thread(find_feed_links, body, page_url)
    else:
        job = functools.partial(find_feed_links, body, page_url)
        found = await pool.run(job, priority=priority, what="this page")
    return found[:MAX_DECLARED_CANDIDATES]

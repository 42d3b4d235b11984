"""Finding the feed behind an address a moderator typed: the address itself, what kind of source
it is (YouTube, Reddit, Mastodon, Bluesky, blogging platforms), links, usual paths, sitemaps."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from bot.errors import FeedError, FetchError
from bot.feeds import ParsedFeed, fallback_paths, find_feed_links, looks_like_html
from bot.feeds.sources import (
    Candidate,
    Source,
    describe,
    platform_of_page,
    recognise,
    robots_url,
    sitemap_candidates,
    youtube_channel_id,
    youtube_feed,
)
from bot.fetch import Fetcher, FetchKind, FetchResult
from bot.ingest.sitemaps import read_document

if TYPE_CHECKING:
    from bot.workpool import Priority, WorkPool

log = logging.getLogger(__name__)

MAX_DECLARED_CANDIDATES = 8
"""A hostile page could declare thousands of feed links; only the first few are tried."""
MAX_SITEMAP_CANDIDATES = 5
"""Sitemap addresses tried for a site with no feed (robots.txt's first, then the usual ones)."""
MAX_ROBOTS_CHARS = 64 * 1024
_STOPPED_KINDS = frozenset({"too-slow", "too-large"})
"""Feeds that exist but that the worker pool stopped (deadline or memory cap)."""
PREVIEW_PAGE_READS = 1
"""A sitemap's newest page is read at discovery, so the preview shows its title."""
T = TypeVar("T")


@dataclass(frozen=True)
class Resolved:
    """What an address led to: the feed to follow, its content, and what kind of source it is."""

    feed_url: str
    parsed: ParsedFeed
    source: Source | None = None
    """None for a plain feed or a site's feed found the usual way."""
    note: str = ""
    """What of the source is followed, when not all of it ("videos without Shorts")."""

    @property
    def description(self) -> str:
        """What `/feeds add` says it recognised, as `describe` words it."""
        if self.source is not None:
            return describe(self.source, self.parsed.title, self.note)
        kind = "sitemap" if self.parsed.format in ("sitemap", "news-sitemap") else "feed"
        noun = "Google News sitemap" if self.parsed.format == "news-sitemap" else kind
        return f"{noun} {self.parsed.title}".strip()


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

    See `resolve_source`, which also says what kind of source the address was.
    """
    found = await resolve_source(
        fetcher, url, now, max_items=max_items, pool=pool, priority=priority
    )
    return found.feed_url, found.parsed


async def resolve_source(
    fetcher: Fetcher,
    url: str,
    now: datetime,
    *,
    max_items: int = 200,
    pool: WorkPool | None = None,
    priority: Priority = "member",
    youtube_shorts: bool = True,
) -> Resolved:
    """The feed to follow for an address a person pasted, and what kind of source it is.

    A recognised source (a YouTube channel or video, a subreddit, a Mastodon or Bluesky profile,
    a blog on Substack, Medium, Blogger, Ghost or WordPress) is turned into its feed by that
    platform's convention. Otherwise a feed is read as it is; a web page is searched for
    `<link rel="alternate">` feeds, then its platform's feed, then the usual feed paths, then
    (only when no feed exists) its sitemaps. Raises FetchError when `url` itself cannot be
    fetched, FeedError("not-a-feed") when nothing found is a feed or sitemap,
    FeedError("parse-error") when `url` is a feed too broken to read. With a `pool`, pages and
    feeds are read in its workers (JobTimedOut when one takes too long); without, in threads.
    """
    reader = _Reader(fetcher, now, max_items, pool, priority)
    source = recognise(url, youtube_shorts=youtube_shorts)
    if source is not None:
        found = await _follow_source(reader, url, source)
        if found is not None:
            return found
    return await _discover(reader, url)


@dataclass(frozen=True)
class _Reader:
    """Fetching and reading for one discovery, with its time, pool and priority."""

    fetcher: Fetcher
    now: datetime
    max_items: int
    pool: WorkPool | None
    priority: Priority

    async def fetch(self, url: str, kind: FetchKind = "feed") -> FetchResult:
        return await self.fetcher.fetch(url, kind=kind, now=self.now)

    async def read(self, result: FetchResult) -> ParsedFeed:
        read = await read_document(
            self.fetcher,
            result,
            now=self.now,
            max_items=self.max_items,
            pool=self.pool,
            priority=self.priority,
            page_reads=PREVIEW_PAGE_READS,
        )
        return read.feed

    async def off_loop(self, job: Callable[[], T], what: str) -> T:
        """Pure-Python reading of untrusted text: never on the event loop."""
        if self.pool is None:
            return await asyncio.to_thread(job)
        return await self.pool.run(job, priority=self.priority, what=what)


async def _follow_source(reader: _Reader, url: str, source: Source) -> Resolved | None:
    """The recognised source's feed; None to fall back to plain discovery (a guessed kind)."""
    candidates = source.candidates
    if source.page is not None:
        page = await reader.fetch(source.page, "page")
        job = functools.partial(youtube_channel_id, page.body or b"")
        channel_id = await reader.off_loop(job, "this page")
        if channel_id is None:
            raise FeedError(
                "not-a-feed",
                f"{url} looks like a YouTube address, but its page names no channel, so "
                "Paperboy cannot find the channel's feed. Paste the channel's own address "
                "(https://www.youtube.com/channel/UC…).",
            )
        candidates = youtube_feed(channel_id, source.youtube_variant)
    first_error: FetchError | FeedError | None = None
    for candidate in candidates:
        try:
            return await _read_candidate(reader, source, candidate)
        except (FetchError, FeedError) as error:
            log.debug("Feed %s of %s rejected: %s", candidate.url, url, error)
            first_error = first_error or error
    if source.kind == "mastodon" or first_error is None:
        return None  # only the address's shape said Mastodon: look at the site itself
    message = (
        f"Paperboy recognised {url} as a {source.noun}, but could not read its feed "
        f"{candidates[0].url}: {first_error}"
    )
    if isinstance(first_error, FetchError):
        raise FetchError(first_error.kind, message, retry_after=first_error.retry_after)
    raise FeedError(first_error.kind, message)


async def _read_candidate(reader: _Reader, source: Source, candidate: Candidate) -> Resolved:
    result = await reader.fetch(candidate.url)
    if result.body is None:
        raise FeedError("not-a-feed", f"{candidate.url} sent no document.")
    parsed = await reader.read(result)
    return Resolved(result.url, parsed, source, candidate.note)


async def _discover(reader: _Reader, url: str) -> Resolved:
    first = await reader.fetch(url)
    body = first.body or b""
    is_page = looks_like_html(body, first.content_type)
    if not is_page:
        try:
            return Resolved(first.url, await reader.read(first))
        except FeedError as error:
            if error.kind != "not-a-feed":
                raise
    declared: list[str] = []
    platform: Source | None = None
    if is_page:
        job = functools.partial(_page_clues, body, first.url)
        declared, platform = await reader.off_loop(job, "this page")
    preferred = [c.url for c in platform.candidates] if platform is not None else []
    usual = [path for path in preferred + fallback_paths(first.url) if path not in declared]
    tried: set[str] = {first.url}
    stopped: FeedError | None = None  # a declared feed that was found but cost too much to read
    for candidate in declared + usual:
        if candidate in tried:
            continue
        if stopped is not None and candidate not in declared:
            # The page named its feed and it was refused for its cost: say so, rather than
            # quietly following some other feed found at a guessed address.
            raise stopped
        tried.add(candidate)
        try:
            result = await reader.fetch(candidate)
            if result.body is None:
                continue
            return Resolved(result.url, await reader.read(result), platform)
        except (FetchError, FeedError) as error:
            log.debug("Feed candidate %s rejected: %s", candidate, error)
            if stopped is None and isinstance(error, FeedError) and error.kind in _STOPPED_KINDS:
                stopped = FeedError(
                    error.kind, f"{url} declares the feed {candidate}, but: {error}"
                )
    if stopped is not None:
        raise stopped
    sitemaps = await _sitemap_addresses(reader, first.url)
    for candidate in sitemaps:
        if candidate in tried:
            continue
        tried.add(candidate)
        try:
            result = await reader.fetch(candidate)
            if result.body is None or looks_like_html(result.body, result.content_type):
                continue
            parsed = await reader.read(result)
        except (FetchError, FeedError) as error:
            log.debug("Sitemap candidate %s rejected: %s", candidate, error)
            continue
        if parsed.format in ("sitemap", "news-sitemap"):
            return Resolved(result.url, parsed)
    what = "a web page" if is_page else "not a feed"
    if declared:
        plural = "s" if len(declared) != 1 else ""
        tried_part = f"{len(declared)} feed link{plural} the page declares and "
    else:
        tried_part = "no declared feed links, then " if is_page else ""
    raise FeedError(
        "not-a-feed",
        f"{url} is {what}, and Paperboy found no feed there: it tried {tried_part}"
        f"{len(usual)} usual feed addresses such as /feed/ and /rss.xml, and "
        f"{len(sitemaps)} sitemap addresses. Give the address of the feed itself.",
    )


def _page_clues(body: bytes, page_url: str) -> tuple[list[str], Source | None]:
    """The page's declared feed links (the first few) and its blogging platform, if named."""
    return find_feed_links(body, page_url)[:MAX_DECLARED_CANDIDATES], platform_of_page(
        body, page_url
    )


async def _sitemap_addresses(reader: _Reader, site_url: str) -> list[str]:
    """Where the site's sitemaps may be: its robots.txt's `Sitemap:` lines, then usual paths."""
    robots = ""
    try:
        result = await reader.fetch(robots_url(site_url), "page")
        robots = (result.body or b"")[:MAX_ROBOTS_CHARS].decode("utf-8", "replace")
    except FetchError as error:
        log.debug("No robots.txt at %s: %s", site_url, error)
    return sitemap_candidates(robots, site_url)[:MAX_SITEMAP_CANDIDATES]

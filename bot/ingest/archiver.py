"""Full-text archiving: each new article's page fetched and extracted, in its own background loop.

Polling only records articles (text_status 'pending'); this loop fills in the text so polls are
never slowed by page fetches. When the feed carried the whole article, its content is used and no
page is fetched; with `[feeds] fetch_full_text = false` the feed's content is kept as the text.

At most `[limits] archive_pages_per_poll` pages are fetched per poll of one feed: its newest new
articles. The poll marks the older ones in its own transaction (`fetch_page = 0`, whichever
process archives), and they keep the feed's own text (status 'skipped'), as with
`fetch_full_text = false`; announcements never wait for archiving, and /summary still reads such
a page on demand, under the member's quota.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import lxml.html
from lxml import etree

from bot.articles import related
from bot.articles.boilerplate import strip_boilerplate
from bot.articles.extract import Extracted, extract_in_thread
from bot.clock import Clock
from bot.config import Config
from bot.errors import FetchError, PaperboyError
from bot.fetch import Fetcher, kinds
from bot.storage import PendingArticle, Storage
from bot.tasks import WakeSignal
from bot.textutil import clean_text, html_to_text
from bot.workpool import WorkPool

log = logging.getLogger(__name__)

MIN_FEED_CONTENT_CHARS = 1500
"""Feed content whose text is at least this long is taken as the whole article."""
EXTRACT_TIMEOUT_SECONDS = 20.0
BATCH_SIZE = 20
IDLE_WAKE_SECONDS = 300.0
MAX_TEXT_ATTEMPTS = 3
"""Tries of a page that fails for a passing reason before it is marked failed for good."""
RETRY_BASE_SECONDS = 600.0
"""First wait before trying such a page again; each later wait is four times longer."""
PASSING_FAILURES = frozenset(
    {
        kinds.TIMEOUT,
        kinds.HTTP_5XX,
        kinds.RATE_LIMITED,
        kinds.NETWORK,
        kinds.REFUSED,
        kinds.DNS,
        kinds.BUSY,
    }
)
# Elements of feed content that are never the article's prose.
_NOT_PROSE = ("figcaption", "script", "style", "noscript", "iframe", "form", "aside", "nav")


def feed_content_text(content_html: str) -> str:
    """The prose of a feed's content HTML: captions, scripts and boilerplate lines removed."""
    if not content_html.strip():
        return ""
    try:
        fragment = lxml.html.fragment_fromstring(content_html, create_parent="div")
    except (etree.ParserError, ValueError):
        return strip_boilerplate(html_to_text(content_html))
    for element in fragment.iter(*_NOT_PROSE):
        element.drop_tree()
    html = lxml.html.tostring(fragment, encoding="unicode")
    return strip_boilerplate(html_to_text(html))


@dataclass
class ArchiveReport:
    """What one batch did: article ids by the status they ended with."""

    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    postponed: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Articles handled."""
        return len(self.done) + len(self.failed) + len(self.skipped) + len(self.postponed)


class Archiver:
    """Archives the full text of pending articles, a bounded number at a time."""

    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        config: Config,
        clock: Clock,
        *,
        concurrency: int = 4,
        extract_timeout: float = EXTRACT_TIMEOUT_SECONDS,
        min_feed_content_chars: int = MIN_FEED_CONTENT_CHARS,
        pool: WorkPool | None = None,
    ) -> None:
        self.storage = storage
        self.pool = pool  # where pages and feed content are read; None: in threads
        self.fetcher = fetcher
        self.config = config
        self.clock = clock
        self.extract_timeout = extract_timeout
        self.min_feed_content_chars = min_feed_content_chars
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self._wake = WakeSignal()
        # One batch at a time: two overlapping calls would read the same pending list and
        # fetch, extract and re-index each article twice.
        self._batch = asyncio.Lock()

    def wake(self) -> None:
        """Look for pending articles now (the poller added some)."""
        self._wake.set()

    async def archive_pending(self, limit: int = BATCH_SIZE) -> ArchiveReport:
        """Archive up to `limit` pending articles concurrently (bounded); a call made while a
        batch runs waits for it, then takes what is still pending."""
        async with self._batch:
            pending = await self.storage.articles_pending_text(limit, now=self.clock.now())
            report = ArchiveReport()

            async def one(article: PendingArticle) -> None:
                async with self._limit:
                    status = await self.archive_article(article)
                getattr(report, status).append(article.id)

            await asyncio.gather(*(one(article) for article in pending))
            return report

    async def archive_article(self, article: PendingArticle) -> str:
        """Fill in one article's text; returns done, failed, skipped or postponed."""
        try:
            status = await self._archive(article)
        except Exception:
            # Never leave an article pending forever: one that breaks the code is marked failed.
            log.exception("Archiving article %s (%s) failed unexpectedly", article.id, article.url)
            await self.storage.save_article_text(article.id, status="failed", text="")
            status = "failed"
        if status == "postponed":
            return status  # indexed once its text is final
        try:
            await related.index_article(self.storage, article.id)
        except PaperboyError as error:
            log.warning("Article %s could not be indexed: %s", article.id, error)
        return status

    async def _archive(self, article: PendingArticle) -> str:
        from_feed = await self._feed_text(article.feed_content_html)
        if not self.config.feeds.fetch_full_text:
            text = from_feed or clean_text(article.excerpt)
            await self.storage.save_article_text(article.id, status="skipped", text=text)
            return "skipped"
        if len(from_feed) >= self.min_feed_content_chars:
            await self.storage.save_article_text(article.id, status="done", text=from_feed)
            return "done"
        if not article.fetch_page:
            # Past its poll's page budget: the feed's text stands in, and no page is fetched.
            text = from_feed or clean_text(article.excerpt)
            await self.storage.save_article_text(article.id, status="skipped", text=text)
            return "skipped"
        try:
            extracted = await self._fetch_and_extract(article.url)
        except FetchError as error:
            if error.kind in PASSING_FAILURES and article.attempts + 1 < MAX_TEXT_ATTEMPTS:
                wait = max(RETRY_BASE_SECONDS * 4**article.attempts, error.retry_after or 0.0)
                log.info(
                    "Article %s (%s): %s; trying again in %.0f s",
                    article.id,
                    article.url,
                    error,
                    wait,
                )
                await self.storage.postpone_article_text(
                    article.id,
                    retry_at=self.clock.now() + timedelta(seconds=wait),
                    interim_text=from_feed,
                )
                return "postponed"
            log.info("Article %s (%s) not archived: %s", article.id, article.url, error)
            await self.storage.save_article_text(article.id, status="failed", text=from_feed)
            return "failed"
        except PaperboyError as error:
            log.info("Article %s (%s) not archived: %s", article.id, article.url, error)
            # The feed's own text, however short, beats nothing for search and summaries.
            await self.storage.save_article_text(article.id, status="failed", text=from_feed)
            return "failed"
        await self.storage.save_article_text(
            article.id,
            status="done",
            text=extracted.text or from_feed,
            title=extracted.title,
            description=extracted.description,
            author=extracted.author,
            site_name=extracted.site_name,
            image_url=extracted.image_url,
            published=extracted.published,
        )
        return "done"

    async def _feed_text(self, content_html: str) -> str:
        # The feed's HTML is as hostile as any page: parsed in a worker, like pages.
        if self.pool is None or not content_html.strip():
            return feed_content_text(content_html)
        job = functools.partial(feed_content_text, content_html)
        try:
            return await self.pool.run(job, priority="system", what="this article's feed content")
        except PaperboyError as error:
            log.info("Feed content left out: %s", error)
            return ""

    async def _fetch_and_extract(self, url: str) -> Extracted:
        result = await self.fetcher.fetch(url, kind="page", now=self.clock.now())
        return await extract_in_thread(
            result.body or b"",
            result.url,
            timeout=self.extract_timeout,
            content_type=result.headers.get("content-type"),
            pool=self.pool,
            priority="system",
        )

    async def run(self) -> None:
        """Archive pending articles batch after batch; sleep until woken when none are left."""
        while True:
            self._wake.clear()
            try:
                report = await self.archive_pending()
            except Exception:
                log.exception("An archiving round failed; the next round retries")
                report = ArchiveReport()
            if report.total:
                continue  # more may be waiting
            await self._wake.sleep(IDLE_WAKE_SECONDS)

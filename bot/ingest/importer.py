"""Archive import: bring older articles into the archive from feeds, sitemaps, pages and files.

Sources are expanded into one job per article first (so progress can be shown), then each job is
archived unless its canonical URL is already in the archive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
from lxml import etree

from bot.announce.plan import article_of
from bot.articles import related
from bot.articles.extract import Extracted, extract_article, extract_in_thread
from bot.clock import Clock
from bot.errors import InvalidInput, PaperboyError
from bot.feeds import canonical_url, looks_like_html, parse_feed_off_loop, resolve_http_url
from bot.feeds.sitemap import is_sitemap, parse_sitemap
from bot.fetch import Fetcher
from bot.ingest.archiver import Archiver
from bot.storage import NewArticle, PendingArticle, Storage
from bot.textutil import clean_text

log = logging.getLogger(__name__)

MAX_SITEMAP_URLS = 50_000
"""The sitemaps.org limit for one sitemap file; also our cap on one import's article count."""
MAX_SITEMAP_DEPTH = 2
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class ImportJob:
    """One article to import: from a URL (page), a feed item, or a local file."""

    source: str
    url: str | None = None
    article: NewArticle | None = None
    path: Path | None = None


@dataclass
class ImportReport:
    """How an import went."""

    imported: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the end of the command."""
        noun = "article" if self.imported == 1 else "articles"
        return (
            f"Imported {self.imported} {noun}, skipped {self.skipped} already archived, "
            f"{self.failed} failed"
        )


def sitemap_urls(body: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) listed by a sitemaps.org urlset or sitemapindex.

    The same bounded parser that follows sitemaps like feeds (`bot.feeds.sitemap`).
    """
    sitemap = parse_sitemap(body, url="", max_urls=MAX_SITEMAP_URLS)
    locations = [entry.loc for entry in sitemap.entries]
    return ([], locations) if sitemap.is_index else (locations, [])


def text_file_article(path: Path, text: str) -> NewArticle:
    """A .txt file as an article: the first line is the title, the rest the body."""
    title, _, body = text.strip().partition("\n")
    body = clean_text(body.strip())
    if not title.strip() or not body:
        raise InvalidInput(f"{path.name} needs a title on its first line and the text below it.")
    return NewArticle(
        canonical_url=path.resolve().as_uri(),
        url=path.resolve().as_uri(),
        title=clean_text(title, single_line=True),
        text=body,
        text_status="done",
    )


def _declared_canonical(html: bytes, page_url: str) -> str | None:
    """The page's `<link rel="canonical">` or og:url, if it names an http(s) address."""
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    for href in tree.xpath('//link[@rel="canonical"]/@href | //meta[@property="og:url"]/@content'):
        resolved = resolve_http_url(str(href), page_url)
        if resolved:
            return resolved
    return None


class Importer:
    """Expands sources into jobs and imports them into the archive."""

    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        archiver: Archiver,
        clock: Clock,
        *,
        concurrency: int = 4,
        max_items: int = 10_000,
    ) -> None:
        self.storage = storage
        self.fetcher = fetcher
        self.archiver = archiver
        self.clock = clock
        self.max_items = max_items
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self._fetched: Callable[[int], None] | None = None

    async def expand(
        self,
        sources: Sequence[str],
        report: ImportReport,
        *,
        fetched: Callable[[int], None] | None = None,
    ) -> list[ImportJob]:
        """One job per article named by the sources; unusable sources are counted as failed.

        `fetched(1)` is called after each source or nested sitemap is read, so a
        sitemap index of hundreds of sitemaps shows progress while it is expanded."""
        self._fetched = fetched
        jobs: list[ImportJob] = []
        for source in sources:
            try:
                jobs.extend(await self._expand_one(source, depth=0))
            except PaperboyError as error:
                report.failed += 1
                report.failures.append((source, str(error)))
        return jobs

    async def _expand_one(self, source: str, *, depth: int) -> list[ImportJob]:
        path = Path(source)
        if not source.startswith(("http://", "https://")):
            if not await asyncio.to_thread(path.is_file):
                raise InvalidInput(f"{source} is neither a web address nor a readable file.")
            if path.suffix.lower() not in (".html", ".htm", ".txt"):
                raise InvalidInput(f"{source}: only .html, .htm and .txt files can be imported.")
            return [ImportJob(source, path=path)]
        result = await self.fetcher.fetch(source, kind="feed", now=self.clock.now())
        body = result.body or b""
        if self._fetched is not None:
            self._fetched(1)
        if is_sitemap(body):
            pages, nested = sitemap_urls(body)
            jobs = [ImportJob(source, url=url) for url in pages]
            if depth < MAX_SITEMAP_DEPTH:
                for sitemap in nested:
                    jobs.extend(await self._expand_one(sitemap, depth=depth + 1))
            return jobs
        if looks_like_html(body, result.content_type):
            return [ImportJob(source, url=source)]
        parsed = await parse_feed_off_loop(
            body, url=result.url, headers=result.headers, now=self.clock.now(),
            max_items=self.max_items, pool=self.archiver.pool,
        )  # fmt: skip
        jobs = []
        for item in parsed.items:
            article = article_of(item)
            if article is not None:
                jobs.append(ImportJob(source, url=article.url, article=article))
        return jobs

    async def run(
        self, jobs: Sequence[ImportJob], report: ImportReport, *, advance: Callable[[], None]
    ) -> ImportReport:
        """Import every job (bounded concurrency), calling `advance` after each one."""
        seen: set[str] = set()

        async def one(job: ImportJob) -> None:
            async with self._limit:
                try:
                    outcome = await self._import(job, seen)
                except (PaperboyError, OSError, UnicodeDecodeError) as error:
                    report.failed += 1
                    report.failures.append((job.url or str(job.path), str(error)))
                else:
                    if outcome:
                        report.imported += 1
                    else:
                        report.skipped += 1
                finally:
                    advance()

        await asyncio.gather(*(one(job) for job in jobs))
        return report

    async def _import(self, job: ImportJob, seen: set[str]) -> bool:
        """True if the job added an article, False if it was archived already."""
        if job.url is not None:
            # Checked before fetching, so a second run costs no page downloads.
            key = canonical_url(job.url)
            if key in seen or await self.storage.is_archived(key):
                return False
            seen.add(key)
        if job.path is not None:
            article = await asyncio.to_thread(self._file_article, job.path)
        elif job.article is not None:
            article = job.article
        else:
            assert job.url is not None
            article = await self._page_article(job.url)
        [(article_id, created)] = await self.storage.add_articles([article], now=self.clock.now())
        if not created:
            return False
        if article.text_status == "pending":
            pending = PendingArticle(
                id=article_id,
                url=article.url,
                canonical_url=article.canonical_url,
                title=article.title,
                excerpt=article.excerpt,
                feed_content_html=article.feed_content_html,
            )
            await self.archiver.archive_article(pending)  # indexes it too
        else:
            await related.index_article(self.storage, article_id)
        return True

    def _file_article(self, path: Path) -> NewArticle:
        """A local file as an article (runs in a thread: it reads and extracts)."""
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path.name} is larger than {MAX_FILE_BYTES // 1024} KiB.")
        data = path.read_bytes()
        if path.suffix.lower() == ".txt":
            return text_file_article(path, data.decode("utf-8"))
        return _article_from(extract_article(data, path.resolve().as_uri()), data)

    async def _page_article(self, url: str) -> NewArticle:
        result = await self.fetcher.fetch(url, kind="page", now=self.clock.now())
        body = result.body or b""
        if not looks_like_html(body, result.content_type):
            raise InvalidInput(f"{url} is not a web page, so it was not imported as an article.")
        extracted = await extract_in_thread(
            body,
            result.url,
            timeout=self.archiver.extract_timeout,
            content_type=result.headers.get("content-type"),
            pool=self.archiver.pool,
        )
        return _article_from(extracted, body)


def _article_from(extracted: Extracted, html: bytes) -> NewArticle:
    """The archive row of an extracted page, keyed by the canonical address it declares."""
    if not extracted.text.strip():
        raise InvalidInput(f"No article text could be found at {extracted.url}.")
    declared = _declared_canonical(html, extracted.url)
    url = extracted.url
    if url.startswith("file:") and declared:
        url = declared  # a saved copy of a page stands for the page itself
    return NewArticle(
        canonical_url=canonical_url(declared or url),
        url=url,
        title=extracted.title,
        author=extracted.author,
        published=extracted.published,
        description=extracted.description,
        image_url=extracted.image_url,
        site_name=extracted.site_name,
        text=extracted.text,
        text_status="done",
    )


__all__ = [
    "ImportJob",
    "ImportReport",
    "Importer",
    "is_sitemap",
    "sitemap_urls",
    "text_file_article",
]

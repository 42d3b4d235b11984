"""Ingestion end to end against the news-site stand-in: discover, poll, archive, import."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import Config
from bot.fetch import Fetcher, make_session
from bot.ingest.archiver import Archiver
from bot.ingest.discovery import resolve_feed
from bot.ingest.importer import Importer, ImportReport
from bot.ingest.poller import Poller
from bot.models import NewSubscription
from bot.storage import Storage
from tests.bench.news_site import NewsSite, SiteItem
from tests.conftest import make_config

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
# Text of the theme around every article: menu, sidebar, newsletter box, footer, cookie banner.
CLUTTER = (
    "Donate",
    "Most read",
    "Subscribe to our newsletter",
    "Get the week’s best stories",
    "All rights reserved",
    "We use cookies",
    "Share on Facebook",
    "Related articles",
)


@dataclass
class Stack:
    site: NewsSite
    storage: Storage
    config: Config
    clock: FakeClock
    fetcher: Fetcher
    poller: Poller

    async def count(self, table: str) -> int:
        return int(await self.storage.scalar(f"SELECT count(*) FROM {table}"))


@pytest.fixture
async def stack(storage: Storage, tmp_path: Path) -> AsyncIterator[Stack]:
    config = make_config(tmp_path, announcements={"max_age_days": 0.0})
    clock = FakeClock(START)
    async with NewsSite(clock=clock) as site, make_session(config.fetch, "test") as session:
        fetcher = Fetcher(session, config.fetch)
        poller = Poller(storage, fetcher, config, clock, rng=random.Random(3))
        yield Stack(site, storage, config, clock, fetcher, poller)


def assert_clean_article_text(text: str, item: SiteItem) -> None:
    assert item.paragraphs[0][:60] in text
    assert item.paragraphs[-1][:60] in text
    for clutter in CLUTTER:
        assert clutter not in text, clutter
    for caption in item.captions:
        assert caption not in text, caption


async def test_discover_poll_publish_edit_and_archive(stack: Stack) -> None:
    site, storage = stack.site, stack.storage
    feed_url, parsed = await resolve_feed(stack.fetcher, site.home_url, START)
    assert feed_url == site.feed_url and len(parsed.items) == 10
    feed = await storage.add_feed(feed_url, now=START, title=parsed.title)
    for channel in (100, 200):
        await storage.add_subscription(
            NewSubscription(guild_id=1, channel_id=channel, feed_id=feed.id, format="embed"),
            now=START,
        )

    seeded = await stack.poller.poll_feed(feed.id)
    assert seeded.ok and seeded.seeded and len(seeded.new_articles) == 10
    assert await stack.count("outbox") == 0

    stack.clock.advance(3600)
    published = site.publish_next()
    outcome = await stack.poller.poll_feed(feed.id)
    assert outcome.ok and len(outcome.new_articles) == 1 and outcome.outbox_rows == 2
    assert await stack.count("articles") == 11
    [new_id] = outcome.new_articles
    row = await storage.fetch_one("SELECT * FROM articles WHERE id = ?", (new_id,))
    assert row is not None and row["url"] == site.article_url(published)
    assert row["text_status"] == "pending"

    # The article's page is fetched and extracted (feed content deliberately not trusted here).
    page_archiver = Archiver(
        storage, stack.fetcher, stack.config, stack.clock, min_feed_content_chars=10**9
    )
    report = await page_archiver.archive_pending(limit=1)
    assert report.done == [1]  # the oldest pending article first
    first = await storage.fetch_one("SELECT * FROM articles WHERE id = 1")
    assert first is not None and first["text_status"] == "done"
    item_one = next(i for i in site.items if site.article_url(i) == first["url"])
    assert_clean_article_text(first["text"], item_one)
    if item_one.standfirst:
        assert first["description"] == item_one.standfirst

    # The rest come from the feed's full content, without fetching their pages.
    feed_archiver = Archiver(storage, stack.fetcher, stack.config, stack.clock)
    before = len(site.requests)
    report = await feed_archiver.archive_pending(limit=50)
    assert len(report.done) == 10 and not report.failed
    assert len(site.requests) == before
    new_row = await storage.fetch_one(
        "SELECT text, text_status FROM articles WHERE id = ?", (new_id,)
    )
    assert new_row is not None and new_row["text_status"] == "done"
    assert_clean_article_text(new_row["text"], published)
    indexed = await storage.scalar(
        "SELECT count(DISTINCT article_id) FROM article_terms WHERE article_id = ?", (new_id,)
    )
    assert indexed == 1

    # An edited date is not a new item.
    stack.clock.advance(3600)
    site.edit(published, published=stack.clock.now())
    edited = await stack.poller.poll_feed(feed.id)
    assert edited.ok and edited.new_articles == () and edited.outbox_rows == 0

    # A rewritten guid for the same article: a new key is remembered, nothing is re-announced.
    stack.clock.advance(3600)
    site.change_guid(published, "https://migrated.example/?p=9999")
    migrated = await stack.poller.poll_feed(feed.id)
    assert migrated.ok and migrated.new_to_feed == () and migrated.outbox_rows == 0
    assert await stack.count("articles") == 11 and await stack.count("outbox") == 2


async def test_a_second_publish_after_not_modified(stack: Stack) -> None:
    feed = await stack.storage.add_feed(stack.site.feed_url, now=START)
    await stack.poller.poll_feed(feed.id)
    unchanged = await stack.poller.poll_feed(feed.id)
    assert unchanged.ok and unchanged.not_modified
    assert stack.site.requests_to("/feed/")[-1].if_none_match is not None
    stack.clock.advance(600)
    stack.site.publish_next()
    changed = await stack.poller.poll_feed(feed.id)
    assert changed.ok and not changed.not_modified and len(changed.new_articles) == 1


async def test_importing_the_sitemap_archives_every_article_once(
    stack: Stack, tmp_path: Path
) -> None:
    archiver = Archiver(stack.storage, stack.fetcher, stack.config, stack.clock)
    importer = Importer(stack.storage, stack.fetcher, archiver, stack.clock)
    progress: list[int] = []

    report = ImportReport()
    jobs = await importer.expand([stack.site.sitemap_url], report)
    await importer.run(jobs, report, advance=lambda: progress.append(1))

    published = stack.site.items
    assert (report.imported, report.skipped, report.failed) == (len(published), 0, 0)
    assert len(progress) == len(published)
    urls = {row[0] for row in await stack.storage.fetch_all("SELECT url FROM articles")}
    assert urls == {stack.site.article_url(item) for item in published}
    for item in published:
        row = await stack.storage.fetch_one(
            "SELECT text FROM articles WHERE url = ?", (stack.site.article_url(item),)
        )
        assert row is not None
        assert_clean_article_text(row["text"], item)

    again = ImportReport()
    await importer.run(await importer.expand([stack.site.sitemap_url], again), again, advance=list)
    assert (again.imported, again.skipped, again.failed) == (0, len(published), 0)
    assert (
        again.summary()
        == f"Imported 0 articles, skipped {len(published)} already archived, 0 failed"
    )


async def test_importing_local_files(stack: Stack, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("A meeting on Thursday\nTenants will meet at the hall at seven.\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("Only a title\n")
    archiver = Archiver(stack.storage, stack.fetcher, stack.config, stack.clock)
    importer = Importer(stack.storage, stack.fetcher, archiver, stack.clock)
    report = ImportReport()
    jobs = await importer.expand([str(note), str(empty), str(tmp_path / "missing.txt")], report)
    await importer.run(jobs, report, advance=list)
    assert (report.imported, report.failed) == (1, 2)
    row = await stack.storage.fetch_one("SELECT title, text FROM articles")
    assert row is not None and row["title"] == "A meeting on Thursday"
    assert row["text"] == "Tenants will meet at the hall at seven."


async def test_a_site_without_feed_links_is_found_by_the_usual_paths(
    storage: Storage, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    async with (
        NewsSite(home_feed_links=False) as site,
        make_session(config.fetch, "test") as session,
    ):
        fetcher = Fetcher(session, config.fetch)
        feed_url, parsed = await resolve_feed(fetcher, site.home_url, START)
    assert feed_url == site.feed_url and parsed.items


async def test_a_page_with_no_feed_anywhere_says_what_was_tried(tmp_path: Path) -> None:
    from bot.errors import FeedError
    from tests.bench.news_site import ServerError

    config = make_config(tmp_path)
    async with (
        NewsSite(home_feed_links=False) as site,
        make_session(config.fetch, "test") as session,
    ):
        # No feed, and (since sites without one are followed by their sitemaps) no sitemap.
        for path in ("/feed/", "/rss/", "/feed.xml", "/atom.xml", "/index.xml", "/rss.xml",
                     "/sitemap.xml", "/news-sitemap.xml", "/sitemap_news.xml"):  # fmt: skip
            site.set_fault(path, ServerError(404))
        fetcher = Fetcher(session, config.fetch)
        with pytest.raises(FeedError) as caught:
            await resolve_feed(fetcher, site.home_url, START)
    assert caught.value.kind == "not-a-feed"
    assert "usual feed addresses" in str(caught.value)
    assert "3 sitemap addresses" in str(caught.value)

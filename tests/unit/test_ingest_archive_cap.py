"""The archiver's page budget per poll, wired as the app wires it, against a loopback site whose
feed lists many items with short excerpts only (so each would otherwise cost a page fetch)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from bot.app import App, open_app
from bot.clock import FakeClock
from bot.models import NewSubscription
from tests.conftest import make_config

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
GUILD, CHANNEL = 1001, 2002


class ExcerptSite:
    """A feed of `count` items, newest first, each linking to its own page on this site."""

    def __init__(self) -> None:
        self.count = 0
        self.page_hits: list[int] = []
        self.base = ""

    def published(self, number: int) -> datetime:
        return NOW - timedelta(hours=48) + timedelta(minutes=number)

    async def feed(self, request: web.Request) -> web.Response:
        items = "".join(
            f"<item><title>Story {n}</title><link>{self.base}/story/{n}</link>"
            f"<guid>story-{n}</guid><description>Excerpt of story {n}.</description>"
            f"<pubDate>{self.published(n):%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
            for n in range(self.count, 0, -1)
        )
        body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Excerpts</title>{items}"
        return web.Response(text=body + "</channel></rss>", content_type="application/rss+xml")

    async def page(self, request: web.Request) -> web.Response:
        number = int(request.match_info["n"])
        self.page_hits.append(number)
        prose = " ".join(f"Sentence {k} of the full text of story {number}." for k in range(60))
        html = f"<html><head><title>Story {number}</title></head><body><article>"
        return web.Response(
            text=f"{html}<p>{prose}</p></article></body></html>", content_type="text/html"
        )


@asynccontextmanager
async def serving(site: ExcerptSite) -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_get("/feed", site.feed)
    app.router.add_get("/story/{n}", site.page)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield
    finally:
        await runner.cleanup()


async def archive_all(app: App) -> None:
    while (await app.archiver.archive_pending()).total:
        pass


async def statuses(app: App) -> dict[str, tuple[str, str]]:
    rows = await app.storage.fetch_all("SELECT title, text_status, text FROM articles")
    return {row["title"]: (row["text_status"], row["text"]) for row in rows}


async def test_a_poll_gets_at_most_its_page_budget_the_newest_first(tmp_path: Path) -> None:
    config = make_config(tmp_path, limits={"archive_pages_per_poll": 3})
    site = ExcerptSite()
    site.count = 30
    async with serving(site):
        app = await open_app(config, clock=FakeClock(NOW))
        try:
            feed = await app.storage.add_feed(f"{site.base}/feed", now=NOW)
            seeded = await app.poller.poll_feed(feed.id)
            assert seeded.ok and seeded.seeded and len(seeded.new_articles) == 30
            await archive_all(app)
            assert sorted(site.page_hits) == [28, 29, 30]
            found = await statuses(app)
            assert found["Story 30"][0] == "done"
            assert "Sentence 59 of the full text of story 30." in found["Story 30"][1]
            # The others keep the feed's own text: searchable, and nothing is left pending.
            assert found["Story 1"] == ("skipped", "Excerpt of story 1.")
            assert {status for status, _ in found.values()} == {"done", "skipped"}

            # The next poll: 4 new items, 3 pages. Announcements do not wait for archiving.
            await app.storage.add_subscription(
                NewSubscription(GUILD, CHANNEL, feed.id, "embed"), now=NOW
            )
            site.count = 34
            site.page_hits.clear()
            polled = await app.poller.poll_feed(feed.id)
            assert polled.ok and len(polled.new_articles) == 4
            assert polled.outbox_rows == 4  # every new item is to be announced
            await archive_all(app)
            assert sorted(site.page_hits) == [32, 33, 34]
            assert (await statuses(app))["Story 31"] == ("skipped", "Excerpt of story 31.")
        finally:
            await app.close()


async def test_a_zero_budget_fetches_no_pages(tmp_path: Path) -> None:
    config = make_config(tmp_path, limits={"archive_pages_per_poll": 0})
    site = ExcerptSite()
    site.count = 5
    async with serving(site):
        app = await open_app(config, clock=FakeClock(NOW))
        try:
            feed = await app.storage.add_feed(f"{site.base}/feed", now=NOW)
            assert (await app.poller.poll_feed(feed.id)).ok
            await archive_all(app)
        finally:
            await app.close()
    assert site.page_hits == []
    assert set((await statuses_closed(tmp_path)).values()) == {"skipped"}


async def statuses_closed(tmp_path: Path) -> dict[str, str]:
    config = make_config(tmp_path)
    app = await open_app(config, clock=FakeClock(NOW))
    try:
        return {title: status for title, (status, _) in (await statuses(app)).items()}
    finally:
        await app.close()


async def test_the_budget_holds_when_another_process_archives(tmp_path: Path) -> None:
    """A worker polls and another process, the poll lease's holder, archives: the budget is
    decided in the poll's own transaction, so it holds there too (it lived in the archiver's
    memory, and the other process fetched every page)."""
    config = make_config(tmp_path, limits={"archive_pages_per_poll": 3})
    site = ExcerptSite()
    site.count = 12
    async with serving(site):
        polling = await open_app(config, clock=FakeClock(NOW))
        archiving = await open_app(config, clock=FakeClock(NOW))
        try:
            feed = await polling.storage.add_feed(f"{site.base}/feed", now=NOW)
            assert (await polling.poller.poll_feed(feed.id)).ok
            await archive_all(archiving)
            assert sorted(site.page_hits) == [10, 11, 12]
            found = await statuses(archiving)
            assert found["Story 9"] == ("skipped", "Excerpt of story 9.")
            assert found["Story 10"][0] == "done"
        finally:
            await archiving.close()
            await polling.close()

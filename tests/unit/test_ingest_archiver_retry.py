"""The archiver tries a page again after a passing failure, and gives up after a few tries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from bot.clock import FakeClock
from bot.fetch import Fetcher, make_session
from bot.ingest.archiver import MAX_TEXT_ATTEMPTS, RETRY_BASE_SECONDS, Archiver
from bot.storage import NewArticle, Storage
from tests.conftest import make_config

PAGE = (
    "<html><head><title>Rent strike ends</title>"
    '<meta property="og:description" content="Tenants won."></head><body><article>'
    + "".join(
        f"<p>Paragraph {n} about the rent strike and the tenants' union.</p>" for n in range(12)
    )
    + "</article></body></html>"
)


class FlakySite:
    """Answers 503 a set number of times, then the page; counts requests."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.requests <= self.failures:
            return web.Response(status=self.status, text="unavailable")
        return web.Response(text=PAGE, content_type="text/html")


@pytest.fixture
async def site_url() -> AsyncIterator[tuple[FlakySite, str]]:
    site = FlakySite(failures=0)
    app = web.Application()
    app.router.add_get("/article", site.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    yield site, f"http://127.0.0.1:{port}/article"
    await runner.cleanup()


@asynccontextmanager
async def archiver_for(
    tmp_path: Path, storage: Storage, clock: FakeClock
) -> AsyncIterator[Archiver]:
    config = make_config(tmp_path)
    session = make_session(config.fetch, config.user_agent())
    try:
        yield Archiver(storage, Fetcher(session, config.fetch), config, clock)
    finally:
        await session.close()


async def test_passing_failures_are_retried_later_then_the_text_is_archived(
    tmp_path: Path, storage: Storage, site_url: tuple[FlakySite, str]
) -> None:
    site, url = site_url
    site.failures = 1
    clock = FakeClock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    [(article_id, _)] = await storage.add_articles(
        [NewArticle(canonical_url=url, url=url, title="Rent strike ends")], now=clock.now()
    )
    async with archiver_for(tmp_path, storage, clock) as archiver:
        first = await archiver.archive_pending()
        assert first.postponed == [article_id]
        # Not due yet: nothing is fetched again before the retry time.
        assert (await archiver.archive_pending()).total == 0
        assert site.requests == 1
        clock.advance(RETRY_BASE_SECONDS)
        second = await archiver.archive_pending()
        assert second.done == [article_id]
    row = await storage.fetch_one("SELECT text, text_status, description FROM articles")
    assert row is not None
    assert row["text_status"] == "done" and "tenants' union" in row["text"]
    assert row["description"] == "Tenants won."


async def test_after_the_last_try_the_article_is_marked_failed(
    tmp_path: Path, storage: Storage, site_url: tuple[FlakySite, str]
) -> None:
    site, url = site_url
    site.failures = 100
    clock = FakeClock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    await storage.add_articles([NewArticle(canonical_url=url, url=url)], now=clock.now())
    statuses = []
    async with archiver_for(tmp_path, storage, clock) as archiver:
        for _ in range(MAX_TEXT_ATTEMPTS):
            report = await archiver.archive_pending()
            statuses.append("postponed" if report.postponed else "failed" if report.failed else "")
            clock.advance(RETRY_BASE_SECONDS * 4**MAX_TEXT_ATTEMPTS)
    assert statuses == ["postponed"] * (MAX_TEXT_ATTEMPTS - 1) + ["failed"]
    assert site.requests == MAX_TEXT_ATTEMPTS


async def test_a_permanent_failure_is_not_retried(
    tmp_path: Path, storage: Storage, site_url: tuple[FlakySite, str]
) -> None:
    site, url = site_url
    site.failures, site.status = 100, 404
    clock = FakeClock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    await storage.add_articles([NewArticle(canonical_url=url, url=url)], now=clock.now())
    async with archiver_for(tmp_path, storage, clock) as archiver:
        report = await archiver.archive_pending()
    assert report.failed and not report.postponed
    assert site.requests == 1

"""A feed failing again and again is never switched off silently: every guild that follows it is
told once per failing spell, and told again only after it recovered and failed anew."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, open_app
from tests.bench.news_site import NewsSite, ServerError
from tests.builders import subscribe
from tests.conftest import make_config

THRESHOLD = 2


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    opened = await open_app(make_config(tmp_path, feeds={"failing_threshold": THRESHOLD}))
    try:
        yield opened
    finally:
        await opened.close()


async def test_moderators_hear_of_a_failing_feed_once_per_spell(app: App) -> None:
    async with NewsSite() as site:
        feed = await app.storage.add_feed(site.feed_url, now=app.clock.now())
        await subscribe(app.storage, feed.id, 10, guild_id=700, now=app.clock.now())
        await subscribe(app.storage, feed.id, 11, guild_id=700, now=app.clock.now())
        await subscribe(app.storage, feed.id, 20, guild_id=800, now=app.clock.now())
        site.set_fault("/feed/", ServerError(503))

        await app.poller.poll_feed(feed.id)
        assert app.delivery.take_notices() == []  # one failure is not a failing feed

        await app.poller.poll_feed(feed.id)
        told = app.delivery.take_notices()
        assert [notice.guild_id for notice in told] == [700, 800]
        assert "<#10>, <#11>" in told[0].text
        assert "failed 2 times in a row" in told[0].text
        assert "http-5xx" in told[0].text and "/feeds status" in told[0].text

        await app.poller.poll_feed(feed.id)
        assert app.delivery.take_notices() == []  # not again while the spell lasts

        site.clear_faults()
        assert (await app.poller.poll_feed(feed.id)).ok
        site.set_fault("/feed/", ServerError(500))
        for _ in range(THRESHOLD):
            await app.poller.poll_feed(feed.id)
        assert [notice.guild_id for notice in app.delivery.take_notices()] == [700, 800]


async def test_a_failing_feed_nobody_follows_tells_nobody(app: App) -> None:
    async with NewsSite() as site:
        feed = await app.storage.add_feed(site.feed_url, now=app.clock.now())
        site.set_fault("/feed/", ServerError(500))
        for _ in range(THRESHOLD + 1):
            await app.poller.poll_feed(feed.id)
        assert app.delivery.take_notices() == []
        stored = await app.storage.feed(feed.id)
        assert stored is not None and stored.consecutive_failures == THRESHOLD + 1

"""Acceptance: add by home page, the next article gets delivery work, /feeds why explains it."""

from __future__ import annotations

import asyncio

from bot.ingest.poller import NewArticlesEvent
from tests.e2e.conftest import Bench, BenchFactory


async def test_next_article_is_queued_and_explained(make_bench: BenchFactory) -> None:
    # The sample articles carry fixed dates; the age limit is off so none is "too old" today.
    async with make_bench(announcements={"max_age_days": 0.0}) as bench:
        await _scenario(bench)


async def _scenario(bench: Bench) -> None:
    added = await bench.command(
        "feeds add", {"url": bench.site.home_url, "channel": bench.seed.news_id}
    )
    assert "Added `#1`" in (await added.reply(15.0)).get("content", "")
    new_articles: asyncio.Queue[NewArticlesEvent] = asyncio.Queue()

    async def remember(event: NewArticlesEvent) -> None:
        await new_articles.put(event)

    bench.app.poller.on_new_articles.append(remember)
    fresh = bench.site.publish_next()
    async with asyncio.timeout(20):
        while True:
            event = await new_articles.get()
            if not event.seeded and event.article_ids:
                break
    rows = await bench.app.storage.subscription_outbox(1)
    article = await bench.app.storage.archived_article(url=bench.site.article_url(fresh))
    assert article is not None
    # The announcer (delivery worker) may already have sent it; either way it is not skipped.
    mine = [row for row in rows if row.article_id == article.id]
    assert [(row.state in ("pending", "claimed", "sent"), row.reason) for row in mine] == [
        (True, "")
    ]

    why = await bench.command("feeds why", {"url": bench.site.article_url(fresh)})
    text = (await why.reply(10.0)).get("content", "")
    assert "Seen in the feed" in text
    assert "Waiting to be posted" in text or "Delivered to" in text

    never = await bench.command("feeds why", {"url": "https://elsewhere.example/none"})
    assert "never seen" in (await never.reply(10.0)).get("content", "")

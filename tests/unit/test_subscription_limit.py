"""The per-server subscription limit holds under concurrency: it is counted inside the insert's
write transaction, not only before the (slow) network fetch of /feeds add."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from yarl import URL

from bot.errors import InvalidInput
from bot.models import NewSubscription
from bot.services.admin import ChannelInfo, SubscriptionOptions
from bot.services.portability import Portability
from bot.storage import SubscriptionLimitReached
from tests.bench.news_site import Hang
from tests.builders import ALL, GUILD, HOME, MOD, NEWS, AdminBench, admin_bench

LIMIT = 2
ADDS = 5


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[AdminBench]:
    """A FeedAdmin whose guilds may have LIMIT subscriptions; every feed fetch may be in
    flight at once (all on one host)."""
    sections: dict[str, dict[str, object]] = {
        "moderation": {"max_subscriptions_per_guild": LIMIT},
        "fetch": {"per_host_concurrency": ADDS},
    }
    async for made in admin_bench(tmp_path, **sections):
        yield made


async def test_concurrent_feeds_add_never_exceed_the_limit(bench: AdminBench) -> None:
    site = bench.site
    topics = sorted({category for item in site.items for category in item.categories})
    urls = [site.feed_url, site.atom_url, *map(site.category_feed_url, topics)][:ADDS]
    assert len(urls) == ADDS
    # Every add passes the early count before any has fetched its feed: the feeds are held
    # until all the requests have arrived.
    paths = [URL(url).path for url in urls]
    for path in paths:
        site.set_fault(path, Hang(times=1))
    arrived = [site.next_request(path) for path in paths]
    adds = [
        asyncio.ensure_future(
            bench.admin.add(
                GUILD,
                MOD,
                url,
                ChannelInfo(40 + number, f"c{number}", "text", ALL),
                SubscriptionOptions(),
            )
        )
        for number, url in enumerate(urls)
    ]
    await asyncio.wait_for(asyncio.gather(*arrived), 10)
    site.release_hangs()
    outcomes = await asyncio.gather(*adds, return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(outcomes) - len(refused) == LIMIT
    for error in refused:
        assert isinstance(error, InvalidInput)
        assert str(error).startswith(f"This server already has {LIMIT} subscriptions")
    assert await bench.storage.count_guild_subscriptions(GUILD) == LIMIT


async def test_the_storage_refuses_past_the_limit_but_a_duplicate_is_not_counted(
    bench: AdminBench,
) -> None:
    storage, now = bench.storage, bench.clock.now()
    feed = await storage.add_feed(bench.site.feed_url, now=now)

    async def add(channel_id: int) -> int | None:
        new = NewSubscription(GUILD, channel_id, feed.id, "embed")
        made = await storage.add_subscription(new, now=now, limit=LIMIT)
        return None if made is None else made.id

    outcomes = await asyncio.gather(*(add(50 + n) for n in range(6)), return_exceptions=True)
    assert sum(isinstance(o, int) for o in outcomes) == LIMIT
    assert all(isinstance(o, SubscriptionLimitReached) for o in outcomes if not isinstance(o, int))
    # At the limit, adding what exists already is still "already there", not "too many".
    assert await add(50) is None
    assert await storage.count_guild_subscriptions(GUILD) == LIMIT


async def test_an_import_racing_an_add_changes_nothing_past_the_limit(bench: AdminBench) -> None:
    portability = Portability(bench.storage, bench.config, bench.clock, bench.admin)
    opml = (
        f'<opml><body><outline xmlUrl="{bench.site.feed_url}"/>'
        f'<outline xmlUrl="{bench.site.atom_url}"/></body></opml>'
    ).encode()
    # The import counts 0 + 2 <= 2 first; a /feeds add lands before its transaction.
    feed = await bench.storage.add_feed(bench.site.json_feed_url, now=bench.clock.now())
    real_count = bench.storage.count_guild_subscriptions

    async def count_then_race(guild_id: int) -> int:
        counted = await real_count(guild_id)
        new = NewSubscription(GUILD, 77, feed.id, "embed")
        assert await bench.storage.add_subscription(new, now=bench.clock.now()) is not None
        return counted

    bench.storage.count_guild_subscriptions = count_then_race  # type: ignore[method-assign]
    with pytest.raises(InvalidInput, match="Nothing was imported"):
        await portability.import_file(GUILD, MOD, opml, HOME, default_channel=NEWS)
    bench.storage.count_guild_subscriptions = real_count  # type: ignore[method-assign]
    assert await bench.storage.count_guild_subscriptions(GUILD) == 1

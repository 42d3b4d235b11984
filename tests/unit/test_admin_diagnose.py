"""/feeds why: the fate of delivered, backlog, filtered and never-seen articles, per guild."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.delivery.service import DeliveryService
from bot.errors import InvalidInput
from bot.ingest.poller import Poller
from bot.services.admin import ChannelInfo, SubscriptionOptions
from bot.services.diagnose import Diagnoser
from tests.builders import ALL, GUILD, MOD, NEWS, OTHER_GUILD, AdminBench, admin_bench


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[AdminBench, Poller, Diagnoser]]:
    """A FeedAdmin whose adds poll the feed and seed the backlog, and a Diagnoser."""
    async for bench in admin_bench(tmp_path, announcements={"max_age_days": 0.0}):
        poller = Poller(bench.storage, bench.fetcher, bench.config, bench.clock)
        delivery = DeliveryService(bench.storage, bench.config, bench.clock)
        bench.admin.poll_feed = poller.poll_feed
        bench.admin.seed_subscription = delivery.seed_new_subscription
        yield bench, poller, Diagnoser(bench.storage, bench.config, bench.clock)


async def test_delivered_backlog_filtered_and_never_seen(
    wired: tuple[AdminBench, Poller, Diagnoser],
) -> None:
    bench, poller, diagnoser = wired
    site = bench.site
    first = await bench.admin.add(GUILD, MOD, site.home_url, NEWS, SubscriptionOptions())
    rows = await bench.storage.subscription_outbox(first.subscription.id)
    pending = next(row for row in rows if row.state == "pending")
    await bench.storage.mark_sent(pending.id, message_id=555, thread_id=None, now=bench.clock.now())
    by_date = sorted(site.items, key=lambda item: item.published)
    newest, oldest = by_date[-1], by_date[0]

    delivered = await diagnoser.why(GUILD, site.article_url(newest) + "#comments")
    assert f"https://discord.com/channels/{GUILD}/{NEWS.id}/555" in delivered.text
    assert "Delivered to <#11> (subscription 1)" in delivered.text
    assert "Seen in the feed The Weekly Worker" in delivered.text

    backlog = await diagnoser.why(GUILD, site.article_url(oldest))
    assert "part of the feed's backlog" in backlog.text

    fresh = site.publish_next()
    second_channel = ChannelInfo(13, "filtered", "text", ALL)
    rule = f'category:"{fresh.categories[0]}"'
    second = await bench.admin.add(
        GUILD, MOD, site.feed_url, second_channel, SubscriptionOptions(exclude=rule)
    )
    bench.clock.advance(600)
    outcome = await poller.poll_feed(first.feed.id)
    assert outcome.ok and outcome.outbox_rows == 2
    fate = await diagnoser.why(GUILD, site.article_url(fresh))
    filtered = f"<#13> (subscription {second.subscription.id}): it was filtered out by the "
    assert filtered + "subscription's filters" in fate.text
    assert fresh.categories[0] in fate.text
    assert "Waiting to be posted in <#11>" in fate.text

    never = await diagnoser.why(GUILD, "https://elsewhere.example/nothing-here")
    assert never.text.startswith("This server never received")
    # Another guild subscribes to nothing: the same article was "never received" there, word
    # for word the answer for an address Paperboy never saw at all.
    other = await diagnoser.why(OTHER_GUILD, site.article_url(newest))
    assert other.text.startswith("This server never received") and not other.title


async def test_why_refuses_non_addresses(wired: tuple[AdminBench, Poller, Diagnoser]) -> None:
    _, _, diagnoser = wired
    for bad, message in [("", "Give the address"), ("ftp://x/y", "starting with https"),
                         ("https://x/" + "a" * 2100, "2,048")]:  # fmt: skip
        with pytest.raises(InvalidInput, match=message):
            await diagnoser.why(GUILD, bad)

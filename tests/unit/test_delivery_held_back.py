"""Held-back notices: a poll that brings too many "new" items tells each guild's moderators once.

The real poller reads the local news site, the real delivery service remembers notices in SQLite,
and the real worker hands them to a hand-written notifier.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.announce.plan import HeldBack, HeldBackEvent, held_back_events, plan_outbox
from bot.announce.plan import subscription_view as view_of
from bot.app import App, open_app
from bot.config import AnnouncementsConfig
from bot.delivery.worker import DeliveryWorker, Outgoing, SentMessage
from bot.models import NewSubscription
from tests.bench.news_site import NewsSite
from tests.builders import NOW, article, subscription
from tests.conftest import make_config

GUILD = 700
OTHER_GUILD = 800


@dataclass
class FakeNotifier:
    """Keeps what moderators were told."""

    told: list[tuple[int, str]] = field(default_factory=list)

    async def tell_moderators(self, guild_id: int, text: str) -> None:
        self.told.append((guild_id, text))


class NoSends:
    """A sender for a worker that is only asked to tell notices here."""

    async def send(self, outgoing: Outgoing) -> SentMessage:
        raise AssertionError("nothing is sent in these tests")

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        raise AssertionError("nothing is looked up in these tests")


def test_plan_names_the_held_items_and_events_group_them_per_guild() -> None:
    subscriptions = [
        subscription(1, GUILD, 10),
        subscription(2, GUILD, 11),
        subscription(3, OTHER_GUILD, 20),
    ]
    articles = [article(n) for n in range(1, 9)]  # 8 new items, limit 5
    planned, held = plan_outbox(
        articles,
        [(s, view_of(s, timezone="UTC")) for s in subscriptions],
        now=NOW,
        feed_title="The Weekly",
        settings=AnnouncementsConfig(max_new_per_poll=5, max_age_days=0),
    )
    assert [len(entry.article_ids) for entry in held] == [3, 3, 3]
    held_rows = [p.row for p in planned if p.row.reason == "held-back"]
    assert {(row.subscription_id, row.article_id) for row in held_rows} == {
        (entry.subscription.id, key) for entry in held for key in entry.article_ids
    }
    events = held_back_events(1, held)
    assert [(e.guild_id, e.channel_ids) for e in events] == [
        (GUILD, (10, 11)),
        (OTHER_GUILD, (20,)),
    ]
    assert events[0].article_ids == held[0].article_ids  # the three oldest, once each
    assert "Held back 3 items from The Weekly" in events[0].note


def test_no_event_when_nothing_is_held_back() -> None:
    assert held_back_events(1, []) == []
    only = HeldBack(subscription(1, GUILD, 10), (4, 5), "Held back 2 items.")
    assert held_back_events(9, [only]) == [
        HeldBackEvent(9, GUILD, (10,), (4, 5), "Held back 2 items.")
    ]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    opened = await open_app(
        make_config(tmp_path, announcements={"max_age_days": 0.0, "max_new_per_poll": 5})
    )
    try:
        yield opened
    finally:
        await opened.close()


async def test_report_is_remembered_once_per_event_and_guild(app: App) -> None:
    event = HeldBackEvent(3, GUILD, (10, 11), (7, 8, 9), "Held back 3 items from The Weekly.")
    assert await app.delivery.report_held_back(event)
    assert not await app.delivery.report_held_back(event)  # the same event again: not repeated
    # The same items in another guild are that guild's own event.
    assert await app.delivery.report_held_back(
        HeldBackEvent(3, OTHER_GUILD, (20,), (7, 8, 9), "Held back 3 items from The Weekly.")
    )
    notices = app.delivery.take_notices()
    assert [notice.guild_id for notice in notices] == [GUILD, OTHER_GUILD]
    assert "Held back 3 items from The Weekly." in notices[0].text
    assert "<#10>, <#11>" in notices[0].text
    assert app.delivery.take_notices() == []  # handed over once


async def test_a_flood_of_new_items_tells_moderators_once(app: App) -> None:
    async with NewsSite(initially_published=2) as site:
        feed = await app.storage.add_feed(site.feed_url, now=app.clock.now())
        assert (await app.poller.poll_feed(feed.id)).seeded
        added = await app.storage.add_subscription(
            NewSubscription(guild_id=GUILD, channel_id=10, feed_id=feed.id, format="embed"),
            now=app.clock.now(),
        )
        assert added is not None
        notifier = FakeNotifier()
        worker = DeliveryWorker(
            app.storage, NoSends(), notifier, app.config, app.clock, notice_source=app.delivery
        )
        for _ in range(8):  # limit 5 + 3
            site.publish_next()

        await app.poller.poll_feed(feed.id)
        assert await worker.tell_notices() == 1
        # Nothing new, and the same items again: no second notice.
        await app.poller.poll_feed(feed.id)
        assert await worker.tell_notices() == 0

        assert len(notifier.told) == 1
        guild_id, text = notifier.told[0]
        assert guild_id == GUILD
        assert "Held back 3 items" in text and "limit of 5" in text and "<#10>" in text
        rows = await app.storage.subscription_outbox(added.id)
        assert [row.reason for row in rows].count("held-back") == 3
        assert [row.state for row in rows].count("pending") == 5

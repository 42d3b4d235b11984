"""Articles published while a subscription is paused: a moderator's pause skips them, a pause after
Discord refused a post keeps them waiting so nothing is lost once the channel is fixed."""

from __future__ import annotations

from dataclasses import replace

from bot.announce.plan import plan_outbox
from bot.announce.plan import subscription_view as view_of
from bot.announce.render import AnnouncementArticle
from bot.config import AnnouncementsConfig
from bot.models import MODERATOR_PAUSE_REASON, NewSubscription, Subscription
from bot.storage import Storage
from tests.builders import NOW, article, subscription

SETTINGS = AnnouncementsConfig(max_age_days=0.0)


def plan_for(sub: Subscription, articles: list[AnnouncementArticle]) -> list[tuple[str, str]]:
    planned, _ = plan_outbox(
        articles, [(sub, view_of(sub, timezone="UTC"))], now=NOW, feed_title="F",
        settings=SETTINGS,
    )  # fmt: skip
    return [(p.row.state, p.row.reason) for p in planned]


def test_a_moderators_pause_skips_new_articles_with_the_reason() -> None:
    paused = replace(
        subscription(1, 700, 10), paused=True, pause_reason=MODERATOR_PAUSE_REASON,
        paused_by_moderator=True,
    )  # fmt: skip
    assert plan_for(paused, [article(1), article(2)]) == [("skipped", MODERATOR_PAUSE_REASON)] * 2


def test_a_pause_after_a_refusal_keeps_new_articles_waiting() -> None:
    refused = replace(
        subscription(1, 700, 10), paused=True, pause_reason="Discord answered 403: Missing Access"
    )
    assert [state for state, _ in plan_for(refused, [article(1), article(2)])] == ["pending"] * 2


async def test_pause_source_is_stored_and_cleared_on_resume(storage: Storage) -> None:
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    sub = await storage.add_subscription(
        NewSubscription(guild_id=1, channel_id=10, feed_id=feed.id, format="embed"), now=NOW
    )
    assert sub is not None
    await storage.set_paused(sub.id, True, MODERATOR_PAUSE_REASON, by_moderator=True)
    [paused] = await storage.feed_subscriptions(feed.id, include_paused=True)
    assert paused.paused and paused.paused_by_moderator
    assert await storage.feed_subscriptions(feed.id) == []
    await storage.set_paused(sub.id, False)
    [resumed] = await storage.feed_subscriptions(feed.id)
    assert not resumed.paused and not resumed.paused_by_moderator

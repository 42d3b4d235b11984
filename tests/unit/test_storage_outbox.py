"""OutboxStore verbs on a real database: claims, head-of-line order, refusals, webhooks, notices."""

from __future__ import annotations

from datetime import timedelta

from bot.models import NewSubscription
from bot.storage import ChannelWebhook, SeedRow, Storage
from tests.builders import NOW, outbox_setup


async def pending(storage: Storage, sub: int, channel: int, article_ids: list[int]) -> list[int]:
    created = await storage.seed_outbox(
        sub, channel, [SeedRow(a, "pending") for a in article_ids], now=NOW,
        render=lambda article_id, outbox_id: f"plan {article_id} {outbox_id}",
    )  # fmt: skip
    return [outbox_id for _, outbox_id in created]


async def test_only_the_head_of_each_queue_is_offered(storage: Storage) -> None:
    articles, [a, b] = await outbox_setup(storage, (10, 20))
    first, second, _ = await pending(storage, a, 10, articles)
    [other] = await pending(storage, b, 20, articles[:1])
    heads = await storage.next_deliveries()
    assert [d.id for d in heads] == [first, other]
    assert heads[0].payload == f"plan {articles[0]} {first}"
    assert await storage.claim_delivery(first, now=NOW)
    assert not await storage.claim_delivery(first, now=NOW)  # claimed once only
    heads = await storage.next_deliveries()
    assert [(d.id, d.state) for d in heads] == [(first, "claimed"), (other, "pending")]
    await storage.mark_sent(first, message_id=77, thread_id=None, now=NOW)
    assert [d.id for d in await storage.next_deliveries()] == [second, other]
    assert await storage.last_sent_by_channel() == {10: NOW}


async def test_claim_refused_for_paused_subscription(storage: Storage) -> None:
    articles, [sub] = await outbox_setup(storage)
    [row, *_] = await pending(storage, sub, 10, articles)
    await storage.set_paused(sub, True, "holiday")
    assert await storage.next_deliveries() == []
    assert not await storage.claim_delivery(row, now=NOW)


async def test_reschedule_and_release_return_rows_to_pending(storage: Storage) -> None:
    articles, [sub] = await outbox_setup(storage)
    [row, *_] = await pending(storage, sub, 10, articles)
    await storage.claim_delivery(row, now=NOW)
    later = NOW + timedelta(seconds=30)
    await storage.reschedule_delivery(row, not_before=later, reason="Discord is busy.")
    [head] = await storage.next_deliveries()
    assert (head.state, head.not_before, head.attempts) == ("pending", later, 1)
    await storage.claim_delivery(row, now=NOW)
    assert [d.id for d in await storage.claimed_deliveries()] == [row]
    await storage.release_claim(row)
    assert await storage.claimed_deliveries() == []


async def test_same_article_once_per_channel_across_subscriptions(storage: Storage) -> None:
    articles, [sub] = await outbox_setup(storage)
    other_feed = await storage.add_feed("https://other.example/feed/", now=NOW)
    second = await storage.add_subscription(
        NewSubscription(guild_id=1, channel_id=10, feed_id=other_feed.id, format="embed"), now=NOW
    )
    assert second is not None
    assert len(await pending(storage, sub, 10, articles[:1])) == 1
    assert await pending(storage, second.id, 10, articles[:1]) == []


async def test_refusal_pauses_and_reports_only_newly_paused(storage: Storage) -> None:
    articles, [sub] = await outbox_setup(storage)
    first, second, _ = await pending(storage, sub, 10, articles)
    paused = await storage.pause_for_refusal(first, [sub], reason="gone", row_failed=False)
    assert paused == [sub]
    assert (await storage.outbox_record(first)).state == "pending"  # type: ignore[union-attr]
    again = await storage.pause_for_refusal(second, [sub], reason="gone", row_failed=True)
    assert again == []
    assert (await storage.outbox_record(second)).state == "failed"  # type: ignore[union-attr]
    stored = await storage.subscription(sub)
    assert stored is not None and stored.paused and stored.pause_reason == "gone"


async def test_webhook_records(storage: Storage) -> None:
    assert await storage.channel_webhook(10) is None
    await storage.save_channel_webhook(ChannelWebhook(10, 555, "tok"), now=NOW)
    assert await storage.channel_webhook(10) == ChannelWebhook(10, 555, "tok")
    await storage.forget_channel_webhook(10, 999)  # another webhook: ours stays
    assert await storage.channel_webhook(10) is not None
    await storage.forget_channel_webhook(10, 555)
    assert await storage.channel_webhook(10) is None


async def test_notices_are_given_once(storage: Storage) -> None:
    assert await storage.remember_notice(1, "held-back:3", now=NOW)
    assert not await storage.remember_notice(1, "held-back:3", now=NOW)
    assert await storage.remember_notice(2, "held-back:3", now=NOW)


async def test_retry_now_sends_failed_rows_again_unless_the_channel_has_the_article(
    storage: Storage,
) -> None:
    articles, [sub] = await outbox_setup(storage)
    first, second, _ = await pending(storage, sub, 10, articles)
    for row in (first, second):
        await storage.pause_for_refusal(row, [sub], reason="Missing Access", row_failed=True)
    # The first article reached the channel meanwhile through another feed's subscription.
    other_feed = await storage.add_feed("https://other.example/feed/", now=NOW)
    other = await storage.add_subscription(
        NewSubscription(guild_id=1, channel_id=10, feed_id=other_feed.id, format="embed"), now=NOW
    )
    assert other is not None
    [elsewhere] = await pending(storage, other.id, 10, articles[:1])
    await storage.set_paused(sub, False, "")
    assert await storage.retry_now(sub, other_feed.id, now=NOW) == 1
    states = {r.id: r.state for r in await storage.subscription_outbox(sub)}
    assert states[first] == "failed" and states[second] == "pending"
    assert (await storage.outbox_record(elsewhere)).state == "pending"  # type: ignore[union-attr]

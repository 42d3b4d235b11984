"""The delivery worker on a real database with a hand-written fake Sender (no discord.py).

Rows are created the way the poller creates them (one poll transaction); the fake sender keeps
the posts it made, so "posted but the answer was lost" and crashes between claim and sent can be
staged exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.announce.render import AnnouncementArticle, MessagePlan, SubscriptionView, render_plan
from bot.clock import FakeClock
from bot.config import Config
from bot.delivery.worker import DeliveryWorker, Outgoing, RetryLater, SentMessage
from bot.errors import DeliveryError
from bot.models import ArchiveScope, GuildSettings, Subscription
from bot.storage import ArchivedArticle, NewArticle, NewEntry, OutboxRow, Storage
from tests.builders import NOW
from tests.builders import subscribe as shared_subscribe
from tests.conftest import make_config
from tests.delivery_drain import drain_once

GUILD = 700
NEWS = 1001
OTHER = 1002
DEADLOCK_GUARD_SECONDS = 30.0
"""Only a deadlock takes this long: a round with nothing to send answers at once."""


@dataclass
class FakeSender:
    """Posts into memory; `failures` are raised by the next sends, in order.

    A failure given as ("after", error) raises only after the post was made (a 502 whose
    request did reach Discord).
    """

    posts: list[tuple[int, Outgoing]] = field(default_factory=list)
    failures: list[DeliveryError | tuple[str, DeliveryError]] = field(default_factory=list)
    lookups: list[int] = field(default_factory=list)
    lookup_error: DeliveryError | None = None
    sent_event: asyncio.Event = field(default_factory=asyncio.Event)
    _next_id: int = 5000

    async def send(self, outgoing: Outgoing) -> SentMessage:
        failure = self.failures.pop(0) if self.failures else None
        if isinstance(failure, DeliveryError):
            raise failure
        message = self._post(outgoing)
        if failure is not None:
            raise failure[1]
        return message

    def _post(self, outgoing: Outgoing) -> SentMessage:
        self._next_id += 1
        self.posts.append((self._next_id, outgoing))
        self.sent_event.set()
        return SentMessage(self._next_id)

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        self.lookups.append(outgoing.outbox_id)
        if self.lookup_error is not None:
            raise self.lookup_error
        for message_id, posted in self.posts:
            if posted.channel_id == outgoing.channel_id and posted.plan.marker == (
                outgoing.plan.marker
            ):
                return SentMessage(message_id)
        return None

    def titles(self, channel_id: int | None = None) -> list[str]:
        return [
            posted.plan.embeds[0].title if posted.plan.embeds else posted.plan.content
            for _, posted in self.posts
            if channel_id is None or posted.channel_id == channel_id
        ]


@dataclass
class FakeNotifier:
    """Remembers what moderators were told."""

    told: list[tuple[int, str]] = field(default_factory=list)

    async def tell_moderators(self, guild_id: int, text: str) -> None:
        self.told.append((guild_id, text))


async def add_feed(storage: Storage, url: str = "https://paper.example/feed/") -> int:
    feed = await storage.add_feed(url, now=NOW, title="The Weekly")
    return feed.id


async def subscribe(
    storage: Storage, feed_id: int, channel_id: int = NEWS, **options: Any
) -> Subscription:
    # The shared builder with this module's guild and #news as defaults (used ~25 times).
    return await shared_subscribe(storage, feed_id, channel_id, guild_id=GUILD, **options)


async def publish(
    storage: Storage,
    feed_id: int,
    titles: Sequence[str],
    subscriptions: Sequence[Subscription],
    *,
    now: datetime = NOW,
) -> list[int]:
    """Archive articles and create pending rows for each subscription, as one poll does."""
    ids: list[int] = []
    async with storage.poll_transaction(feed_id, now=now) as tx:
        articles = [
            NewArticle(
                canonical_url=f"https://paper.example/{title.lower().replace(' ', '-')}/",
                url=f"https://paper.example/{title.lower().replace(' ', '-')}/",
                title=title,
                published=now - timedelta(minutes=len(titles) - index),
            )
            for index, title in enumerate(titles)
        ]
        ids = await tx.upsert_articles(articles)
        await tx.insert_entries(
            [NewEntry(f"key-{i}", i, a.published) for i, a in zip(ids, articles, strict=True)]
        )
        for subscription in subscriptions:
            rows = [OutboxRow(subscription.id, i, subscription.channel_id, "pending") for i in ids]
            for row, outbox_id in await tx.add_outbox(rows):
                article = articles[ids.index(row.article_id)]
                plan = render_plan(
                    AnnouncementArticle(
                        id=row.article_id, title=article.title, url=article.url, feed_title="W"
                    ),
                    SubscriptionView(id=subscription.id),
                    outbox_id=outbox_id,
                )
                await tx.set_outbox_payload(outbox_id, plan.to_json())
        await tx.finish_success(etag=None, last_modified=None, next_check_at=now)
    return ids


@dataclass
class Rig:
    storage: Storage
    sender: FakeSender
    notifier: FakeNotifier
    clock: FakeClock
    worker: DeliveryWorker


def make_rig(storage: Storage, config: Config) -> Rig:
    sender, notifier, clock = FakeSender(), FakeNotifier(), FakeClock(NOW)
    worker = DeliveryWorker(storage, sender, notifier, config, clock)
    return Rig(storage, sender, notifier, clock, worker)


@pytest.fixture
def rig(storage: Storage, config: Config) -> Rig:
    return make_rig(storage, config)


async def drain_all(rig: Rig, *, rounds: int = 50) -> None:
    """Run rounds, moving the fake clock to each next due time, until nothing is due."""
    for _ in range(rounds):
        report = await drain_once(rig.worker)
        if report.next_due is None:
            return
        rig.clock.advance(max(0.0, (report.next_due - rig.clock.now()).total_seconds()))
    raise AssertionError("the outbox did not drain")


async def states(storage: Storage, subscription_id: int) -> list[str]:
    return [row.state for row in await storage.subscription_outbox(subscription_id)]


async def test_articles_go_out_once_each_oldest_first(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First", "Second", "Third"], [sub])
    await drain_all(rig)
    assert rig.sender.titles() == ["First", "Second", "Third"]
    records = await rig.storage.subscription_outbox(sub.id)
    assert [r.state for r in records] == ["sent"] * 3
    assert [r.message_id for r in records] == [m for m, _ in rig.sender.posts]
    await drain_all(rig)
    assert len(rig.sender.posts) == 3


async def test_one_post_per_channel_per_interval(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First", "Second"], [sub])
    first = await drain_once(rig.worker)
    assert first.sent == 1
    assert first.next_due == NOW + timedelta(seconds=1)
    again = await drain_once(rig.worker)  # the clock has not moved: the channel must wait
    assert again.sent == 0
    rig.clock.advance(1.0)
    assert (await drain_once(rig.worker)).sent == 1
    assert rig.sender.titles() == ["First", "Second"]


async def test_different_channels_are_served_in_the_same_round(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    news = await subscribe(rig.storage, feed, NEWS)
    other = await subscribe(rig.storage, feed, OTHER)
    await publish(rig.storage, feed, ["Only"], [news, other])
    assert (await drain_once(rig.worker)).sent == 2
    assert {posted.channel_id for _, posted in rig.sender.posts} == {NEWS, OTHER}


async def test_global_budget_limits_a_round(storage: Storage, tmp_path: object) -> None:
    from pathlib import Path

    config = make_config(Path(str(tmp_path)), announcements={"global_rate_per_second": 2.0})
    rig = make_rig(storage, config)
    feed = await add_feed(storage)
    subs = [await subscribe(storage, feed, NEWS + n) for n in range(5)]
    await publish(storage, feed, ["Story"], subs)
    report = await drain_once(rig.worker)
    assert report.sent == 2
    assert report.next_due is not None and report.next_due > NOW
    await drain_all(rig)
    assert len(rig.sender.posts) == 5


async def test_transient_failure_backs_off_then_sends(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First", "Second"], [sub])
    rig.sender.failures.append(RetryLater("Discord is busy.", status=429, retry_after=12.0))
    report = await drain_once(rig.worker)
    assert (report.sent, report.retried) == (0, 1)
    [first, second] = await rig.storage.subscription_outbox(sub.id)
    assert (first.state, first.attempts, second.state) == ("pending", 1, "pending")
    rig.clock.advance(5.0)
    assert (await drain_once(rig.worker)).sent == 0  # Discord asked for 12 s; order is kept
    await drain_all(rig)
    assert rig.sender.titles() == ["First", "Second"]


async def test_post_made_but_answer_lost_is_not_repeated(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First"], [sub])
    rig.sender.failures.append(
        ("after", DeliveryError("Bad gateway.", permanent=False, status=502))
    )
    await drain_all(rig)
    assert rig.sender.titles() == ["First"]
    [record] = await rig.storage.subscription_outbox(sub.id)
    assert record.state == "sent" and record.message_id == rig.sender.posts[0][0]
    assert rig.sender.lookups == [record.id]


async def test_forbidden_pauses_every_subscription_in_the_channel_and_tells_once(rig: Rig) -> None:
    await rig.storage.update_guild_settings(GuildSettings(GUILD, log_channel_id=9), now=NOW)
    feed = await add_feed(rig.storage)
    other_feed = await add_feed(rig.storage, "https://other.example/feed/")
    sub = await subscribe(rig.storage, feed)
    neighbour = await subscribe(rig.storage, other_feed)
    await publish(rig.storage, feed, ["First", "Second"], [sub])
    await publish(rig.storage, other_feed, ["Elsewhere"], [neighbour])
    rig.sender.failures.append(DeliveryError("Missing Access.", permanent=True, status=403))
    report = await drain_once(rig.worker)
    assert report.refused == 1 and report.sent == 0
    for subscription_id in (sub.id, neighbour.id):
        stored = await rig.storage.subscription(subscription_id)
        assert stored is not None and stored.paused
        assert "missing permission" in stored.pause_reason
    assert await states(rig.storage, sub.id) == ["pending", "pending"]  # nothing is lost
    assert len(rig.notifier.told) == 1
    guild, text = rig.notifier.told[0]
    assert guild == GUILD and f"<#{NEWS}>" in text and "/feeds resume" in text
    rig.clock.advance(3600)
    await drain_all(rig)
    assert rig.sender.posts == [] and len(rig.notifier.told) == 1
    # A moderator fixes the permission and resumes: delivery continues in order.
    await rig.storage.set_paused(sub.id, False)
    await drain_all(rig)
    assert rig.sender.titles() == ["First", "Second"]


async def test_rejected_message_fails_and_pauses_only_its_subscription(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    neighbour = await subscribe(rig.storage, feed, OTHER)
    await publish(rig.storage, feed, ["Bad", "Good"], [sub, neighbour])
    rig.sender.failures.append(DeliveryError("Invalid Form Body.", permanent=True, status=400))
    await drain_all(rig)
    assert await states(rig.storage, sub.id) == ["failed", "pending"]
    assert await states(rig.storage, neighbour.id) == ["sent", "sent"]
    stored = await rig.storage.subscription(sub.id)
    assert stored is not None and stored.paused and "invalid" in stored.pause_reason
    assert len(rig.notifier.told) == 1
    await rig.storage.set_paused(sub.id, False)
    await drain_all(rig)
    assert await states(rig.storage, sub.id) == ["failed", "sent"]


async def _damage_plan(storage: Storage, outbox_id: int, payload: str = "{broken") -> None:
    async with storage.transaction() as conn:
        await conn.execute("UPDATE outbox SET payload = ? WHERE id = ?", (payload, outbox_id))


@pytest.mark.parametrize("payload", ["{broken", "", '{"content": 7}'])
async def test_an_unreadable_plan_is_planned_again_and_sent_in_order(
    rig: Rig, payload: str
) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First", "Second"], [sub])
    first = (await rig.storage.subscription_outbox(sub.id))[0]
    await _damage_plan(rig.storage, first.id, payload)
    await drain_all(rig)
    # Planned again from the archive: the same article, with this row's marker, still first.
    assert rig.sender.titles() == ["First", "Second"]
    assert rig.sender.posts[0][1].plan.marker == f"pb-o{first.id}"
    assert await states(rig.storage, sub.id) == ["sent", "sent"]
    stored = await rig.storage.scalar("SELECT payload FROM outbox WHERE id = ?", (first.id,))
    assert MessagePlan.from_json(stored).marker == f"pb-o{first.id}"  # repaired for good


async def test_an_unreadable_claimed_plan_is_planned_again_for_reconciliation(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First"], [sub])
    claimed = await _claim_head(rig.storage, sub.id)
    [delivery] = await rig.storage.claimed_deliveries()
    outgoing = await rig.worker._prepare(delivery)
    assert outgoing is not None
    rig.sender._post(outgoing)  # posted before the crash
    await _damage_plan(rig.storage, claimed)
    assert await rig.worker.reconcile() == 1
    # The plan made again carries the same marker, so the earlier post is found, not repeated.
    record = await rig.storage.outbox_record(claimed)
    assert record is not None and record.state == "sent"
    await drain_all(rig)
    assert rig.sender.titles() == ["First"]


class ArchiveMissing(Storage):
    """A storage whose archive cannot give the article back (as if it failed to read)."""

    async def archived_articles(
        self, scope: ArchiveScope, article_ids: Sequence[int]
    ) -> dict[int, ArchivedArticle]:
        return {}


async def test_a_plan_that_cannot_be_made_again_is_retried_never_failed(
    tmp_path: Path, config: Config
) -> None:
    storage = await ArchiveMissing.open(tmp_path / "missing.db")
    try:
        rig = make_rig(storage, config)
        feed = await add_feed(storage)
        sub = await subscribe(storage, feed)
        await publish(storage, feed, ["First", "Second"], [sub])
        first = (await storage.subscription_outbox(sub.id))[0]
        await _damage_plan(storage, first.id)
        report = await drain_once(rig.worker)
        assert (report.sent, report.retried) == (0, 1)
        assert rig.sender.posts == []  # the head waits, and the queue behind it keeps its order
        record = await storage.outbox_record(first.id)
        assert record is not None and record.state == "pending" and record.attempts == 1
        assert "unreadable message plan" in record.reason
        [head] = [d for d in await storage.next_deliveries() if d.id == first.id]
        assert head.not_before > NOW  # backed off
        # Once the plan can be made again (the archive answers), the row goes out, in order.
        rig.worker.storage = await Storage.open(tmp_path / "missing.db")
        try:
            await drain_all(rig)
            assert rig.sender.titles() == ["First", "Second"]
        finally:
            await rig.worker.storage.close()
    finally:
        await storage.close()


async def test_a_row_half_built_by_an_open_poll_is_neither_sent_nor_failed(rig: Rig) -> None:
    """The crash test's lost article: the worker ran between a poll's INSERT of an outbox row
    and the UPDATE storing its plan, read the empty payload and failed the row for good."""
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    async with rig.storage.poll_transaction(feed, now=NOW) as tx:
        [article] = await tx.upsert_articles(
            [NewArticle(canonical_url="https://paper.example/a/", url="https://paper.example/a/")]
        )
        [(_, outbox_id)] = await tx.add_outbox(
            [OutboxRow(sub.id, article, sub.channel_id, "pending")]
        )
        # The poll's transaction is open and the row has no plan yet: a round of the worker
        # (its own task, as in the bot) now sees nothing. A worker that saw the row would wait
        # for this transaction to settle it, and this test would wait for the worker: the
        # guard turns that deadlock into a failure.
        async with asyncio.timeout(DEADLOCK_GUARD_SECONDS):
            report = await asyncio.create_task(drain_once(rig.worker))
        assert (report.sent, report.retried) == (0, 0)
        plan = render_plan(
            AnnouncementArticle(id=article, title="A", url="https://paper.example/a/"),
            SubscriptionView(id=sub.id),
            outbox_id=outbox_id,
        )
        await tx.set_outbox_payload(outbox_id, plan.to_json())
        await tx.finish_success(etag=None, last_modified=None, next_check_at=NOW)
    await drain_all(rig)
    assert rig.sender.titles() == ["A"]
    assert await states(rig.storage, sub.id) == ["sent"]


async def test_inactive_and_paused_subscriptions_get_nothing(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    paused = await subscribe(rig.storage, feed, NEWS)
    gone = await subscribe(rig.storage, feed, OTHER)
    await publish(rig.storage, feed, ["First"], [paused, gone])
    await rig.storage.set_paused(paused.id, True, "on holiday")
    await rig.storage.deactivate_channel(OTHER)
    await drain_all(rig)
    assert rig.sender.posts == []


async def _claim_head(storage: Storage, subscription_id: int) -> int:
    head = (await storage.subscription_outbox(subscription_id))[0]
    assert await storage.claim_delivery(head.id, now=NOW)
    return head.id


async def test_reconcile_finds_a_post_made_before_the_crash(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First", "Second"], [sub])
    # The previous process claimed and posted, then died before committing `sent`.
    claimed = await _claim_head(rig.storage, sub.id)
    [delivery] = await rig.storage.claimed_deliveries()
    outgoing = await rig.worker._prepare(delivery)
    assert outgoing is not None
    rig.sender._post(outgoing)
    assert await rig.worker.reconcile() == 1
    record = await rig.storage.outbox_record(claimed)
    assert record is not None and record.state == "sent"
    assert record.message_id == rig.sender.posts[0][0]
    await drain_all(rig)
    assert rig.sender.titles() == ["First", "Second"]


async def test_reconcile_releases_a_claim_that_never_posted(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First", "Second"], [sub])
    await _claim_head(rig.storage, sub.id)
    assert (await drain_once(rig.worker)).sent == 0  # a claimed head blocks its queue
    await rig.worker.reconcile()
    assert await states(rig.storage, sub.id) == ["pending", "pending"]
    await drain_all(rig)
    assert rig.sender.titles() == ["First", "Second"]


async def test_reconcile_lookup_failing_transiently_keeps_the_claim(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    await publish(rig.storage, feed, ["First"], [sub])
    await _claim_head(rig.storage, sub.id)
    rig.sender.lookup_error = DeliveryError("Discord is down.", permanent=False, status=503)
    await rig.worker.reconcile()
    assert await states(rig.storage, sub.id) == ["claimed"]
    rig.sender.lookup_error = None
    await rig.worker.reconcile()
    await drain_all(rig)
    assert rig.sender.titles() == ["First"]


async def test_run_wakes_on_new_work(rig: Rig) -> None:
    feed = await add_feed(rig.storage)
    sub = await subscribe(rig.storage, feed)
    task = asyncio.create_task(rig.worker.run())
    try:
        async with asyncio.timeout(10):
            await rig.worker.round_finished.wait()  # the first, empty round
            await publish(rig.storage, feed, ["Breaking"], [sub])
            rig.worker.round_finished.clear()
            rig.worker.wake()
            await rig.worker.round_finished.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert rig.sender.titles() == ["Breaking"]
    assert await states(rig.storage, sub.id) == ["sent"]


@dataclass
class GatedSender(FakeSender):
    """Holds every send until `gate` is set, so a stop can arrive while a post is in flight."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, outgoing: Outgoing) -> SentMessage:
        self.entered.set()
        await self.gate.wait()
        return await super().send(outgoing)


async def test_stop_lets_the_send_in_flight_settle_as_sent(
    storage: Storage, config: Config
) -> None:
    sender = GatedSender()
    worker = DeliveryWorker(storage, sender, FakeNotifier(), config, FakeClock(NOW))
    feed = await add_feed(storage)
    sub = await subscribe(storage, feed)
    await publish(storage, feed, ["Only"], [sub])
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(sender.entered.wait(), 10)
    worker.stop()
    assert await states(storage, sub.id) == ["claimed"]
    sender.gate.set()
    await asyncio.wait_for(running, 10)  # run() returns by itself once the round is over
    assert await states(storage, sub.id) == ["sent"]
    assert sender.titles() == ["Only"]


@dataclass
class ChannelGatedSender(FakeSender):
    """Holds sends to `held_channel` until `gate` is set; other channels post at once."""

    held_channel: int = NEWS
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    entered_held: list[int] = field(default_factory=list)

    async def send(self, outgoing: Outgoing) -> SentMessage:
        if outgoing.channel_id == self.held_channel:
            self.entered_held.append(outgoing.outbox_id)
            self.sent_event.set()
            await self.gate.wait()
        return await super().send(outgoing)

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Wait (bounded) until `condition()` holds, re-checking after every send."""
        async with asyncio.timeout(10):
            while not condition():
                self.sent_event.clear()
                if condition():
                    return
                await self.sent_event.wait()


async def test_a_slow_channel_does_not_hold_back_the_others(
    storage: Storage, tmp_path: object
) -> None:
    """Sends are not in rounds: a channel whose post hangs (Discord holding it, say) waits alone,
    and a second subscription in that channel never overlaps its post."""
    from pathlib import Path

    config = make_config(Path(str(tmp_path)), announcements={"per_channel_interval_seconds": 0.0})
    sender = ChannelGatedSender()
    worker = DeliveryWorker(storage, sender, FakeNotifier(), config, FakeClock(NOW))
    feed = await add_feed(storage)
    other_feed = await add_feed(storage, "https://other.example/feed/")
    held = await subscribe(storage, feed, NEWS)
    neighbour = await subscribe(storage, other_feed, NEWS)
    free = await subscribe(storage, feed, OTHER)
    await publish(storage, feed, ["One", "Two", "Three"], [held, free])
    await publish(storage, other_feed, ["Elsewhere"], [neighbour])
    running = asyncio.create_task(worker.run())
    try:
        await sender.wait_for(lambda: len(sender.titles(OTHER)) == 3)
        assert len(sender.entered_held) == 1  # the held channel has one post in flight, no more
        sender.gate.set()
        await sender.wait_for(lambda: len(sender.titles(NEWS)) == 4)
    finally:
        sender.gate.set()
        worker.stop()
        await asyncio.wait_for(running, 10)
    assert [t for t in sender.titles(NEWS) if t != "Elsewhere"] == ["One", "Two", "Three"]
    assert await states(storage, held.id) == ["sent"] * 3
    assert await states(storage, free.id) == ["sent"] * 3
    assert await states(storage, neighbour.id) == ["sent"]

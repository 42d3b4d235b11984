"""The Discord-free delivery service other parts call: seed a new subscription, wake the worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.announce import plan
from bot.announce.plan import HeldBackEvent
from bot.announce.render import render_plan
from bot.clock import Clock
from bot.config import Config
from bot.delivery import notices
from bot.errors import NotFound
from bot.models import WHOLE_ARCHIVE
from bot.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeedReport:
    """What seeding a new subscription did: rows to announce and rows counted as delivered."""

    announced: int
    skipped: int


class DeliveryService:
    """Delivery verbs for the rest of Paperboy; the worker registers itself to be woken."""

    def __init__(self, storage: Storage, config: Config, clock: Clock) -> None:
        self.storage = storage
        self.config = config
        self.clock = clock
        self._wakers: list[Callable[[], None]] = []
        self._notices: list[notices.ModeratorNotice] = []

    def on_work(self, waker: Callable[[], None]) -> None:
        """Call `waker` whenever new delivery work is committed (the worker's `wake`)."""
        self._wakers.append(waker)

    def wake(self) -> None:
        """New delivery work was committed (a poll, a resume): let the worker look now."""
        for waker in list(self._wakers):
            waker()

    async def report_held_back(self, event: HeldBackEvent) -> bool:
        """Queue the moderators' notice of a held-back event, once ever; True if queued now.

        Remembered before it is posted, so a crash in between loses the notice rather than
        repeating it: moderators hear of each event at most once (the rows' reasons stay).
        """
        key = notices.held_back_key(event.feed_id, event.article_ids)
        first = await self.storage.remember_notice(
            event.guild_id, key, detail=event.note[: notices.REASON_LIMIT], now=self.clock.now()
        )
        if first:
            text = notices.held_back_notice(event.feed_id, event.channel_ids, event.note)
            self._notices.append(notices.ModeratorNotice(event.guild_id, text))
            self.wake()
        return first

    async def report_failing_feed(self, feed_id: int) -> bool:
        """Queue, once per failing spell, a notice for every guild that follows a failing feed.

        Remembered (`failing_notified`) before it is posted, as held-back notices are; the flag
        resets when the feed next succeeds, so a later failing spell is told again.
        """
        feed = await self.storage.feed(feed_id)
        if feed is None or feed.failing_notified:
            return False
        subscriptions = await self.storage.feed_subscriptions(feed_id, include_paused=True)
        await self.storage.mark_failing_notified(feed_id)
        channels_by_guild: dict[int, set[int]] = {}
        for subscription in subscriptions:
            channels_by_guild.setdefault(subscription.guild_id, set()).add(subscription.channel_id)
        for guild_id, channels in sorted(channels_by_guild.items()):
            text = notices.failing_feed_notice(feed, sorted(channels))
            self._notices.append(notices.ModeratorNotice(guild_id, text))
        if channels_by_guild:
            self.wake()
        return bool(channels_by_guild)

    def queue_notices(self, handed: list[notices.ModeratorNotice]) -> None:
        """Queue notices another process raised (`paperboy worker`, which has no Discord)."""
        if handed:
            self._notices.extend(handed)
            self.wake()

    def take_notices(self) -> list[notices.ModeratorNotice]:
        """Hand over the notices waiting to be posted (the worker calls this every round)."""
        taken, self._notices = self._notices, []
        return taken

    async def seed_new_subscription(self, subscription_id: int) -> SeedReport:
        """Decide a new subscription's backlog; call right after creating it (safe to repeat).

        The feed's current items count as delivered (`skipped`, reason "backlog", "too-old" or
        "filtered: ...") except the newest `backlog_count` that pass the filters, which become
        pending and go out oldest first.
        """
        subscription = await self.storage.subscription(subscription_id)
        if subscription is None:
            raise NotFound(f"There is no subscription number {subscription_id}.")
        now = self.clock.now()
        items = await self.storage.feed_items(
            subscription.feed_id, limit=self.config.feeds.max_items
        )
        feed = await self.storage.feed(subscription.feed_id)
        # Planning is not a member's read: it sees the whole archive.
        archived = await self.storage.archived_articles(
            WHOLE_ARCHIVE, [item.article_id for item in items]
        )
        articles = {key: plan.archived_announcement(a, feed) for key, a in archived.items()}
        guild = await self.storage.guild_settings(subscription.guild_id)
        rules = await self.storage.mention_rules(subscription.id)
        view = plan.subscription_view(subscription, timezone=guild.timezone, mention_rules=rules)
        decision = plan.decide(
            # Newest first, the order the policy expects for ties.
            [
                (articles[item.article_id], item.published or item.first_seen)
                for item in items
                if item.article_id in articles
            ],
            view,
            now=now,
            first_poll=True,
            feed_title=feed.title if feed else "",
            settings=self.config.announcements,
        )
        rows = plan.seed_rows(decision)

        def render(article_id: int, outbox_id: int) -> str:
            return render_plan(articles[article_id], view, outbox_id=outbox_id).to_json()

        created = await self.storage.seed_outbox(
            subscription.id, subscription.channel_id, rows, now=now, render=render
        )
        announced = sum(1 for row, _ in created if row.state == "pending")
        if announced:
            self.wake()
        log.info(
            "Subscription %s seeded: %d to announce, %d counted as delivered",
            subscription.id,
            announced,
            len(created) - announced,
        )
        return SeedReport(announced=announced, skipped=len(created) - announced)

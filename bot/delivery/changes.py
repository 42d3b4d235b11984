"""Articles that change after they were posted: queue one edit per posted message and version.

The poller tells `on_items_seen` what a poll read. Articles whose fingerprint changed
(`bot.announce.changes`) get, for every subscription set to `edit` that posted them, the message
rendered again and queued in `outbox_edits` together with the new fingerprint, in one
transaction; the delivery worker sends it like a post (claim, edit, settle) exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.announce.changes import ItemsSeen, changed
from bot.announce.plan import subscription_view
from bot.announce.render import render_plan
from bot.clock import Clock
from bot.storage import Storage

log = logging.getLogger(__name__)


class ChangeTracker:
    """Turns changed articles into queued edits; `on_items_seen` is the poller's hook."""

    def __init__(self, storage: Storage, clock: Clock, *, wake: Callable[[], None]) -> None:
        self.storage = storage
        self.clock = clock
        self.wake = wake

    async def on_items_seen(self, event: ItemsSeen) -> int:
        """Remember each article's fingerprint and queue edits for changes; returns how many."""
        stored = await self.storage.article_hashes([a.id for a in event.articles])
        changes = changed(event.articles, stored)
        # First sightings only set the baseline: one transaction for all of them.
        await self.storage.remember_versions(
            [(c.article.id, c.content_hash) for c in changes if c.first_sight]
        )
        queued = 0
        for change in changes:
            if change.first_sight:
                continue
            edits: list[tuple[int, str]] = []
            for post in await self.storage.changed_posts(change.article.id):
                subscription = await self.storage.subscription(post.subscription_id)
                if subscription is None:
                    continue
                guild = await self.storage.guild_settings(post.guild_id)
                view = subscription_view(subscription, timezone=guild.timezone)
                plan = render_plan(change.article, view, outbox_id=post.outbox_id)
                edits.append((post.outbox_id, plan.to_json()))
            queued += await self.storage.record_version(
                change.article.id, change.content_hash, edits, now=self.clock.now()
            )
        if queued:
            log.info("Feed %s: %s announcement edits queued", event.feed_id, queued)
            self.wake()
        return queued

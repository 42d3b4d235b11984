"""Articles that change after they were posted: queue one edit per posted message and version.

The poller tells `on_items_seen` what a poll read. Articles whose fingerprint changed
(`bot.announce.changes`) get, for every subscription set to `edit`, the message rendered again:
queued in `outbox_edits` for a posted announcement, or replacing the stored plan of one still
waiting (quiet hours, a cap), together with the new fingerprint, in one transaction. The
delivery worker sends an edit like a post (claim, edit, settle) exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.announce.changes import ItemsSeen, changed
from bot.announce.plan import subscription_view
from bot.announce.render import render_plan
from bot.clock import Clock
from bot.storage import ChangedPost, Storage

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
            plans: list[tuple[ChangedPost, str]] = []
            for post in await self.storage.changed_posts(change.article.id):
                subscription = await self.storage.subscription(post.subscription_id)
                if subscription is None:
                    continue
                guild = await self.storage.guild_settings(post.guild_id)
                view = subscription_view(subscription, timezone=guild.timezone)
                plan = render_plan(change.article, view, outbox_id=post.outbox_id)
                plans.append((post, plan.to_json()))
            done = await self.storage.record_version(
                change.article.id, change.content_hash, plans, now=self.clock.now()
            )
            if done is None:
                # A post of it was in flight: its version is not stored, so the next poll
                # sees the change again and edits what was posted by then.
                log.info("Article %s changed while being posted; next poll", change.article.id)
            queued += done or 0
        if queued:
            log.info("Feed %s: %s announcement edits queued", event.feed_id, queued)
            self.wake()
        return queued

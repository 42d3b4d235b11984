"""Articles that change after they were posted: queue one edit per posted message and version,
or (subscriptions set to `repost`) one new announcement per version.

The poller tells `on_items_seen` what a poll read. Articles whose fingerprint changed
(`bot.announce.changes`) get, for every subscription set to `edit`, the message rendered again:
queued in `outbox_edits` for a posted announcement, or replacing the stored plan of one still
waiting (quiet hours, a cap), together with the new fingerprint, in one transaction. The
delivery worker sends an edit like a post (claim, edit, settle) exactly once. For every
subscription set to `repost` (`bot.announce.changes.repost_action`), a version never announced
there becomes a new outbox row, titled "Updated: ...", that the worker sends like any post.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from bot.announce.changes import Change, ItemsSeen, as_update, changed, repost_action
from bot.announce.plan import subscription_view
from bot.announce.render import AnnouncementArticle, SubscriptionView, render_plan
from bot.clock import Clock
from bot.storage import ChangedPost, Repost, Storage

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
            posts = await self.storage.changed_posts(change.article.id)
            plans, reposts = await self._plan(change, posts)
            done = await self.storage.record_version(
                change.article.id,
                change.content_hash,
                plans,
                now=self.clock.now(),
                reposts=reposts,
                seen=posts,
            )
            if done is None:
                # A post of it was in flight: its version is not stored, so the next poll
                # sees the change again and edits what was posted by then.
                log.info("Article %s changed while being posted; next poll", change.article.id)
            queued += done or 0
        if queued:
            log.info("Feed %s: %s announcement edits and reposts queued", event.feed_id, queued)
            self.wake()
        return queued

    async def _plan(
        self, change: Change, posts: list[ChangedPost]
    ) -> tuple[list[tuple[ChangedPost, str]], list[Repost]]:
        """The edits and plan replacements (`edit`, and `repost` while a post waits) and the
        new announcements (`repost`) one change makes, per subscription."""
        by_subscription: dict[int, list[ChangedPost]] = {}
        for post in posts:
            by_subscription.setdefault(post.subscription_id, []).append(post)
        plans: list[tuple[ChangedPost, str]] = []
        reposts: list[Repost] = []
        first_hash: str | None = None
        updated = as_update(change.article)
        for subscription_id, group in by_subscription.items():
            subscription = await self.storage.subscription(subscription_id)
            if subscription is None:
                continue
            guild = await self.storage.guild_settings(subscription.guild_id)
            view = subscription_view(subscription, timezone=guild.timezone)
            if group[0].on_change != "repost":
                for post in group:
                    plan = render_plan(change.article, view, outbox_id=post.outbox_id)
                    plans.append((post, plan.to_json()))
                continue
            if first_hash is None:
                first_hash = await self.storage.first_hash(change.article.id)
            action = repost_action(
                [(post.state, post.version) for post in group], change.content_hash, first_hash
            )
            if action == "replace":
                for post in group:
                    if post.state == "pending":
                        # A waiting repost stays a repost; a waiting first post stays the first.
                        shown = updated if post.version else change.article
                        plan = render_plan(shown, view, outbox_id=post.outbox_id)
                        plans.append((post, plan.to_json()))
            elif action == "repost":
                reposts.append(
                    Repost(
                        subscription_id,
                        subscription.channel_id,
                        render=partial(_render_json, updated, view),
                    )
                )
            # 'wait': record_version sees the claim and leaves the change for the next poll.
        return plans, reposts


def _render_json(article: AnnouncementArticle, view: SubscriptionView, outbox_id: int) -> str:
    return render_plan(article, view, outbox_id=outbox_id).to_json()

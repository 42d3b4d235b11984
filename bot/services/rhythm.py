"""`/feeds rhythm`: a subscription's quiet hours, daily cap and what to do when articles change.

Functions over the `FeedAdmin` (its storage and change log), so the rhythm is changed, recorded
and announced in the log channel like every other subscription setting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.announce.digest import DAYS, last_slot
from bot.delivery.rhythm import parse_clock, validate_rhythm
from bot.errors import InvalidInput, NotFound
from bot.models import Rhythm, Subscription
from bot.services.admin import FeedAdmin
from bot.storage import Storage


@dataclass(frozen=True)
class RhythmChange:
    """What a moderator asked to change; None leaves a setting as it is."""

    quiet_start: str | None = None
    quiet_end: str | None = None
    clear_quiet: bool = False
    daily_cap: int | None = None
    clear_cap: bool = False
    on_change: str | None = None
    digest: str | None = None
    """'daily', 'weekly', or 'off' (instant posts again)."""
    digest_time: str | None = None
    digest_day: int | None = None
    digest_size: int | None = None

    @property
    def empty(self) -> bool:
        """Whether nothing was asked (the command then shows the current rhythm)."""
        return self == RhythmChange()


def apply_change(current: Rhythm, change: RhythmChange) -> Rhythm:
    """The rhythm after a change, validated (InvalidInput with a sentence). Pure."""
    if change.clear_quiet and (change.quiet_start or change.quiet_end):
        raise InvalidInput("Either set quiet hours or clear them, not both at once.")
    if change.clear_cap and change.daily_cap is not None:
        raise InvalidInput("Either set a daily cap or clear it, not both at once.")
    updated = current
    if change.clear_quiet:
        updated = replace(updated, quiet_start=None, quiet_end=None)
    elif change.quiet_start is not None or change.quiet_end is not None:
        updated = replace(
            updated,
            quiet_start=change.quiet_start or updated.quiet_start,
            quiet_end=change.quiet_end or updated.quiet_end,
        )
    if change.clear_cap:
        updated = replace(updated, daily_cap=None)
    elif change.daily_cap is not None:
        updated = replace(updated, daily_cap=change.daily_cap)
    if change.on_change is not None:
        updated = replace(updated, on_change=change.on_change.strip().lower())
    if change.digest is not None:
        kind = change.digest.strip().lower()
        updated = replace(updated, digest=None if kind == "off" else kind)
    if change.digest_time is not None:
        updated = replace(updated, digest_time=change.digest_time)
    if change.digest_day is not None:
        updated = replace(updated, digest_day=change.digest_day)
    if change.digest_size is not None:
        updated = replace(updated, digest_size=change.digest_size)
    return validate_rhythm(updated)


def describe(rhythm: Rhythm) -> str:
    """A subscription's rhythm in one line for replies and the log channel."""
    quiet = (
        f"quiet {rhythm.quiet_start}–{rhythm.quiet_end}"
        if rhythm.quiet_start and rhythm.quiet_end
        else "no quiet hours"
    )
    cap = f"at most {rhythm.daily_cap} a day" if rhythm.daily_cap else "no daily cap"
    changes = {
        "edit": "edits posts when articles change",
        "repost": "reposts articles when they change",
    }.get(rhythm.on_change, "ignores changed articles")
    if rhythm.digest == "weekly" and rhythm.digest_day is not None:
        digest = (
            f"a weekly digest on {DAYS[rhythm.digest_day].title()} at {rhythm.digest_time} "
            f"(up to {rhythm.digest_size} items)"
        )
    elif rhythm.digest == "daily":
        digest = f"a daily digest at {rhythm.digest_time} (up to {rhythm.digest_size} items)"
    else:
        digest = "instant posts"
    if rhythm.digest is not None and rhythm.daily_cap:
        # Instant posts up to the cap; what exceeds it goes to the digest.
        return f"up to {rhythm.daily_cap} posts a day and the rest in {digest}, {quiet}, {changes}"
    return f"{digest}, {quiet}, {cap}, {changes}"


async def start_digests(
    storage: Storage, subscription: Subscription, rhythm: Rhythm, *, now: datetime
) -> None:
    """Digests (re)scheduled now: the moment that last passed counts as served, so the first
    digest is the next scheduled one, never one from before the moderators asked."""
    if rhythm.digest is None or rhythm.digest_time is None:
        return
    timezone = (await storage.guild_settings(subscription.guild_id)).timezone
    weekday = rhythm.digest_day if rhythm.digest == "weekly" else None
    slot = last_slot(now, at=parse_clock(rhythm.digest_time), weekday=weekday, timezone=timezone)
    await storage.form_digest(subscription.id, slot, [], now=now)


async def _owned(admin: FeedAdmin, guild_id: int, subscription_id: int) -> Subscription:
    subscription = await admin.storage.subscription(subscription_id, guild_id=guild_id)
    if subscription is None:
        raise NotFound(
            f"There is no subscription number {subscription_id} in this server; "
            "/feeds list shows them."
        )
    return subscription


async def change_rhythm(
    admin: FeedAdmin, guild_id: int, user_id: int, subscription_id: int, change: RhythmChange
) -> tuple[Subscription, Rhythm]:
    """Show (no change) or change a subscription's rhythm; recorded like every setting."""
    subscription = await _owned(admin, guild_id, subscription_id)
    current = await admin.storage.subscription_rhythm(subscription.id)
    if change.empty:
        return subscription, current
    updated = apply_change(current, change)
    if updated.digest is not None and subscription.format == "forum":
        raise InvalidInput(
            "Digests post in text and announcement channels and threads; a forum subscription "
            "posts each article as its own forum post."
        )
    await admin.storage.set_rhythm(subscription.id, updated)
    if updated.digest is not None and (
        (current.digest, current.digest_time, current.digest_day)
        != (updated.digest, updated.digest_time, updated.digest_day)
    ):
        await start_digests(admin.storage, subscription, updated, now=admin.clock.now())
    if current.digest is not None and updated.digest is None:
        await admin.storage.unqueue_from_digest(subscription.id, now=admin.clock.now())
        if admin.wake_delivery is not None:
            admin.wake_delivery()
    await admin.record(
        guild_id, user_id, "feed.rhythm", f"subscription {subscription.id}: {describe(updated)}"
    )
    return subscription, updated

"""WebSub subscriptions: the hub each feed advertises and the state of Paperboy's subscription.

The decisions (when to subscribe, renew, give up) are `bot.ingest.websub`'s; these verbs only
record what happened. Secrets and callback ids are made by the caller and only stored here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import to_iso
from bot.storage._articles import _when
from bot.storage._base import Database
from bot.storage._connection import Row
from bot.storage.records import WebSubSubscription

_SELECT = (
    "SELECT w.*, EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = w.feed_id "
    "AND s.active = 1) AS wanted FROM websub_subscriptions w"
)


def _subscription(row: Row) -> WebSubSubscription:
    return WebSubSubscription(
        feed_id=int(row["feed_id"]),
        hub_url=row["hub_url"],
        topic_url=row["topic_url"],
        callback_id=row["callback_id"],
        secret=row["secret"],
        state=row["state"],
        pending_mode=row["pending_mode"],
        requested_at=_when(row["requested_at"]),
        lease_seconds=row["lease_seconds"],
        lease_expires_at=_when(row["lease_expires_at"]),
        failures=int(row["failures"]),
        retry_at=_when(row["retry_at"]),
        last_error=row["last_error"],
        last_push_at=_when(row["last_push_at"]),
        pushes=int(row["pushes"]),
        wanted=bool(row["wanted"]),
    )


class WebSubStore(Database):
    """Verbs for WebSub subscriptions."""

    async def websub_record_hub(
        self,
        feed_id: int,
        *,
        hub_url: str,
        topic_url: str,
        callback_id: str,
        secret: str,
        now: datetime,
    ) -> bool:
        """Remember the hub and topic a poll of the feed found ('' hub: none any more).

        A new row takes `callback_id` and `secret`; an existing one keeps its own. A changed hub
        or topic starts over (idle, to be subscribed anew). Returns True if anything changed.
        """
        current = await self.websub_subscription(feed_id)
        if current is None:
            if not hub_url:
                return False
            await self.execute(
                "INSERT INTO websub_subscriptions (feed_id, hub_url, topic_url, callback_id, "
                "secret, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (feed_id) DO NOTHING",
                (feed_id, hub_url, topic_url, callback_id, secret, to_iso(now)),
            )
            return True
        if current.hub_url == hub_url and (not hub_url or current.topic_url == topic_url):
            return False
        await self.execute(
            "UPDATE websub_subscriptions SET hub_url = ?, topic_url = ?, state = 'idle', "
            "pending_mode = NULL, requested_at = NULL, lease_seconds = NULL, "
            "lease_expires_at = NULL, failures = 0, retry_at = NULL, last_error = NULL, "
            "updated_at = ? WHERE feed_id = ?",
            (hub_url, topic_url or current.topic_url, to_iso(now), feed_id),
        )
        return True

    async def websub_subscription(self, feed_id: int) -> WebSubSubscription | None:
        """One feed's WebSub subscription, or None when it never advertised a hub."""
        row = await self.fetch_one(f"{_SELECT} WHERE w.feed_id = ?", (feed_id,))
        return None if row is None else _subscription(row)

    async def websub_by_callback(self, callback_id: str) -> WebSubSubscription | None:
        """The subscription whose callback address ends in `callback_id`, or None."""
        row = await self.fetch_one(
            f"{_SELECT} WHERE w.callback_id = ?",
            (callback_id,),
        )
        return None if row is None else _subscription(row)

    async def websub_subscriptions(self) -> list[WebSubSubscription]:
        """Every feed's WebSub subscription, by feed."""
        rows = await self.fetch_all(f"{_SELECT} ORDER BY w.feed_id")
        return [_subscription(row) for row in rows]

    async def websub_requested(self, feed_id: int, *, mode: str, now: datetime) -> None:
        """A (un)subscription request was accepted by the hub; its verification is awaited."""
        await self.execute(
            "UPDATE websub_subscriptions SET pending_mode = ?, requested_at = ?, updated_at = ? "
            "WHERE feed_id = ?",
            (mode, to_iso(now), to_iso(now), feed_id),
        )

    async def websub_verified(
        self, feed_id: int, *, mode: str, lease_seconds: int | None, now: datetime
    ) -> None:
        """The hub verified a request: a subscription is active for its lease, or has ended."""
        if mode == "subscribe":
            assert lease_seconds is not None
            expires = now + timedelta(seconds=lease_seconds)
            await self.execute(
                "UPDATE websub_subscriptions SET state = 'active', pending_mode = NULL, "
                "requested_at = NULL, lease_seconds = ?, lease_expires_at = ?, failures = 0, "
                "retry_at = NULL, last_error = NULL, updated_at = ? WHERE feed_id = ?",
                (lease_seconds, to_iso(expires), to_iso(now), feed_id),
            )
        else:
            await self.execute(
                "UPDATE websub_subscriptions SET state = 'idle', pending_mode = NULL, "
                "requested_at = NULL, lease_seconds = NULL, lease_expires_at = NULL, "
                "retry_at = NULL, updated_at = ? WHERE feed_id = ?",
                (to_iso(now), feed_id),
            )

    async def websub_failed(
        self, feed_id: int, *, error: str, retry_at: datetime, now: datetime
    ) -> None:
        """The hub failed (an error, a denial, no verification, a lapsed lease): polling again."""
        await self.execute(
            "UPDATE websub_subscriptions SET state = 'failed', pending_mode = NULL, "
            "requested_at = NULL, lease_seconds = NULL, lease_expires_at = NULL, "
            "failures = failures + 1, retry_at = ?, last_error = ?, updated_at = ? "
            "WHERE feed_id = ?",
            (to_iso(retry_at), error[:500], to_iso(now), feed_id),
        )

    async def websub_stopped(self, feed_id: int, *, now: datetime) -> None:
        """Nothing to keep up any more (lease over while unwanted, or hub gone): idle."""
        await self.websub_verified(feed_id, mode="unsubscribe", lease_seconds=None, now=now)

    async def websub_pushed(self, feed_id: int, *, now: datetime) -> None:
        """A correctly signed push arrived for the feed."""
        await self.execute(
            "UPDATE websub_subscriptions SET last_push_at = ?, pushes = pushes + 1 "
            "WHERE feed_id = ?",
            (to_iso(now), feed_id),
        )

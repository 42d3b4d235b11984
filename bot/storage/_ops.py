"""What operators look at: outbox depth, a write probe, and the status page's rows.

Read-only verbs (except the probe, which rolls back): cheap enough to run at every scrape.
"""

from __future__ import annotations

from bot.storage._articles import _when
from bot.storage._base import Database
from bot.storage._feeds import _feed, feed_select
from bot.storage.records import FeedHealth, RecentDelivery


class OpsStore(Database):
    """Verbs for the operator endpoint and `paperboy doctor`."""

    async def outbox_depth(self) -> dict[str, int]:
        """Open and failed announcements by state: pending, claimed, failed (index-only)."""
        rows = await self.fetch_all(
            "SELECT state, COUNT(*) FROM outbox WHERE state IN ('pending', 'claimed', 'failed')"
            " GROUP BY state"
        )
        depth = {"pending": 0, "claimed": 0, "failed": 0}
        depth.update({row[0]: int(row[1]) for row in rows})
        return depth

    async def feed_health(self) -> list[FeedHealth]:
        """Every feed with subscriptions, with its open and failed announcements."""
        # The feed columns come from the same select every feed verb uses (it grows with the model).
        rows = await self.fetch_all(
            f"""
            SELECT f.*,
                   (SELECT COUNT(*) FROM subscriptions s
                     WHERE s.feed_id = f.id AND s.active = 1) AS subs,
                   (SELECT COUNT(*) FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
                     WHERE s.feed_id = f.id AND o.state IN ('pending', 'claimed')) AS pending,
                   (SELECT COUNT(*) FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
                     WHERE s.feed_id = f.id AND o.state = 'failed') AS failed
              FROM ({feed_select(self.dialect)}) f
             ORDER BY f.consecutive_failures DESC, f.id
            """  # noqa: S608 - a constant select, no input in the text
        )
        return [
            FeedHealth(_feed(row), int(row["subs"]), int(row["pending"]), int(row["failed"]))
            for row in rows
        ]

    async def recent_deliveries(self, limit: int = 20) -> list[RecentDelivery]:
        """The most recently created settled or failed announcements, newest first."""
        rows = await self.fetch_all(
            """
            SELECT o.id, s.feed_id, o.channel_id, o.state, a.title,
                   COALESCE(o.sent_at, o.claimed_at, o.created_at) AS at, o.reason
              FROM outbox o
              JOIN subscriptions s ON s.id = o.subscription_id
              JOIN articles a ON a.id = o.article_id
             WHERE o.state IN ('sent', 'failed')
             ORDER BY o.id DESC
             LIMIT ?
            """,
            (limit,),
        )
        return [
            RecentDelivery(row[0], row[1], row[2], row[3], row[4], _when(row[5]), row[6])
            for row in rows
        ]

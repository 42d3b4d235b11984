"""The outbox: delivery work and its fate, plus webhook records and notices already given.

A delivery moves pending -> claimed -> sent. The claim is committed before Discord is asked, so
after a crash every row left `claimed` is known to be "maybe posted" and is reconciled (looked for
in the channel) instead of blindly sent again. Per subscription, only the oldest open row (the
head of its queue) may be sent, which keeps announcements in order even across retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.clock import from_iso, to_iso
from bot.shards import ShardSet
from bot.storage._articles import _categories, _when
from bot.storage._base import Database
from bot.storage._connection import Row, shard_condition
from bot.storage.records import ChannelWebhook, Delivery, DeliveryRecord, OutboxRecord, SeedRow

_DELIVERY_COLUMNS = (
    "o.id, o.subscription_id, o.article_id, o.channel_id, o.state, o.payload, o.attempts, "
    "o.not_before, o.claimed_at, s.guild_id, s.format, s.fallback_tag_id, a.categories"
)


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=int(row["id"]),
        subscription_id=int(row["subscription_id"]),
        article_id=int(row["article_id"]),
        guild_id=int(row["guild_id"]),
        channel_id=int(row["channel_id"]),
        format=row["format"],
        state=row["state"],
        payload=row["payload"],
        attempts=int(row["attempts"]),
        not_before=from_iso(row["not_before"]),
        claimed_at=_when(row["claimed_at"]),
        categories=_categories(row["categories"]),
        fallback_tag_id=row["fallback_tag_id"],
    )


def _record(row: Row) -> OutboxRecord:
    return OutboxRecord(
        id=int(row["id"]),
        subscription_id=int(row["subscription_id"]),
        article_id=int(row["article_id"]),
        channel_id=int(row["channel_id"]),
        state=row["state"],
        reason=row["reason"],
        attempts=int(row["attempts"]),
        message_id=row["message_id"],
        thread_id=row["thread_id"],
        sent_at=_when(row["sent_at"]),
    )


def _role_ids(payload: str | None) -> tuple[int, ...]:
    """A stored plan's allowed_role_ids; () when absent or damaged (skipped rows have no plan).

    Read here rather than with SQL's JSON functions, which SQLite and PostgreSQL spell apart."""
    if not payload:
        return ()
    try:
        plan = json.loads(payload)
    except ValueError:
        return ()
    values = plan.get("allowed_role_ids") if isinstance(plan, dict) else None
    if not isinstance(values, list):
        return ()
    return tuple(v for v in values if isinstance(v, int) and not isinstance(v, bool))


class OutboxStore(Database):
    """Verbs for delivering announcements: claim, sent, reschedule, re-plan, reconcile, seed."""

    # -- finding work ---------------------------------------------------------------------------

    async def next_deliveries(
        self, *, limit: int = 200, shards: ShardSet | None = None
    ) -> list[Delivery]:
        """The head of each active, unpaused subscription's queue, earliest due first; with
        `shards`, only the heads of those shards' servers.

        Heads may be `claimed` (in flight, or left by a crash); the worker skips those.
        """
        condition, params = shard_condition(shards)
        rows = await self.fetch_all(
            f"SELECT {_DELIVERY_COLUMNS} FROM outbox o "  # noqa: S608 - fixed column list
            "JOIN subscriptions s ON s.id = o.subscription_id "
            "JOIN articles a ON a.id = o.article_id "
            "WHERE o.id IN (SELECT min(id) FROM outbox WHERE state IN ('pending', 'claimed') "
            f"GROUP BY subscription_id) AND s.active = 1 AND s.paused = 0{condition} "
            "ORDER BY o.not_before, o.id LIMIT ?",
            (*params, limit),
        )
        return [_delivery(row) for row in rows]

    async def claimed_deliveries(self, *, shards: ShardSet | None = None) -> list[Delivery]:
        """Rows left claimed (after a crash, these may or may not have been posted); with
        `shards`, only those of the shards' servers (another process's claims are its own)."""
        condition, params = shard_condition(shards)
        rows = await self.fetch_all(
            f"SELECT {_DELIVERY_COLUMNS} FROM outbox o "  # noqa: S608 - fixed column list
            "JOIN subscriptions s ON s.id = o.subscription_id "
            "JOIN articles a ON a.id = o.article_id "
            f"WHERE o.state = 'claimed'{condition} ORDER BY o.id",
            params,
        )
        return [_delivery(row) for row in rows]

    async def last_sent_by_channel(self) -> dict[int, datetime]:
        """When each channel last received a post (for pacing after a restart)."""
        rows = await self.fetch_all(
            "SELECT channel_id, max(sent_at) AS sent_at FROM outbox "
            "WHERE state = 'sent' AND sent_at IS NOT NULL GROUP BY channel_id"
        )
        return {int(row["channel_id"]): from_iso(row["sent_at"]) for row in rows}

    # -- the life of one delivery ---------------------------------------------------------------

    async def claim_delivery(self, outbox_id: int, *, now: datetime) -> bool:
        """Commit the claim before sending; False if the row is no longer pending or its
        subscription was paused or deactivated meanwhile."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET state = 'claimed', claimed_at = ?, attempts = attempts + 1 "
                "WHERE id = ? AND state = 'pending' AND EXISTS (SELECT 1 FROM subscriptions s "
                "WHERE s.id = outbox.subscription_id AND s.active = 1 AND s.paused = 0)",
                (to_iso(now), outbox_id),
            )
            return cursor.rowcount == 1

    async def mark_sent(
        self,
        outbox_id: int,
        *,
        message_id: int,
        thread_id: int | None,
        now: datetime,
        publish: bool = False,
    ) -> None:
        """Discord has the post: remember its id; the row is done for good.

        `publish`: the post is in an Announcement channel, so it joins that channel's publish
        queue in the same transaction (a crash cannot lose the publish of a recorded post).
        """
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ?, thread_id = ?, "
                "reason = '' WHERE id = ? AND state IN ('pending', 'claimed')",
                (to_iso(now), message_id, thread_id, outbox_id),
            )
            if publish and cursor.rowcount == 1:
                await conn.execute(
                    "INSERT INTO publishes (outbox_id, guild_id, channel_id, message_id, "
                    "not_before, created_at) SELECT o.id, s.guild_id, o.channel_id, ?, ?, ? "
                    "FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id "
                    "WHERE o.id = ? ON CONFLICT DO NOTHING",
                    (message_id, to_iso(now), to_iso(now), outbox_id),
                )

    async def reschedule_delivery(
        self, outbox_id: int, *, not_before: datetime, reason: str, count_attempt: bool = False
    ) -> None:
        """Back to pending, not to be tried before `not_before` (a transient failure);
        `count_attempt` counts an attempt for a row never claimed, so its backoff grows too."""
        await self.execute(
            "UPDATE outbox SET state = 'pending', not_before = ?, reason = ?, "
            "claimed_at = NULL, attempts = attempts + ? "
            "WHERE id = ? AND state IN ('pending', 'claimed')",
            (to_iso(not_before), reason, int(count_attempt), outbox_id),
        )

    async def release_claim(self, outbox_id: int) -> None:
        """A claimed row was not posted after all (reconciliation): pending again, due now."""
        await self.execute(
            "UPDATE outbox SET state = 'pending', claimed_at = NULL "
            "WHERE id = ? AND state = 'claimed'",
            (outbox_id,),
        )

    async def replace_plan(self, outbox_id: int, payload: str) -> bool:
        """Store an open row's message plan made again (the stored one could not be read);
        False if the row was settled meanwhile."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET payload = ? WHERE id = ? AND state IN ('pending', 'claimed')",
                (payload, outbox_id),
            )
            return cursor.rowcount == 1

    async def pause_for_refusal(
        self, outbox_id: int, subscription_ids: Sequence[int], *, reason: str, row_failed: bool
    ) -> list[int]:
        """Discord refused a send for good: pause the subscriptions, in one transaction with the
        row's fate (failed, or pending again so it goes out once moderators resume).

        Returns the subscriptions that were running until now (to tell moderators once).
        """
        newly_paused: list[int] = []
        async with self.transaction() as conn:
            if row_failed:
                await conn.execute(
                    "UPDATE outbox SET state = 'failed', reason = ?, claimed_at = NULL "
                    "WHERE id = ? AND state IN ('pending', 'claimed')",
                    (reason, outbox_id),
                )
            else:
                await conn.execute(
                    "UPDATE outbox SET state = 'pending', reason = ?, claimed_at = NULL "
                    "WHERE id = ? AND state IN ('pending', 'claimed')",
                    (reason, outbox_id),
                )
            for subscription_id in subscription_ids:
                cursor = await conn.execute(
                    "UPDATE subscriptions SET paused = 1, pause_reason = ? "
                    "WHERE id = ? AND paused = 0 AND active = 1",
                    (reason, subscription_id),
                )
                if cursor.rowcount == 1:
                    newly_paused.append(subscription_id)
        return newly_paused

    async def channel_subscription_ids(self, channel_id: int) -> list[int]:
        """Active subscriptions posting into a channel."""
        rows = await self.fetch_all(
            "SELECT id FROM subscriptions WHERE channel_id = ? AND active = 1 ORDER BY id",
            (channel_id,),
        )
        return [int(row["id"]) for row in rows]

    async def outbox_record(self, outbox_id: int) -> OutboxRecord | None:
        """One outbox row, or None."""
        row = await self.fetch_one("SELECT * FROM outbox WHERE id = ?", (outbox_id,))
        return None if row is None else _record(row)

    async def subscription_outbox(self, subscription_id: int) -> list[OutboxRecord]:
        """Every outbox row of a subscription, oldest first (for `/feeds why` and tests)."""
        rows = await self.fetch_all(
            "SELECT * FROM outbox WHERE subscription_id = ? ORDER BY id", (subscription_id,)
        )
        return [_record(row) for row in rows]

    # -- backlog seeding ------------------------------------------------------------------------

    async def seed_outbox(
        self,
        subscription_id: int,
        channel_id: int,
        rows: Sequence[SeedRow],
        *,
        now: datetime,
        render: Callable[[int, int], str],
    ) -> list[tuple[SeedRow, int]]:
        """Insert a new subscription's backlog rows (oldest first) in one transaction.

        `render(article_id, outbox_id)` gives each pending row its stored plan. Rows that already
        exist (seeding twice, or the article already went to this channel) are left alone.
        Returns (row, outbox id) for rows really inserted.
        """
        created: list[tuple[SeedRow, int]] = []
        async with self.transaction() as conn:
            for row in rows:
                if row.state not in ("pending", "skipped"):
                    raise ValueError(f"seeded rows are pending or skipped, not {row.state!r}")
                async with conn.execute(
                    "INSERT INTO outbox (subscription_id, article_id, channel_id, state, reason, "
                    "not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING id",
                    (
                        subscription_id,
                        row.article_id,
                        channel_id,
                        row.state,
                        row.reason,
                        to_iso(now),
                        to_iso(now),
                    ),
                ) as cursor:
                    inserted = await cursor.fetchone()
                if inserted is None:
                    continue
                outbox_id = int(inserted[0])
                if row.state == "pending":
                    await conn.execute(
                        "UPDATE outbox SET payload = ? WHERE id = ?",
                        (render(row.article_id, outbox_id), outbox_id),
                    )
                created.append((row, outbox_id))
        return created

    # -- webhooks -------------------------------------------------------------------------------

    async def channel_webhook(self, channel_id: int) -> ChannelWebhook | None:
        """The webhook Paperboy made in this channel, if any."""
        row = await self.fetch_one(
            "SELECT channel_id, webhook_id, token FROM channel_webhooks WHERE channel_id = ?",
            (channel_id,),
        )
        if row is None:
            return None
        return ChannelWebhook(int(row["channel_id"]), int(row["webhook_id"]), row["token"])

    async def save_channel_webhook(self, webhook: ChannelWebhook, *, now: datetime) -> None:
        """Remember the channel's webhook (replacing one Discord said is gone)."""
        await self.execute(
            "INSERT INTO channel_webhooks (channel_id, webhook_id, token, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET "
            "webhook_id = excluded.webhook_id, token = excluded.token, "
            "created_at = excluded.created_at",
            (webhook.channel_id, webhook.webhook_id, webhook.token, to_iso(now)),
        )

    async def forget_channel_webhook(self, channel_id: int, webhook_id: int) -> None:
        """Discord said this webhook is gone (404 10015): never use it again."""
        await self.execute(
            "DELETE FROM channel_webhooks WHERE channel_id = ? AND webhook_id = ?",
            (channel_id, webhook_id),
        )

    # -- notices --------------------------------------------------------------------------------

    async def remember_notice(
        self, guild_id: int, key: str, *, detail: str = "", now: datetime
    ) -> bool:
        """Record that moderators are being told `key`; False if they were told already."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO notices_sent (guild_id, notice_key, detail, sent_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (guild_id, key, detail, to_iso(now)),
            )
            return cursor.rowcount == 1

    # -- per-subscription reports and retries ---------------------------------------------------

    async def article_deliveries(self, article_id: int, guild_id: int) -> list[DeliveryRecord]:
        """The article's outbox rows for this guild's subscriptions, oldest first."""
        rows = await self.fetch_all(
            "SELECT o.subscription_id, o.channel_id, o.state, o.reason, o.attempts, o.sent_at, "
            "o.message_id, o.created_at, "
            "o.payload FROM outbox o "
            "JOIN subscriptions s ON s.id = o.subscription_id "
            # The first announcements; reposts of later versions are in `rhythm_facts`.
            "WHERE o.article_id = ? AND s.guild_id = ? AND o.version = '' ORDER BY o.id",
            (article_id, guild_id),
        )
        return [
            DeliveryRecord(
                subscription_id=int(r["subscription_id"]),
                channel_id=int(r["channel_id"]),
                state=r["state"],
                reason=r["reason"],
                attempts=int(r["attempts"]),
                sent_at=_when(r["sent_at"]),
                message_id=r["message_id"],
                created_at=from_iso(r["created_at"]),
                pinged_role_ids=_role_ids(r["payload"]),
            )
            for r in rows
        ]

    async def delivery_counts(self, guild_id: int) -> dict[int, dict[str, int]]:
        """Per subscription of the guild: outbox rows by state."""
        rows = await self.fetch_all(
            "SELECT o.subscription_id, o.state, count(*) AS n FROM outbox o "
            "JOIN subscriptions s ON s.id = o.subscription_id WHERE s.guild_id = ? "
            "GROUP BY o.subscription_id, o.state",
            (guild_id,),
        )
        counts: dict[int, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(int(row["subscription_id"]), {})[row["state"]] = int(row["n"])
        return counts

    async def last_delivery_error(self, subscription_id: int) -> str | None:
        """The reason of the subscription's most recent failed delivery, or None."""
        value = await self.scalar(
            "SELECT reason FROM outbox WHERE subscription_id = ? AND state = 'failed' "
            "ORDER BY id DESC LIMIT 1",
            (subscription_id,),
        )
        return None if value is None else str(value)

    async def retry_now(self, subscription_id: int, feed_id: int, *, now: datetime) -> int:
        """Check the feed now with its backoff forgotten, and send failed deliveries again.

        Returns how many failed deliveries went back to pending. A failed row whose article has
        since reached the channel another way stays failed (the schema allows one live copy).
        """
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE feeds SET next_check_at = ?, consecutive_failures = 0, "
                "failing_notified = 0 WHERE id = ?",
                (to_iso(now), feed_id),
            )
            # The NOT EXISTS leaves out what outbox_once_per_channel would refuse (one row per
            # article in a subscription, so the rows updated never collide with each other).
            cursor = await conn.execute(
                "UPDATE outbox SET state = 'pending', reason = '', attempts = 0, "
                "not_before = ?, claimed_at = NULL WHERE subscription_id = ? AND state = 'failed' "
                "AND NOT EXISTS (SELECT 1 FROM outbox live WHERE live.channel_id = "
                "outbox.channel_id AND live.article_id = outbox.article_id "
                "AND live.state IN ('pending', 'claimed', 'sent'))",
                (to_iso(now), subscription_id),
            )
            return cursor.rowcount

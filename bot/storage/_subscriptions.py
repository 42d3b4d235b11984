"""Subscriptions, with their guilds' settings, the audit log and imports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from bot.clock import from_iso, to_iso
from bot.errors import InvalidInput
from bot.models import AuditEntry, GuildSettings, NewSubscription, Subscription
from bot.storage._base import Database
from bot.storage._connection import Connection, Row
from bot.storage.records import FeedReader, ImportedSubscription

_SUBSCRIPTION_COLUMNS = ", ".join(f.name for f in fields(Subscription))
# Columns a moderator may change with /feeds edit.
EDITABLE = frozenset(
    {
        "format",
        "mention_role_id",
        "include_filter",
        "exclude_filter",
        "template",
        "auto_thread",
        "fallback_tag_id",
        "message_settings",
        "name",
    }
)


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        feed_id=row["feed_id"],
        format=row["format"],
        mention_role_id=row["mention_role_id"],
        include_filter=row["include_filter"],
        exclude_filter=row["exclude_filter"],
        template=row["template"],
        auto_thread=bool(row["auto_thread"]),
        fallback_tag_id=row["fallback_tag_id"],
        paused=bool(row["paused"]),
        pause_reason=row["pause_reason"],
        active=bool(row["active"]),
        created_by=row["created_by"],
        created_at=from_iso(row["created_at"]),
        paused_by_moderator=bool(row["paused_by_moderator"]),
        interval_seconds=row["interval_seconds"],
        name=row["name"],
        message_settings=row["message_settings"],
    )


class SubscriptionLimitReached(InvalidInput):
    """The guild already has as many subscriptions as allowed; nothing was added."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This server already has {limit} subscriptions, the most allowed; "
            "remove one with /feeds remove first."
        )
        self.limit = limit


async def insert_subscription(
    conn: Connection,
    new: NewSubscription,
    *,
    now: datetime,
    paused_reason: str = "",
    limit: int | None = None,
) -> int | None:
    """Insert inside the caller's transaction; the new id, or None if this feed already goes to
    this channel under the same name. A `paused_reason` creates it paused, as a moderator's
    pause.

    With `limit`, a row that would take the guild past `limit` subscriptions raises
    `SubscriptionLimitReached` (the caller's transaction then rolls back). Counted here, inside
    the write transaction, so concurrent adds cannot all pass a count taken before them."""
    async with conn.execute(
        "INSERT INTO subscriptions (guild_id, channel_id, feed_id, format, mention_role_id, "
        "include_filter, exclude_filter, template, auto_thread, fallback_tag_id, paused, "
        "pause_reason, paused_by_moderator, created_by, created_at, interval_seconds, name, "
        "message_settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (feed_id, channel_id, name) DO NOTHING RETURNING id",
        (
            new.guild_id,
            new.channel_id,
            new.feed_id,
            new.format,
            new.mention_role_id,
            new.include_filter,
            new.exclude_filter,
            new.template,
            int(new.auto_thread),
            new.fallback_tag_id,
            int(bool(paused_reason)),
            paused_reason,
            int(bool(paused_reason)),
            new.created_by,
            to_iso(now),
            new.interval_seconds,
            new.name,
            new.message_settings,
        ),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None  # a duplicate adds nothing, so it never counts against the limit
    if limit is not None:
        async with conn.execute(
            "SELECT count(*) FROM subscriptions WHERE guild_id = ?", (new.guild_id,)
        ) as cursor:
            counted = await cursor.fetchone()
        if counted is not None and int(counted[0]) > limit:
            raise SubscriptionLimitReached(limit)
    return int(row[0])


class SubscriptionStore(Database):
    """Verbs for subscriptions, guild settings, the audit log and imports."""

    # -- guild settings -------------------------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        """The guild's settings (defaults if it never set any)."""
        row = await self.fetch_one("SELECT * FROM guilds WHERE id = ?", (guild_id,))
        if row is None:
            return GuildSettings(guild_id=guild_id)
        return GuildSettings(
            guild_id=guild_id,
            log_channel_id=row["log_channel_id"],
            timezone=row["timezone"],
            moderator_role_id=row["moderator_role_id"],
            active=bool(row["active"]),
        )

    async def update_guild_settings(self, settings: GuildSettings, *, now: datetime) -> None:
        """Store the guild's settings."""
        await self.execute(
            "INSERT INTO guilds (id, log_channel_id, timezone, moderator_role_id, active, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "log_channel_id = excluded.log_channel_id, timezone = excluded.timezone, "
            "moderator_role_id = excluded.moderator_role_id, active = excluded.active, "
            "updated_at = excluded.updated_at",
            (
                settings.guild_id,
                settings.log_channel_id,
                settings.timezone,
                settings.moderator_role_id,
                int(settings.active),
                to_iso(now),
            ),
        )

    async def set_guild_active(self, guild_id: int, active: bool, *, now: datetime) -> int:
        """Mark the guild joined or left; leaving deactivates (never deletes) its subscriptions.

        Returns how many subscriptions changed state.
        """
        settings = await self.guild_settings(guild_id)
        await self.update_guild_settings(replace(settings, active=active), now=now)
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE subscriptions SET active = ? WHERE guild_id = ? AND active != ?",
                (int(active), guild_id, int(active)),
            )
            return cursor.rowcount

    async def deactivate_channel(self, channel_id: int) -> int:
        """A deleted channel's subscriptions stop (kept for the record); returns how many."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE subscriptions SET active = 0 WHERE channel_id = ? AND active = 1",
                (channel_id,),
            )
            return cursor.rowcount

    # -- subscriptions --------------------------------------------------------------------------

    async def add_subscription(
        self, new: NewSubscription, *, now: datetime, limit: int | None = None
    ) -> Subscription | None:
        """Create a subscription; None if this feed already goes to this channel under this name
        (names ignore case). With `limit`,
        raises `SubscriptionLimitReached` instead of taking the guild past it."""
        async with self.transaction() as conn:
            new_id = await insert_subscription(conn, new, now=now, limit=limit)
        if new_id is None:
            return None
        subscription = await self.subscription(new_id)
        assert subscription is not None
        return subscription

    async def subscription(
        self, subscription_id: int, *, guild_id: int | None = None
    ) -> Subscription | None:
        """One subscription; with `guild_id`, only if it belongs to that guild."""
        sql = f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?"  # noqa: S608
        params: list[Any] = [subscription_id]
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        row = await self.fetch_one(sql, params)
        return None if row is None else _subscription(row)

    async def guild_subscriptions(self, guild_id: int) -> list[Subscription]:
        """Every subscription of a guild, oldest first."""
        rows = await self.fetch_all(
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions "  # noqa: S608
            "WHERE guild_id = ? ORDER BY id",
            (guild_id,),
        )
        return [_subscription(row) for row in rows]

    async def feed_subscriptions(
        self, feed_id: int, *, active_only: bool = True, include_paused: bool = False
    ) -> list[Subscription]:
        """Every subscription to a feed (by default only active, unpaused ones)."""
        sql = f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE feed_id = ?"  # noqa: S608
        if active_only:
            sql += " AND active = 1" if include_paused else " AND active = 1 AND paused = 0"
        rows = await self.fetch_all(sql + " ORDER BY id", (feed_id,))
        return [_subscription(row) for row in rows]

    async def feed_readers(self, feed_id: int) -> list[FeedReader]:
        """The feed's active subscriptions, paused ones too, each with its guild's time zone and
        two flags (mention rules, change tracking): what a poll plans with, in one statement
        instead of four (a poll makes these reads for every feed that changed)."""
        columns = ", ".join(f"s.{f.name}" for f in fields(Subscription))
        rows = await self.fetch_all(
            f"SELECT {columns}, g.timezone AS guild_timezone, "  # noqa: S608 - column names
            "EXISTS (SELECT 1 FROM mention_rules m WHERE m.subscription_id = s.id) "
            "AS has_mention_rules, "
            "EXISTS (SELECT 1 FROM subscription_rhythm r WHERE r.subscription_id = s.id "
            "AND r.on_change IN ('edit', 'repost')) AS tracks_changes "
            "FROM subscriptions s LEFT JOIN guilds g ON g.id = s.guild_id "
            "WHERE s.feed_id = ? AND s.active = 1 ORDER BY s.id",
            (feed_id,),
        )
        default_timezone = GuildSettings(guild_id=0).timezone
        return [
            FeedReader(
                subscription=_subscription(row),
                timezone=row["guild_timezone"] or default_timezone,
                has_mention_rules=bool(row["has_mention_rules"]),
                tracks_changes=bool(row["tracks_changes"]),
            )
            for row in rows
        ]

    async def count_guild_subscriptions(self, guild_id: int) -> int:
        """How many subscriptions a guild has (for the per-guild limit)."""
        return int(
            await self.scalar("SELECT count(*) FROM subscriptions WHERE guild_id = ?", (guild_id,))
        )

    async def update_subscription(self, subscription_id: int, **changes: Any) -> None:
        """Change editable fields of a subscription."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if not changes:
            return
        assignments = ", ".join(f"{column} = ?" for column in changes)
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        await self.execute(
            f"UPDATE subscriptions SET {assignments} WHERE id = ?",  # noqa: S608 - whitelisted
            (*values, subscription_id),
        )

    async def set_subscription_interval(
        self, subscription_id: int, interval_seconds: int | None
    ) -> None:
        """Set how often this subscription wants its feed checked (None: the default)."""
        await self.execute(
            "UPDATE subscriptions SET interval_seconds = ? WHERE id = ?",
            (interval_seconds, subscription_id),
        )

    async def set_paused(
        self, subscription_id: int, paused: bool, reason: str = "", *, by_moderator: bool = False
    ) -> bool:
        """Pause (with a reason) or resume; True if the state changed.

        A moderator's pause skips articles published meanwhile; any other keeps them waiting.
        """
        by_moderator = paused and by_moderator
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE subscriptions SET paused = ?, pause_reason = ?, paused_by_moderator = ? "
                "WHERE id = ? AND (paused != ? OR pause_reason != ? OR paused_by_moderator != ?)",
                (
                    int(paused),
                    reason if paused else "",
                    int(by_moderator),
                    subscription_id,
                    int(paused),
                    reason if paused else "",
                    int(by_moderator),
                ),
            )
            return cursor.rowcount > 0

    async def remove_subscription(self, subscription_id: int) -> None:
        """Delete a subscription and its pending deliveries."""
        await self.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))

    # -- audit log ------------------------------------------------------------------------------

    async def record_change(
        self, guild_id: int, user_id: int | None, action: str, detail: str, *, now: datetime
    ) -> None:
        """Remember who changed what, and when."""
        await self.execute(
            "INSERT INTO audit_log (guild_id, user_id, action, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (guild_id, user_id, action, detail, to_iso(now)),
        )

    async def audit_entries(self, guild_id: int, *, limit: int = 50) -> list[AuditEntry]:
        """The guild's most recent changes, newest first."""
        rows = await self.fetch_all(
            "SELECT * FROM audit_log WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [
            AuditEntry(
                id=r["id"],
                guild_id=r["guild_id"],
                user_id=r["user_id"],
                action=r["action"],
                detail=r["detail"],
                created_at=from_iso(r["created_at"]),
            )
            for r in rows
        ]

    # -- import ---------------------------------------------------------------------------------

    async def apply_import(
        self,
        guild_id: int,
        items: Sequence[ImportedSubscription],
        settings: GuildSettings | None,
        *,
        now: datetime,
        limit: int | None = None,
    ) -> list[int]:
        """Create feeds and subscriptions (and settings) in one transaction; new ids in order.

        A subscription whose feed already goes to its channel under its name is skipped (id 0
        in the result), so running the same import twice changes nothing. With `limit`, an
        import that would take the guild past it raises `SubscriptionLimitReached` and changes
        nothing.
        """
        created: list[int] = []
        async with self.transaction() as conn:
            for item in items:
                await conn.execute(
                    "INSERT INTO feeds (url, title, next_check_at, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (url) DO NOTHING",
                    (item.feed_url, item.feed_title, to_iso(now), to_iso(now)),
                )
                async with conn.execute(
                    "SELECT id FROM feeds WHERE url = ?", (item.feed_url,)
                ) as cursor:
                    feed_row = await cursor.fetchone()
                assert feed_row is not None
                new = replace(
                    item.subscription,
                    guild_id=guild_id,
                    feed_id=int(feed_row[0]),
                    interval_seconds=item.interval_seconds,
                )
                reason = "paused in the imported configuration" if item.paused else ""
                new_id = await insert_subscription(
                    conn, new, now=now, paused_reason=reason, limit=limit
                )
                created.append(new_id or 0)
                if new_id is not None and item.mention_rules:
                    await conn.executemany(
                        "INSERT INTO mention_rules (subscription_id, role_id, filter, "
                        "created_by, created_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (subscription_id, role_id) DO NOTHING",
                        [
                            (new_id, role_id, text, new.created_by, to_iso(now))
                            for role_id, text in item.mention_rules
                        ],
                    )
            if settings is not None:
                await conn.execute(
                    "INSERT INTO guilds (id, log_channel_id, timezone, moderator_role_id, active, "
                    "updated_at) VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (id) DO UPDATE SET "
                    "log_channel_id = excluded.log_channel_id, timezone = excluded.timezone, "
                    "moderator_role_id = excluded.moderator_role_id, "
                    "updated_at = excluded.updated_at",
                    (
                        guild_id,
                        settings.log_channel_id,
                        settings.timezone,
                        settings.moderator_role_id,
                        to_iso(now),
                    ),
                )
        return created

    async def active_subscriptions(self) -> list[Subscription]:
        """Every subscription still in a guild and channel the bot is in, by guild and channel."""
        rows = await self.fetch_all(
            "SELECT * FROM subscriptions WHERE active = 1 ORDER BY guild_id, channel_id, id"
        )
        return [_subscription(row) for row in rows]

"""Moderator verbs beyond `_guilds`: health and diagnostics queries, retries, atomic imports."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.clock import from_iso, to_iso
from bot.models import ArchiveScope, GuildSettings
from bot.storage._base import Database
from bot.storage._guilds import insert_subscription
from bot.storage._scope import visible_condition
from bot.storage.records import ArchivedArticle, DeliveryRecord, ImportedSubscription, Sighting


def _when(value: str | None) -> datetime | None:
    return from_iso(value) if value else None


def _article(row: sqlite3.Row) -> ArchivedArticle:
    try:
        categories = tuple(str(c) for c in json.loads(row["categories"] or "[]"))
    except (ValueError, TypeError):
        categories = ()
    return ArchivedArticle(
        id=int(row["id"]),
        canonical_url=row["canonical_url"],
        url=row["url"],
        title=row["title"],
        author=row["author"],
        published=_when(row["published_at"]),
        categories=categories,
        excerpt=row["excerpt"],
        description=row["description"],
        text=row["text"],
        image_url=row["image_url"],
        site_name=row["site_name"],
        first_seen=from_iso(row["first_seen_at"]),
    )


class AdminStore(Database):
    """Verbs for moderator commands: /feeds status, why, resume, preview, import."""

    async def archived_article(
        self, scope: ArchiveScope, *, article_id: int | None = None, url: str | None = None
    ) -> ArchivedArticle | None:
        """An archived article in `scope` by id, or by canonical URL (else the URL as linked)."""
        visible, params = visible_condition(scope, "a.id")
        if article_id is not None:
            row = await self.fetch_one(
                f"SELECT a.* FROM articles a WHERE a.id = ? AND {visible}",  # noqa: S608
                (article_id, *params),
            )
        else:
            row = await self.fetch_one(
                "SELECT a.* FROM articles a WHERE (a.canonical_url = ? OR a.url = ?) "  # noqa: S608
                f"AND {visible} ORDER BY a.canonical_url = ? DESC LIMIT 1",
                (url, url, *params, url),
            )
        return None if row is None else _article(row)

    async def archived_articles(self, article_ids: Sequence[int]) -> dict[int, ArchivedArticle]:
        """Archived articles by id (any that exist; no scope: for planning announcements)."""
        if not article_ids:
            return {}
        rows = await self.fetch_all(
            "SELECT * FROM articles WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([int(i) for i in article_ids]),),
        )
        return {int(row["id"]): _article(row) for row in rows}

    async def newest_feed_article_id(self, feed_id: int) -> int | None:
        """The article behind the feed's newest item (by date, else first seen), or None."""
        value = await self.scalar(
            "SELECT article_id FROM feed_entries WHERE feed_id = ? "
            "ORDER BY coalesce(published_at, first_seen_at) DESC, article_id DESC LIMIT 1",
            (feed_id,),
        )
        return None if value is None else int(value)

    async def article_sightings(self, article_id: int, guild_id: int) -> list[Sighting]:
        """Feeds of this guild's subscriptions that showed the article, earliest first."""
        rows = await self.fetch_all(
            "SELECT DISTINCT f.id, f.title, f.url, e.first_seen_at FROM feed_entries e "
            "JOIN feeds f ON f.id = e.feed_id "
            "WHERE e.article_id = ? AND f.id IN "
            "(SELECT feed_id FROM subscriptions WHERE guild_id = ?) ORDER BY e.first_seen_at",
            (article_id, guild_id),
        )
        return [
            Sighting(int(r["id"]), r["title"], r["url"], from_iso(r["first_seen_at"])) for r in rows
        ]

    async def article_deliveries(self, article_id: int, guild_id: int) -> list[DeliveryRecord]:
        """The article's outbox rows for this guild's subscriptions, oldest first."""
        rows = await self.fetch_all(
            "SELECT o.subscription_id, o.channel_id, o.state, o.reason, o.attempts, o.sent_at, "
            "o.message_id, o.created_at FROM outbox o "
            "JOIN subscriptions s ON s.id = o.subscription_id "
            "WHERE o.article_id = ? AND s.guild_id = ? ORDER BY o.id",
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
            cursor = await conn.execute(
                "UPDATE OR IGNORE outbox SET state = 'pending', reason = '', attempts = 0, "
                "not_before = ?, claimed_at = NULL WHERE subscription_id = ? AND state = 'failed'",
                (to_iso(now), subscription_id),
            )
            return cursor.rowcount

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

        A subscription whose feed already goes to its channel is skipped (id 0 in the result),
        so running the same import twice changes nothing. With `limit`, an import that would
        take the guild past it raises `SubscriptionLimitReached` and changes nothing.
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

"""Migration 0012 (message builder): several named subscriptions of one feed in one channel."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import to_iso
from bot.errors import InvalidInput
from bot.models import NewSubscription
from bot.services.admin import SubscriptionOptions
from bot.storage import Storage
from bot.storage._base import Database
from tests.builders import GUILD as GUILD_B
from tests.builders import MOD, NEWS, admin_bench

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GUILD = 1001


async def test_migration_keeps_subscriptions_and_their_outbox_and_drops_one_per_channel(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "old.db", migrate=False)
    try:
        await db.migrate(target=10)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO feeds (id, url, next_check_at, created_at) "
                "VALUES (1, 'https://a.example/feed', ?, ?)",
                (to_iso(NOW), to_iso(NOW)),
            )
            for article_id in (5, 6):
                await conn.execute(
                    "INSERT INTO articles (id, canonical_url, url, first_seen_at) "
                    "VALUES (?, ?, ?, ?)",
                    (article_id, f"https://a.example/{article_id}", "https://a.example/x",
                     to_iso(NOW)),
                )  # fmt: skip
            await conn.execute(
                "INSERT INTO subscriptions (id, guild_id, channel_id, feed_id, format, "
                "include_filter, paused_by_moderator, interval_seconds, created_at) "
                "VALUES (1, ?, 11, 1, 'text', 'strike', 1, 600, ?)",
                (GUILD, to_iso(NOW)),
            )
            await conn.execute(
                "INSERT INTO mention_rules (subscription_id, role_id, filter, created_at) "
                "VALUES (1, 77, 'title:strike', ?)",
                (to_iso(NOW),),
            )
            await conn.execute(
                "INSERT INTO outbox (subscription_id, article_id, channel_id, state, not_before, "
                "created_at) VALUES (1, 5, 11, 'sent', ?, ?)",
                (to_iso(NOW), to_iso(NOW)),
            )
            await conn.execute(
                "INSERT INTO outbox (subscription_id, article_id, channel_id, state, not_before, "
                "created_at) VALUES (1, 6, 11, 'pending', ?, ?)",
                (to_iso(NOW), to_iso(NOW)),
            )
        await db.migrate()
        # Dropping the old table did not cascade to the outbox nor to the mention rules.
        assert await db.scalar("SELECT count(*) FROM outbox") == 2
        assert await db.scalar("SELECT role_id FROM mention_rules WHERE subscription_id = 1") == 77
        row = await db.fetch_one("SELECT * FROM subscriptions WHERE id = 1")
        assert row is not None
        assert (row["name"], row["message_settings"], row["include_filter"]) == ("", "", "strike")
        assert (row["paused_by_moderator"], row["interval_seconds"]) == (1, 600)
        # The outbox triggers were made again: a row sent now is readable in the guild.
        await db.execute("UPDATE outbox SET state = 'sent' WHERE article_id = 6")
        rows = await db.fetch_all("SELECT article_id FROM guild_articles ORDER BY article_id")
        assert [r[0] for r in rows] == [5, 6]
        async with db.transaction():  # reads inside a transaction use the write connection
            assert await db.scalar("PRAGMA foreign_keys") == 1
        # The same feed in the same channel again: allowed under another name only.
        insert = (
            "INSERT INTO subscriptions (guild_id, channel_id, feed_id, format, name, created_at) "
            "VALUES (?, 11, 1, 'embed', ?, ?)"
        )
        await db.execute(insert, (GUILD, "Strikes", to_iso(NOW)))
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute(insert, (GUILD, "strikes", to_iso(NOW)))  # names ignore case
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute(insert, (GUILD, "", to_iso(NOW)))
    finally:
        await db.close()


async def test_two_named_subscriptions_of_one_feed_in_one_channel(storage: Storage) -> None:
    feed = await storage.add_feed("https://a.example/feed", now=NOW)

    def new(name: str) -> NewSubscription:
        return NewSubscription(
            guild_id=GUILD, channel_id=11, feed_id=feed.id, format="embed", name=name
        )

    first = await storage.add_subscription(new(""), now=NOW)
    second = await storage.add_subscription(new("Strikes"), now=NOW)
    assert first is not None and second is not None and first.id != second.id
    assert second.name == "Strikes"
    assert await storage.add_subscription(new("STRIKES"), now=NOW) is None
    assert {s.name for s in await storage.feed_subscriptions(feed.id)} == {"", "Strikes"}


async def test_a_subscription_is_renamed_only_to_a_free_name(tmp_path: Path) -> None:
    async for bench in admin_bench(tmp_path):
        feed_url = bench.site.feed_url
        first = await bench.admin.add(GUILD_B, MOD, feed_url, NEWS, SubscriptionOptions())
        second = await bench.admin.add(
            GUILD_B, MOD, feed_url, NEWS, SubscriptionOptions(name="Strikes")
        )
        with pytest.raises(InvalidInput, match="already announces this feed in that channel"):
            await bench.admin.edit(
                GUILD_B, MOD, first.subscription.id, SubscriptionOptions(name="STRIKES")
            )
        with pytest.raises(InvalidInput, match="with no name; choose another name"):
            await bench.admin.edit(
                GUILD_B, MOD, second.subscription.id, SubscriptionOptions(name="")
            )
        renamed = await bench.admin.edit(
            GUILD_B, MOD, first.subscription.id, SubscriptionOptions(name="Everything")
        )
        assert renamed.subscription.name == "Everything"
        assert await bench.admin.resolve(GUILD_B, "everything") == first.subscription.id
        with pytest.raises(InvalidInput, match="needs at least one letter"):
            await bench.admin.edit(
                GUILD_B, MOD, first.subscription.id, SubscriptionOptions(name="42")
            )

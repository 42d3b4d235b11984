"""Guild settings, subscriptions and the audit log on a real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.models import GuildSettings, NewSubscription, Rhythm
from bot.storage import Storage

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def make_feed(storage: Storage, url: str = "https://example.org/feed/") -> int:
    async with storage.transaction() as conn:
        cursor = await conn.execute(
            "INSERT INTO feeds (url, next_check_at, created_at) VALUES (?, ?, ?) RETURNING id",
            (url, NOW.isoformat(), NOW.isoformat()),
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


async def test_guild_settings_default_then_stored(storage: Storage) -> None:
    assert await storage.guild_settings(5) == GuildSettings(guild_id=5)
    await storage.update_guild_settings(
        GuildSettings(guild_id=5, log_channel_id=9, timezone="Europe/London"), now=NOW
    )
    settings = await storage.guild_settings(5)
    assert (settings.log_channel_id, settings.timezone) == (9, "Europe/London")


async def test_duplicate_subscription_is_refused(storage: Storage) -> None:
    feed = await make_feed(storage)
    new = NewSubscription(guild_id=1, channel_id=10, feed_id=feed, format="embed")
    first = await storage.add_subscription(new, now=NOW)
    assert first is not None and first.state == "active"
    assert await storage.add_subscription(new, now=NOW) is None
    assert await storage.count_guild_subscriptions(1) == 1


async def test_guild_isolation_and_edits(storage: Storage) -> None:
    feed = await make_feed(storage)
    text = "'; DROP TABLE subscriptions;--"
    sub = await storage.add_subscription(
        NewSubscription(guild_id=1, channel_id=10, feed_id=feed, format="text", template=text),
        now=NOW,
    )
    assert sub is not None
    assert await storage.subscription(sub.id, guild_id=2) is None
    await storage.update_subscription(sub.id, include_filter="housing", auto_thread=True)
    edited = await storage.subscription(sub.id, guild_id=1)
    assert edited is not None
    assert (edited.template, edited.include_filter, edited.auto_thread) == (text, "housing", True)
    with pytest.raises(ValueError, match="not editable"):
        await storage.update_subscription(sub.id, guild_id=2)


async def test_pause_resume_and_leaving_guild(storage: Storage) -> None:
    feed = await make_feed(storage)
    sub = await storage.add_subscription(
        NewSubscription(guild_id=1, channel_id=10, feed_id=feed, format="embed"), now=NOW
    )
    assert sub is not None
    assert await storage.set_paused(sub.id, True, "Missing permission: Send Messages")
    assert not await storage.set_paused(sub.id, True, "Missing permission: Send Messages")
    assert await storage.feed_subscriptions(feed) == []
    assert await storage.set_paused(sub.id, False)
    assert [s.id for s in await storage.feed_subscriptions(feed)] == [sub.id]
    assert await storage.set_guild_active(1, False, now=NOW) == 1
    kept = await storage.subscription(sub.id)
    assert kept is not None and kept.state == "inactive"
    assert await storage.set_guild_active(1, True, now=NOW) == 1
    assert await storage.deactivate_channel(10) == 1


async def test_active_subscriptions_leave_out_the_deactivated_on_both_engines(
    storage: Storage,
) -> None:
    # `paperboy doctor` reads these; on PostgreSQL a bare `WHERE active` on the 0/1 flag was an
    # error (WHERE wants a boolean), so doctor crashed there.
    feed = await make_feed(storage)
    for guild_id, channel_id in ((2, 20), (1, 11), (1, 10)):
        added = await storage.add_subscription(
            NewSubscription(guild_id=guild_id, channel_id=channel_id, feed_id=feed, format="text"),
            now=NOW,
        )
        assert added is not None
    assert await storage.deactivate_channel(11) == 1
    active = await storage.active_subscriptions()
    assert [(s.guild_id, s.channel_id) for s in active] == [(1, 10), (2, 20)]


async def test_audit_log_newest_first(storage: Storage) -> None:
    await storage.record_change(1, 42, "feeds add", "https://example.org/feed/", now=NOW)
    await storage.record_change(1, 42, "feeds remove", "#1", now=NOW)
    await storage.record_change(2, 43, "feeds add", "other guild", now=NOW)
    entries = await storage.audit_entries(1)
    assert [e.action for e in entries] == ["feeds remove", "feeds add"]


async def test_feed_readers_carry_what_a_poll_plans_with(storage: Storage) -> None:
    """One read gives a poll each active subscription (paused ones too) with its guild's time
    zone (the default when the guild set none), whether it has mention rules and whether it
    edits or reposts changed articles; inactive subscriptions and other feeds are left out."""
    feed, other_feed = await make_feed(storage), await make_feed(storage, "https://other.test/f")
    await storage.update_guild_settings(
        GuildSettings(guild_id=1, timezone="Europe/Berlin"), now=NOW
    )

    async def subscribe(guild_id: int, channel_id: int, feed_id: int = feed) -> int:
        added = await storage.add_subscription(
            NewSubscription(
                guild_id=guild_id, channel_id=channel_id, feed_id=feed_id, format="embed"
            ),
            now=NOW,
        )
        assert added is not None
        return added.id

    plain, pinging, editing, paused = [await subscribe(1, c) for c in (10, 11, 12, 13)]
    await subscribe(1, 14)  # its channel is deleted below
    elsewhere = await subscribe(2, 20)
    await subscribe(1, 15, other_feed)
    await storage.set_mention_rule(
        pinging, role_id=99, filter_text="", created_by=None, now=NOW, limit=10
    )
    await storage.set_rhythm(editing, Rhythm(on_change="edit"))
    await storage.set_rhythm(plain, Rhythm(on_change="ignore", daily_cap=3))
    await storage.set_paused(paused, True, "a moderator paused it")
    await storage.deactivate_channel(14)

    readers = await storage.feed_readers(feed)

    assert [r.subscription.id for r in readers] == [plain, pinging, editing, paused, elsewhere]
    assert [r.timezone for r in readers] == ["Europe/Berlin"] * 4 + ["UTC"]
    assert [r.has_mention_rules for r in readers] == [False, True, False, False, False]
    assert [r.tracks_changes for r in readers] == [False, False, True, False, False]
    assert readers[3].subscription.paused
    assert await storage.feed_readers(feed + other_feed + 100) == []

"""Moderator commands end to end: the real bot, the Discord stand-in and the news site."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from tests.bench.discord_standin import Overwrite, Perm, StandInUsageError
from tests.e2e.conftest import Bench, BenchFactory, message_text
from tests.e2e.support import FAST, announced_title, delivery_settled


async def test_add_by_home_page_previews_then_announces_the_next_article(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        handle = await bench.command(
            "feeds add", {"url": bench.site.home_url, "channel": bench.seed.news_id}
        )
        reply = await handle.reply(15.0)
        text = message_text(reply)
        assert reply["flags"] & 64  # the preview is private
        assert "Added `#1`" in text and bench.site.feed_url in text
        assert "The feed has 10 items" in text
        newest = max(bench.site.items, key=lambda item: item.published)
        assert newest.title in text.replace("\\", "")
        subs = await bench.app.storage.guild_subscriptions(bench.seed.guild_id)
        assert [(s.channel_id, s.format) for s in subs] == [(bench.seed.news_id, "embed")]

        # backlog_count = 1: the newest existing item is posted once, then only new ones.
        backlog = await bench.discord.next_message(bench.seed.news_id, timeout=10)
        assert announced_title(backlog) == newest.title
        fresh = bench.site.publish_next()
        announced = await bench.discord.next_message(bench.seed.news_id, timeout=15)
        assert announced_title(announced) == fresh.title
        assert announced["embeds"][0]["url"] == bench.site.article_url(fresh)
        assert not announced["flags"] & 64  # a real post in the channel, for everyone

        again = await bench.command(
            "feeds add", {"url": bench.site.feed_url, "channel": bench.seed.news_id}
        )
        assert "already goes to" in message_text(await again.reply(15.0))
        assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 1
        listing = await bench.command("feeds list")
        assert "`#1`" in message_text(await listing.reply())
        titles = [announced_title(m) for m in bench.discord.messages_in(bench.seed.news_id)]
        assert titles == [newest.title, fresh.title]


async def test_member_cannot_see_and_forged_calls_are_refused(bench: Bench) -> None:
    member = bench.seed.member_id
    for command in ("feeds list", "feeds add", "settings show"):
        synced = next(c for c in bench.discord.synced_commands() if c["name"] == command.split()[0])
        assert int(synced["default_member_permissions"]) == Perm.MANAGE_GUILD
    with pytest.raises(StandInUsageError, match="hidden"):
        await bench.command("feeds list", user=member)

    # A stale client or a hand-made request still reaches the bot, which refuses by itself.
    forged_add = await bench.discord.invoke(
        bench.seed.guild_id,
        member,
        "feeds add",
        {"url": bench.site.feed_url, "channel": bench.seed.news_id},
        forged=True,
    )
    forged_log = await bench.discord.invoke(
        bench.seed.guild_id,
        member,
        "settings log-channel",
        {"channel": bench.seed.general_id},
        forged=True,
    )
    for handle in (forged_add, forged_log):
        reply = await handle.reply()
        assert "Manage Server" in message_text(reply)
        assert reply.get("flags", 0) & 64  # private
    assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 0
    assert (await bench.app.storage.guild_settings(bench.seed.guild_id)).log_channel_id is None
    assert await bench.app.storage.audit_entries(bench.seed.guild_id) == []
    assert bench.site.requests_to("/feed/") == []  # nothing was even fetched


async def test_private_addresses_and_forum_format_refused(make_bench: BenchFactory) -> None:
    async with make_bench(fetch={"allow_private_addresses": False}) as bench:
        for url in ("http://127.0.0.1/", "http://169.254.169.254/latest/meta-data/"):
            handle = await bench.command("feeds add", {"url": url, "channel": bench.seed.news_id})
            assert "private" in message_text(await handle.reply(15.0)).lower()
        handle = await bench.command(
            "feeds add",
            {"url": "https://example.org/", "channel": bench.seed.general_id, "format": "forum"},
        )
        text = message_text(await handle.reply(15.0))
        assert "needs a forum channel" in text and "#general is not one" in text
        assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 0


@asynccontextmanager
async def plain_web_page() -> AsyncIterator[str]:
    """A loopback site with one HTML page and no feed anywhere (every other path is 404)."""

    async def page(_: web.Request) -> web.Response:
        body = "<!doctype html><html><head><title>About us</title></head><body><p>We are a "
        body += "small co-operative bakery.</p></body></html>"
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/about/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/about/"
    finally:
        await runner.cleanup()


async def test_missing_permission_and_non_feed_page_refused(bench: Bench) -> None:
    channel = bench.discord.channels[bench.seed.general_id]
    channel.overwrites.append(
        Overwrite(id=bench.discord.bot_user.id, type=1, allow=0, deny=Perm.EMBED_LINKS)
    )
    updated = asyncio.ensure_future(bench.bot.wait_for("guild_channel_update", timeout=5.0))
    await bench.discord.gateway.dispatch("CHANNEL_UPDATE", channel.to_json())
    await updated
    handle = await bench.command(
        "feeds add", {"url": bench.site.feed_url, "channel": bench.seed.general_id}
    )
    text = message_text(await handle.reply(15.0))
    assert "lacks permission in #general" in text and "Embed Links" in text

    async with plain_web_page() as page_url:
        handle = await bench.command("feeds add", {"url": page_url, "channel": bench.seed.news_id})
        text = message_text(await handle.reply(15.0))
    assert "is a web page, and Paperboy found no feed there" in text
    assert "Give the address of the feed itself" in text

    # An article page of a real site is no feed either, but its declared feed link is followed.
    article_url = bench.site.article_url(bench.site.items[0])
    handle = await bench.command("feeds add", {"url": article_url, "channel": bench.seed.news_id})
    assert bench.site.feed_url in message_text(await handle.reply(15.0))
    assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 1


async def test_changes_are_posted_to_the_log_channel(bench: Bench) -> None:
    handle = await bench.command("settings log-channel", {"channel": bench.seed.general_id})
    assert f"<#{bench.seed.general_id}>" in message_text(await handle.reply())
    first = await bench.discord.next_message(bench.seed.general_id)
    assert "settings.log-channel" in first["content"]
    added = await bench.command(
        "feeds add", {"url": bench.site.feed_url, "channel": bench.seed.news_id}
    )
    await added.reply(15.0)
    entry = await bench.discord.next_message(bench.seed.general_id)
    assert f"<@{bench.seed.admin_id}>" in entry["content"]
    assert "`feed.add`" in entry["content"] and bench.site.feed_url in entry["content"]
    request = bench.discord.recorder.requests_to("POST", f"/channels/{bench.seed.general_id}/")
    assert request[-1].json["allowed_mentions"]["parse"] == []  # named, never pinged
    audit = await bench.app.storage.audit_entries(bench.seed.guild_id)
    assert [e.action for e in audit] == ["feed.add", "settings.log-channel"]


async def test_every_settings_change_is_posted_to_the_log_channel(bench: Bench) -> None:
    # /settings and /feeds share the one FeedAdmin that App wired to the log channel.
    settings_cog, feeds_cog = bench.bot.get_cog("Settings"), bench.bot.get_cog("Feeds")
    assert getattr(settings_cog, "admin", None) is bench.app.admin
    assert getattr(feeds_cog, "admin", None) is bench.app.admin
    await (await bench.command("settings log-channel", {"channel": bench.seed.general_id})).reply()
    await bench.discord.next_message(bench.seed.general_id)  # the log-channel change itself
    handle = await bench.command("settings timezone", {"name": "Europe/Berlin"})
    assert "Europe/Berlin" in message_text(await handle.reply())
    entry = await bench.discord.next_message(bench.seed.general_id)
    assert f"<@{bench.seed.admin_id}>" in entry["content"]
    assert "`settings.timezone`" in entry["content"]


async def test_resume_unpauses_wakes_delivery_and_forgets_backoff(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements={**FAST, "backlog_count": 0}) as bench:
        await (
            await bench.command("settings log-channel", {"channel": bench.seed.general_id})
        ).reply()
        await bench.discord.next_message(bench.seed.general_id)  # the settings change itself
        added = await bench.command(
            "feeds add", {"url": bench.site.feed_url, "channel": bench.seed.news_id}
        )
        await added.reply(15.0)
        await bench.discord.next_message(bench.seed.general_id)  # feed.add in the log
        bench.discord.faults.forbid_channel(bench.seed.news_id)
        fresh = bench.site.publish_next()
        notice = await bench.discord.next_message(bench.seed.general_id, timeout=15)
        assert "paused announcements" in notice["content"]
        [sub] = await bench.app.storage.guild_subscriptions(bench.seed.guild_id)
        assert sub.paused
        await delivery_settled(bench)  # the worker is idle now: it sleeps 30 s unless woken

        # The feed then fails for a while and is backed off far into the future.
        far = bench.app.clock.now().replace(year=bench.app.clock.now().year + 1)
        await bench.app.storage.record_poll_failure(
            sub.feed_id,
            kind="timeout",
            message="slow",
            now=bench.app.clock.now(),
            next_check_at=far,
        )
        bench.discord.faults.clear()
        polled = bench.site.next_request("/feed/")
        resumed = await bench.command("feeds resume", {"subscription": str(sub.id)})
        assert "Resumed `#1`" in message_text(await resumed.reply())
        # The worker sleeps up to 30 s when idle: a post within seconds means resume woke it.
        posted = await bench.discord.next_message(bench.seed.news_id, timeout=5)
        assert announced_title(posted) == fresh.title
        await asyncio.wait_for(polled, 5)  # the backed-off feed is checked now
        feed = await bench.app.storage.feed(sub.feed_id)
        assert feed is not None and feed.consecutive_failures == 0
        assert feed.next_check_at < far


async def test_help_shows_only_usable_commands_and_settings_work(bench: Bench) -> None:
    member_help = message_text(
        await (await bench.command("help", user=bench.seed.member_id)).reply()
    )
    assert "`/help`" in member_help and "`/latest`" in member_help
    assert "/feeds" not in member_help and "/settings" not in member_help
    mod_help = message_text(await (await bench.command("help")).reply())
    assert "`/feeds add`" in mod_help and "`/settings timezone`" in mod_help
    assert "`/latest`" in mod_help and "`/help`" in mod_help
    bad = await bench.command("settings timezone", {"name": "Mars/Base"})
    assert "not a known time zone" in message_text(await bad.reply())
    good = await bench.command("settings timezone", {"name": "Europe/London"})
    assert "Europe/London" in message_text(await good.reply())
    shown = message_text(await (await bench.command("settings show")).reply())
    assert "Time zone: Europe/London" in shown

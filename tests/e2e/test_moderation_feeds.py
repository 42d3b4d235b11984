"""Moderator commands end to end: the real bot, the Discord stand-in and the news site."""

from __future__ import annotations

import asyncio

import pytest

from tests.bench.discord_standin import Overwrite, Perm
from tests.e2e.conftest import Bench, BenchFactory, message_text

APPLICATION_COMMAND = 2


async def test_add_by_home_page_previews_and_records(bench: Bench) -> None:
    handle = await bench.command(
        "feeds add", {"url": bench.site.home_url, "channel": bench.seed.news_id}
    )
    text = message_text(await handle.reply(15.0))
    assert "Added `#1`" in text and bench.site.feed_url in text
    assert "The feed has 10 items" in text
    newest = max(bench.site.items, key=lambda item: item.published)
    assert newest.title in text.replace("\\", "")
    subs = await bench.app.storage.guild_subscriptions(bench.seed.guild_id)
    assert [(s.channel_id, s.format) for s in subs] == [(bench.seed.news_id, "embed")]

    again = await bench.command(
        "feeds add", {"url": bench.site.feed_url, "channel": bench.seed.news_id}
    )
    assert "already goes to" in message_text(await again.reply(15.0))
    assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 1

    listing = await bench.command("feeds list")
    assert "`#1`" in message_text(await listing.reply())


async def test_member_cannot_see_and_forged_call_is_refused(bench: Bench) -> None:
    with pytest.raises(AssertionError, match="hidden"):
        await bench.command("feeds list", user=bench.seed.member_id)
    data = bench.discord._command_data(
        bench.seed.guild_id, bench.seed.admin_id, "feeds list", None, focused=None
    )
    handle = await bench.discord._send_interaction(
        APPLICATION_COMMAND,
        bench.seed.guild_id,
        bench.seed.member_id,
        bench.seed.general_id,
        data,
    )
    reply = await handle.reply()
    assert "Manage Server" in message_text(reply)
    assert reply.get("flags", 0) & 64  # ephemeral


async def test_specific_reasons_for_refused_adds(make_bench: BenchFactory) -> None:
    async with make_bench(fetch={"allow_private_addresses": False}) as bench:
        for url in ("http://127.0.0.1/", "http://169.254.169.254/"):
            handle = await bench.command("feeds add", {"url": url, "channel": bench.seed.news_id})
            assert "private" in message_text(await handle.reply(15.0)).lower()
        handle = await bench.command(
            "feeds add",
            {"url": "https://example.org/", "channel": bench.seed.general_id, "format": "forum"},
        )
        assert "needs a forum channel" in message_text(await handle.reply(15.0))
        assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 0


async def test_missing_permission_and_non_feed(bench: Bench) -> None:
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
    assert "Embed Links" in message_text(await handle.reply(15.0))
    handle = await bench.command(
        "feeds add", {"url": bench.site.url("/no-such-page"), "channel": bench.seed.news_id}
    )
    text = message_text(await handle.reply(15.0))
    assert "404" in text or "not found" in text.lower() or "no feed" in text.lower()


async def test_help_shows_only_usable_commands_and_settings_work(bench: Bench) -> None:
    member_help = message_text(
        await (await bench.command("help", user=bench.seed.member_id)).reply()
    )
    assert "/help" in member_help and "/feeds" not in member_help
    mod_help = message_text(await (await bench.command("help")).reply())
    assert "`/feeds add`" in mod_help and "`/settings timezone`" in mod_help
    bad = await bench.command("settings timezone", {"name": "Mars/Base"})
    assert "not a known time zone" in message_text(await bad.reply())
    good = await bench.command("settings timezone", {"name": "Europe/London"})
    assert "Europe/London" in message_text(await good.reply())
    shown = message_text(await (await bench.command("settings show")).reply())
    assert "Time zone: Europe/London" in shown

"""Acceptance: /feeds export gives a JSON file that /feeds import reads into another server (its
channels and roles matched by name, a second import adding nothing), and OPML imports, all through
real Discord attachments on the stand-in."""

from __future__ import annotations

import asyncio
import json

from bot.models import Subscription
from tests.bench.discord_standin import Perm
from tests.bench.discord_standin.state import FORUM
from tests.e2e.conftest import Bench, message_text


async def second_guild(bench: Bench) -> tuple[int, int, dict[str, int]]:
    """Another server with the same channel and role names, joined by the running bot."""
    discord = bench.discord
    guild = discord.add_guild("Second Branch", bot_member=False)
    moderators = discord.add_role(guild.id, "Moderators", Perm.MANAGE_GUILD)
    ids = {
        "general": discord.add_channel(guild.id, "general").id,
        "news": discord.add_channel(guild.id, "news", type=5).id,
        "articles": discord.add_channel(
            guild.id, "articles", type=FORUM, tags=("News",), require_tag=True
        ).id,
        "Moderators": moderators.id,
    }
    moderator = discord.add_member(guild.id, "second-moderator", roles=[moderators.id])
    joined = asyncio.ensure_future(bench.bot.wait_for("guild_join", timeout=5.0))
    await discord.add_bot_to_guild(guild.id)
    await joined
    return guild.id, moderator.user.id, ids


async def test_export_then_import_into_another_server(bench: Bench) -> None:
    seed = bench.seed
    for command, options in [
        ("settings log-channel", {"channel": seed.general_id}),
        ("settings timezone", {"name": "Europe/Berlin"}),
        (
            "feeds add",
            {
                "url": bench.site.feed_url,
                "channel": seed.news_id,
                "include": "housing",
                "mention": seed.admin_role_id,
            },
        ),
        ("feeds add", {"url": bench.site.category_feed_url("Housing"), "channel": seed.forum_id}),
    ]:
        reply = message_text(await (await bench.command(command, options)).reply(15.0))
        assert "Added" in reply or "Dates" in reply or "posted in" in reply, reply

    exported = await (await bench.command("feeds export")).reply()
    assert exported["flags"] & 64
    [attachment] = exported["attachments"]
    assert attachment["filename"] == f"paperboy-{seed.guild_id}.json"
    document = json.loads(bench.discord.attachment_bytes(attachment))
    assert document["format"] == "paperboy-export"
    assert [s["channel"]["name"] for s in document["subscriptions"]] == ["news", "articles"]

    guild_id, moderator_id, ids = await second_guild(bench)

    async def run(command: str, options: dict[str, object] | None = None) -> str:
        handle = await bench.discord.invoke(
            guild_id, moderator_id, command, options, channel_id=ids["general"]
        )
        return message_text(await handle.reply(15.0))

    # The moderator attaches the very file Paperboy gave them; the bot downloads it from Discord.
    report = await run("feeds import", {"file": attachment})
    assert "Imported: 2 added, 0 skipped." in report
    assert "Settings were replaced" in report
    assert int(attachment["id"]) in bench.discord.attachment_downloads

    first = await bench.app.storage.guild_subscriptions(seed.guild_id)
    second = await bench.app.storage.guild_subscriptions(guild_id)

    def shape(
        subs: list[Subscription], channels: dict[int, str], roles: dict[int | None, str]
    ) -> list[tuple[int, str, str, str, str]]:
        """Subscriptions with channels and roles by name, comparable across servers."""
        return [
            (
                s.feed_id,
                channels[s.channel_id],
                s.format,
                s.include_filter,
                roles.get(s.mention_role_id, ""),
            )
            for s in subs
        ]

    names_one = {seed.news_id: "news", seed.forum_id: "articles"}
    names_two = {ids["news"]: "news", ids["articles"]: "articles"}
    assert shape(second, names_two, {ids["Moderators"]: "Moderators"}) == shape(
        first, names_one, {seed.admin_role_id: "Moderators"}
    )
    assert [s.format for s in second] == ["embed", "forum"]
    settings = await bench.app.storage.guild_settings(guild_id)
    assert (settings.log_channel_id, settings.timezone) == (ids["general"], "Europe/Berlin")
    # The import is a change like any other: recorded, and posted in the new log channel.
    logged = await bench.discord.next_message(ids["general"])
    assert "`feeds.import`" in logged["content"]

    listing = await run("feeds list")
    assert f"<#{ids['news']}>" in listing and f"<#{ids['articles']}>" in listing
    assert f"<#{seed.news_id}>" not in listing  # nothing of the first server leaks in

    again = await run("feeds import", {"file": attachment})
    assert "Imported: 0 added, 2 skipped." in again
    assert await bench.app.storage.count_guild_subscriptions(guild_id) == 2


async def test_opml_import_needs_a_channel_and_adds_its_feeds(bench: Bench) -> None:
    housing = bench.site.category_feed_url("Housing")
    opml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>Reading list'
        "</title></head><body>"
        f'<outline text="The site" type="rss" xmlUrl="{bench.site.atom_url}"/>'
        f'<outline text="Housing"><outline text="Housing news" xmlUrl="{housing}"/></outline>'
        "</body></opml>"
    ).encode()
    upload = bench.discord.upload("feeds.opml", opml, "text/x-opml")

    without = await bench.command("feeds import", {"file": upload})
    assert "Nothing was imported" in message_text(await without.reply(15.0))
    assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 0

    handle = await bench.command("feeds import", {"file": upload, "channel": bench.seed.news_id})
    text = message_text(await handle.reply(15.0))
    assert "Imported: 2 added, 0 skipped." in text
    subs = await bench.app.storage.guild_subscriptions(bench.seed.guild_id)
    feeds = [await bench.app.storage.feed(s.feed_id) for s in subs]
    assert [(f.url if f else None, s.channel_id) for f, s in zip(feeds, subs, strict=True)] == [
        (bench.site.atom_url, bench.seed.news_id),
        (housing, bench.seed.news_id),
    ]

    broken = bench.discord.upload("feeds.opml", b"<opml><body><outline", "text/x-opml")
    refused = await bench.command("feeds import", {"file": broken, "channel": bench.seed.news_id})
    assert "not well-formed XML" in message_text(await refused.reply(15.0))
    assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 2

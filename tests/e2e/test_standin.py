"""The Discord stand-in proven with a plain discord.py commands.Bot (not Paperboy's bot)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.bench.conftest_standin import discord_standin, standin_seed  # noqa: F401
from tests.bench.discord_standin import (
    DiscordStandIn,
    Overwrite,
    Perm,
    Seed,
    StandInUsageError,
)
from tests.bench.discord_standin.harness import running_client

FEED_URLS = [
    "https://example.org/morning",
    "https://example.org/evening",
    "https://example.org/mornay",
]


class SubscribeView(discord.ui.View):
    """A persistent view: survives restarts because its button has a fixed custom_id."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Subscribe", custom_id="paperboy-test:subscribe")
    async def subscribe(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_message("subscribed", ephemeral=True)


@dataclass
class Seen:
    """What the test bot observed, for assertions."""

    errors: list[discord.HTTPException] = field(default_factory=list)
    error_seen: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, error: discord.HTTPException) -> None:
        """Keep an error the bot got from the stand-in and wake the test."""
        self.errors.append(error)
        self.error_seen.set()


class QuickBot(commands.Bot):
    """A commands.Bot that re-IDENTIFIEs at once (the default hook waits 5 s between them)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def make_bot(seen: Seen) -> commands.Bot:
    """A small bot with one command of each kind the stand-in must handle."""
    intents = discord.Intents.default()
    intents.message_content = True
    bot = QuickBot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)

    feeds = app_commands.Group(name="feeds", description="Manage feeds")

    @feeds.command(name="add", description="Follow a feed in a channel")
    @app_commands.describe(url="Feed address", channel="Where to announce")
    async def feeds_add(
        interaction: discord.Interaction, url: str, channel: discord.TextChannel
    ) -> None:
        await interaction.response.send_message(f"following {url} in {channel.mention}")

    @feeds_add.autocomplete("url")
    async def url_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=u, value=u) for u in FEED_URLS if current in u]

    bot.tree.add_command(feeds)

    @bot.tree.command(name="config", description="Moderator settings")
    @app_commands.default_permissions(manage_guild=True)
    async def config(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"manage_guild={interaction.permissions.manage_guild}"
        )
        # discord.py itself refuses; below we go behind its back to prove the stand-in refuses too.
        with contextlib.suppress(discord.InteractionResponded):
            await interaction.response.send_message("again")
        try:
            await interaction.followup.send("followup ok")
            adapter = discord.webhook.async_.async_context.get()
            await adapter.create_interaction_response(
                interaction.id,
                interaction.token,
                session=interaction._session,
                params=discord.http.handle_message_parameters(content="twice"),
            )
        except discord.HTTPException as error:
            seen.record(error)

    @bot.tree.command(name="ping", description="Answer quickly")
    async def ping(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("pong")
        except discord.HTTPException as error:
            seen.record(error)

    @bot.tree.command(name="latest", description="Deferred answer")
    async def latest(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("three new articles")

    @bot.tree.context_menu(name="Summarise")
    async def summarise(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"summary of {message.id}: {message.content}")

    async def setup_hook() -> None:
        bot.add_view(SubscribeView())

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@pytest.fixture
async def bot_and_seen(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
) -> AsyncIterator[tuple[commands.Bot, Seen]]:
    """The test bot, logged in, ready, with its command tree synced globally."""
    seen = Seen()
    bot = make_bot(seen)
    async with running_client(discord_standin, bot):
        await bot.tree.sync()
        yield bot, seen
    discord_standin.assert_no_unknown_routes()


async def test_login_and_ready_with_guild_create(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    guild = bot.get_guild(standin_seed.guild_id)
    assert guild is not None and guild.name == "Paperboy Test Guild"
    forum = guild.get_channel(standin_seed.forum_id)
    assert isinstance(forum, discord.ForumChannel)
    assert {t.name for t in forum.available_tags} == {"News", "Opinion"}
    assert forum.flags.require_tag
    assert isinstance(guild.get_channel(standin_seed.general_id), discord.TextChannel)
    assert guild.me is not None and guild.me.id == discord_standin.bot_user.id
    assert guild.get_role(standin_seed.admin_role_id).permissions.manage_guild
    assert discord_standin.gateway.compression_seen == ["zlib-stream"]
    assert bot.user is not None and bot.user.id == discord_standin.bot_user.id


async def test_command_tree_sync_is_recorded(
    discord_standin: DiscordStandIn,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    synced = {c["name"]: c for c in discord_standin.synced_commands()}
    assert set(synced) == {"feeds", "config", "ping", "latest", "Summarise"}
    assert all(c["id"].isdigit() for c in synced.values())
    add = synced["feeds"]["options"][0]
    assert add["name"] == "add" and add["type"] == 1
    url, channel = add["options"]
    assert (url["name"], url["type"], url["autocomplete"]) == ("url", 3, True)
    assert (channel["name"], channel["type"]) == ("channel", 7)
    assert synced["config"]["default_member_permissions"] == str(Perm.MANAGE_GUILD)
    assert synced["Summarise"]["type"] == 3
    # A second sync keeps the ids, as Discord does for unchanged names.
    before = {n: c["id"] for n, c in synced.items()}
    bot, _ = bot_and_seen
    await bot.tree.sync()
    assert {c["name"]: c["id"] for c in discord_standin.synced_commands()} == before
    assert len(discord_standin.sync_log) == 2


async def test_member_invokes_subcommand_with_options(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    handle = await discord_standin.invoke(
        standin_seed.guild_id,
        standin_seed.member_id,
        "feeds add",
        {"url": "https://example.org/feed", "channel": standin_seed.general_id},
    )
    callback = await handle.callback()
    assert callback.type == 4
    reply = await handle.reply()
    assert reply["content"] == f"following https://example.org/feed in <#{standin_seed.general_id}>"
    posted = await discord_standin.next_message(standin_seed.general_id)
    assert posted["id"] == reply["id"]


async def test_deferred_reply_is_filled_by_the_followup(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    handle = await discord_standin.invoke(standin_seed.guild_id, standin_seed.member_id, "latest")
    assert (await handle.callback()).type == 5
    reply = await handle.reply()
    assert reply["content"] == "three new articles"
    assert not reply["flags"] & (1 << 7)  # no longer "thinking"


async def test_hidden_and_unsynced_commands_cannot_be_invoked(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    with pytest.raises(StandInUsageError, match="hidden"):
        await discord_standin.invoke(standin_seed.guild_id, standin_seed.member_id, "config")
    with pytest.raises(StandInUsageError, match="never synced"):
        await discord_standin.invoke(standin_seed.guild_id, standin_seed.member_id, "nope")
    with pytest.raises(StandInUsageError, match="required"):
        await discord_standin.invoke(
            standin_seed.guild_id, standin_seed.member_id, "feeds add", {"url": "x"}
        )
    allowed = await discord_standin.invoke(standin_seed.guild_id, standin_seed.admin_id, "config")
    reply = await allowed.reply()
    assert reply["content"] == "manage_guild=True"


async def test_double_response_is_refused_with_40060(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    _, seen = bot_and_seen
    handle = await discord_standin.invoke(standin_seed.guild_id, standin_seed.admin_id, "config")
    rejection = await handle.rejection()
    assert (rejection.status, rejection.code) == (400, 40060)
    assert (await handle.followup()).message["content"] == "followup ok"
    await asyncio.wait_for(seen.error_seen.wait(), timeout=5)
    assert seen.errors[0].status == 400 and seen.errors[0].code == 40060


async def test_late_callback_gets_unknown_interaction(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    _, seen = bot_and_seen
    # A zero deadline makes every callback late without waiting three real seconds.
    discord_standin.interaction_deadline = 0.0
    handle = await discord_standin.invoke(standin_seed.guild_id, standin_seed.member_id, "ping")
    rejection = await handle.rejection()
    assert (rejection.status, rejection.code) == (404, 10062)
    await asyncio.wait_for(seen.error_seen.wait(), timeout=5)
    assert isinstance(seen.errors[0], discord.NotFound) and seen.errors[0].code == 10062
    assert not handle.responses
    # With the normal deadline the same command is answered.
    discord_standin.interaction_deadline = 3.0
    again = await discord_standin.invoke(standin_seed.guild_id, standin_seed.member_id, "ping")
    assert (await again.reply())["content"] == "pong"


async def test_autocomplete_returns_the_bots_choices(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    choices = await discord_standin.autocomplete(
        standin_seed.guild_id, standin_seed.member_id, "feeds add", {"url": "morn"}, focused="url"
    )
    assert [c["value"] for c in choices] == [
        "https://example.org/morning",
        "https://example.org/mornay",
    ]


async def test_button_click_reaches_persistent_view(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    # The message predates this bot run (as after a restart): only the persistent view can answer.
    channel = discord_standin.channels[standin_seed.general_id]
    button = {"type": 2, "style": 1, "label": "Subscribe", "custom_id": "paperboy-test:subscribe"}
    message = discord_standin.make_message(
        channel,
        discord_standin.bot_user.to_json(),
        {"content": "Get alerts", "components": [{"type": 1, "components": [button]}]},
    )
    await discord_standin.store_message(channel, message, dispatch=False)
    handle = await discord_standin.click(
        standin_seed.member_id, int(message["id"]), button["custom_id"]
    )
    reply = await handle.reply()
    assert reply["content"] == "subscribed" and reply["flags"] & 64
    assert discord_standin.messages_in(standin_seed.general_id) == [message]  # ephemeral: hidden
    with pytest.raises(StandInUsageError):
        await discord_standin.click(standin_seed.member_id, int(message["id"]), "no-such-button")


async def test_message_context_menu_gets_target_message(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    target = await discord_standin.post_user_message(
        standin_seed.general_id, standin_seed.member_id, "a long article link"
    )
    handle = await discord_standin.invoke_message_command(
        standin_seed.guild_id, standin_seed.member_id, "Summarise", int(target["id"])
    )
    reply = await handle.reply()
    assert reply["content"] == f"summary of {target['id']}: a long article link"


async def test_posted_message_appears_to_next_message(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    channel = bot.get_channel(standin_seed.general_id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("first", embed=discord.Embed(title="Headline"))
    got = await discord_standin.next_message(standin_seed.general_id)
    assert got["id"] == str(sent.id) and got["embeds"][0]["title"] == "Headline"
    thread = await sent.create_thread(name="discussion")
    await thread.send("in the thread")
    in_thread = await discord_standin.next_message(standin_seed.general_id)
    assert in_thread["content"] == "in the thread"
    assert in_thread["channel_id"] == str(thread.id)
    history = [m.content async for m in channel.history(limit=10)]
    assert history == ["first"]


async def test_rate_limited_post_is_retried_and_lands_once(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    path = f"/channels/{standin_seed.general_id}/messages"
    discord_standin.faults.rate_limit("POST", path, retry_after=0.01)
    channel = bot.get_channel(standin_seed.general_id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("after a 429")
    posts = discord_standin.recorder.requests_to("POST", path)
    assert [r.status for r in posts] == [429, 200]
    assert [m["content"] for m in discord_standin.messages_in(standin_seed.general_id)] == [
        "after a 429"
    ]


async def test_enforced_nonce_returns_the_existing_message(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    channel = bot.get_channel(standin_seed.general_id)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("once", nonce="pb-o1")
    again = await channel.send("once", nonce="pb-o1")
    other = await channel.send("twice", nonce="pb-o2")
    assert again.id == first.id
    assert other.id != first.id
    contents = [m["content"] for m in discord_standin.messages_in(standin_seed.general_id)]
    assert contents == ["once", "twice"]


async def test_too_long_message_gets_50035(
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    channel = bot.get_channel(standin_seed.general_id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("x" * 2001)
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert "In content: Must be 2000 or fewer in length." in caught.value.text
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embed=discord.Embed(title="t" * 257))
    assert "In embeds.0.title" in caught.value.text
    await channel.send("x" * 2000)  # the limit itself is fine


async def test_missing_permission_gets_403_50013(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
) -> None:
    guild_id = standin_seed.guild_id
    readonly = discord_standin.add_channel(
        guild_id, "read-only", overwrites=[Overwrite(guild_id, 0, deny=Perm.SEND_MESSAGES)]
    )
    bot = make_bot(Seen())
    async with running_client(discord_standin, bot):
        channel = bot.get_channel(readonly.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.Forbidden) as caught:
            await channel.send("not allowed")
        assert caught.value.code == 50013
        assert not discord_standin.messages_in(readonly.id)


async def test_forum_post_requires_a_known_tag(
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    forum = bot.get_channel(standin_seed.forum_id)
    assert isinstance(forum, discord.ForumChannel)
    with pytest.raises(discord.HTTPException) as caught:
        await forum.create_thread(name="No tag", content="body")
    assert caught.value.code == 40067
    news = next(t for t in forum.available_tags if t.name == "News")
    created = await forum.create_thread(name="Tagged", content="body", applied_tags=[news])
    assert created.thread.applied_tags == [news]
    assert created.message.content == "body"


async def test_closed_dms_get_50007(
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    closed = await bot.fetch_user(standin_seed.closed_dms_id)
    with pytest.raises(discord.Forbidden) as caught:
        await closed.send("hello")
    assert caught.value.code == 50007
    reader = await bot.fetch_user(standin_seed.member_id)
    assert (await reader.send("hello")).content == "hello"


async def test_gateway_drop_is_resumed_with_missed_events(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed, "on_resumed")
    async with discord_standin.gateway_outage():
        await discord_standin.post_user_message(
            standin_seed.general_id, standin_seed.member_id, "while you were away"
        )
        assert not resumed.is_set()
        waiting = bot.loop.create_task(
            bot.wait_for("message", check=lambda m: m.content == "while you were away", timeout=5)
        )
    message = await waiting
    assert message.channel.id == standin_seed.general_id
    await asyncio.wait_for(resumed.wait(), timeout=5)
    assert discord_standin.gateway.resume_count == 1
    assert discord_standin.gateway.identify_count == 1


async def test_invalid_session_leads_to_fresh_identify(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot_and_seen: tuple[commands.Bot, Seen],
) -> None:
    bot, _ = bot_and_seen
    await discord_standin.gateway.invalidate_session(resumable=False)
    await discord_standin.wait_until(
        lambda: discord_standin.gateway.identify_count == 2 and discord_standin.gateway.connected,
        what="a second IDENTIFY",
    )
    assert discord_standin.gateway.resume_count == 0
    waiting = bot.loop.create_task(
        bot.wait_for("message", check=lambda m: m.content == "back again", timeout=5)
    )
    await discord_standin.post_user_message(
        standin_seed.general_id, standin_seed.member_id, "back again"
    )
    assert (await waiting).content == "back again"

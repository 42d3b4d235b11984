"""The stand-in's files, proven with a plain discord.py bot: ATTACHMENT options the bot downloads
with `Attachment.read()`, multipart replies whose bytes the stand-in keeps, forged invocations."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.bench.conftest_standin import discord_standin, standin_seed  # noqa: F401
from tests.bench.discord_standin import DiscordStandIn, Seed, StandInUsageError
from tests.bench.discord_standin.harness import running_client

ALL_BYTES = bytes(range(256))


def make_bot() -> commands.Bot:
    """A bot whose /shout reads an attached file and answers with it upper-cased, as a file."""
    bot = commands.Bot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
    )

    @bot.tree.command(name="shout", description="Upper-case a text file")
    @app_commands.default_permissions(manage_guild=True)
    async def shout(interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()
        loud = discord.File(io.BytesIO(data.upper()), filename="loud.txt")
        await interaction.response.send_message(
            f"{file.filename}: {file.size} bytes", file=loud, ephemeral=True
        )

    @bot.tree.command(name="later", description="Answer with a file in a followup")
    async def later(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("here", file=discord.File(io.BytesIO(ALL_BYTES), "f.bin"))

    return bot


@pytest.fixture
async def bot(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
) -> AsyncIterator[commands.Bot]:
    """The file bot, ready, its commands synced."""
    client = make_bot()
    async with running_client(discord_standin, client):
        await client.tree.sync()
        yield client
    discord_standin.assert_no_unknown_routes()


async def test_attachment_option_is_downloaded_and_reply_file_is_kept(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot: commands.Bot,
) -> None:
    upload = discord_standin.upload("notes.txt", b"quiet words\n", "text/plain")
    handle = await discord_standin.invoke(
        standin_seed.guild_id, standin_seed.admin_id, "shout", {"file": upload}
    )
    reply = await handle.reply()
    assert reply["content"] == "notes.txt: 12 bytes"
    assert reply["flags"] & 64
    [attachment] = reply["attachments"]
    assert attachment["filename"] == "loud.txt"
    assert discord_standin.attachment_bytes(attachment) == b"QUIET WORDS\n"
    # The bot downloaded the user's file from the stand-in and uploaded its answer as multipart.
    assert discord_standin.attachment_downloads == [int(upload["id"])]
    assert discord_standin.recorder.requests_to("POST", "/callback")[-1].files == ["loud.txt"]


async def test_followup_file_and_attachment_passed_on(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot: commands.Bot,
) -> None:
    handle = await discord_standin.invoke(standin_seed.guild_id, standin_seed.member_id, "later")
    reply = await handle.reply()
    [attachment] = reply["attachments"]
    assert discord_standin.attachment_bytes(attachment) == ALL_BYTES
    # A file the bot posted can be attached again by a user, as in the Discord client.
    again = await discord_standin.invoke(
        standin_seed.guild_id, standin_seed.admin_id, "shout", {"file": attachment}
    )
    assert (await again.reply())["content"] == "f.bin: 256 bytes"


async def test_attachment_option_needs_a_file_and_hidden_commands_can_be_forged(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    bot: commands.Bot,
) -> None:
    with pytest.raises(StandInUsageError, match="takes a file"):
        await discord_standin.invoke(
            standin_seed.guild_id, standin_seed.admin_id, "shout", {"file": "notes.txt"}
        )
    upload = discord_standin.upload("a.txt", b"a")
    with pytest.raises(StandInUsageError, match="hidden"):
        await discord_standin.invoke(
            standin_seed.guild_id, standin_seed.member_id, "shout", {"file": upload}
        )
    forged = await discord_standin.invoke(
        standin_seed.guild_id, standin_seed.member_id, "shout", {"file": upload}, forged=True
    )
    # This plain bot does not check permissions itself, so the forged call goes through; the
    # interaction carries the member's real permissions (no Manage Server).
    assert not int(forged.payload["member"]["permissions"]) & (1 << 5)
    assert (await forged.reply())["content"] == "a.txt: 1 bytes"

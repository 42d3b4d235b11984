"""The bench itself: the real bot logs in to the stand-in, sees the guild, and syncs its tree."""

from __future__ import annotations

from tests.e2e.conftest import Bench


async def test_bot_is_ready_with_the_seed_guild_and_synced_commands(bench: Bench) -> None:
    guild = bench.bot.get_guild(bench.seed.guild_id)
    assert guild is not None
    assert {channel.id for channel in guild.channels} >= {
        bench.seed.general_id,
        bench.seed.news_id,
        bench.seed.forum_id,
    }
    assert bench.discord.sync_log, "the command tree was never synced"
    synced = {command["name"] for command in bench.discord.synced_commands()}
    tree = {command.name for command in bench.bot.tree.get_commands()}
    assert synced == tree
    assert await bench.app.storage.schema_version() >= 1

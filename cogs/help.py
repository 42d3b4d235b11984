"""/help: the commands this user can actually use, computed from the tree and their permissions."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs._checks import is_moderator
from cogs.client import PaperboyBot


def _usable(
    command: app_commands.Command[Any, ..., Any] | app_commands.Group,
    permissions: discord.Permissions,
    moderator: bool,
    in_guild: bool,
) -> bool:
    root = command.root_parent or command
    if not in_guild and root.guild_only:
        return False
    needed = root.default_permissions
    if needed is None or needed.value == 0:
        return True
    if needed.manage_guild and moderator:
        return True  # the bot lets the moderator role in as well
    return permissions >= needed


def help_lines(
    tree: app_commands.CommandTree[Any],
    permissions: discord.Permissions,
    *,
    moderator: bool,
    in_guild: bool,
) -> list[str]:
    """`/name — description` for every command the user may run, sorted."""
    lines = []
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Group):
            continue
        if _usable(command, permissions, moderator, in_guild):
            lines.append(f"`/{command.qualified_name}` — {command.description}")
    return sorted(lines)


class Help(commands.Cog):
    """The /help command."""

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        """List the Paperboy commands you can use."""
        in_guild = interaction.guild is not None
        moderator = in_guild and await is_moderator(interaction)
        lines = help_lines(
            self.bot.tree, interaction.permissions, moderator=moderator, in_guild=in_guild
        )
        # An embed holds 4,096 characters: a moderator's list outgrew a message's 2,000.
        embed = discord.Embed(
            title="Paperboy commands you can use", description="\n".join(lines)[:4096]
        )
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: PaperboyBot) -> None:
    """Load /help."""
    await bot.add_cog(Help(bot))

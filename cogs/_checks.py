"""The moderator check shared by /feeds and /settings: Manage Server or the moderator role.

Discord hides these commands from members (`default_permissions`), but a forged or stale
invocation still reaches the bot, so the bot checks again and refuses privately.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.services.admin import PERMISSION_LABELS, ChannelInfo, ChannelKind, may_moderate

if TYPE_CHECKING:  # cogs.client imports the cogs' modules; only the type is needed here
    from cogs.client import PaperboyBot


class NotModerator(app_commands.CheckFailure):
    """The invoker may not use moderator commands; the message is shown to them privately."""


async def is_moderator(interaction: discord.Interaction[PaperboyBot]) -> bool:
    """True for Manage Server or the guild's moderator role; False outside a guild."""
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        return False
    if interaction.permissions.manage_guild:
        return True
    settings = await interaction.client.app.storage.guild_settings(interaction.guild.id)
    role_ids = [role.id for role in interaction.user.roles]
    return may_moderate(has_manage_guild=False, role_ids=role_ids, settings=settings)


async def require_moderator(interaction: discord.Interaction[PaperboyBot]) -> bool:
    """A cog `interaction_check`: refuse with a specific private message."""
    if interaction.guild is None:
        raise NotModerator("These commands work only in a server, not in direct messages.")
    if not await is_moderator(interaction):
        raise NotModerator(
            "Only members with the Manage Server permission (or this server's moderator role) "
            "can use this command."
        )
    return True


def channel_kind(channel: object) -> ChannelKind:
    """How the core names a Discord channel's type."""
    if isinstance(channel, discord.ForumChannel):
        return "forum"
    if isinstance(channel, discord.Thread):
        return "thread"
    if isinstance(channel, discord.TextChannel):
        return "news" if channel.is_news() else "text"
    return "other"


def channel_info(channel: discord.abc.GuildChannel | discord.Thread) -> ChannelInfo:
    """A channel with the bot's own permissions in it, for `check_channel_fit`."""
    me = channel.guild.me
    permissions = channel.permissions_for(me)
    # Read by attribute: iterating Permissions skips aliases such as view_channel.
    granted = frozenset(name for name in PERMISSION_LABELS if getattr(permissions, name))
    return ChannelInfo(channel.id, channel.name, channel_kind(channel), granted)

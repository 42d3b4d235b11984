"""/settings: the guild's log channel, time zone and moderator role. Thin over `FeedAdmin`."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput
from bot.services.admin import timezone_choices
from cogs._checks import NotModerator, is_moderator, require_moderator
from cogs.client import PaperboyBot

NO_MENTIONS = discord.AllowedMentions.none()


def require_manage_guild_for_role(interaction: discord.Interaction[Any]) -> None:
    """Who may moderate is decided by Manage Server alone: a moderator-role holder must not be
    able to hand moderation to others (or to everyone)."""
    if not interaction.permissions.manage_guild:
        raise NotModerator(
            "Only members with the Manage Server permission can change the moderator role."
        )


def check_moderator_role(role: discord.Role) -> None:
    """Refuse roles that would give moderation to people nobody chose."""
    if role.is_default():
        raise InvalidInput(
            "@everyone cannot be the moderator role: every member could then change "
            "Paperboy's settings. Choose a role you give to moderators."
        )
    if role.managed:
        raise InvalidInput(
            "That role is managed by a bot or an integration, so Discord decides who has it; "
            "choose a role you give to moderators yourself."
        )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Settings(commands.GroupCog, group_name="settings", group_description="Paperboy settings"):
    """The /settings command group."""

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot
        self.admin = bot.app.admin  # the same one /feeds uses: changes reach the log channel
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Moderators only, checked by the bot whatever Discord showed."""
        return await require_moderator(interaction)

    @app_commands.command(name="log-channel")
    @app_commands.describe(channel="Where changes and feed alerts are posted (leave out: nowhere)")
    async def log_channel(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None
    ) -> None:
        """Choose where configuration changes and feed alerts are posted."""
        assert interaction.guild_id is not None
        await self.admin.set_log_channel(
            interaction.guild_id, interaction.user.id, channel.id if channel else None
        )
        where = f"<#{channel.id}>" if channel else "nowhere"
        await interaction.response.send_message(
            f"Changes and alerts will be posted {'in ' if channel else ''}{where}.", ephemeral=True
        )

    async def _timezone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if not await is_moderator(interaction):
            return []
        return [app_commands.Choice(name=name, value=name) for name in timezone_choices(current)]

    @app_commands.command(name="timezone")
    @app_commands.describe(name="An IANA time zone such as Europe/London")
    @app_commands.autocomplete(name=_timezone_autocomplete)
    async def timezone(
        self, interaction: discord.Interaction[Any], name: app_commands.Range[str, 1, 64]
    ) -> None:
        """Set the time zone dates are shown in."""
        assert interaction.guild_id is not None
        settings = await self.admin.set_timezone(interaction.guild_id, interaction.user.id, name)
        await interaction.response.send_message(
            f"Dates will be shown in {settings.timezone}.", ephemeral=True
        )

    @app_commands.command(name="moderator-role")
    @app_commands.describe(
        role="A role that may use these commands (leave out: Manage Server only)"
    )
    async def moderator_role(
        self, interaction: discord.Interaction[Any], role: discord.Role | None = None
    ) -> None:
        """Let a role use Paperboy's moderator commands besides Manage Server."""
        assert interaction.guild_id is not None
        require_manage_guild_for_role(interaction)
        if role is not None:
            check_moderator_role(role)
        await self.admin.set_moderator_role(
            interaction.guild_id, interaction.user.id, role.id if role else None
        )
        text = (
            f"Members with <@&{role.id}> may now use moderator commands."
            if role
            else "Only members with Manage Server may use moderator commands now."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        """Show this server's Paperboy settings."""
        assert interaction.guild_id is not None
        settings = await self.admin.settings(interaction.guild_id)
        log_channel = f"<#{settings.log_channel_id}>" if settings.log_channel_id else "not set"
        role = f"<@&{settings.moderator_role_id}>" if settings.moderator_role_id else "not set"
        await interaction.response.send_message(
            f"Log channel: {log_channel}\nTime zone: {settings.timezone}\n"
            f"Moderator role: {role} (Manage Server always may)",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: PaperboyBot) -> None:
    """Load the /settings commands."""
    await bot.add_cog(Settings(bot))

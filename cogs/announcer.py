"""Announcements on Discord: runs the delivery worker and keeps subscriptions in step with guilds.

The worker itself is built by `bot.app` around `cogs.outlets.DiscordSender` and `DiscordNotifier`;
this cog owns its task and listens for guild and channel changes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import discord
from discord.ext import commands

from cogs.client import PaperboyBot

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0
"""At shutdown, sends already in flight get this long to finish and be recorded as sent."""


class Announcer(commands.Cog):
    """Delivers announcements and keeps subscriptions in step with guilds and channels."""

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot
        self.worker = bot.app.worker  # built by App.attach_discord
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        """Start the worker once the client is ready (it needs the channel cache)."""
        self._task = self.bot.app.tasks.spawn(self._run(), name="delivery")

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        await self.worker.run()

    async def cog_unload(self) -> None:
        """Stop delivering after the round in flight (bounded); a row still being sent then stays
        claimed and is reconciled at the next start."""
        task = self._task
        if task is None or task.done():
            return
        self.worker.stop()
        if self.bot.is_ready():  # before ready the worker has not started: nothing in flight
            await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
        if not task.done():
            task.cancel()

    def _now(self) -> datetime:
        return self.bot.app.clock.now()

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a guild: its subscriptions stop (kept, so re-adding restores them)."""
        changed = await self.bot.app.storage.set_guild_active(guild.id, False, now=self._now())
        log.info("Left guild %s; %d subscriptions deactivated", guild.id, changed)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Added (back) to a guild: its kept subscriptions resume."""
        changed = await self.bot.app.storage.set_guild_active(guild.id, True, now=self._now())
        if changed:
            self.worker.wake()

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A deleted channel's subscriptions stop."""
        changed = await self.bot.app.storage.deactivate_channel(channel.id)
        if changed:
            log.info("Channel %s deleted; %d subscriptions deactivated", channel.id, changed)

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        """Back after a gateway drop: look for due work at once."""
        self.worker.wake()


async def setup(bot: PaperboyBot) -> None:
    """discord.py extension entry point."""
    await bot.add_cog(Announcer(bot))

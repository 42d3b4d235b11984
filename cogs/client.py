"""The Discord client: the `commands.Bot` subclass that wires the core into discord.py.

This module and the cogs are the only places that import discord.py.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.app import App, open_app
from bot.config import Config
from bot.errors import PaperboyError
from bot.shards import ShardSet
from cogs._tree import PaperboyTree
from cogs.outlets import DiscordChangeLog, DiscordNotifier, DiscordSender

log = logging.getLogger(__name__)

# Loaded in this order by setup_hook; each is a thin translation layer over bot/ services.
EXTENSIONS: tuple[str, ...] = (
    "cogs.feeds",
    "cogs.settings",
    "cogs.help",
    "cogs.members",
    "cogs.alerts",
    "cogs.announcer",
)


class LoginRejected(PaperboyError):
    """Discord refused the token."""


def required_permissions() -> discord.Permissions:
    """Exactly the permissions Paperboy's features use in a guild."""
    return discord.Permissions(
        view_channel=True,  # see the channels it posts to
        send_messages=True,  # text announcements; forum posts count as messages too
        send_messages_in_threads=True,  # discussion threads and forum posts
        create_public_threads=True,  # a discussion thread per announcement, if enabled
        embed_links=True,  # embeds
        attach_files=True,  # /feeds export
        read_message_history=True,  # after a crash, look for its own post before re-sending
        manage_webhooks=True,  # webhook format: posting under the publication's name
    )


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot with its slash commands and the permissions above."""
    return discord.utils.oauth_url(
        application_id,
        permissions=required_permissions(),
        scopes=("bot", "applications.commands"),
    )


def point_at(api_base_url: str, gateway_url: str) -> None:
    """Send REST and gateway traffic somewhere other than Discord (the test bench does this)."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class PaperboyBot(commands.Bot):
    """Paperboy on Discord: opens the core in `setup_hook`, loads the cogs, syncs commands.

    Cogs take this type and reach the core through `bot.app`.
    """

    def __init__(
        self,
        config: Config,
        *,
        app: App | None = None,
        shards: ShardSet | None = None,
        poll: bool = True,
    ) -> None:
        self._app: App | None = None  # opened (or taken from `app`) in setup_hook; set first,
        # since `dispatch` and the REST trace look at it
        intents = discord.Intents.none()
        intents.guilds = True  # channels, roles, forum tags, joins and leaves
        sharding: dict[str, Any] = {}
        if shards is not None:  # AutoShardedClient's options (ShardedPaperboyBot)
            sharding = {"shard_ids": shards.ordered, "shard_count": shards.count}
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=PaperboyTree,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=config.bot.guild_ready_timeout_seconds,
            max_messages=None,
            http_trace=self._rest_trace(),
            **sharding,
        )
        self.config = config
        self.shard_set = shards
        """The shards this process serves (None: one unsharded connection, every server)."""
        self.poll = poll
        """Whether this process polls feeds (under the poll lease) or leaves it to a worker."""
        self._given_app = app
        point_at(config.bot.api_base_url, config.bot.gateway_url)

    @property
    def app(self) -> App:
        """The core: every service, built by `bot.app.open_app` (open once `setup_hook` ran)."""
        if self._app is None:  # AttributeError, as before: getattr(bot, "app", None) still works
            raise AttributeError("The core opens in setup_hook; nothing may use it before")
        return self._app

    async def login(self, token: str) -> None:
        """Log in, turning a rejected token into a one-line error."""
        try:
            await super().login(token)
        except discord.LoginFailure:
            raise LoginRejected(
                "Discord rejected the token in DISCORD_TOKEN. Copy a fresh one from the "
                "Developer Portal (Bot > Reset Token)."
            ) from None

    def _rest_trace(self) -> aiohttp.TraceConfig:
        """Counts Discord's 429 answers for /metrics (discord.py itself waits and retries)."""
        trace = aiohttp.TraceConfig()

        async def on_request_end(
            session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
        ) -> None:
            app = self._app
            if app is not None and params.response.status == 429:
                app.metrics.discord_rate_limited.inc()

        trace.on_request_end.append(on_request_end)
        return trace

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """Tell the core of gateway changes and finished commands, synchronously (a listener
        would be a task per event, left pending when the client closes), then dispatch."""
        app = self._app
        if app is not None:
            if event_name in ("ready", "resumed"):
                app.health.gateway_up(app.clock.now())
            elif event_name == "disconnect":
                app.health.gateway_down(app.clock.now())
            elif event_name == "app_command_completion" and len(args) == 2:
                app.metrics.observe_command(args[1].qualified_name, ok=True)
        super().dispatch(event_name, *args, **kwargs)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait before re-identifying, as Discord asks; tests shorten the wait in config."""
        if not initial:
            await asyncio.sleep(self.config.bot.reidentify_delay_seconds)

    async def setup_hook(self) -> None:
        """Open the core, hand it the Discord-facing pieces, load the cogs, sync the commands."""
        self._app = self._given_app or await open_app(self.config)
        self._app.attach_discord(
            sender=DiscordSender(self),
            notifier=DiscordNotifier(self),
            change_log=DiscordChangeLog(self),
            shards=self.shard_set,
        )
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.config.bot.sync_commands:
            synced = await self.tree.sync()
            log.info("Synced %d application commands", len(synced))
        # Sharded or not polling: other processes write the same database.
        shared = self.shard_set is not None or not self.poll
        self.app.start_background(poll=self.poll, shared=shared)
        if self.shard_set is not None:
            log.info("Serving %s", self.shard_set.describe())
        if self.application_id:
            log.info("Invite Paperboy with: %s", invite_url(self.application_id))

    async def close(self) -> None:
        """Stop Discord first (no new work arrives), then the core."""
        await super().close()
        app = self._app
        if app is not None and self._given_app is None:
            await app.close()


class ShardedPaperboyBot(PaperboyBot, commands.AutoShardedBot):
    """Paperboy on some of the bot's shards (`paperboy run --shards 0-3 --shard-count 8`):
    discord.py's AutoShardedBot with `shard_ids`, one gateway connection per shard."""


def make_bot(config: Config, *, shards: ShardSet | None = None, poll: bool = True) -> PaperboyBot:
    """The plain client when no sharding is asked (the default), the auto-sharded one else."""
    if shards is None:
        return PaperboyBot(config, poll=poll)
    return ShardedPaperboyBot(config, shards=shards, poll=poll)

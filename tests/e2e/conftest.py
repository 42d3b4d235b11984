"""The end-to-end bench: the real PaperboyBot, in-process, against the Discord stand-in and the
local news site. Scenarios drive it the way users do: slash commands, clicks, and publishing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import Config
from cogs.client import PaperboyBot
from tests.bench.discord_standin import DiscordStandIn, InteractionHandle, Seed
from tests.bench.discord_standin.harness import running_client
from tests.bench.news_site import NewsSite
from tests.conftest import make_config


@dataclass
class Bench:
    """Everything a scenario needs: both stand-ins, the running bot, and shortcuts."""

    discord: DiscordStandIn
    seed: Seed
    site: NewsSite
    bot: PaperboyBot
    config: Config

    @property
    def app(self) -> App:
        """The bot's core (storage, services), for assertions on state."""
        return self.bot.app

    async def command(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        user: int | None = None,
        channel: int | None = None,
    ) -> InteractionHandle:
        """Run a slash command as `user` (default: the moderator) in the seed guild."""
        return await self.discord.invoke(
            self.seed.guild_id,
            user if user is not None else self.seed.admin_id,
            command,
            options,
            channel_id=channel,
        )

    async def reply_text(self, handle: InteractionHandle, timeout: float = 10.0) -> str:
        """The text a user sees in the bot's final answer (content plus embed text)."""
        return message_text(await handle.reply(timeout))


def message_text(message: dict[str, Any]) -> str:
    """Content plus every embed's visible text, for simple `in` assertions."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [(embed.get("author") or {}).get("name") or ""]
        parts += [(embed.get("footer") or {}).get("text") or ""]
        for item in embed.get("fields") or []:
            parts += [item.get("name") or "", item.get("value") or ""]
    return "\n".join(part for part in parts if part)


BenchFactory = Callable[..., AbstractAsyncContextManager[Bench]]


@pytest.fixture
def make_bench(tmp_path: Path, bench_database: str) -> BenchFactory:
    """Build a bench with config overrides: `async with make_bench(fetch={...}) as bench:`."""

    @asynccontextmanager
    async def factory(**sections: dict[str, object]) -> AsyncIterator[Bench]:
        if bench_database:
            database = {**sections.get("database", {}), "url": bench_database}
            sections = {**sections, "database": database}
        config = make_config(tmp_path, **sections)
        async with DiscordStandIn() as discord_standin, NewsSite() as site:
            seed = discord_standin.populate_default()
            bot = PaperboyBot(config)
            async with running_client(discord_standin, bot):
                # The background poller starts once it holds the poll lease; a test that adds a
                # feed before its first round would race it for the feed's first poll.
                await asyncio.wait_for(bot.app.poller.first_round_done.wait(), 30)
                yield Bench(discord_standin, seed, site, bot, config)
            discord_standin.assert_no_unknown_routes()

    return factory


@pytest.fixture
async def bench(make_bench: BenchFactory) -> AsyncIterator[Bench]:
    """The default bench: one guild (#general, #news, a forum), a moderator and a reader."""
    async with make_bench() as running:
        yield running

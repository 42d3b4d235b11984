"""The one wiring point: builds every core component from the config, and closes them.

Discord-free. The Discord layer (`cogs/`) holds an `App` and calls its services.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiohttp

from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.storage import Storage
from bot.tasks import TaskOwner

log = logging.getLogger(__name__)


@dataclass
class App:
    """Every long-lived resource, created once and injected where needed."""

    config: Config
    clock: Clock
    storage: Storage
    http: aiohttp.ClientSession
    tasks: TaskOwner = field(default_factory=TaskOwner)

    async def close(self) -> None:
        """Stop background work, then release the HTTP session and the database."""
        await self.tasks.close()
        await self.http.close()
        await self.storage.close()


async def open_app(config: Config, *, clock: Clock | None = None) -> App:
    """Open the database and HTTP session; if anything fails half-way, close what was opened."""
    from bot.fetch import make_session

    storage = await Storage.open(
        config.database.path, busy_timeout_ms=config.database.busy_timeout_ms
    )
    try:
        http = make_session(config.fetch, config.user_agent())
    except BaseException:
        await storage.close()
        raise
    return App(config=config, clock=clock or SystemClock(), storage=storage, http=http)

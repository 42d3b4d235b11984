"""Running a discord.py client against the stand-in for the length of a block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import discord

    from .server import DiscordStandIn


@asynccontextmanager
async def running_client(
    standin: DiscordStandIn, client: discord.Client, *, ready_timeout: float = 10.0
) -> AsyncIterator[discord.Client]:
    """Start `client` against the stand-in, wait until it is ready, and close it afterwards."""
    with standin.patch_discord():
        task = asyncio.create_task(client.start(standin.token), name="standin-client")
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait(
                {task, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                if task in done:
                    task.result()  # re-raise why the client stopped
                raise AssertionError(f"client not ready within {ready_timeout} s")
            yield client
        finally:
            ready.cancel()
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=5.0)

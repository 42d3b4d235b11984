"""pytest plugin: fixtures for the Discord stand-in (register with pytest_plugins in conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.bench.discord_standin import DiscordStandIn, Seed


@pytest.fixture
async def discord_standin() -> AsyncIterator[DiscordStandIn]:
    """A running, empty-ish stand-in (the default world is made by `standin_seed`)."""
    async with DiscordStandIn() as standin:
        yield standin


@pytest.fixture
def standin_seed(discord_standin: DiscordStandIn) -> Seed:
    """The default world: one guild, #general, #news, a forum with tags, an admin and a member."""
    return discord_standin.populate_default()

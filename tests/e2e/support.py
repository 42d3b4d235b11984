"""Helpers shared by end-to-end scenarios: settings, a ready subscription, waits on posts."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import App
from bot.models import NewSubscription
from tests.bench.discord_standin import Seed
from tests.e2e.conftest import Bench
from tests.markers import marker_of

# Sample articles carry fixed dates, so the age limit is off; posts go out without pacing.
FAST = {"per_channel_interval_seconds": 0.0, "max_age_days": 0.0}


def announced_title(message: dict[str, Any]) -> str:
    """The article title of an embed announcement."""
    embeds = message.get("embeds") or []
    assert embeds, f"not an embed announcement: {message.get('content')!r}"
    return str(embeds[0].get("title") or "")


async def delivery_settled(bench: Bench) -> None:
    """Wait until the delivery worker has finished the round that posted what we saw."""
    worker = bench.bot.get_cog("Announcer").worker  # type: ignore[union-attr]
    # A full round after this wake starts after any round in progress: its end means both ended.
    worker.round_finished.clear()
    worker.wake()
    await asyncio.wait_for(worker.round_finished.wait(), 10)


FAST_HIGH_RATE = {**FAST, "global_rate_per_second": 45.0}
"""FAST with the global send rate near Discord's own limit, for bursts of many posts."""


async def ready_text_channel(bench: Bench, fmt: str = "text") -> tuple[int, int]:
    """The announcer loaded, the feed read once, and a subscription in #general (no backlog)."""
    assert "cogs.announcer" in bench.bot.extensions
    feed = await bench.app.storage.add_feed(bench.site.feed_url, now=bench.app.clock.now())
    assert (await bench.app.poller.poll_feed(feed.id)).seeded
    subscription = await bench.app.storage.add_subscription(
        NewSubscription(
            guild_id=bench.seed.guild_id,
            channel_id=bench.seed.general_id,
            feed_id=feed.id,
            format=fmt,  # type: ignore[arg-type]
        ),
        now=bench.app.clock.now(),
    )
    assert subscription is not None
    return feed.id, subscription.id


def announcements(bench: Bench) -> list[dict[str, Any]]:
    """The announcements (messages carrying an outbox marker) posted in #general so far."""

    return [m for m in bench.discord.messages_in(bench.seed.general_id) if marker_of(m)]


async def wait_for_count(bench: Bench, count: int) -> None:
    """Wait until at least `count` announcements are in #general."""
    await bench.discord.wait_until(
        lambda: len(announcements(bench)) >= count, timeout=30, what=f"{count} announcements"
    )


async def follow_site(app: App, seed: Seed, feed_url: str, *, archive: bool = False) -> int:
    """Subscribe the server's #news (embeds) to a feed and seed it with a first poll.

    With `archive`, every article page is archived too (what /summary and /related read).
    """
    now = app.clock.now()
    feed = await app.storage.add_feed(feed_url, now=now)
    await app.storage.add_subscription(
        NewSubscription(seed.guild_id, seed.news_id, feed.id, "embed"), now=now
    )
    outcome = await app.poller.poll_feed(feed.id)
    assert outcome.ok and outcome.seeded, outcome
    while archive and (await app.archiver.archive_pending()).total:
        pass
    return feed.id

"""Helpers shared by end-to-end scenarios: settings, a ready subscription, waits on posts."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import App, open_app
from bot.clock import FakeClock
from bot.config import load
from bot.models import NewSubscription, Rhythm
from cogs.client import PaperboyBot
from tests.bench.discord_standin import DiscordStandIn, Seed
from tests.bench.discord_standin.harness import running_client
from tests.bench.news_site import NewsSite
from tests.conftest import make_config
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


# -- a real bot process, for the crash tests ------------------------------------------------


def write_config(
    tmp_path: Path, standin: DiscordStandIn, database_url: str = "", *, announcements: str = ""
) -> Path:
    """A config pointing the bot at the stand-in, with fast polling and no pacing; its state in
    tmp_path's bot.db, or at `database_url` (PostgreSQL). `announcements`: more lines of that
    section."""
    path = tmp_path / "config.toml"
    path.write_text(
        "[bot]\n"
        f'api_base_url = "{standin.api_base_url}"\n'
        f'gateway_url = "{standin.gateway_url}"\n'
        "guild_ready_timeout_seconds = 0.05\n"
        "reidentify_delay_seconds = 0\n"
        f'[database]\npath = "{tmp_path / "bot.db"}"\nurl = "{database_url}"\n'
        "[fetch]\nallow_private_addresses = true\n"
        "[feeds]\nmin_interval_seconds = 1\ndefault_interval_seconds = 1\n"
        # Page archiving is not under test here; leaving it off keeps a shared machine calmer.
        "fetch_full_text = false\n"
        "[announcements]\nper_channel_interval_seconds = 0\nmax_age_days = 0\n"
        "backlog_count = 0\n" + announcements,
        encoding="utf-8",
    )
    return path


async def start_bot(tmp_path: Path, config_path: Path, token: str, run: int) -> Any:
    """`python -m bot run` as a child process; its log goes to a file (a pipe could fill up)."""
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
    env["DISCORD_TOKEN"] = token
    log_file = (tmp_path / f"run-{run:03d}.log").open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config_path),
            "run",
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=log_file,
        )
    finally:
        log_file.close()  # the child has its own copy of the descriptor


async def subscribe_following_changes(
    config_path: Path, site: NewsSite, world: Seed, on_change: str
) -> int:
    """#general follows the site (text format) and acts on articles that change (`on_change`),
    set up by an app of its own before the bot process starts."""
    app = await open_app(load(config_path))
    try:
        now = app.clock.now()
        feed = await app.storage.add_feed(site.feed_url, now=now)
        assert (await app.poller.poll_feed(feed.id)).seeded
        subscription = await app.storage.add_subscription(
            NewSubscription(world.guild_id, world.general_id, feed.id, "text"), now=now
        )
        assert subscription is not None
        await app.storage.set_rhythm(subscription.id, Rhythm(on_change=on_change))
        return subscription.id
    finally:
        await app.close()


# -- a bot run on a fake clock (delivery rhythm and reposts) ------------------------------------

MONDAY_MORNING = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    database_url: str,
    discord: DiscordStandIn,
    seed: Seed,
    site: NewsSite,
    clock: FakeClock,
) -> AsyncIterator[Bench]:
    """One run of the bot on the database in `tmp_path` or at `database_url` (again: a
    restart), on the fake clock."""
    config = make_config(
        tmp_path,
        database={"url": database_url},
        announcements={**FAST_HIGH_RATE, "max_new_per_poll": 100},
    )
    app = await open_app(config, clock=clock)
    try:
        bot = PaperboyBot(config, app=app)
        async with running_client(discord, bot):
            # As make_bench does: a feed added before the background poller's first round is
            # over may be polled (seeded) by that round rather than by the test's own poll.
            await asyncio.wait_for(bot.app.poller.first_round_done.wait(), 30)
            yield Bench(discord, seed, site, bot, config)
    finally:
        await app.close()


async def subscribe(bench: Bench, channel_id: int, fmt: str = "embed") -> tuple[int, int]:
    """A subscription of `channel_id` to the site's feed, read once (no backlog)."""
    now = bench.app.clock.now()
    feed = await bench.app.storage.add_feed(bench.site.feed_url, now=now)
    assert (await bench.app.poller.poll_feed(feed.id)).seeded
    subscription = await bench.app.storage.add_subscription(
        NewSubscription(bench.seed.guild_id, channel_id, feed.id, fmt),  # type: ignore[arg-type]
        now=now,
    )
    assert subscription is not None
    return feed.id, subscription.id


def posts_in(bench: Bench, channel_id: int) -> list[dict[str, Any]]:
    """The bot's embed announcements in a channel, oldest first."""
    return [m for m in bench.discord.messages_in(channel_id, include_threads=False) if m["embeds"]]

"""SIGKILL at random moments: a real bot process against the bench, killed and restarted.

The Discord stand-in and the news site live in this process, so what Discord "has" survives every
kill; the bot keeps its state in SQLite. After the last restart the text channel must hold exactly
one announcement per article published after the subscription began: no duplicate, none missing.

Default: 10 kills (about 30 s). `PAPERBOY_SOAK=1` runs at least 50. `PAPERBOY_CRASH_SEED=N`
replays a run; the seed is printed when the test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.config import load
from bot.models import NewSubscription
from bot.storage import Storage
from tests.bench.discord_standin import DiscordStandIn, Seed
from tests.bench.news_site import NewsSite
from tests.bench.news_site_articles import SampleArticle
from tests.conftest import storage_target
from tests.e2e.support import start_bot, write_config
from tests.markers import marker_of

SOAK = os.environ.get("PAPERBOY_SOAK") == "1"
KILLS = 50 if SOAK else 10
KILL_LOOP_BUDGET_SECONDS = 900.0 if SOAK else 35.0
"""The kill loop stops early (with fewer kills) rather than run past this; the test then fails
only if it managed fewer than half its kills, which means the machine is far too slow."""
MAX_KILL_DELAY_SECONDS = 1.5
FIRST_PUBLISHED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.timeout(1200 if SOAK else 110)


def crash_article(number: int) -> SampleArticle:
    """A short article written for this test; its slug makes its URL unique."""
    return SampleArticle(
        title=f"Dispatch {number} from the picket line",
        slug=f"dispatch-{number}-from-the-picket-line",
        author="Strike Desk",
        published=FIRST_PUBLISHED + timedelta(minutes=number),
        topic="unions",
        categories=("Unions",),
        standfirst=None,
        image=None,
        paragraphs=(
            f"Pickets held the gate for the {number}th morning running.",
            "Supporters brought tea, and the night shift stayed to cheer the day shift in.",
        ),
    )


async def subscribe_before_first_start(config_path: Path, site: NewsSite, world: Seed) -> int:
    """Add the feed, read it once (its items count as seen) and subscribe #general, in-process.

    The bot process is not running yet, so only this process has the database open.
    """
    app = await open_app(load(config_path))
    try:
        now = app.clock.now()
        feed = await app.storage.add_feed(site.feed_url, now=now)
        outcome = await app.poller.poll_feed(feed.id)
        assert outcome.ok and outcome.seeded, outcome
        subscription = await app.storage.add_subscription(
            NewSubscription(
                guild_id=world.guild_id,
                channel_id=world.general_id,
                feed_id=feed.id,
                format="text",
            ),
            now=now,
        )
        assert subscription is not None
        report = await app.delivery.seed_new_subscription(subscription.id)
        assert report.announced == 0  # backlog_count = 0: the site's old items are not announced
        return subscription.id
    finally:
        await app.close()


def announcements(standin: DiscordStandIn, channel_id: int) -> list[dict[str, Any]]:
    """The bot's marked announcements in the channel, oldest first."""
    return [m for m in standin.messages_in(channel_id, include_threads=False) if marker_of(m)]


def announced_urls(messages: list[dict[str, Any]], urls: set[str]) -> Counter[str]:
    """How often each published article's URL was announced."""
    counts: Counter[str] = Counter()
    for message in messages:
        content = message.get("content") or ""
        found = [url for url in urls if url in content]
        assert len(found) == 1, f"announcement names no single known article: {content!r}"
        counts[found[0]] += 1
    return counts


async def print_unsent_rows(path: str, subscription_id: int) -> None:
    """On failure, say which deliveries are not `sent` and why (a timeout alone says nothing)."""
    storage = await Storage.open(path, migrate=False)
    try:
        for row in await storage.subscription_outbox(subscription_id):
            if row.state not in ("sent", "skipped"):
                print(f"outbox row {row.id}: {row.state}, {row.attempts} attempts, {row.reason!r}")
    finally:
        await storage.close()


def article_numbers() -> Iterator[int]:
    number = 0
    while True:
        number += 1
        yield number


async def test_sigkill_during_polling_and_delivery_loses_and_repeats_nothing(
    tmp_path: Path, bench_database: str
) -> None:
    seed_value = int(os.environ.get("PAPERBOY_CRASH_SEED") or random.randrange(2**32))
    rng = random.Random(seed_value)  # kill moments and publishing, not security
    print(f"crash test seed: {seed_value} (replay with PAPERBOY_CRASH_SEED={seed_value})")
    loop = asyncio.get_running_loop()
    numbers = article_numbers()
    published: dict[str, str] = {}  # url -> title
    kills = 0
    process: Any = None
    async with DiscordStandIn() as standin, NewsSite(initially_published=3, feed_size=200) as site:
        world = standin.populate_default()
        channel_id = world.general_id
        config_path = write_config(
            tmp_path,
            standin,
            bench_database,
            announcements="max_new_per_poll = 100\nglobal_rate_per_second = 45\n",
        )
        database = storage_target(bench_database, tmp_path / "bot.db")
        subscription_id = await subscribe_before_first_start(config_path, site, world)

        def publish() -> None:
            item = site.publish(crash_article(next(numbers)), at=None)
            published[site.article_url(item)] = item.title

        def posts_seen() -> int:
            return len(standin.recorder.requests_to("POST", f"/channels/{channel_id}/messages"))

        try:
            deadline = loop.time() + KILL_LOOP_BUDGET_SECONDS
            while kills < KILLS and loop.time() < deadline:
                for _ in range(rng.randint(0, 3)):
                    publish()
                identified = standin.gateway.identify_count
                process = await start_bot(tmp_path, config_path, standin.token, kills)
                # Publishing while the bot runs lands in the middle of polls and deliveries.
                publish_later = loop.call_later(rng.uniform(0, 1.0), publish)
                if rng.random() < 0.35:
                    # Kill the moment Discord sees a post: between claim and `sent` at best.
                    before = posts_seen()
                    # Nothing to announce this time (a timeout): kill it anyway.
                    with contextlib.suppress(AssertionError):
                        await standin.wait_until(
                            lambda before=before: posts_seen() > before,
                            timeout=8,
                            what="an announcement post",
                        )
                else:
                    # Count the random delay from the bot's gateway login, so kills land while it
                    # polls and delivers rather than while Python imports modules.
                    with contextlib.suppress(AssertionError):
                        await standin.wait_until(
                            lambda identified=identified: (
                                standin.gateway.identify_count > identified
                            ),
                            timeout=15,
                            what="the bot's IDENTIFY",
                        )
                    # The random kill moment itself (the stimulus, not a synchronisation).
                    await asyncio.sleep(rng.uniform(0, MAX_KILL_DELAY_SECONDS))
                publish_later.cancel()
                process.send_signal(signal.SIGKILL)
                await process.wait()
                process = None
                kills += 1

            # Last run: publish once more, let it finish everything, then stop it cleanly.
            publish()
            process = await start_bot(tmp_path, config_path, standin.token, kills)
            await standin.wait_until(
                lambda: (
                    set(published)
                    <= set(announced_urls(announcements(standin, channel_id), set(published)))
                ),
                timeout=45,
                what=f"all {len(published)} articles announced",
            )
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 30) == 0
            process = None
        except BaseException:
            print(f"crash test failed after {kills} kills; seed {seed_value}; logs in {tmp_path}")
            await print_unsent_rows(database, subscription_id)
            raise
        finally:
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

        assert kills >= KILLS // 2, f"only {kills} kills fitted in the time budget"
        counts = announced_urls(announcements(standin, channel_id), set(published))
        duplicates = {url: n for url, n in counts.items() if n > 1}
        missing = set(published) - set(counts)
        assert not duplicates, f"seed {seed_value}: announced more than once: {duplicates}"
        assert not missing, f"seed {seed_value}: never announced: {missing}"
        assert len(announcements(standin, channel_id)) == len(published)

        storage = await Storage.open(database)
        try:
            rows = await storage.subscription_outbox(subscription_id)
        finally:
            await storage.close()
        new_rows = [row for row in rows if row.state != "skipped"]
        assert len(new_rows) == len(published)
        assert {row.state for row in new_rows} == {"sent"}
        sent_ids = {row.message_id for row in new_rows}
        assert sent_ids == {int(m["id"]) for m in announcements(standin, channel_id)}
        print(f"crash test: {kills} kills, {len(published)} articles, seed {seed_value}")

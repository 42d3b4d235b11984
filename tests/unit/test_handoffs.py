"""Hand-offs (migration 0017): what a process without Discord leaves for the bot processes.

The storage verbs on each engine, and the App's two ends: a worker's hooks write hand-offs, a bot
process's `take_handoffs` queues the notices for its own servers and gives the articles to the
alert senders. The whole path between real processes: tests/e2e/test_worker_handoffs.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.app import open_app
from bot.clock import FakeClock
from bot.delivery.notices import ModeratorNotice
from bot.delivery.worker import Outgoing, SentMessage
from bot.ingest.poller import NewArticlesEvent
from bot.services.admin import Change
from bot.services.alerts import AlertService
from bot.shards import parse_shards
from bot.storage import HANDOFF_RETENTION, Storage
from bot.tasks import run_hooks
from tests.builders import NOW
from tests.conftest import make_config

COUNT = 2


def guild_on(shard: int, salt: int) -> int:
    """A guild id Discord's rule puts on `shard` of COUNT."""
    return ((COUNT * (5000 + salt) + shard) << 22) | 7


async def test_notices_are_taken_once_oldest_first_by_their_servers_shard(
    storage: Storage,
) -> None:
    zero, one = guild_on(0, 1), guild_on(1, 2)
    await storage.hand_over_notices([(zero, "first"), (one, "for one"), (zero, "second")], now=NOW)
    assert await storage.take_handed_notices(shards=parse_shards("1", COUNT)) == [(one, "for one")]
    assert await storage.take_handed_notices(shards=parse_shards("1", COUNT)) == []
    taken = await storage.take_handed_notices(shards=parse_shards("0", COUNT), limit=1)
    assert taken == [(zero, "first")]
    assert await storage.take_handed_notices(shards=None) == [(zero, "second")]
    assert await storage.take_handed_notices(shards=None) == []


async def test_alert_handoffs_are_taken_once_oldest_first(storage: Storage) -> None:
    await storage.hand_over_alerts(3, [30, 31], now=NOW)
    await storage.hand_over_alerts(4, [], now=NOW)  # nothing new: nothing written
    await storage.hand_over_alerts(5, [50], now=NOW)
    assert await storage.take_handed_alerts(limit=1) == [(3, (30, 31))]
    assert await storage.take_handed_alerts() == [(5, (50,))]
    assert await storage.take_handed_alerts() == []


async def test_has_alerts(storage: Storage) -> None:
    assert not await storage.has_alerts()
    await AlertService(storage, FakeClock(NOW)).add(11, guild_on(0, 3), "tenants")
    assert await storage.has_alerts()


class _NoSender:
    async def send(self, outgoing: Outgoing) -> SentMessage:
        raise AssertionError("nothing is announced here")

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        return None


class _NoModerators:
    async def tell_moderators(self, guild_id: int, text: str) -> None:
        raise AssertionError("the test takes the notices itself")


class _NoChangeLog:
    async def post_change(self, change: Change) -> None:
        return None


async def test_a_worker_hands_over_and_a_bot_process_takes_its_own_share(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    worker = await open_app(config)
    bot = await open_app(config)
    try:
        zero, one = guild_on(0, 4), guild_on(1, 5)
        worker.hand_over_to_bot_processes()
        written = NewArticlesEvent(7, (70, 71), seeded=False)
        # Nobody has an alert yet: nothing is handed over; nor for a feed's first (seeding) poll.
        await run_hooks(worker.poller.on_new_articles, written, what="test")
        await AlertService(worker.storage, worker.clock).add(11, zero, "tenants")
        await run_hooks(
            worker.poller.on_new_articles, NewArticlesEvent(8, (80,), seeded=True), what="test"
        )
        await run_hooks(worker.poller.on_new_articles, written, what="test")
        await worker.storage.hand_over_notices([(zero, "to zero"), (one, "to one")], now=NOW)

        bot.attach_discord(
            sender=_NoSender(),
            notifier=_NoModerators(),
            change_log=_NoChangeLog(),
            shards=parse_shards("0", COUNT),
        )
        heard: list[NewArticlesEvent] = []

        async def alert_sender(event: NewArticlesEvent) -> None:
            heard.append(event)

        bot.on_handed_articles.append(alert_sender)
        await bot.take_handoffs()
        assert heard == [written]
        assert bot.delivery.take_notices() == [ModeratorNotice(zero, "to zero")]
        # Shard 1's notice waits for shard 1's process; nothing is taken twice.
        await bot.take_handoffs()
        assert heard == [written]
        assert bot.delivery.take_notices() == []
        assert await bot.storage.take_handed_notices(shards=None) == [(one, "to one")]
    finally:
        await bot.close()
        await worker.close()


async def test_a_stopping_worker_hands_over_the_notices_still_waiting(tmp_path: Path) -> None:
    config = make_config(tmp_path, scale={"check_seconds": 300.0})
    guild = guild_on(1, 6)
    worker = await open_app(config)
    try:
        worker.hand_over_to_bot_processes()
        worker.delivery.queue_notices([ModeratorNotice(guild, "held back at the stop")])
    finally:
        await worker.close()
    storage = await Storage.open(config.database.target())
    try:
        assert await storage.take_handed_notices(shards=None) == [(guild, "held back at the stop")]
    finally:
        await storage.close()


async def test_hand_offs_nobody_took_within_a_day_are_dropped_by_the_next_one(
    storage: Storage,
) -> None:
    zero = guild_on(0, 7)
    assert await storage.hand_over_notices([(zero, "old")], now=NOW) == 0
    assert await storage.hand_over_alerts(1, [10], now=NOW) == 0
    later = NOW + HANDOFF_RETENTION - timedelta(seconds=1)
    assert await storage.hand_over_notices([(zero, "newer")], now=later) == 0  # kept: a day
    assert await storage.hand_over_alerts(2, [20], now=later) == 0
    much_later = NOW + HANDOFF_RETENTION + timedelta(seconds=1)
    assert await storage.hand_over_notices([(zero, "newest")], now=much_later) == 1
    assert await storage.hand_over_alerts(3, [30], now=much_later) == 1
    assert await storage.take_handed_notices(shards=None) == [(zero, "newer"), (zero, "newest")]
    assert await storage.take_handed_alerts() == [(2, (20,)), (3, (30,))]

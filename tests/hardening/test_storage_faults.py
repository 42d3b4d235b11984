"""Disk full and a locked database: nothing is sent without a durable claim, and Paperboy
recovers by itself once space (or the lock) comes back.

A full disk is simulated with `PRAGMA max_page_count` (the database may not grow); a lock is a
second connection holding a write transaction, as a backup tool or a second process might.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from bot.clock import FakeClock
from bot.delivery.worker import DeliveryWorker, Outgoing, SentMessage
from bot.fetch import Fetcher, make_session
from bot.ingest.poller import Poller
from bot.models import NewSubscription
from bot.storage import Storage
from tests.conftest import make_config
from tests.delivery_drain import drain_once
from tests.hardening.support import NOW, web_server

GUILD, CHANNEL = 900, 901
BUSY_MS = 50


def feed_of(count: int) -> bytes:
    items = "".join(
        f"<item><title>Story {n} {'words ' * 40}</title><link>https://p.example/{n}/</link>"
        f"<guid>g{n}</guid><pubDate>Sat, 14 Mar 2026 11:{n % 60:02d}:00 GMT</pubDate>"
        f"<description>{'A longer excerpt that takes up room. ' * 30}</description></item>"
        for n in range(count, 0, -1)
    )
    return f"<rss version='2.0'><channel><title>Full</title>{items}</channel></rss>".encode()


@dataclass
class RecordingSender:
    """A hand-written Sender: keeps posts, and checks each one's claim is durable when it goes.

    The check reads the row through a separate connection, so only committed state counts.
    """

    db_path: str
    posts: list[Outgoing] = field(default_factory=list)
    undurable: list[int] = field(default_factory=list)
    hold_lock_on_send: sqlite3.Connection | None = None

    async def send(self, outgoing: Outgoing) -> SentMessage:
        reader = sqlite3.connect(self.db_path)
        try:
            state = reader.execute(
                "SELECT state FROM outbox WHERE id = ?", (outgoing.outbox_id,)
            ).fetchone()
        finally:
            reader.close()
        if state is None or state[0] != "claimed":
            self.undurable.append(outgoing.outbox_id)
        self.posts.append(outgoing)
        if self.hold_lock_on_send is not None:
            self.hold_lock_on_send.execute("BEGIN IMMEDIATE")  # the lock lands mid-delivery
        return SentMessage(10_000 + len(self.posts))

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        for index, posted in enumerate(self.posts):
            if posted.plan.marker == outgoing.plan.marker:
                return SentMessage(10_001 + index)
        return None


class SilentNotifier:
    async def tell_moderators(self, guild_id: int, text: str) -> None:
        return None


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Storage]:
    storage = await Storage.open(tmp_path / "hard.db", busy_timeout_ms=BUSY_MS)
    try:
        yield storage
    finally:
        await storage.close()


async def set_max_pages(storage: Storage, pages: int) -> None:
    # A setting of the write connection (reads outside a transaction use another connection).
    async with storage.transaction() as conn:
        await conn.execute(f"PRAGMA max_page_count = {int(pages)}")


async def test_a_full_disk_fails_the_poll_whole_and_the_next_poll_recovers(
    db: Storage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, announcements={"max_age_days": 3650.0})
    clock = FakeClock(NOW)
    bodies = [feed_of(3)]

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=bodies[-1], content_type="application/rss+xml")

    async with web_server({"/feed": serve}) as base, make_session(config.fetch, "t") as s:
        poller = Poller(db, Fetcher(s, config.fetch), config, clock, rng=random.Random(2))
        feed = await db.add_feed(f"{base}/feed", now=NOW)
        added = await db.add_subscription(
            NewSubscription(guild_id=GUILD, channel_id=CHANNEL, feed_id=feed.id, format="embed"),
            now=NOW,
        )
        assert added is not None
        assert (await poller.poll_feed(feed.id)).ok  # the first poll seeds

        bodies.append(feed_of(60))  # 57 new, long items: the archive must grow
        await set_max_pages(db, int(await db.scalar("PRAGMA page_count")))
        failed = await poller.poll_feed(feed.id)
        assert not failed.ok and failed.error_kind == "internal"
        assert failed.error_message and "Traceback" not in failed.error_message
        assert "database or disk is full" in caplog.text  # the operator's log names the cause
        # Nothing half-written: the poll's unit of work was rolled back as a whole.
        assert await db.scalar("SELECT count(*) FROM articles") == 3
        assert await db.scalar("SELECT count(*) FROM outbox") == 0

        await set_max_pages(db, 1_000_000)  # space is back
        outcome = await poller.poll_feed(feed.id)
    assert outcome.ok and len(outcome.new_articles) == 57
    assert await db.scalar("SELECT count(*) FROM articles") == 60
    assert await db.scalar("SELECT count(*) FROM outbox") == 57


async def pending_rows(db: Storage, tmp_path: Path, count: int) -> None:
    """`count` pending deliveries, made the way a poll makes them."""
    config = make_config(tmp_path, announcements={"max_age_days": 3650.0, "max_new_per_poll": 50})
    bodies = [feed_of(1), feed_of(count + 1)]

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=bodies.pop(0), content_type="application/rss+xml")

    async with web_server({"/feed": serve}) as base, make_session(config.fetch, "t") as s:
        poller = Poller(db, Fetcher(s, config.fetch), config, FakeClock(NOW))
        feed = await db.add_feed(f"{base}/feed", now=NOW)
        new = NewSubscription(guild_id=GUILD, channel_id=CHANNEL, feed_id=feed.id, format="text")
        assert await db.add_subscription(new, now=NOW) is not None
        await poller.poll_feed(feed.id)
        await poller.poll_feed(feed.id)
    assert await db.scalar("SELECT count(*) FROM outbox WHERE state = 'pending'") == count


async def test_a_locked_database_sends_nothing_until_the_claim_can_be_written(
    db: Storage, tmp_path: Path
) -> None:
    await pending_rows(db, tmp_path, 3)
    config = make_config(tmp_path, announcements={"per_channel_interval_seconds": 0.0})
    sender = RecordingSender(db.path)
    clock = FakeClock(NOW)
    worker = DeliveryWorker(db, sender, SilentNotifier(), config, clock)
    other = sqlite3.connect(db.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await drain_once(worker)
        assert sender.posts == []  # no claim, no post
        other.execute("ROLLBACK")
        for _ in range(5):
            await drain_once(worker)
    finally:
        other.close()
    assert len(sender.posts) == 3 and sender.undurable == []
    assert await db.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'") == 3


async def test_a_lock_after_the_post_is_settled_without_a_duplicate_or_a_restart(
    db: Storage, tmp_path: Path
) -> None:
    await pending_rows(db, tmp_path, 2)
    config = make_config(tmp_path, announcements={"per_channel_interval_seconds": 0.0})
    other = sqlite3.connect(db.path, isolation_level=None)
    sender = RecordingSender(db.path, hold_lock_on_send=other)
    worker = DeliveryWorker(db, sender, SilentNotifier(), config, FakeClock(NOW))
    try:
        await worker.reconcile()  # what run() does first
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await drain_once(worker)  # posted, but "sent" could not be written
        sender.hold_lock_on_send = None
        other.execute("ROLLBACK")
        # The same worker, no restart: what run() does on its following rounds.
        for _ in range(5):
            if worker._needs_reconcile:
                await worker.reconcile()
            await drain_once(worker)
    finally:
        other.close()
    markers = [posted.plan.marker for posted in sender.posts]
    assert len(markers) == len(set(markers)), "an announcement was posted twice"
    assert await db.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'") == 2


async def test_a_lock_after_the_post_is_settled_without_a_duplicate_after_a_restart(
    db: Storage, tmp_path: Path
) -> None:
    await pending_rows(db, tmp_path, 2)
    config = make_config(tmp_path, announcements={"per_channel_interval_seconds": 0.0})
    other = sqlite3.connect(db.path, isolation_level=None)
    sender = RecordingSender(db.path, hold_lock_on_send=other)
    first = DeliveryWorker(db, sender, SilentNotifier(), config, FakeClock(NOW))
    try:
        await first.reconcile()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await drain_once(first)
        sender.hold_lock_on_send = None
        other.execute("ROLLBACK")
    finally:
        other.close()
    # A restart: a fresh worker reconciles the claimed row against what the channel holds.
    second = DeliveryWorker(db, sender, SilentNotifier(), config, FakeClock(NOW))
    assert await second.reconcile() == 1
    for _ in range(5):
        await drain_once(second)
    markers = [posted.plan.marker for posted in sender.posts]
    assert len(markers) == 2 == len(set(markers))
    assert sender.undurable == []
    assert await db.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'") == 2

"""Sharded delivery on one SQLite file: each process claims only its own servers' rows, so every
row goes out once, by the process serving its server, and each channel's rows stay in order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from bot.announce.render import AnnouncementArticle, SubscriptionView, render_plan
from bot.app import open_app
from bot.clock import FakeClock
from bot.config import Config
from bot.delivery.worker import DeliveryWorker, Outgoing, SentMessage
from bot.models import Subscription
from bot.services.admin import Change
from bot.shards import ShardSet, parse_shards, shard_of
from bot.storage import NewArticle, NewEntry, OutboxRow, Storage
from tests.builders import NOW, subscribe
from tests.conftest import make_config
from tests.delivery_drain import drain_once

COUNT = 2


def guild_on(shard: int, salt: int) -> int:
    return ((COUNT * (5000 + salt) + shard) << 22) | 7


@dataclass
class Posts:
    """Every post of every process, in the order Discord received them."""

    made: list[tuple[str, Outgoing]] = field(default_factory=list)


@dataclass
class ProcessSender:
    """One process's sender: posts into the shared record under its own name."""

    name: str
    posts: Posts

    async def send(self, outgoing: Outgoing) -> SentMessage:
        self.posts.made.append((self.name, outgoing))
        await asyncio.sleep(0)  # let the other process's round interleave with this one
        return SentMessage(len(self.posts.made))

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        for index, (_, posted) in enumerate(self.posts.made, start=1):
            if posted.outbox_id == outgoing.outbox_id:
                return SentMessage(index)
        return None


class NoModerators:
    async def tell_moderators(self, guild_id: int, text: str) -> None:
        raise AssertionError(f"nothing should be told here: {text}")


async def publish(storage: Storage, feed_id: int, count: int, subs: list[Subscription]) -> None:
    """`count` articles with a pending row per subscription, committed as one poll does."""
    async with storage.poll_transaction(feed_id, now=NOW) as tx:
        articles = [
            NewArticle(
                canonical_url=f"https://paper.example/{feed_id}/{n}/",
                url=f"https://paper.example/{feed_id}/{n}/",
                title=f"Feed {feed_id} item {n}",
                published=NOW,
            )
            for n in range(count)
        ]
        ids = await tx.upsert_articles(articles)
        await tx.insert_entries([NewEntry(f"k{i}", i, NOW) for i in ids])
        for sub in subs:
            rows = [OutboxRow(sub.id, i, sub.channel_id, "pending") for i in ids]
            for row, outbox_id in await tx.add_outbox(rows):
                plan = render_plan(
                    AnnouncementArticle(id=row.article_id, title="t", url="https://p.example/"),
                    SubscriptionView(id=sub.id),
                    outbox_id=outbox_id,
                )
                await tx.set_outbox_payload(outbox_id, plan.to_json())
        await tx.finish_success(etag=None, last_modified=None, next_check_at=NOW)


def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, announcements={"per_channel_interval_seconds": 0})


async def world(storage: Storage) -> dict[int, int]:
    """Four servers (two per shard), one with two feeds in one channel; channel -> guild."""
    first = await storage.add_feed("https://paper.example/a/", now=NOW, title="A")
    second = await storage.add_feed("https://paper.example/b/", now=NOW, title="B")
    channel_guild: dict[int, int] = {}
    subs_a: list[Subscription] = []
    subs_b: list[Subscription] = []
    for shard, salt, channel in ((0, 1, 11), (0, 2, 12), (1, 3, 13), (1, 4, 14)):
        guild = guild_on(shard, salt)
        channel_guild[channel] = guild
        subs_a.append(await subscribe(storage, first.id, channel, guild_id=guild))
        if channel in (11, 13):  # two queues feeding one channel
            subs_b.append(await subscribe(storage, second.id, channel, guild_id=guild))
    await publish(storage, first.id, 6, subs_a)
    await publish(storage, second.id, 4, subs_b)
    return channel_guild


async def test_two_processes_deliver_only_their_shards_once_each_in_order(
    tmp_path: Path, database_target: str
) -> None:
    cfg = config(tmp_path)
    clock = FakeClock(NOW)
    posts = Posts()
    one, two = await Storage.open(database_target), await Storage.open(database_target)
    try:
        channel_guild = await world(one)
        shard_sets = {"p0": parse_shards("0", COUNT), "p1": parse_shards("1", COUNT)}
        workers = {
            name: DeliveryWorker(
                db, ProcessSender(name, posts), NoModerators(), cfg, clock, shards=shard_sets[name]
            )
            for name, db in (("p0", one), ("p1", two))
        }
        for _ in range(50):
            reports = await asyncio.gather(*(drain_once(w) for w in workers.values()))
            if all(r.sent == 0 for r in reports):
                break
        open_rows = await one.fetch_all("SELECT id FROM outbox WHERE state != 'sent'")
        assert open_rows == []
        # Once each.
        ids = [outgoing.outbox_id for _, outgoing in posts.made]
        assert len(ids) == len(set(ids)) == 4 * 6 + 2 * 4
        # By the process serving the server, and in order within each channel.
        for channel, guild in channel_guild.items():
            in_channel = [(n, o) for n, o in posts.made if o.channel_id == channel]
            expected = f"p{shard_of(guild, COUNT)}"
            assert {name for name, _ in in_channel} == {expected}
            assert all(o.guild_id == guild for _, o in in_channel)
            by_subscription: dict[str, list[int]] = {}
            for _, outgoing in in_channel:
                by_subscription.setdefault(outgoing.plan.marker, []).append(outgoing.outbox_id)
            for queue in by_subscription.values():
                assert queue == sorted(queue)
    finally:
        await one.close()
        await two.close()


async def test_claim_queries_see_only_their_shards(database_target: str) -> None:
    storage = await Storage.open(database_target)
    try:
        channel_guild = await world(storage)
        everything = await storage.next_deliveries()
        assert {d.channel_id for d in everything} == set(channel_guild)
        for shard in range(COUNT):
            mine = ShardSet(frozenset({shard}), COUNT)
            heads = await storage.next_deliveries(shards=mine)
            assert heads and {shard_of(d.guild_id, COUNT) for d in heads} == {shard}
        both = await storage.next_deliveries(shards=parse_shards("0-1", COUNT))
        assert [d.id for d in both] == [d.id for d in everything]
    finally:
        await storage.close()


async def test_reconciling_leaves_another_process_claims_alone(
    tmp_path: Path, database_target: str
) -> None:
    """A process starting up must not release a row another process is sending right now."""
    cfg = config(tmp_path)
    clock = FakeClock(NOW)
    storage = await Storage.open(database_target)
    try:
        await world(storage)
        heads = await storage.next_deliveries()
        theirs = next(d for d in heads if shard_of(d.guild_id, COUNT) == 1)
        assert await storage.claim_delivery(theirs.id, now=NOW)  # p1 is sending it
        posts = Posts()
        p0 = DeliveryWorker(
            storage,
            ProcessSender("p0", posts),
            NoModerators(),
            cfg,
            clock,
            shards=parse_shards("0", COUNT),
        )
        assert await p0.reconcile() == 0
        record = await storage.outbox_record(theirs.id)
        assert record is not None and record.state == "claimed"
        p1 = DeliveryWorker(
            storage,
            ProcessSender("p1", posts),
            NoModerators(),
            cfg,
            clock,
            shards=parse_shards("1", COUNT),
        )
        assert await p1.reconcile() == 1  # its own claim, not found in the channel: pending
        record = await storage.outbox_record(theirs.id)
        assert record is not None and record.state == "pending"
    finally:
        await storage.close()


class NoChangeLog:
    async def post_change(self, change: Change) -> None:
        """Nothing changes in this test."""


async def test_each_bot_process_sends_its_share_of_the_global_budget(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, scale={"bot_processes": 3}, announcements={})
    app = await open_app(cfg, clock=FakeClock(NOW))
    try:
        app.attach_discord(
            sender=ProcessSender("p", Posts()),
            notifier=NoModerators(),
            change_log=NoChangeLog(),
            shards=parse_shards("0", 3),
        )
        assert app.worker.settings.global_rate_per_second == 15.0  # 45 / 3
        assert app.worker.shards == parse_shards("0", 3)
        assert cfg.announcements.global_rate_per_second == 45.0  # the config itself unchanged
    finally:
        await app.close()

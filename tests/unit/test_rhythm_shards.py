"""Edits, publishes and digests are sharded like posts: each process sees only the rows of the
servers it serves, so none is done twice by two processes sharing one database."""

from __future__ import annotations

from pathlib import Path

from bot.models import Rhythm
from bot.shards import ShardSet, shard_of
from bot.storage import ChangedPost, NewArticle, NewEntry, OutboxRow, Storage
from tests.builders import NOW, subscribe

COUNT = 2


def guild_on(shard: int) -> int:
    """A server id Discord deals to `shard` of COUNT."""
    return ((COUNT * 7000 + shard) << 22) | 3


async def test_rhythm_queries_see_only_their_shards(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "shards.db")
    try:
        feed = await storage.add_feed("https://paper.example/feed/", now=NOW, title="Paper")
        async with storage.poll_transaction(feed.id, now=NOW) as tx:
            [article] = await tx.upsert_articles(
                [NewArticle("https://paper.example/1/", "https://paper.example/1/", "One")]
            )
            await tx.insert_entries([NewEntry("k1", article, NOW)])
        for shard in range(COUNT):
            guild = guild_on(shard)
            sub = await subscribe(storage, feed.id, 100 + shard, guild_id=guild)
            await storage.set_rhythm(
                sub.id, Rhythm(on_change="edit", digest="daily", digest_time="08:00")
            )
            async with storage.poll_transaction(feed.id, now=NOW) as tx:
                [(_, outbox_id)] = await tx.add_outbox(
                    [OutboxRow(sub.id, article, sub.channel_id, "pending")]
                )
            await storage.mark_sent(
                outbox_id, message_id=900 + shard, thread_id=None, now=NOW, publish=True
            )
            post = ChangedPost(
                outbox_id, sub.id, guild, sub.channel_id, 900 + shard, "embed", "sent"
            )
            assert await storage.record_version(article, f"v{shard}", [(post, "{}")], now=NOW) == 1
            await storage.form_digest(sub.id, NOW, [("{}", [])], now=NOW)
            assert await storage.claim_edit((await storage.next_edits())[-1].id, now=NOW)
        for shard in range(COUNT):
            mine = ShardSet(frozenset({shard}), COUNT)
            found = [
                *(p.guild_id for p in await storage.open_publishes(shards=mine)),
                *(e.guild_id for e in await storage.claimed_edits(shards=mine)),
                *(p.guild_id for p in await storage.open_digest_pages(shards=mine)),
                *(p.guild_id for p in await storage.claimed_digest_pages(shards=mine)),
            ]
            assert len(found) == 3  # a publish, a claimed edit, an open digest page
            assert {shard_of(guild, COUNT) for guild in found} == {shard}
            rhythms = await storage.digest_rhythms(shards=mine)
            assert len(rhythms) == 1
        assert len(await storage.open_publishes()) == COUNT
        assert len(await storage.digest_rhythms()) == COUNT
    finally:
        await storage.close()

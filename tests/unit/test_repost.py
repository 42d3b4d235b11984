"""Subscriptions set to `repost`: the decision (pure) and the outbox rows it makes (real SQLite).

A changed article already posted gets one new announcement per version never announced in the
subscription, titled "Updated: ..."; one still waiting is re-rendered instead (as `edit` does).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from bot.announce.changes import ItemsSeen, as_update, content_hash, repost_action
from bot.announce.render import AnnouncementArticle
from bot.clock import FakeClock, to_iso
from bot.delivery.changes import ChangeTracker
from bot.models import Rhythm
from bot.services.diagnose import rhythm_lines
from bot.storage import Database, NewArticle, NewEntry, OutboxRow, RhythmFacts, Storage
from tests.builders import NOW, subscribe

URL = "https://paper.example/1/"


def test_a_posted_article_is_reposted_once_per_version_never_announced() -> None:
    sent = [("sent", "")]
    assert repost_action(sent, "b", first_hash="a") == "repost"
    assert repost_action([*sent, ("sent", "b")], "b", first_hash="a") == "nothing"
    # Back to the version the first announcement showed: nothing new to show.
    assert repost_action([*sent, ("sent", "b")], "a", first_hash="a") == "nothing"
    assert repost_action([*sent, ("sent", "b")], "c", first_hash="a") == "repost"


def test_waiting_and_in_flight_announcements_and_none_at_all() -> None:
    assert repost_action([("pending", "")], "b", first_hash="a") == "replace"
    assert repost_action([("sent", ""), ("pending", "b")], "c", first_hash="a") == "replace"
    assert repost_action([("claimed", "")], "b", first_hash="a") == "wait"
    assert repost_action([("sent", ""), ("claimed", "b")], "c", first_hash="a") == "wait"
    assert repost_action([], "b", first_hash="a") == "nothing"  # skipped or failed: not posted


def test_a_repost_says_it_is_an_update_once() -> None:
    article = AnnouncementArticle(id=1, title="Strike ends", url=URL)
    assert as_update(article).title == "Updated: Strike ends"
    assert as_update(as_update(article)).title == "Updated: Strike ends"


class Woken:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def test_the_tracker_queues_one_repost_per_new_version(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "repost.db")
    try:
        feed = await storage.add_feed("https://paper.example/feed/", now=NOW, title="Paper")
        async with storage.poll_transaction(feed.id, now=NOW) as tx:
            [article_id] = await tx.upsert_articles([NewArticle(URL, URL, "Strike ends")])
            await tx.insert_entries([NewEntry("k1", article_id, NOW)])
        reposting = await subscribe(storage, feed.id, 100)
        editing = await subscribe(storage, feed.id, 200)
        ignoring = await subscribe(storage, feed.id, 300)
        await storage.set_rhythm(reposting.id, Rhythm(on_change="repost"))
        await storage.set_rhythm(editing.id, Rhythm(on_change="edit"))
        outbox: dict[int, int] = {}
        for sub in (reposting, editing, ignoring):
            async with storage.poll_transaction(feed.id, now=NOW) as tx:
                [(_, outbox[sub.id])] = await tx.add_outbox(
                    [OutboxRow(sub.id, article_id, sub.channel_id, "pending")]
                )
            await storage.mark_sent(
                outbox[sub.id], message_id=900 + sub.id, thread_id=None, now=NOW
            )
        woken = Woken()
        tracker = ChangeTracker(storage, FakeClock(NOW), wake=woken)
        first = AnnouncementArticle(id=article_id, title="Strike ends", url=URL)
        second = AnnouncementArticle(id=article_id, title="Strike ends at dawn", url=URL)
        assert await tracker.on_items_seen(ItemsSeen(feed.id, (first,))) == 0  # the baseline

        # One edit (the `edit` subscription) and one repost; the same version again: nothing.
        assert await tracker.on_items_seen(ItemsSeen(feed.id, (second,))) == 2
        assert await tracker.on_items_seen(ItemsSeen(feed.id, (second,))) == 0
        rows = await storage.subscription_outbox(reposting.id)
        assert [row.state for row in rows] == ["sent", "pending"]
        repost = await storage.outbox_record(rows[1].id)
        assert repost is not None and repost.channel_id == reposting.channel_id
        assert len(await storage.subscription_outbox(editing.id)) == 1
        assert len(await storage.subscription_outbox(ignoring.id)) == 1
        assert len(await storage.next_edits()) == 1
        assert woken.count == 1

        # While the repost waits, a newer version replaces its message, nothing else is queued.
        third = AnnouncementArticle(id=article_id, title="Strike over", url=URL)
        assert await tracker.on_items_seen(ItemsSeen(feed.id, (third,))) == 1  # the edit only
        rows = await storage.subscription_outbox(reposting.id)
        assert len(rows) == 2
        payload = await storage.fetch_one("SELECT payload FROM outbox WHERE id = ?", (rows[1].id,))
        assert payload is not None
        assert "Updated: Strike over" in json.dumps(json.loads(payload["payload"]))

        # Once sent, a revert to the first version posts nothing; a new version posts again.
        await storage.mark_sent(rows[1].id, message_id=5000, thread_id=None, now=NOW)
        assert await tracker.on_items_seen(ItemsSeen(feed.id, (first,))) == 1  # the edit only
        assert len(await storage.subscription_outbox(reposting.id)) == 2
        # (the repost of `second` was re-rendered to `third` while it waited: both count as
        # announced, as the edit of `second` counts as done for the `edit` subscription.)
        fourth = AnnouncementArticle(id=article_id, title="Strike over, pay rises", url=URL)
        assert await tracker.on_items_seen(ItemsSeen(feed.id, (fourth,))) == 2
        rows = await storage.subscription_outbox(reposting.id)
        assert [row.state for row in rows] == ["sent", "sent", "pending"]
        assert await storage.first_hash(article_id) == content_hash(first)
    finally:
        await storage.close()


async def test_migration_keeps_the_outbox_and_rhythms_and_allows_one_row_per_version(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "old.db", migrate=False)
    try:
        await db.migrate(target=14)
        stamp = to_iso(NOW)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO feeds (id, url, next_check_at, created_at) "
                "VALUES (1, 'https://a.example/feed', ?, ?)",
                (stamp, stamp),
            )
            await conn.execute(
                "INSERT INTO articles (id, canonical_url, url, first_seen_at) "
                "VALUES (5, 'https://a.example/5', 'https://a.example/5', ?)",
                (stamp,),
            )
            await conn.execute(
                "INSERT INTO subscriptions (id, guild_id, channel_id, feed_id, format, "
                "created_at) VALUES (1, 1, 11, 1, 'text', ?)",
                (stamp,),
            )
            await conn.execute(
                "INSERT INTO subscription_rhythm (subscription_id, on_change, daily_cap) "
                "VALUES (1, 'edit', 4)"
            )
            await conn.execute(
                "INSERT INTO outbox (id, subscription_id, article_id, channel_id, state, "
                "message_id, not_before, created_at) VALUES (7, 1, 5, 11, 'sent', 900, ?, ?)",
                (stamp, stamp),
            )
            await conn.execute(
                "INSERT INTO outbox_edits (outbox_id, content_hash, payload, not_before, "
                "created_at) VALUES (7, 'h2', '{}', ?, ?)",
                (stamp, stamp),
            )
            await conn.execute(
                "INSERT INTO article_versions (article_id, content_hash) VALUES (5, 'h2')"
            )
        await db.migrate()
        row = await db.fetch_one("SELECT version, message_id FROM outbox WHERE id = 7")
        assert row is not None and (row["version"], row["message_id"]) == ("", 900)
        assert await db.scalar("SELECT outbox_id FROM outbox_edits") == 7
        assert await db.scalar("SELECT first_hash FROM article_versions") == "h2"
        assert await db.scalar("SELECT daily_cap FROM subscription_rhythm") == 4
        insert = (
            "INSERT INTO outbox (subscription_id, article_id, channel_id, state, not_before, "
            "created_at, version) VALUES (1, 5, 11, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        async with db.transaction() as conn:
            await conn.execute("UPDATE subscription_rhythm SET on_change = 'repost'")
            added = await conn.execute(insert, (stamp, stamp, "h3"))
            assert added.rowcount == 1
            again = await conn.execute(insert, (stamp, stamp, "h3"))
            assert again.rowcount == 0  # one row per version
            first = await conn.execute(insert, (stamp, stamp, ""))
            assert first.rowcount == 0  # the first announcement is still once
        # The guild's archive view still follows sends: the outbox's triggers were made again.
        triggers = await db.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'outbox'"
        )
        assert {t["name"] for t in triggers} == {
            "guild_articles_on_insert",
            "guild_articles_on_sent",
        }
    finally:
        await db.close()


def test_feeds_why_tells_reposts_made_and_waiting() -> None:
    facts = RhythmFacts(
        outbox_id=7,
        publish_state=None,
        publish_reason="",
        edits_sent=0,
        edits_open=0,
        last_edit_at=None,
        reposts_sent=2,
        reposts_open=1,
        last_repost_message_id=900,
    )
    lines = rhythm_lines(facts, "first-link", lambda moment: "then", repost_link="latest-link")
    assert lines == [
        "Reposted 2 times since, as a new announcement of each new version (latest): latest-link",
        "The article changed; its new version is waiting to be reposted.",
    ]
    assert rhythm_lines(replace(facts, reposts_sent=0, reposts_open=0), "x", str) == []

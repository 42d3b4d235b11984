"""FeedStore verbs on a real SQLite file: uniqueness by constraint, rollback, archive updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import to_iso
from bot.errors import NotFound
from bot.models import WHOLE_ARCHIVE
from bot.storage import NewArticle, NewEntry, NotModifiedCheck, OutboxRow, Storage
from tests.builders import subscribe

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def article(n: int, **extra: object) -> NewArticle:
    url = f"https://paper.example/story-{n}/"
    fields: dict[str, object] = {"title": f"Story {n}", **extra}
    return NewArticle(canonical_url=url, url=url, **fields)  # type: ignore[arg-type]


async def test_add_feed_is_idempotent_and_due_at_once(storage: Storage) -> None:
    first = await storage.add_feed("https://paper.example/feed/", now=NOW, title="Paper")
    again = await storage.add_feed("https://paper.example/feed/", now=NOW + timedelta(hours=1))
    assert first == again
    assert await storage.due_feed_ids(NOW) == [first.id]
    assert await storage.next_check_at() == NOW


async def test_next_claimable_at_counts_another_holders_due_feeds_from_their_expiry(
    storage: Storage,
) -> None:
    assert await storage.next_claimable_at(NOW, holder="b") is None
    held = await storage.add_feed("https://paper.example/feed/", now=NOW)
    await storage.add_feed("https://other.example/feed/", now=NOW + timedelta(minutes=30))
    expires = NOW + timedelta(minutes=5)
    [claimed] = await storage.claim_due_feeds(NOW, holder="a", expires_at=expires, limit=10)
    assert claimed.id == held.id
    assert await storage.next_claimable_at(NOW, holder="b") == expires
    assert await storage.next_claimable_at(NOW, holder="a") == NOW  # its own claim: due
    after = NOW + timedelta(minutes=6)  # the claim expired: due for anyone
    assert await storage.next_claimable_at(after, holder="b") == NOW
    await storage.release_claims([held.id], holder="a")
    assert await storage.next_claimable_at(NOW, holder="b") == NOW
    # As a poll of it leaves it: next check in an hour.
    await storage.execute(
        "UPDATE feeds SET next_check_at = ? WHERE id = ?",
        (to_iso(NOW + timedelta(hours=1)), held.id),
    )
    assert await storage.next_claimable_at(NOW, holder="b") == NOW + timedelta(minutes=30)


async def test_articles_past_a_polls_page_budget_are_archived_without_their_pages(
    storage: Storage,
) -> None:
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        ids = await tx.upsert_articles([article(1), article(2), article(3)])
        await tx.skip_pages(ids[:2])
    pending = {a.id: a.fetch_page for a in await storage.articles_pending_text(10)}
    assert pending == {ids[0]: False, ids[1]: False, ids[2]: True}


async def test_articles_are_unique_by_canonical_url_and_only_new_rows_are_reported(
    storage: Storage,
) -> None:
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        ids = await tx.upsert_articles([article(1), article(2), article(1, title="Copy")])
        assert ids[0] == ids[2] != ids[1]
        assert tx.inserted_article_ids == ids[:2]
        new = await tx.insert_entries(
            [
                NewEntry("k1", ids[0], None),
                NewEntry("k2", ids[1], None),
                NewEntry("k3", ids[0], None),
            ]
        )
        assert new == ids[:2]  # k3 is a new key for an article this feed already shows
        assert await tx.insert_entries([NewEntry("k1", ids[0], None)]) == []
    results = await storage.add_articles([article(2), article(3)], now=NOW)
    assert [created for _, created in results] == [False, True]


async def test_one_article_goes_to_one_channel_once_whichever_subscription(
    storage: Storage,
) -> None:
    feed_a = await storage.add_feed("https://paper.example/a/feed/", now=NOW)
    feed_b = await storage.add_feed("https://paper.example/b/feed/", now=NOW)
    sub_a = (await subscribe(storage, feed_a.id, 100, fmt="text", now=NOW)).id
    sub_b = (await subscribe(storage, feed_b.id, 100, fmt="text", now=NOW)).id
    async with storage.poll_transaction(feed_a.id, now=NOW) as tx:
        [article_id] = await tx.upsert_articles([article(1)])
        created = await tx.add_outbox([OutboxRow(sub_a, article_id, 100, "pending")])
        assert len(created) == 1
        await tx.set_outbox_payload(created[0][1], '{"plan": 1}')
        again = await tx.add_outbox(
            [
                OutboxRow(sub_a, article_id, 100, "pending"),
                OutboxRow(sub_b, article_id, 100, "pending"),
            ]
        )
        assert again == []
        with pytest.raises(ValueError, match="pending or skipped"):
            await tx.add_outbox([OutboxRow(sub_b, article_id, 100, "sent")])
    assert await storage.scalar("SELECT payload FROM outbox") == '{"plan": 1}'


async def test_an_error_inside_the_poll_transaction_rolls_everything_back(
    storage: Storage,
) -> None:
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    with pytest.raises(RuntimeError):
        async with storage.poll_transaction(feed.id, now=NOW) as tx:
            [article_id] = await tx.upsert_articles([article(1)])
            await tx.insert_entries([NewEntry("k1", article_id, None)])
            await tx.finish_success(etag='"x"', last_modified=None, next_check_at=NOW)
            raise RuntimeError("crash")
    assert await storage.scalar("SELECT count(*) FROM articles") == 0
    assert await storage.scalar("SELECT count(*) FROM feed_entries") == 0
    unchanged = await storage.feed(feed.id)
    assert unchanged is not None and unchanged.etag is None and unchanged.last_success_at is None


async def test_unknown_feeds_are_not_found(storage: Storage) -> None:
    with pytest.raises(NotFound):
        async with storage.poll_transaction(42, now=NOW):
            pass
    with pytest.raises(NotFound):
        await storage.record_poll_failure(42, kind="dns", message="x.", now=NOW, next_check_at=NOW)


async def test_feed_items_are_newest_first_with_undated_items_by_first_sight(
    storage: Storage,
) -> None:
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        ids = await tx.upsert_articles([article(1), article(2), article(3)])
        await tx.insert_entries(
            [
                NewEntry("old", ids[0], NOW - timedelta(days=2)),
                NewEntry("undated", ids[1], None),
                NewEntry("recent", ids[2], NOW - timedelta(hours=1)),
            ]
        )
    items = await storage.feed_items(feed.id, limit=3)
    assert [item.entry_key for item in items] == ["undated", "recent", "old"]
    assert [item.article_id for item in await storage.feed_items(feed.id, limit=1)] == [ids[1]]


async def test_saved_text_fills_only_empty_metadata_and_leaves_the_queue(
    storage: Storage,
) -> None:
    [(article_id, _)] = await storage.add_articles(
        [article(1, author="Feed Author", feed_content_html="<p>x</p>")], now=NOW
    )
    assert [p.id for p in await storage.articles_pending_text()] == [article_id]
    await storage.save_article_text(
        article_id,
        status="done",
        text="Full text.",
        description="The standfirst.",
        author="Page Author",
        published=NOW,
    )
    row = await storage.fetch_one("SELECT * FROM articles WHERE id = ?", (article_id,))
    assert row is not None
    assert (row["author"], row["description"], row["text"]) == (
        "Feed Author",
        "The standfirst.",
        "Full text.",
    )
    assert row["feed_content_html"] == "" and row["published_at"] == "2026-09-01T12:00:00+00:00"
    assert await storage.articles_pending_text() == []
    assert [
        hit.article.id for hit in await storage.search_articles(WHOLE_ARCHIVE, "full text")
    ] == [article_id]
    with pytest.raises(ValueError, match="done, failed or skipped"):
        await storage.save_article_text(article_id, status="pending", text="")


async def test_new_text_drops_cached_summaries_of_the_old_one(storage: Storage) -> None:
    [(article_id, _)] = await storage.add_articles([article(1)], now=NOW)
    await storage.save_article_text(article_id, status="done", text="First version.")
    await storage.put_cached_summary(article_id, "brief", "extractive", ["First version."], NOW)
    assert await storage.get_cached_summary(article_id, "brief") is not None
    await storage.save_article_text(article_id, status="done", text="Corrected version.")
    assert await storage.get_cached_summary(article_id, "brief") is None


async def test_a_batch_of_articles_gets_ids_in_input_order_and_repeats_created_once(
    storage: Storage,
) -> None:
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        (known,) = await tx.upsert_articles([article(5)])
        assert await tx.upsert_articles([article(5, title="Edited")]) == [known]  # one, known
        ids = await tx.upsert_articles([article(9), article(5), article(7), article(9)])
        assert ids[1] == known and ids[0] == ids[3]
        assert ids[0] < ids[2]  # created in input order, so ids grow with it
        assert tx.inserted_article_ids == [known, ids[0], ids[2]]
        new = await tx.insert_entries(
            [
                NewEntry("k9", ids[0], None),
                NewEntry("k9", ids[0], None),
                NewEntry("k7", ids[2], None),
            ]
        )
        assert new == [ids[0], ids[2]]  # the repeated key is one entry
    with pytest.raises(ValueError, match="text status"):
        await storage.add_articles([article(10), article(11, text_status="bogus")], now=NOW)
    assert not await storage.is_archived("https://paper.example/story-10/")


async def test_unchanged_checks_are_recorded_together_but_never_wind_a_feed_back(
    storage: Storage,
) -> None:
    one = await storage.add_feed("https://paper.example/one/", now=NOW)
    two = await storage.add_feed("https://paper.example/two/", now=NOW)
    later = NOW + timedelta(minutes=10)
    async with storage.poll_transaction(two.id, now=later) as tx:
        await tx.finish_success(etag='"new"', last_modified=None, next_check_at=later)

    await storage.record_not_modified(
        [
            NotModifiedCheck(one.id, '"a"', "Mon", NOW, NOW + timedelta(minutes=5)),
            # Older than the poll of `two` committed above: it must not undo it.
            NotModifiedCheck(two.id, '"old"', None, NOW, NOW + timedelta(minutes=5)),
        ]
    )

    first = await storage.feed(one.id)
    second = await storage.feed(two.id)
    assert first is not None and second is not None
    assert (first.etag, first.last_modified, first.last_success_at) == ('"a"', "Mon", NOW)
    assert first.next_check_at == NOW + timedelta(minutes=5)
    assert (second.etag, second.last_checked_at) == ('"new"', later)


async def test_recent_entry_keys_are_the_latest_first_seen(storage: Storage) -> None:
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    for n in range(4):
        async with storage.poll_transaction(feed.id, now=NOW + timedelta(hours=n)) as tx:
            (article_id,) = await tx.upsert_articles([article(n)])
            await tx.insert_entries([NewEntry(f"k{n}", article_id, None)])

    assert await storage.recent_entry_keys(feed.id, limit=2) == ["k3", "k2"]
    assert await storage.recent_entry_keys(feed.id + 1, limit=2) == []


async def test_due_feeds_are_the_rows_of_the_due_ids(storage: Storage) -> None:
    early = await storage.add_feed("https://paper.example/early/", now=NOW)
    later = await storage.add_feed("https://paper.example/later/", now=NOW + timedelta(hours=1))
    await storage.add_feed("https://paper.example/future/", now=NOW + timedelta(days=1))
    moment = NOW + timedelta(hours=2)

    due = await storage.due_feeds(moment)

    assert [feed.id for feed in due] == await storage.due_feed_ids(moment) == [early.id, later.id]
    assert due[1] == await storage.feed(later.id)

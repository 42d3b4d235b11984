"""Each server sees and changes only its own (issue #13): the scope of archive reads, and the
polling interval as a subscription setting.

- Every storage verb and reader method that returns articles or titles is found by looking at
  the code (return annotations), must take a `scope`, and is called here with another server's
  scope to prove the SQL keeps the other server's articles out. A new verb that returns
  articles fails `test_every_article_read_takes_and_enforces_a_scope` until it is added to
  the table below with its own enforcement check.
- Articles announced in a server stay readable there after the subscription is removed.
- The related engine's scoped candidate query stays index-driven.
- A week asked for by one server never delays another server's five minutes.
"""

from __future__ import annotations

import inspect
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock, to_iso
from bot.errors import InvalidInput, NotFound
from bot.fetch import Fetcher, make_session
from bot.ingest import schedule
from bot.ingest.poller import Poller
from bot.ingest.schedule import ScheduleSettings
from bot.models import WHOLE_ARCHIVE, ArchiveScope, GuildScope, NewSubscription
from bot.services.admin import ChannelInfo, FeedAdmin, SubscriptionOptions
from bot.services.reader import ReaderService
from bot.storage import Database, NewArticle, NewEntry, Storage
from tests.bench.news_site import NewsSite
from tests.conftest import make_config

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
GUILD_A, GUILD_B, GUILD_NONE = 100, 200, 300
A, B, NONE = GuildScope(GUILD_A), GuildScope(GUILD_B), GuildScope(GUILD_NONE)
# Names of the records that carry an article or its title out of storage.
ARTICLE_RECORDS = re.compile(
    r"\b(ArticleRef|ArticleText|SearchHit|AlertArticle|ArchivedArticle|RelatedItem|"
    r"SummaryAnswer|RelatedAnswer|SearchPage|Choice)\b"
)
# Verbs that return articles but serve no member: they are given no scope on purpose.
UNSCOPED_BY_DESIGN = {
    # The archiver's own queue (pages still to fetch), never shown to anyone.
    "articles_pending_text",
    # The poller and moderators' tools for one feed the server itself subscribes to (the
    # services check the subscription belongs to the guild before calling it).
    "feed_items",
}


# -- an archive shared by two servers --------------------------------------------------------


@dataclass
class Archive:
    storage: Storage
    feed_a: int
    feed_b: int
    sub_a: int
    sub_b: int
    a_ids: list[int]  # articles of A's feed, "rent strike" in every title
    b_ids: list[int]  # articles of B's feed, "rent strike" in every title too


async def _feed_with(
    storage: Storage, url: str, slugs: list[str], guild: int, channel: int
) -> tuple[int, int, list[int]]:
    feed = await storage.add_feed(url, now=NOW)
    sub = await storage.add_subscription(
        NewSubscription(guild_id=guild, channel_id=channel, feed_id=feed.id, format="embed"),
        now=NOW,
    )
    assert sub is not None
    articles = [
        NewArticle(
            canonical_url=f"https://{slug}.example/story",
            url=f"https://{slug}.example/story",
            title=f"Rent strike news from {slug}",
            author=f"Reporter {slug}",
            excerpt=f"Tenants on {slug} street joined the rent strike against repairs.",
            text=(
                f"Tenants on {slug} street joined the rent strike. The landlord refused repairs "
                "for months, so the tenants union organised a rent strike and won."
            ),
            text_status="done",
            published=NOW - timedelta(hours=len(slug)),
        )
        for slug in slugs
    ]
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        ids = await tx.upsert_articles(articles)
        await tx.insert_entries([NewEntry(f"k{i}", i, NOW) for i in ids])
        await tx.finish_success(etag=None, last_modified=None, next_check_at=NOW)
    return feed.id, sub.id, ids


@pytest.fixture
async def archive(tmp_path: Path) -> AsyncIterator[Archive]:
    storage = await Storage.open(tmp_path / "scope.db")
    try:
        feed_a, sub_a, a_ids = await _feed_with(
            storage, "https://a.example/feed", ["alder", "ash", "aspen"], GUILD_A, 11
        )
        feed_b, sub_b, b_ids = await _feed_with(
            storage, "https://b.example/feed", ["birch", "beech", "box"], GUILD_B, 21
        )
        from bot.articles import related

        for article_id in [*a_ids, *b_ids]:
            await related.index_article(storage, article_id)
        yield Archive(storage, feed_a, feed_b, sub_a, sub_b, a_ids, b_ids)
    finally:
        await storage.close()


# -- every article read takes and enforces a scope --------------------------------------------


def _article_returning(cls: type, *, public_only: bool = True) -> set[str]:
    """Coroutine methods of `cls` whose return annotation names an article record."""
    found = set()
    for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction):
        if public_only and name.startswith("_"):
            continue
        returns = str(inspect.signature(member).return_annotation)
        if ARTICLE_RECORDS.search(returns) or (
            # Plain ids of articles looked up by something a member typed.
            name.startswith("article_id_for")
        ):
            found.add(name)
    return found


def _takes_scope(cls: type, name: str) -> bool:
    parameters = inspect.signature(getattr(cls, name)).parameters
    scope = parameters.get("scope")
    return scope is not None and re.search(r"Scope", str(scope.annotation)) is not None


# Each verb called with a scope; it returns what that scope sees, as a set of article ids.
Probe = Callable[[Archive, ArchiveScope], Awaitable[set[int]]]


def _ids(values: Any) -> set[int]:
    return {int(value) for value in values if value is not None}


STORAGE_PROBES: dict[str, Probe] = {
    "article_text": lambda ar, scope: _one(ar.storage.article_text(scope, ar.a_ids[0])),
    "article_refs": lambda ar, scope: _keys(ar.storage.article_refs(scope, ar.a_ids)),
    "article_id_for_url": lambda ar, scope: _id(
        ar.storage.article_id_for_url(scope, "https://alder.example/story")
    ),
    "article_id_for_title": lambda ar, scope: _id(
        ar.storage.article_id_for_title(scope, "Rent strike news from alder")
    ),
    "articles_titled_like": lambda ar, scope: _refs(ar.storage.articles_titled_like(scope, "", 50)),
    "latest_articles": lambda ar, scope: _refs(ar.storage.latest_articles(scope, 50)),
    "search_articles": lambda ar, scope: _hits(ar.storage.search_articles(scope, "rent strike")),
    "related_candidate_refs": lambda ar, scope: _refs(
        ar.storage.related_candidate_refs(scope, ["rent", "strike"], 50)
    ),
    "alert_articles": lambda ar, scope: _refs(ar.storage.alert_articles(scope, ar.a_ids)),
    "archived_articles": lambda ar, scope: _keys(ar.storage.archived_articles(scope, ar.a_ids)),
    "archived_article": lambda ar, scope: _one(
        ar.storage.archived_article(scope, url="https://alder.example/story")
    ),
}


async def _one(pending: Awaitable[Any]) -> set[int]:
    found = await pending
    return set() if found is None else {int(found.id)}


async def _id(pending: Awaitable[int | None]) -> set[int]:
    return _ids([await pending])


async def _keys(pending: Awaitable[dict[int, Any]]) -> set[int]:
    return set(await pending)


async def _refs(pending: Awaitable[list[Any]]) -> set[int]:
    return {int(ref.id) for ref in await pending}


async def _hits(pending: Awaitable[list[Any]]) -> set[int]:
    return {int(hit.article.id) for hit in await pending}


def test_every_storage_article_read_is_known_and_takes_a_scope() -> None:
    found = _article_returning(Storage) - UNSCOPED_BY_DESIGN
    assert found == set(STORAGE_PROBES), (
        "A storage verb returns articles or titles: give it a `scope: ArchiveScope` enforced "
        "in SQL, and add a probe for it here."
    )
    for name in STORAGE_PROBES:
        assert _takes_scope(Storage, name), f"Storage.{name} takes no scope"


async def test_every_storage_article_read_enforces_its_scope(archive: Archive) -> None:
    for name, probe in STORAGE_PROBES.items():
        whole = await probe(archive, WHOLE_ARCHIVE)
        own = await probe(archive, A)
        assert own and own <= set(archive.a_ids) | set(archive.b_ids), name
        assert own & set(archive.a_ids), name  # the owner sees A's article(s)
        assert not (await probe(archive, B)) & set(archive.a_ids), f"{name} leaks A to B"
        assert not await probe(archive, NONE), f"{name} leaks to a server with nothing"
        assert own <= whole, name


READER_METHODS = {
    "summary",
    "cached_summary",
    "summary_of_archived",
    "related",
    "related_to_archived",
    "search",
    "latest",
    "article_choices",
    "feed_choices",
}


def test_every_reader_method_that_shows_articles_takes_a_scope() -> None:
    found = _article_returning(ReaderService)
    # `feed_choices` shows feed names, and `latest` the newest articles: scoped as well.
    assert found | {"feed_choices", "latest"} == READER_METHODS
    for name in READER_METHODS:
        assert _takes_scope(ReaderService, name), f"ReaderService.{name} takes no scope"


async def test_reader_answers_another_servers_article_as_not_found(
    archive: Archive, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    async with make_session(config.fetch, "test") as session:
        reader = ReaderService(
            archive.storage,
            Fetcher(session, config.fetch),
            FakeClock(NOW),
            config.summaries,
        )
        theirs = archive.a_ids[0]
        for ask in (
            reader.summary(B, f"archive:{theirs}"),
            reader.summary_of_archived(B, theirs),
            reader.related(B, f"archive:{theirs}"),
            reader.related_to_archived(B, theirs),
        ):
            with pytest.raises(NotFound, match="no longer in the archive"):
                await ask
        assert await reader.cached_summary(B, f"archive:{theirs}") is None
        with pytest.raises(InvalidInput, match="not a link"):
            await reader.summary(B, "Rent strike news from alder")
        assert (await reader.summary(A, f"archive:{theirs}")).article_id == theirs
        related = await reader.related(B, "tenants rent strike repairs landlord", 10)
        assert related.items and {i.id for i in related.items} <= set(archive.b_ids)
        page = await reader.search(B, "rent strike")
        assert {h.article.id for h in page.hits} == set(archive.b_ids)
        choices = await reader.article_choices(B, "")
        assert {c.value for c in choices} == {f"archive:{i}" for i in archive.b_ids}
        with pytest.raises(NotFound, match="does not follow that feed"):
            await reader.latest(B, feed=str(archive.feed_a))


# -- announced articles stay visible; removed subscriptions take the rest --------------------


async def test_articles_announced_stay_visible_after_the_subscription_is_removed(
    archive: Archive,
) -> None:
    storage = archive.storage
    announced, never_sent = archive.a_ids[0], archive.a_ids[1]
    async with storage.transaction() as conn:
        await conn.execute(
            "INSERT INTO outbox (subscription_id, article_id, channel_id, state, not_before, "
            "created_at) VALUES (?, ?, 11, 'pending', ?, ?)",
            (archive.sub_a, announced, to_iso(NOW), to_iso(NOW)),
        )
    [outbox_id] = [
        int(row[0])
        for row in await storage.fetch_all(
            "SELECT id FROM outbox WHERE article_id = ?", (announced,)
        )
    ]
    await storage.claim_delivery(outbox_id, now=NOW)
    await storage.mark_sent(outbox_id, message_id=999, thread_id=None, now=NOW)
    await storage.remove_subscription(archive.sub_a)

    assert await storage.article_text(A, announced) is not None
    assert await storage.article_text(A, never_sent) is None
    assert [r.id for r in await storage.latest_articles(A, 10)] == [announced]
    assert [h.article.id for h in await storage.search_articles(A, "rent strike")] == [announced]
    # Announced in A only: B and servers with nothing still see nothing of it.
    assert await storage.article_text(B, announced) is None


# -- the related engine's scoped query stays index-driven ------------------------------------


async def test_scoped_candidate_query_is_driven_by_indexes(archive: Archive) -> None:
    storage = archive.storage
    statements: list[str] = []

    def trace(sql: str) -> None:
        statements.append(sql)

    # Reads run on the read connection (the writer's when there is none, as in memory).
    connection = (storage._reader or storage._sqlite()).raw
    await connection.set_trace_callback(trace)
    try:
        await storage.related_candidate_refs(B, ["rent", "strike"], 40)
    finally:
        await connection.set_trace_callback(None)
    [query] = [s for s in statements if "articles_fts MATCH" in s]
    plan = await storage.fetch_all(f"EXPLAIN QUERY PLAN {query}")
    details = [str(row["detail"]) for row in plan]
    # The FTS index finds the matches; the scope costs index lookups per match, never a scan:
    # the feeds that showed the article, whether this server subscribes to each, or whether it
    # was announced here.
    assert any("articles_fts VIRTUAL TABLE INDEX" in d for d in details), details
    assert any("fe USING COVERING INDEX feed_entries_by_article" in d for d in details), details
    assert any("s USING COVERING INDEX subscriptions_by_feed_guild" in d for d in details), details
    assert any("ga USING PRIMARY KEY (guild_id=? AND article_id=?)" in d for d in details)
    scans = [d for d in details if d.startswith("SCAN") and "articles_fts" not in d]
    assert scans == ["SCAN best"], details  # the bounded subquery of the best matches


# -- migration 0008 -------------------------------------------------------------------------


async def test_migration_moves_the_interval_to_subscriptions_and_keeps_announced(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "old.db", migrate=False)
    try:
        await db.migrate(target=7)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO feeds (id, url, interval_seconds, next_check_at, created_at) "
                "VALUES (1, 'https://a.example/feed', 900, ?, ?)",
                (to_iso(NOW), to_iso(NOW)),
            )
            await conn.execute(
                "INSERT INTO articles (id, canonical_url, url, first_seen_at) "
                "VALUES (5, 'https://a.example/5', 'https://a.example/5', ?)",
                (to_iso(NOW),),
            )
            await conn.execute(
                "INSERT INTO subscriptions (id, guild_id, channel_id, feed_id, format, created_at) "
                "VALUES (1, ?, 11, 1, 'embed', ?)",
                (GUILD_A, to_iso(NOW)),
            )
            await conn.execute(
                "INSERT INTO outbox (subscription_id, article_id, channel_id, state, not_before, "
                "created_at) VALUES (1, 5, 11, 'sent', ?, ?)",
                (to_iso(NOW), to_iso(NOW)),
            )
        await db.migrate()
        assert await db.scalar("SELECT interval_seconds FROM subscriptions") == 900
        rows = await db.fetch_all("SELECT guild_id, article_id FROM guild_articles")
        assert [tuple(row) for row in rows] == [(GUILD_A, 5)]
        columns = [row[1] for row in await db.fetch_all("PRAGMA table_info(feeds)")]
        assert "interval_seconds" not in columns
    finally:
        await db.close()


# -- the polling interval is a subscription setting ------------------------------------------


def test_a_feed_is_checked_at_the_shortest_interval_any_subscription_asked_for() -> None:
    settings = ScheduleSettings(default_interval_seconds=300, min_interval_seconds=60)
    week = 7 * 86400
    assert schedule.feed_interval((week, 300), settings) == 300
    assert schedule.feed_interval((week, None), settings) == 300  # None: the default
    assert schedule.feed_interval((week,), settings) == week
    assert schedule.feed_interval((), settings) == 300
    assert schedule.feed_interval((10, week), settings) == 60  # never below the minimum


async def test_a_week_set_in_one_server_never_delays_another_servers_five_minutes(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path,
        feeds={"default_interval_seconds": 900, "min_interval_seconds": 60},
        announcements={"max_age_days": 0.0},
    )
    clock = FakeClock(NOW)
    storage = await Storage.open(config.database.path)
    try:
        async with (
            NewsSite(clock=clock, initially_published=3) as site,
            make_session(config.fetch, "test") as session,
        ):
            fetcher = Fetcher(session, config.fetch)
            poller = Poller(storage, fetcher, config, clock, rng=random.Random(5))
            admin = FeedAdmin(storage, fetcher, config, clock)
            admin.poll_feed = poller.poll_feed
            every = frozenset({"view_channel", "send_messages", "embed_links"})
            in_b = await admin.add(
                GUILD_B,
                7,
                site.feed_url,
                ChannelInfo(21, "news", "text", every | _more()),
                SubscriptionOptions(interval_seconds=300),
            )
            in_a = await admin.add(
                GUILD_A,
                7,
                site.feed_url,
                ChannelInfo(11, "news", "text", every | _more()),
                SubscriptionOptions(),
            )
            week = 7 * 86400
            await admin.edit(
                GUILD_A, 7, in_a.subscription.id, SubscriptionOptions(interval_seconds=week)
            )
            edited = await storage.feed(in_a.feed.id)
            assert edited is not None and sorted(edited.subscription_intervals) == [300, week]

            # B's own interval, with the scheduler's jitter.
            allowed = timedelta(seconds=300 * (1 + schedule.JITTER_FRACTION) + 1)
            for _ in range(4):
                clock.advance(30)
                published = site.publish_next(at=clock.now())
                while not await _queued(storage, in_b.subscription.id, published.title):
                    due = await storage.next_check_at()
                    assert due is not None and due - clock.now() <= allowed, (due, clock.now())
                    clock.advance(max(0.0, (due - clock.now()).total_seconds()))
                    await poller.poll_due()
                assert clock.now() - published.published <= allowed
    finally:
        await storage.close()


def _more() -> frozenset[str]:
    return frozenset(
        {
            "read_message_history",
            "send_messages_in_threads",
            "create_public_threads",
            "manage_webhooks",
        }
    )


async def _queued(storage: Storage, subscription_id: int, title: str) -> bool:
    row = await storage.fetch_one(
        "SELECT 1 FROM outbox o JOIN articles a ON a.id = o.article_id "
        "WHERE o.subscription_id = ? AND a.title = ?",
        (subscription_id, title),
    )
    return row is not None

"""Builders and constants shared by unit tests: storage rows, announcement values, the
FeedAdmin bench. Import from here, never from another test module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.announce.render import AnnouncementArticle
from bot.articles import related
from bot.clock import FakeClock
from bot.config import Config
from bot.feeds import canonical_url
from bot.fetch import Fetcher, make_session
from bot.models import Format, NewSubscription, Subscription
from bot.services.admin import (
    Change,
    ChannelInfo,
    FeedAdmin,
)
from bot.services.portability import GuildDirectory
from bot.storage import NewArticle, NewEntry, Storage
from tests.bench.news_site import NewsSite
from tests.conftest import make_config

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""The storage and admin tests' clock."""


async def subscribe(
    storage: Storage,
    feed_id: int,
    channel_id: int,
    *,
    guild_id: int = 1,
    fmt: Format = "embed",
    now: datetime = NOW,
    **options: Any,
) -> Subscription:
    """Subscribe a channel to a feed (`options`: other NewSubscription fields); it must be new."""
    new = NewSubscription(
        guild_id=guild_id, channel_id=channel_id, feed_id=feed_id, format=fmt, **options
    )
    subscription = await storage.add_subscription(new, now=now)
    assert subscription is not None
    return subscription


def subscription(number: int, guild_id: int, channel_id: int) -> Subscription:
    """An active embed subscription to feed 1, as storage would return it."""
    return Subscription(
        id=number,
        guild_id=guild_id,
        channel_id=channel_id,
        feed_id=1,
        format="embed",
        mention_role_id=None,
        include_filter="",
        exclude_filter="",
        template="",
        auto_thread=False,
        fallback_tag_id=None,
        paused=False,
        pause_reason="",
        active=True,
        created_by=None,
        created_at=NOW,
    )


def article(number: int) -> AnnouncementArticle:
    """An announcement-ready article published on 2026-11-01 (hour: number mod 24)."""
    return AnnouncementArticle(
        id=number,
        title=f"Item {number}",
        url=f"https://paper.example/{number}/",
        published=datetime(2026, 11, 1, number % 24, tzinfo=UTC),
        feed_title="The Weekly",
    )


async def outbox_setup(
    storage: Storage, channels: tuple[int, ...] = (10,)
) -> tuple[list[int], list[int]]:
    """A feed with three archived articles and one subscription per channel."""
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    ids = [
        article_id
        for article_id, _ in await storage.add_articles(
            [
                NewArticle(
                    canonical_url=f"https://paper.example/{n}/", url=f"https://paper.example/{n}/"
                )
                for n in range(3)
            ],
            now=NOW,
        )
    ]
    subs = []
    for channel in channels:
        sub = await storage.add_subscription(
            NewSubscription(guild_id=1, channel_id=channel, feed_id=feed.id, format="embed"),
            now=NOW,
        )
        assert sub is not None
        subs.append(sub.id)
    return ids, subs


READER_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
"""The reader tests' clock: after every article of the news-site stand-in."""


async def build_archive(
    storage: Storage, site: NewsSite, *, skip: tuple[str, ...] = ()
) -> tuple[int, dict[str, int]]:
    """Archive the site's items (full text, standfirst as description) under one feed."""
    feed = await storage.add_feed(site.feed_url, now=READER_NOW, title="The Weekly Worker")
    chosen = [item for item in reversed(site.items) if item.slug not in skip]
    articles = [
        NewArticle(
            canonical_url=canonical_url(site.article_url(item)),
            url=site.article_url(item),
            title=item.title,
            author=item.author,
            published=item.published,
            categories=item.categories,
            description=item.standfirst or "",
            text="\n\n".join(item.paragraphs),
            text_status="done",
        )
        for item in chosen
    ]
    async with storage.poll_transaction(feed.id, now=READER_NOW) as tx:
        ids = await tx.upsert_articles(articles)
        await tx.insert_entries(
            [
                NewEntry(item.guid, article_id, item.published)
                for item, article_id in zip(chosen, ids, strict=True)
            ]
        )
    for article_id in ids:
        await related.index_article(storage, article_id)
    return feed.id, {item.slug: article_id for item, article_id in zip(chosen, ids, strict=True)}


# The FeedAdmin bench: guilds, a moderator, channel permissions and channels.
GUILD, OTHER_GUILD, MOD = 100, 200, 7
ALL = frozenset(
    {
        "view_channel",
        "send_messages",
        "embed_links",
        "read_message_history",
        "send_messages_in_threads",
        "create_public_threads",
        "manage_webhooks",
    }
)
NEWS = ChannelInfo(11, "news", "text", ALL)
INJECTION = "'; DROP TABLE subscriptions;--"


@dataclass
class AdminBench:
    """Everything a test needs: the service, its storage and the site it reads."""

    admin: FeedAdmin
    storage: Storage
    site: NewsSite
    clock: FakeClock
    config: Config
    fetcher: Fetcher
    changes: list[Change]


async def admin_bench(tmp_path: Path, **sections: dict[str, object]) -> AsyncIterator[AdminBench]:
    """A FeedAdmin on a fresh database and news site; `sections` override the config."""
    config = make_config(tmp_path, **sections)
    clock = FakeClock(NOW)
    storage = await Storage.open(config.database.path)
    session = make_session(config.fetch, "Paperboy-test")
    try:
        async with NewsSite() as site:
            fetcher = Fetcher(session, config.fetch)
            admin = FeedAdmin(storage, fetcher, config, clock)
            changes: list[Change] = []

            async def remember(change: Change) -> None:
                changes.append(change)

            admin.on_change.append(remember)
            yield AdminBench(admin, storage, site, clock, config, fetcher, changes)
    finally:
        await session.close()
        await storage.close()


# The home guild of the portability tests: #news, a forum and a Readers role.
FORUM_A = ChannelInfo(12, "articles", "forum", ALL)
HOME = GuildDirectory({11: NEWS, 12: FORUM_A}, {501: "Readers"})

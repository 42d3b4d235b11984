"""Seeding a new subscription's backlog: the newest N go out, the rest count as delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.announce.render import MessagePlan
from bot.clock import FakeClock
from bot.delivery.service import DeliveryService
from bot.models import WHOLE_ARCHIVE, NewSubscription
from bot.storage import NewArticle, NewEntry, Storage
from tests.conftest import make_config

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def feed_with_items(storage: Storage, ages_hours: list[float]) -> int:
    """A feed that showed one article per age (hours before NOW), titled by its age."""
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW, title="The Weekly")
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        articles = [
            NewArticle(
                canonical_url=f"https://paper.example/a{hours}/",
                url=f"https://paper.example/a{hours}/",
                title=f"{hours} hours old",
                published=NOW - timedelta(hours=hours),
                categories=("Sport",) if hours == 2 else ("Housing",),
            )
            for hours in ages_hours
        ]
        ids = await tx.upsert_articles(articles)
        await tx.insert_entries(
            [NewEntry(f"k{i}", i, a.published) for i, a in zip(ids, articles, strict=True)]
        )
        await tx.finish_success(etag=None, last_modified=None, next_check_at=NOW)
    return feed.id


async def seed(
    storage: Storage, tmp_path: Path, feed_id: int, **announcements: object
) -> tuple[DeliveryService, int]:
    config = make_config(tmp_path, announcements=dict(announcements))
    service = DeliveryService(storage, config, FakeClock(NOW))
    subscription = await storage.add_subscription(
        NewSubscription(guild_id=1, channel_id=10, feed_id=feed_id, format="text",
                        exclude_filter="category:sport"),
        now=NOW,
    )  # fmt: skip
    assert subscription is not None
    return service, subscription.id


async def test_newest_items_are_pending_and_the_rest_explained(
    storage: Storage, tmp_path: Path
) -> None:
    feed = await feed_with_items(storage, [1, 2, 3, 5, 200])
    service, sub = await seed(storage, tmp_path, feed, backlog_count=2)
    woken: list[bool] = []
    service.on_work(lambda: woken.append(True))
    report = await service.seed_new_subscription(sub)
    assert (report.announced, report.skipped) == (2, 3)
    rows = await storage.subscription_outbox(sub)
    by_title = {}
    for row in rows:
        [article] = (await storage.archived_articles(WHOLE_ARCHIVE, [row.article_id])).values()
        by_title[article.title] = (row.state, row.reason)
    assert by_title["1 hours old"] == ("pending", "")
    assert by_title["3 hours old"] == ("pending", "")
    assert by_title["5 hours old"] == ("skipped", "backlog")
    assert by_title["200 hours old"] == ("skipped", "backlog")
    state, reason = by_title["2 hours old"]  # excluded by the subscription's filter
    assert state == "skipped" and reason.startswith("filtered:") and "sport" in reason
    pending = [row for row in rows if row.state == "pending"]
    # Oldest first, so ids follow the order of sending; each carries its own marker.
    titles = []
    for row in pending:
        payload = await storage.scalar("SELECT payload FROM outbox WHERE id = ?", (row.id,))
        plan = MessagePlan.from_json(payload)
        assert plan.marker == f"pb-o{row.id}"
        titles.append(plan.content)
    assert "3 hours old" in titles[0] and "1 hours old" in titles[1]
    assert woken == [True]


async def test_too_old_items_are_never_announced(storage: Storage, tmp_path: Path) -> None:
    feed = await feed_with_items(storage, [100, 200])
    service, sub = await seed(storage, tmp_path, feed, backlog_count=1, max_age_days=3.0)
    report = await service.seed_new_subscription(sub)
    assert report.announced == 0
    assert sorted(r.reason for r in await storage.subscription_outbox(sub)) == [
        "backlog",
        "too-old",
    ]


async def test_seeding_twice_changes_nothing(storage: Storage, tmp_path: Path) -> None:
    feed = await feed_with_items(storage, [1, 3])
    service, sub = await seed(storage, tmp_path, feed)
    await service.seed_new_subscription(sub)
    before = await storage.subscription_outbox(sub)
    again = await service.seed_new_subscription(sub)
    assert (again.announced, again.skipped) == (0, 0)
    assert await storage.subscription_outbox(sub) == before


async def test_backlog_zero_announces_nothing(storage: Storage, tmp_path: Path) -> None:
    feed = await feed_with_items(storage, [1, 3])
    service, sub = await seed(storage, tmp_path, feed, backlog_count=0)
    assert (await service.seed_new_subscription(sub)).announced == 0

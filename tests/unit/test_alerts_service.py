"""AlertService with real SQLite: rules, limits, matching new articles, failed DMs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bot.clock import FakeClock
from bot.errors import InvalidInput, NotFound
from bot.models import NewSubscription
from bot.services.alerts import (
    MAX_ALERTS_PER_MEMBER,
    AlertService,
    folded_key,
    parse_keyword,
)
from bot.storage import NewArticle, NewEntry, Storage

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
GUILD, OTHER_GUILD = 10, 20
ALICE, BOB, CAROL = 101, 102, 103


@pytest.fixture
def alerts(storage: Storage) -> AlertService:
    return AlertService(storage, FakeClock(NOW))


async def add_feed(storage: Storage, name: str, guilds: Sequence[int]) -> int:
    feed = await storage.add_feed(f"https://{name}.example/feed", now=NOW, title=name)
    for number, guild in enumerate(guilds):
        await storage.add_subscription(
            NewSubscription(guild, 9000 + guild * 10 + number, feed.id, "embed"), now=NOW
        )
    return feed.id


async def publish(storage: Storage, feed_id: int, *articles: dict[str, object]) -> list[int]:
    """Archive articles as a poll of `feed_id` would; returns their ids."""
    rows = [
        NewArticle(
            canonical_url=str(fields["url"]),
            url=str(fields["url"]),
            title=str(fields.get("title", "")),
            author=str(fields.get("author", "")),
            excerpt=str(fields.get("excerpt", "")),
            categories=tuple(fields.get("categories", ())),  # type: ignore[call-overload]
            published=NOW,
        )
        for fields in articles
    ]
    async with storage.poll_transaction(feed_id, now=NOW) as tx:
        ids = await tx.upsert_articles(rows)
        await tx.insert_entries([NewEntry(r.url, i, NOW) for r, i in zip(rows, ids, strict=True)])
    return ids


# -- rules --------------------------------------------------------------------------------------


async def test_add_list_remove(alerts: AlertService) -> None:
    added = await alerts.add(ALICE, GUILD, "  rent   strike ")
    assert added.alert.term == "rent strike" and added.count == 1 and not added.re_enabled
    await alerts.add(ALICE, GUILD, 'author:"Jane Doe"')
    await alerts.add(ALICE, GUILD, "category:Housing")
    listed = await alerts.list_alerts(ALICE, GUILD)
    assert [a.term for a in listed.alerts] == ["rent strike", "author:Jane Doe", "category:Housing"]
    assert not listed.disabled
    assert (await alerts.list_alerts(ALICE, OTHER_GUILD)).alerts == ()
    assert (await alerts.list_alerts(BOB, GUILD)).alerts == ()
    removed = await alerts.remove(ALICE, GUILD, "RENT Strike")
    assert removed.term == "rent strike"
    with pytest.raises(NotFound, match="no alert for rent strike"):
        await alerts.remove(ALICE, GUILD, "rent strike")
    assert await alerts.choices(ALICE, GUILD, "jane") == ["author:Jane Doe"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Rent", "rent"),
        ("Élection", "election"),
        ("tenants  union", "Tenants Union"),
        ("Łódź", "lodz"),
    ],
)
async def test_duplicates_ignore_case_accents_and_spacing(
    alerts: AlertService, first: str, second: str
) -> None:
    await alerts.add(ALICE, GUILD, first)
    with pytest.raises(InvalidInput, match="already have an alert"):
        await alerts.add(ALICE, GUILD, second)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "word or phrase"),
        ("  , ,", "word or phrase"),
        ("rent, strike", "one keyword"),
        ("?!?", "no letters"),
        ("x" * 101, "at most 100"),
        ('open "quote', "closing"),
    ],
)
def test_bad_keywords_are_refused_plainly(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_keyword(text)


def test_folded_key_keeps_rule_kinds_apart() -> None:
    assert folded_key(parse_keyword("Housing")) != folded_key(parse_keyword("category:housing"))
    assert folded_key(parse_keyword("Café")) == folded_key(parse_keyword("CAFE"))


async def test_at_most_twenty_alerts_per_member_and_guild(alerts: AlertService) -> None:
    for number in range(MAX_ALERTS_PER_MEMBER):
        await alerts.add(ALICE, GUILD, f"word{number}")
    with pytest.raises(InvalidInput, match="20 alerts"):
        await alerts.add(ALICE, GUILD, "one too many")
    await alerts.add(ALICE, OTHER_GUILD, "elsewhere")  # another server has its own allowance
    await alerts.add(BOB, GUILD, "someone else")
    await alerts.remove(ALICE, GUILD, "word0")
    assert (await alerts.add(ALICE, GUILD, "now it fits")).count == MAX_ALERTS_PER_MEMBER


# -- matching -----------------------------------------------------------------------------------


async def test_new_articles_match_whole_words_without_case_or_accents(
    alerts: AlertService, storage: Storage
) -> None:
    feed = await add_feed(storage, "weekly", [GUILD])
    await alerts.add(ALICE, GUILD, "rent")
    await alerts.add(BOB, GUILD, "cafe workers")
    await alerts.add(CAROL, GUILD, "category:Housing")
    ids = await publish(
        storage,
        feed,
        {"url": "https://weekly.example/1", "title": "Tenants win a RENT freeze"},
        {"url": "https://weekly.example/2", "title": "Parents and rental agencies meet"},
        {"url": "https://weekly.example/3", "title": "Strike", "excerpt": "Café Workers walk out."},
        {"url": "https://weekly.example/4", "title": "Estate news", "categories": ["Housing"]},
    )
    deliveries = await alerts.deliveries_for(feed, ids)
    got = {(d.user_id, d.article.id, d.terms) for d in deliveries}
    assert got == {
        (ALICE, ids[0], ("rent",)),
        (BOB, ids[2], ("cafe workers",)),
        (CAROL, ids[3], ("category:Housing",)),
    }
    delivery = next(d for d in deliveries if d.user_id == ALICE)
    assert delivery.article.title == "Tenants win a RENT freeze"
    assert delivery.article.url == "https://weekly.example/1"


async def test_one_dm_per_member_and_article_even_with_many_rules_or_feeds(
    alerts: AlertService, storage: Storage
) -> None:
    first = await add_feed(storage, "weekly", [GUILD])
    second = await add_feed(storage, "housing", [GUILD])
    await alerts.add(ALICE, GUILD, "rent")
    await alerts.add(ALICE, GUILD, "strike")
    story = {"url": "https://w.example/a", "title": "Rent strike"}
    [article] = await publish(storage, first, story)
    [delivery] = await alerts.deliveries_for(first, [article])
    assert delivery.terms == ("rent", "strike")
    # The same article again (a restart, or through another feed) is never sent twice.
    assert await alerts.deliveries_for(first, [article]) == []
    [again] = await publish(storage, second, story)
    assert again == article
    assert await alerts.deliveries_for(second, [article]) == []


async def test_alerts_only_fire_for_feeds_their_guild_follows(
    alerts: AlertService, storage: Storage
) -> None:
    ours = await add_feed(storage, "ours", [GUILD])
    theirs = await add_feed(storage, "theirs", [OTHER_GUILD])
    await alerts.add(ALICE, GUILD, "rent")
    await alerts.add(BOB, OTHER_GUILD, "rent")
    [ours_article] = await publish(storage, ours, {"url": "https://o.example/1", "title": "Rent"})
    [theirs_article] = await publish(
        storage, theirs, {"url": "https://t.example/1", "title": "Rent"}
    )
    assert [d.user_id for d in await alerts.deliveries_for(ours, [ours_article])] == [ALICE]
    assert [d.user_id for d in await alerts.deliveries_for(theirs, [theirs_article])] == [BOB]
    assert await alerts.deliveries_for(ours, []) == []


# -- failed DMs ---------------------------------------------------------------------------------


async def test_closed_dms_switch_alerts_off_with_a_note_once(
    alerts: AlertService, storage: Storage
) -> None:
    feed = await add_feed(storage, "weekly", [GUILD])
    await alerts.add(ALICE, GUILD, "rent")
    await alerts.add(BOB, GUILD, "rent")
    assert await alerts.take_note(ALICE) is None

    await alerts.delivery_failed(ALICE, permanent=False, reason="Discord had a hiccup")
    assert not (await alerts.list_alerts(ALICE, GUILD)).disabled
    await alerts.delivery_failed(ALICE, permanent=True)

    listed = await alerts.list_alerts(ALICE, GUILD)
    assert listed.disabled and [a.term for a in listed.alerts] == ["rent"]
    [article] = await publish(storage, feed, {"url": "https://w.example/r", "title": "Rent"})
    assert [d.user_id for d in await alerts.deliveries_for(feed, [article])] == [BOB]

    note = await alerts.take_note(ALICE)
    assert note is not None and "switched off" in note and "/alerts add" in note
    assert await alerts.take_note(ALICE) is None  # told once
    assert await alerts.take_note(BOB) is None

    # Adding an alert (even one they have) switches them back on.
    again = await alerts.add(ALICE, GUILD, "rent")
    assert again.re_enabled and again.count == 1
    assert not (await alerts.list_alerts(ALICE, GUILD)).disabled
    [later] = await publish(storage, feed, {"url": "https://w.example/s", "title": "Rent again"})
    assert {d.user_id for d in await alerts.deliveries_for(feed, [later])} == {ALICE, BOB}

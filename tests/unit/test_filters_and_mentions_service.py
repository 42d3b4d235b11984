"""Filters and mention rules through the services and storage: /feeds test-filter saves nothing,
rules are stored per subscription, export/import carries them, and migration 0009 keeps the
meaning of filters stored as keyword lists."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.announce import filters
from bot.announce.filters import UnbalancedParentheses
from bot.errors import InvalidInput, NotFound
from bot.services.admin import ChannelInfo, SubscriptionOptions
from bot.services.portability import GuildDirectory, Portability
from bot.storage import Storage, migrations
from tests.builders import ALL, GUILD, HOME, MOD, NEWS, OTHER_GUILD, AdminBench, admin_bench

NEWS_B = ChannelInfo(31, "news", "text", ALL)
AWAY = GuildDirectory({31: NEWS_B}, {601: "Readers", 602: "Housing"})
HOME_ROLES = GuildDirectory(HOME.channels, {501: "Readers", 502: "Housing"})
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[AdminBench]:
    async for made in admin_bench(tmp_path, announcements={"max_age_days": 0.0}):
        yield made


async def _subscribe(bench: AdminBench, **options: object) -> int:
    result = await bench.admin.add(
        GUILD,
        MOD,
        bench.site.feed_url,
        NEWS,
        SubscriptionOptions(**options),  # type: ignore[arg-type]
    )
    return result.subscription.id


async def test_test_filter_reports_each_newest_item_and_saves_nothing(bench: AdminBench) -> None:
    sub_id = await _subscribe(bench, exclude="sport")
    before = await bench.storage.audit_entries(GUILD)
    newest = max(bench.site.items, key=lambda item: item.published)
    word = newest.title.split()[0]
    result = await bench.admin.test_filter(GUILD, sub_id, f'title:"{word}" OR NOT title:{word}')
    assert len(result.items) == min(20, len(bench.site.items))
    assert result.exclude_text == "sport"
    assert all(item.verdict.ok for item in result.items)  # x OR NOT x: every item
    first = next(item for item in result.items if item.title == newest.title)
    assert first.verdict.terms[0].field == "title"
    narrow = await bench.admin.test_filter(GUILD, sub_id, f'title:"{newest.title}"')
    assert [item.title for item in narrow.items if item.announced] == [newest.title]
    stored = await bench.storage.subscription(sub_id)
    assert stored is not None and stored.include_filter == ""
    assert await bench.storage.audit_entries(GUILD) == before


async def test_test_filter_refuses_bad_filters_before_fetching(bench: AdminBench) -> None:
    sub_id = await _subscribe(bench)
    fetched = len(bench.site.requests)
    with pytest.raises(UnbalancedParentheses, match=r"tested filter is not valid: The \( at"):
        await bench.admin.test_filter(GUILD, sub_id, "(housing OR rent")
    with pytest.raises(NotFound):
        await bench.admin.test_filter(OTHER_GUILD, sub_id, "housing")
    assert len(bench.site.requests) == fetched


async def test_mention_rules_are_added_replaced_listed_and_removed(bench: AdminBench) -> None:
    sub_id = await _subscribe(bench, mention_role_id=501)
    await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 502, "category:housing")
    await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 503)
    replaced = await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 502, "rent strike")
    assert replaced.filter == "rent strike"
    summary, rules = await bench.admin.mention_rules(GUILD, sub_id)
    assert [(r.role_id, r.filter) for r in rules] == [(502, "rent strike"), (503, "")]
    assert summary.subscription.mention_role_id == 501
    listed = await bench.admin.subscriptions(GUILD)
    assert [r.role_id for r in listed[0].mention_rules] == [502, 503]

    with pytest.raises(InvalidInput, match="already pinged with every announcement"):
        await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 501, "housing")
    with pytest.raises(InvalidInput, match="never pings @everyone"):
        await bench.admin.add_mention_rule(GUILD, MOD, sub_id, GUILD)
    with pytest.raises(UnbalancedParentheses, match="mention rule's filter is not valid"):
        await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 504, "a)")
    with pytest.raises(NotFound):
        await bench.admin.add_mention_rule(OTHER_GUILD, MOD, sub_id, 504)
    await bench.admin.remove_mention_rule(GUILD, MOD, sub_id, 502)
    with pytest.raises(NotFound, match="no mention rule for that role"):
        await bench.admin.remove_mention_rule(GUILD, MOD, sub_id, 502)
    assert [r.role_id for r in await bench.storage.mention_rules(sub_id)] == [503]
    actions = [entry.action for entry in await bench.storage.audit_entries(GUILD)]
    assert actions.count("feed.mention-add") == 3 and actions.count("feed.mention-remove") == 1

    # Removing the subscription removes its rules.
    await bench.admin.remove(GUILD, MOD, sub_id)
    assert await bench.storage.mention_rules(sub_id) == []


async def test_rules_per_subscription_are_limited(bench: AdminBench) -> None:
    sub_id = await _subscribe(bench)
    for role in range(10):
        await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 700 + role)
    with pytest.raises(InvalidInput, match="already has 10 mention rules"):
        await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 800)
    await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 700, "sport")  # replacing is fine


async def test_export_and_import_carry_filters_and_mention_rules(bench: AdminBench) -> None:
    portability = Portability(bench.storage, bench.config, bench.clock, bench.admin)
    sub_id = await _subscribe(bench, include='title:"rent strike" OR housing')
    await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 502, "category:housing")
    await bench.admin.add_mention_rule(GUILD, MOD, sub_id, 501)
    data = await portability.export(GUILD, HOME_ROLES)
    entry = json.loads(data)["subscriptions"][0]
    assert entry["include"] == 'title:"rent strike" OR housing'
    assert entry["mention_rules"] == [
        {"role": {"id": 502, "name": "Housing"}, "filter": "category:housing"},
        {"role": {"id": 501, "name": "Readers"}, "filter": ""},
    ]
    report = await portability.import_file(OTHER_GUILD, MOD, data, AWAY)
    [theirs] = await bench.admin.subscriptions(OTHER_GUILD)
    assert len(report.added) == 1
    assert theirs.subscription.include_filter == 'title:"rent strike" OR housing'
    assert [(r.role_id, r.filter) for r in theirs.mention_rules] == [
        (602, "category:housing"),
        (601, ""),
    ]


async def test_import_refuses_bad_rules_and_converts_version_one_keyword_lists(
    bench: AdminBench,
) -> None:
    portability = Portability(bench.storage, bench.config, bench.clock, bench.admin)
    base = {"feed_url": bench.site.feed_url, "channel": {"id": 31}}
    bad = {**base, "mention_rules": [{"role": {"name": "Housing"}, "filter": "(rent"}]}
    document = {"format": "paperboy-export", "version": 2, "subscriptions": [bad]}
    with pytest.raises(InvalidInput, match=r"Entry 1: The mention rule 1's filter is not valid"):
        await portability.import_file(OTHER_GUILD, MOD, json.dumps(document).encode(), AWAY)
    assert await bench.storage.count_guild_subscriptions(OTHER_GUILD) == 0

    listed = {**base, "include": "housing, rent strike, category:Labour"}
    old = {"format": "paperboy-export", "version": 1, "subscriptions": [listed]}
    await portability.import_file(OTHER_GUILD, MOD, json.dumps(old).encode(), AWAY)
    [theirs] = await bench.admin.subscriptions(OTHER_GUILD)
    assert theirs.subscription.include_filter == 'housing OR "rent strike" OR category:Labour'


async def test_migration_marks_keyword_lists_and_keeps_their_meaning(tmp_path: Path) -> None:
    [version] = [number for number, name, _ in migrations() if "mention_rules" in name]
    db = await Storage.open(tmp_path / "old.db", migrate=False)
    try:
        # Rows written with SQL of their time: today's storage verbs know today's schema only.
        await db.migrate(target=version - 1)
        feed = await db.add_feed("https://paper.example/feed", now=NOW)
        for channel, include in ((1, "housing, rent strike"), (2, "")):
            await db.execute(
                "INSERT INTO subscriptions (guild_id, channel_id, feed_id, format, "
                "include_filter, created_at) VALUES (?, ?, ?, 'embed', ?, ?)",
                (GUILD, channel, feed.id, include, NOW.isoformat()),
            )
        await db.migrate(target=version)
        rows = await db.fetch_all("SELECT id, include_filter FROM subscriptions ORDER BY id")
        (first_id, first_include), (_, second_include) = [tuple(row) for row in rows]
        await db.execute(
            "INSERT INTO mention_rules (subscription_id, role_id, filter, created_at) "
            "VALUES (?, 77, 'housing', ?)",
            (first_id, NOW.isoformat()),
        )
        # Later migrations (a rebuilt subscriptions table, say) must keep rules and filters.
        await db.migrate()
        rules = await db.mention_rules(first_id)
        assert [(rule.role_id, rule.filter) for rule in rules] == [(77, "housing")]
        assert [s.include_filter for s in await db.guild_subscriptions(GUILD)] == [
            first_include,
            "",
        ]
    finally:
        await db.close()
    assert first_include == filters.LEGACY_PREFIX + "housing, rent strike"
    assert second_include == ""
    stored = filters.parse_stored(first_include)
    assert stored.to_text() == 'housing OR "rent strike"'

"""Export and import: JSON round trip into another guild, OPML, validation before any change."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.announce.message import MessageSettings
from bot.errors import InvalidInput
from bot.services.admin import ChannelInfo, SubscriptionOptions
from bot.services.portability import MAX_IMPORT_BYTES, GuildDirectory, Portability
from tests.builders import (
    ALL,
    FORUM_A,
    GUILD,
    HOME,
    INJECTION,
    MOD,
    NEWS,
    OTHER_GUILD,
    AdminBench,
    admin_bench,
)

# The second guild has channels and a role of the same names, with other ids.
NEWS_B = ChannelInfo(31, "news", "text", ALL)
FORUM_B = ChannelInfo(32, "articles", "forum", ALL)
AWAY = GuildDirectory({31: NEWS_B, 32: FORUM_B}, {601: "Readers"})


@pytest.fixture
async def ported(tmp_path: Path) -> AsyncIterator[tuple[AdminBench, Portability]]:
    """A bench and its Portability service."""
    async for bench in admin_bench(tmp_path):
        yield bench, Portability(bench.storage, bench.config, bench.clock, bench.admin)


def _shape(bench_subs: list) -> list[tuple]:
    return [
        (s.feed.url, s.subscription.format, s.subscription.exclude_filter, s.subscription.template)
        for s in bench_subs
    ]


async def test_export_then_import_into_second_guild_reproduces_configuration(
    ported: tuple[AdminBench, Portability],
) -> None:
    bench, portability = ported
    site = bench.site
    await bench.admin.add(
        GUILD, MOD, site.feed_url, NEWS, SubscriptionOptions(exclude=INJECTION, mention_role_id=501)
    )
    await bench.admin.add(
        GUILD, MOD, site.atom_url, FORUM_A, SubscriptionOptions(template="{title}")
    )
    await bench.admin.set_timezone(GUILD, MOD, "Europe/London")
    await bench.admin.set_log_channel(GUILD, MOD, 11)
    data = await portability.export(GUILD, HOME)
    document = json.loads(data)
    assert document["subscriptions"][0]["channel"] == {"id": 11, "name": "news"}

    report = await portability.import_file(OTHER_GUILD, MOD, data, AWAY)
    assert len(report.added) == 2 and report.skipped == [] and report.settings_changed
    mine = await bench.admin.subscriptions(GUILD)
    theirs = await bench.admin.subscriptions(OTHER_GUILD)
    assert _shape(theirs) == _shape(mine)
    assert [s.subscription.channel_id for s in theirs] == [31, 32]
    assert theirs[0].subscription.mention_role_id == 601
    settings = await bench.admin.settings(OTHER_GUILD)
    assert (settings.timezone, settings.log_channel_id) == ("Europe/London", 31)

    again = await portability.import_file(OTHER_GUILD, MOD, data, AWAY)
    assert again.added == [] and len(again.skipped) == 2 and not again.settings_changed
    assert len(await bench.admin.subscriptions(OTHER_GUILD)) == 2


async def test_invalid_file_changes_nothing(ported: tuple[AdminBench, Portability]) -> None:
    bench, portability = ported
    good = {"feed_url": bench.site.feed_url, "channel": {"id": 31, "name": "news"}}
    bad_channel = {"feed_url": bench.site.atom_url, "channel": {"id": 99, "name": "gone"}}
    bad_filter = {"feed_url": bench.site.atom_url, "channel": {"id": 31}, "include": "x" * 2000}
    document = {"format": "paperboy-export", "version": 1,
                "subscriptions": [good, bad_channel, bad_filter]}  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        await portability.import_file(OTHER_GUILD, MOD, json.dumps(document).encode(), AWAY)
    assert "Entry 2: the channel #gone does not exist" in str(caught.value)
    assert "Entry 3: The include filter is not valid" in str(caught.value)
    assert await bench.admin.subscriptions(OTHER_GUILD) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"x" * (MAX_IMPORT_BYTES + 1), "1 MiB"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"hello", "neither"),
        (b"{not json", "not valid JSON"),
        (b'{"format": "other"}', "not a Paperboy export"),
        (b"<opml><body></body></opml>", "lists no feeds"),
        (b"<rss/>", "not OPML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml>&a;</opml>',
            "refuses",
        ),
    ],
)
async def test_bad_files_refused_specifically(
    ported: tuple[AdminBench, Portability], data: bytes, message: str
) -> None:
    _, portability = ported
    with pytest.raises(InvalidInput, match=message):
        await portability.import_file(OTHER_GUILD, MOD, data, AWAY, default_channel=NEWS_B)


async def test_opml_import_needs_a_channel_and_is_idempotent(
    ported: tuple[AdminBench, Portability],
) -> None:
    bench, portability = ported
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="Group">'
        f'<outline text="Worker" type="rss" xmlUrl="{bench.site.feed_url}"/>'
        f'<outline title="Worker Atom" xmlUrl="{bench.site.atom_url}"/>'
        "</outline></body></opml>"
    ).encode()
    with pytest.raises(InvalidInput, match="choose one with the channel option"):
        await portability.import_file(OTHER_GUILD, MOD, opml, AWAY)
    report = await portability.import_file(OTHER_GUILD, MOD, opml, AWAY, default_channel=FORUM_B)
    assert [line.split(" (")[0] for line in report.added] == [
        "Worker → #articles",
        "Worker Atom → #articles",
    ]
    subs = await bench.admin.subscriptions(OTHER_GUILD)
    assert {s.subscription.format for s in subs} == {"forum"}
    again = await portability.import_file(OTHER_GUILD, MOD, opml, AWAY, default_channel=FORUM_B)
    assert again.added == [] and len(again.skipped) == 2


async def test_import_respects_subscription_limit(tmp_path: Path) -> None:
    async for bench in admin_bench(tmp_path, moderation={"max_subscriptions_per_guild": 1}):
        portability = Portability(bench.storage, bench.config, bench.clock, bench.admin)
        opml = (
            f'<opml><body><outline xmlUrl="{bench.site.feed_url}"/>'
            f'<outline xmlUrl="{bench.site.atom_url}"/></body></opml>'
        ).encode()
        with pytest.raises(InvalidInput, match="the most allowed is 1"):
            await portability.import_file(GUILD, MOD, opml, HOME, default_channel=NEWS)
        assert await bench.storage.count_guild_subscriptions(GUILD) == 0


async def test_the_polling_interval_travels_per_subscription_and_stays_per_server(
    ported: tuple[AdminBench, Portability],
) -> None:
    bench, portability = ported
    site = bench.site
    await bench.admin.add(
        GUILD, MOD, site.feed_url, NEWS, SubscriptionOptions(interval_seconds=600)
    )
    await bench.admin.add(
        GUILD, MOD, site.atom_url, FORUM_A, SubscriptionOptions(interval_seconds=3600)
    )
    document = json.loads(await portability.export(GUILD, HOME))
    assert [s["interval_seconds"] for s in document["subscriptions"]] == [600, 3600]

    await portability.import_file(OTHER_GUILD, MOD, json.dumps(document).encode(), AWAY)
    theirs = await bench.admin.subscriptions(OTHER_GUILD)
    assert [s.subscription.interval_seconds for s in theirs] == [600, 3600]
    # The other server slows its copy of the same feed down: this server's setting is its own.
    slower = SubscriptionOptions(interval_seconds=86400)
    await bench.admin.edit(OTHER_GUILD, MOD, theirs[0].subscription.id, slower)
    mine = await bench.admin.subscriptions(GUILD)
    assert [s.subscription.interval_seconds for s in mine] == [600, 3600]
    assert sorted(mine[0].feed.subscription_intervals, key=str) == [600, 86400]


async def test_names_and_message_settings_travel_and_bad_ones_are_refused(
    ported: tuple[AdminBench, Portability],
) -> None:
    bench, portability = ported
    feed = bench.site.feed_url
    await bench.admin.add(GUILD, MOD, feed, NEWS, SubscriptionOptions(include="strike"))
    named = await bench.admin.add(
        GUILD, MOD, feed, NEWS, SubscriptionOptions(include="housing", name="Housing")
    )
    settings = MessageSettings().with_changes(
        {"color": "#00ff00", "image": "thumbnail", "footer": "{feed} · {published:date}"}
    )
    await bench.admin.save_message_settings(GUILD, MOD, named.subscription.id, settings)
    data = await portability.export(GUILD, HOME)

    report = await portability.import_file(OTHER_GUILD, MOD, data, AWAY)
    assert len(report.added) == 2
    theirs = {
        s.subscription.name: s.subscription for s in await bench.admin.subscriptions(OTHER_GUILD)
    }
    assert set(theirs) == {"", "Housing"}
    assert MessageSettings.from_json(theirs["Housing"].message_settings) == settings
    assert theirs[""].message_settings == ""  # the default stays the default
    again = await portability.import_file(OTHER_GUILD, MOD, data, AWAY)
    assert again.added == [] and len(again.skipped) == 2  # named ones are told apart

    document = json.loads(data)
    document["subscriptions"][1]["message"]["color"] = "not a colour"
    with pytest.raises(InvalidInput, match="Entry 2: the message settings are not valid"):
        await portability.import_file(OTHER_GUILD + 1, MOD, json.dumps(document).encode(), AWAY)
    assert await bench.admin.subscriptions(OTHER_GUILD + 1) == []

"""Export and import carry each subscription's rhythm (quiet hours, daily cap, edits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import InvalidInput
from bot.models import Rhythm
from bot.services.admin import ChannelInfo, SubscriptionOptions
from bot.services.portability import GuildDirectory, Portability
from tests.builders import ALL, GUILD, HOME, MOD, NEWS, OTHER_GUILD, admin_bench

NEWS_B = ChannelInfo(31, "news", "text", ALL)
AWAY = GuildDirectory({31: NEWS_B}, {})


async def test_the_rhythm_travels_with_its_subscription(tmp_path: Path) -> None:
    async for bench in admin_bench(tmp_path):
        portability = Portability(bench.storage, bench.config, bench.clock, bench.admin)
        added = await bench.admin.add(GUILD, MOD, bench.site.feed_url, NEWS, SubscriptionOptions())
        paced = Rhythm("22:00", "07:00", 5, "edit", "weekly", "08:00", 0, 7)
        await bench.storage.set_rhythm(added.subscription.id, paced)
        data = await portability.export(GUILD, HOME)
        exported = json.loads(data)["subscriptions"][0]["rhythm"]
        assert exported == {
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "daily_cap": 5,
            "on_change": "edit",
            "digest": "weekly",
            "digest_time": "08:00",
            "digest_day": 0,
            "digest_size": 7,
        }
        report = await portability.import_file(OTHER_GUILD, MOD, data, AWAY)
        assert len(report.added) == 1
        [theirs] = await bench.admin.subscriptions(OTHER_GUILD)
        assert await bench.storage.subscription_rhythm(theirs.subscription.id) == paced


async def test_repost_travels_with_its_subscription(tmp_path: Path) -> None:
    async for bench in admin_bench(tmp_path):
        portability = Portability(bench.storage, bench.config, bench.clock, bench.admin)
        added = await bench.admin.add(GUILD, MOD, bench.site.feed_url, NEWS, SubscriptionOptions())
        await bench.storage.set_rhythm(added.subscription.id, Rhythm(on_change="repost"))
        data = await portability.export(GUILD, HOME)
        assert json.loads(data)["subscriptions"][0]["rhythm"]["on_change"] == "repost"
        await portability.import_file(OTHER_GUILD, MOD, data, AWAY)
        [theirs] = await bench.admin.subscriptions(OTHER_GUILD)
        assert await bench.storage.subscription_rhythm(theirs.subscription.id) == Rhythm(
            on_change="repost"
        )


@pytest.mark.parametrize(
    ("rhythm", "message"),
    [
        ({"quiet_start": "22:00"}, "both a start and an end"),
        ({"quiet_start": "25:00", "quiet_end": "07:00"}, "not a time of day"),
        ({"daily_cap": "5"}, "whole number"),
        ({"on_change": "shout"}, "edit the posted message, or repost"),
        ("loud", "must be an object"),
    ],
)
async def test_a_bad_rhythm_is_refused_before_anything_changes(
    tmp_path: Path, rhythm: object, message: str
) -> None:
    async for bench in admin_bench(tmp_path):
        portability = Portability(bench.storage, bench.config, bench.clock, bench.admin)
        entry = {"feed_url": bench.site.feed_url, "channel": {"id": 31}, "rhythm": rhythm}
        document = {"format": "paperboy-export", "version": 1, "subscriptions": [entry]}
        with pytest.raises(InvalidInput, match=message):
            await portability.import_file(OTHER_GUILD, MOD, json.dumps(document).encode(), AWAY)
        assert await bench.admin.subscriptions(OTHER_GUILD) == []

"""The message builder's service: drafts over the newest item, checked changes, save and reset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.announce.message import MessageSettings
from bot.errors import InvalidInput, NotFound
from bot.services.admin import SubscriptionOptions
from bot.services.builder import MessageBuilder, describe
from tests.builders import GUILD, MOD, NEWS, OTHER_GUILD, AdminBench, admin_bench


@pytest.fixture
async def built(tmp_path: Path) -> AsyncIterator[tuple[AdminBench, MessageBuilder, int]]:
    """A bench with one subscription (a feed of ten items) and its builder service."""
    async for bench in admin_bench(tmp_path):
        added = await bench.admin.add(GUILD, MOD, bench.site.feed_url, NEWS, SubscriptionOptions())
        yield bench, MessageBuilder(bench.admin), added.subscription.id


async def test_a_draft_previews_the_newest_item_as_posted_and_saves(
    built: tuple[AdminBench, MessageBuilder, int],
) -> None:
    bench, builder, sub_id = built
    draft = await builder.open(GUILD, sub_id)
    assert not draft.changed
    assert draft.plan() == await bench.admin.preview(GUILD, sub_id)  # the same renderer
    changed = builder.apply(draft, {"color": "blue", "description": "1 sentence"})
    assert changed.changed and changed.plan().embeds[0].color == 0x3498DB
    assert changed.settings.description_unit == "sentences"
    assert "Colour #3498DB" in describe(changed.settings)

    saved = await builder.save(changed, MOD)
    assert not saved.changed
    stored = await bench.storage.subscription(sub_id)
    assert stored is not None
    assert MessageSettings.from_json(stored.message_settings) == changed.settings
    assert await bench.admin.preview(GUILD, sub_id) == changed.plan()  # what is posted now
    audit = await bench.storage.audit_entries(GUILD)
    assert audit[0].action == "feed.message"


async def test_a_bad_change_leaves_the_draft_and_nothing_saved(
    built: tuple[AdminBench, MessageBuilder, int],
) -> None:
    bench, builder, sub_id = built
    draft = await builder.open(GUILD, sub_id)
    with pytest.raises(InvalidInput, match="is not a colour"):
        builder.apply(draft, {"color": "sky"})
    with pytest.raises(InvalidInput, match="Nothing changed"):
        await builder.save(draft, MOD)
    reset = builder.reset(builder.apply(draft, {"image": "none"}))
    assert reset.settings == MessageSettings() and not reset.changed
    stored = await bench.storage.subscription(sub_id)
    assert stored is not None and stored.message_settings == ""


async def test_another_servers_subscription_cannot_be_opened(
    built: tuple[AdminBench, MessageBuilder, int],
) -> None:
    _, builder, sub_id = built
    with pytest.raises(NotFound):
        await builder.open(OTHER_GUILD, sub_id)

"""The whole journey on the bench, as users live it: the bot starts and syncs its commands, a
moderator adds the publication by its home page, an article is published and announced, and a
member asks for its summary and related pieces from the announcement's buttons."""

from __future__ import annotations

import pytest

from tests.bench.discord_standin import StandInUsageError
from tests.e2e.conftest import Bench, BenchFactory, message_text

FAST = {"announcements": {"per_channel_interval_seconds": 0.0, "max_age_days": 0.0}}


def button_ids(message: dict[str, object]) -> list[str]:
    rows = message.get("components") or []
    assert isinstance(rows, list)
    return [b["custom_id"] for row in rows for b in row["components"] if "custom_id" in b]


async def test_publish_announce_and_read(make_bench: BenchFactory) -> None:
    async with make_bench(**FAST) as bench:
        synced = {command["name"] for command in bench.discord.synced_commands()}
        assert {"feeds", "settings", "summary", "related", "search", "latest", "alerts"} <= synced

        added = await bench.command(
            "feeds add", {"url": bench.site.home_url, "channel": bench.seed.general_id}
        )
        assert bench.site.feed_url in message_text(await added.reply(15.0))
        # The backlog policy announces the newest existing item once; wait for it first.
        newest = max(bench.site.items, key=lambda item: item.published)
        backlog = await bench.discord.next_message(bench.seed.general_id, timeout=15)
        assert newest.title in message_text(backlog).replace("\\", "")

        article = bench.site.publish_next()
        announced = await bench.discord.next_message(bench.seed.general_id, timeout=15)
        text = message_text(announced).replace("\\", "")
        assert article.title in text
        posts = bench.discord.recorder.requests_to(
            "POST", f"/channels/{bench.seed.general_id}/messages"
        )
        assert posts, "announcements are posted to the channel"
        for post in posts:  # never @everyone, @here, users, or roles nobody configured
            assert post.json["allowed_mentions"]["parse"] == []
            assert post.json["allowed_mentions"].get("roles", []) == []

        summary_id, related_id = [i for i in button_ids(announced) if i.startswith("pb:")]
        clicked = await bench.discord.click(bench.seed.member_id, int(announced["id"]), summary_id)
        summary = await clicked.reply(15)
        assert summary.get("flags", 0) & 64, "a button answers the clicking member privately"
        summary_text = message_text(summary)
        assert article.title in summary_text.replace("\\", "")
        assert "Photo:" not in summary_text

        clicked = await bench.discord.click(bench.seed.member_id, int(announced["id"]), related_id)
        related = message_text(await clicked.reply(15))
        same_topic = [
            a.title for a in bench.site.items if a.topic == article.topic and a is not article
        ]
        assert any(title in related.replace("\\", "") for title in same_topic)

        # Nothing was posted twice, and every announcement went to the one channel it should.
        posted = [m for m in bench.discord.messages_in(bench.seed.general_id) if m.get("embeds")]
        assert len(posted) == 2


async def test_a_member_cannot_run_moderator_commands(bench: Bench) -> None:
    with pytest.raises(StandInUsageError):
        await bench.command(
            "feeds add",
            {"url": bench.site.home_url, "channel": bench.seed.general_id},
            user=bench.seed.member_id,
        )
    assert await bench.app.storage.count_guild_subscriptions(bench.seed.guild_id) == 0

"""Announcements under Discord faults and hostile articles: no duplicate, no loss, no ping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.models import NewSubscription
from tests.bench.news_site_articles import SampleArticle
from tests.e2e.conftest import Bench, BenchFactory

FAST = {"per_channel_interval_seconds": 0.0, "global_rate_per_second": 45.0, "max_age_days": 0.0}


async def ready_text_channel(bench: Bench, fmt: str = "text") -> tuple[int, int]:
    """The announcer loaded, the feed read once, and a subscription in #general (no backlog)."""
    assert "cogs.announcer" in bench.bot.extensions
    feed = await bench.app.storage.add_feed(bench.site.feed_url, now=bench.app.clock.now())
    assert (await bench.app.poller.poll_feed(feed.id)).seeded
    subscription = await bench.app.storage.add_subscription(
        NewSubscription(
            guild_id=bench.seed.guild_id,
            channel_id=bench.seed.general_id,
            feed_id=feed.id,
            format=fmt,  # type: ignore[arg-type]
        ),
        now=bench.app.clock.now(),
    )
    assert subscription is not None
    return feed.id, subscription.id


def announcements(bench: Bench) -> list[dict[str, Any]]:
    def marked(message: dict[str, Any]) -> bool:
        footers = [(e.get("footer") or {}).get("text", "") for e in message.get("embeds") or []]
        return "pb-o" in (message.get("content") or "") or any("pb-o" in f for f in footers)

    return [m for m in bench.discord.messages_in(bench.seed.general_id) if marked(m)]


async def wait_for_count(bench: Bench, count: int) -> None:
    await bench.discord.wait_until(
        lambda: len(announcements(bench)) >= count, timeout=30, what=f"{count} announcements"
    )


async def test_rate_limit_storm_loses_and_repeats_nothing(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, _ = await ready_text_channel(bench)
        bench.discord.faults.rate_limit("POST", "/channels/*/messages", times=6, retry_after=0.05)
        titles = [bench.site.publish_next().title for _ in range(3)]
        await bench.app.poller.poll_feed(feed_id)
        await wait_for_count(bench, 3)
        posted = announcements(bench)
        assert len(posted) == 3
        assert [t in m["content"] for m, t in zip(posted, titles, strict=True)] == [True] * 3


async def test_bad_gateway_after_the_post_was_made_repeats_nothing(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, _ = await ready_text_channel(bench)
        fault = bench.discord.faults.server_error(
            "POST", "/channels/*/messages", status=502, after_effect=True
        )
        bench.site.publish_next()
        await bench.app.poller.poll_feed(feed_id)
        await wait_for_count(bench, 1)
        bench.site.publish_next()
        await bench.app.poller.poll_feed(feed_id)
        await wait_for_count(bench, 2)
        assert fault.hits == 1
        assert len(announcements(bench)) == 2


async def test_hostile_and_huge_articles_post_literally_without_pings(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, _ = await ready_text_channel(bench, fmt="embed")
        when = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        hostile = SampleArticle(
            title="@everyone **Strike** <@&42> __now__",
            slug="hostile-title",
            author="@here",
            published=when,
            topic="unions",
            categories=("Unions",),
            standfirst="A standfirst with @everyone in it.",
            image=None,
            paragraphs=("Workers walked out at dawn.",),
        )
        huge = SampleArticle(
            title="Long " * 2000,
            slug="huge-article",
            author="A Writer",
            published=when,
            topic="unions",
            categories=("Unions",),
            standfirst="word " * 20000,
            image=None,
            paragraphs=("word " * 20000,),
        )
        bench.site.publish(hostile, at=when)
        bench.site.publish(huge, at=when)
        await bench.app.poller.poll_feed(feed_id)
        await wait_for_count(bench, 2)
        posted = announcements(bench)
        assert len(posted) == 2
        for message in posted:
            assert message["mention_everyone"] is False
            assert message.get("mention_roles", []) == []
        titles = [m["embeds"][0]["title"] for m in posted]
        shown = next(t for t in titles if "Strike" in t)
        assert "@\u200beveryone" in shown or "@everyone" not in shown
        assert "\\*\\*Strike\\*\\*" in shown  # markdown shown literally, not as bold
        long_title = next(t for t in titles if t.startswith("Long"))
        assert len(long_title) <= 256
        requests = bench.discord.recorder.requests_to("POST", "/channels/")
        allowed = [r for r in requests if isinstance(r.json, dict) and "allowed_mentions" in r.json]
        assert allowed and all(r.json["allowed_mentions"]["parse"] == [] for r in allowed)

"""Announcements under Discord faults and hostile articles: no duplicate, no loss, no ping."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.bench.news_site_articles import SampleArticle
from tests.e2e.conftest import BenchFactory
from tests.e2e.support import FAST_HIGH_RATE, announcements, ready_text_channel, wait_for_count


async def test_rate_limit_storm_loses_and_repeats_nothing(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST_HIGH_RATE) as bench:
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
    async with make_bench(announcements=FAST_HIGH_RATE) as bench:
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
    async with make_bench(announcements=FAST_HIGH_RATE) as bench:
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

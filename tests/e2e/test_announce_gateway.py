"""Gateway drops during delivery: announcements go out over REST, once each, whatever the gateway
does (an outage, a drop in the middle of a batch, an invalid session forcing a fresh IDENTIFY)."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.e2e.conftest import Bench, BenchFactory
from tests.e2e.support import FAST_HIGH_RATE, announcements, ready_text_channel


def titles_posted(bench: Bench) -> Counter[str]:
    """How often each article title was announced in #general."""
    counts: Counter[str] = Counter()
    for message in announcements(bench):
        counts[message["content"].split("\n", 1)[0]] += 1
    return counts


async def publish_and_poll(bench: Bench, feed_id: int, count: int) -> list[str]:
    titles = [bench.site.publish_next().title for _ in range(count)]
    outcome = await bench.app.poller.poll_feed(feed_id)
    assert outcome.ok and outcome.outbox_rows == count
    return titles


async def wait_for_total(bench: Bench, total: int) -> None:
    await bench.discord.wait_until(
        lambda: len(announcements(bench)) >= total, timeout=30, what=f"{total} announcements"
    )


def assert_each_once(bench: Bench, titles: list[str]) -> None:
    posted = [m["content"] for m in announcements(bench)]
    assert len(posted) == len(titles), posted
    for title in titles:
        assert sum(title in content for content in posted) == 1, title


async def test_announcements_made_while_the_gateway_is_down_arrive_once(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST_HIGH_RATE) as bench:
        feed_id, _ = await ready_text_channel(bench)
        resumes = bench.discord.gateway.resume_count
        async with bench.discord.gateway_outage():
            titles = await publish_and_poll(bench, feed_id, 3)
            await wait_for_total(bench, 3)  # REST works while the gateway is down
        await bench.discord.wait_until(
            lambda: bench.discord.gateway.resume_count > resumes, timeout=20, what="a RESUME"
        )
        titles += await publish_and_poll(bench, feed_id, 1)
        await wait_for_total(bench, 4)
        assert_each_once(bench, titles)


async def test_a_drop_in_the_middle_of_a_batch_loses_and_repeats_nothing(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST_HIGH_RATE) as bench:
        feed_id, _ = await ready_text_channel(bench)
        resumes = bench.discord.gateway.resume_count
        titles = await publish_and_poll(bench, feed_id, 5)
        # Drop as soon as the first of the five is out; the rest are still queued or in flight.
        await wait_for_total(bench, 1)
        await bench.discord.gateway.drop()
        await wait_for_total(bench, 5)
        await bench.discord.wait_until(
            lambda: bench.discord.gateway.resume_count > resumes, timeout=20, what="a RESUME"
        )
        titles += await publish_and_poll(bench, feed_id, 1)
        await wait_for_total(bench, 6)
        assert_each_once(bench, titles)


async def test_an_invalid_session_and_fresh_identify_lose_and_repeat_nothing(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST_HIGH_RATE) as bench:
        feed_id, _ = await ready_text_channel(bench)
        identifies = bench.discord.gateway.identify_count
        titles = await publish_and_poll(bench, feed_id, 3)
        # The client drops its caches and identifies again while the three are being delivered.
        await bench.discord.gateway.invalidate_session(resumable=False)
        await bench.discord.wait_until(
            lambda: bench.discord.gateway.identify_count > identifies,
            timeout=20,
            what="a fresh IDENTIFY",
        )
        await wait_for_total(bench, 3)
        titles += await publish_and_poll(bench, feed_id, 2)
        await wait_for_total(bench, 5)
        assert_each_once(bench, titles)
        # Discord holding the fifth post does not mean the bot has recorded it yet: wait for a
        # whole worker round, which ends only with no send in flight.
        worker = bench.bot.get_cog("Announcer").worker  # type: ignore[union-attr]
        worker.round_finished.clear()
        worker.wake()
        await asyncio.wait_for(worker.round_finished.wait(), 10)
        # Every delivery row ended sent, with the message Discord holds.
        sent = {
            row.message_id
            for sub in await bench.app.storage.feed_subscriptions(feed_id)
            for row in await bench.app.storage.subscription_outbox(sub.id)
            if row.state == "sent"
        }
        assert sent == {int(m["id"]) for m in announcements(bench)}

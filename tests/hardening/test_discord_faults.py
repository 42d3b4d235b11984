"""Discord faults on the end-to-end bench: 429 storms, 5xx, a channel deleted and the bot removed
mid-run. No duplicate, no loss in text channels, no retry loop on permanent errors, and every
message body the bot sent keeps Discord's limits and never allows a mass or unconfigured ping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from bot.models import NewSubscription
from tests.e2e.conftest import Bench, BenchFactory, message_text
from tests.hardening.discord_output import output_problems
from tests.markers import marker_of

FAST = {"per_channel_interval_seconds": 0.0, "global_rate_per_second": 45.0, "max_age_days": 0.0}


async def subscribed(bench: Bench, channel_id: int, fmt: str = "text") -> tuple[int, int]:
    """A feed read once (seeded, no backlog) and a subscription posting into `channel_id`."""
    now = bench.app.clock.now()
    feed = await bench.app.storage.feed_by_url(bench.site.feed_url)
    if feed is None:
        feed = await bench.app.storage.add_feed(bench.site.feed_url, now=now)
        assert (await bench.app.poller.poll_feed(feed.id)).seeded
    new = NewSubscription(guild_id=bench.seed.guild_id, channel_id=channel_id, feed_id=feed.id,
                          format=fmt)  # type: ignore[arg-type]  # fmt: skip
    subscription = await bench.app.storage.add_subscription(new, now=now)
    assert subscription is not None
    return feed.id, subscription.id


def marked(bench: Bench, channel_id: int) -> list[dict[str, Any]]:
    """Announcements (their buttons carry a pb-o marker) in a channel."""
    return [m for m in bench.discord.messages_in(channel_id) if marker_of(m)]


def markers(messages: list[dict[str, Any]]) -> list[str]:
    return [marker_of(message) for message in messages]


async def publish_and_wait(bench: Bench, feed_id: int, channel_id: int, count: int) -> list[str]:
    """Publish `count` articles, poll, and wait until that many more are in the channel."""
    goal = len(marked(bench, channel_id)) + count
    titles = [bench.site.publish_next().title for _ in range(count)]
    await bench.app.poller.poll_feed(feed_id)
    await bench.discord.wait_until(
        lambda: len(marked(bench, channel_id)) >= goal, timeout=30, what=f"{goal} posts"
    )
    return titles


async def settle_bot_event(bench: Bench, event: str, trigger: Awaitable[None]) -> None:
    """Run `trigger`, wait for the bot to receive `event`, then for its listeners to finish."""
    received = asyncio.ensure_future(bench.bot.wait_for(event, timeout=10))
    await trigger
    await received
    # discord.py runs each listener as a task named after the event (Client._schedule_event).
    listeners = [t for t in asyncio.all_tasks() if t.get_name() == f"discord.py: on_{event}"]
    await asyncio.gather(*listeners)


async def next_worker_round(bench: Bench) -> None:
    """Wake the announcer's delivery worker and wait until a whole new round has finished."""
    worker = bench.bot.get_cog("Announcer").worker  # type: ignore[union-attr]
    worker.round_finished.clear()
    worker.wake()
    await asyncio.wait_for(worker.round_finished.wait(), timeout=10)


def assert_clean_output(bench: Bench) -> None:
    assert output_problems(bench.discord.recorder.requests) == []


async def test_a_global_429_storm_loses_and_repeats_nothing(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, _ = await subscribed(bench, bench.seed.general_id)
        bench.discord.faults.rate_limit(
            "POST", "/channels/*/messages", times=3, retry_after=0.05, is_global=True
        )
        titles = await publish_and_wait(bench, feed_id, bench.seed.general_id, 3)
        posted = marked(bench, bench.seed.general_id)
        assert len(posted) == 3 == len(set(markers(posted)))
        assert all(t in m["content"] for m, t in zip(posted, titles, strict=True))
        assert bench.discord.recorder.rate_limited  # the storm really happened
        assert_clean_output(bench)


async def test_real_per_route_buckets_across_two_channels(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, _ = await subscribed(bench, bench.seed.general_id)
        await subscribed(bench, bench.seed.news_id, "embed")
        bench.discord.rate_limits.enable(per_route=2, per_seconds=0.3, global_per_second=50)
        await publish_and_wait(bench, feed_id, bench.seed.general_id, 4)
        await bench.discord.wait_until(
            lambda: len(marked(bench, bench.seed.news_id)) >= 4, timeout=30, what="news posts"
        )
        for channel in (bench.seed.general_id, bench.seed.news_id):
            posted = marked(bench, channel)
            assert len(posted) == 4 == len(set(markers(posted)))
        assert_clean_output(bench)


async def test_a_500_before_the_post_is_retried_once_it_recovers(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, _ = await subscribed(bench, bench.seed.general_id)
        bench.discord.faults.server_error("POST", "/channels/*/messages", status=500, times=1)
        await publish_and_wait(bench, feed_id, bench.seed.general_id, 1)
        assert len(marked(bench, bench.seed.general_id)) == 1
        assert_clean_output(bench)


async def test_a_channel_deleted_mid_run_stops_its_posts_without_a_retry_loop(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, doomed = await subscribed(bench, bench.seed.news_id)
        _, survivor = await subscribed(bench, bench.seed.general_id)
        await publish_and_wait(bench, feed_id, bench.seed.news_id, 1)
        await settle_bot_event(
            bench, "guild_channel_delete", bench.discord.delete_channel(bench.seed.news_id)
        )
        before = len(bench.discord.recorder.requests_to("POST", f"/{bench.seed.news_id}/"))
        titles = await publish_and_wait(bench, feed_id, bench.seed.general_id, 2)
        stored = await bench.app.storage.subscription(doomed)
        assert stored is not None and (not stored.active or stored.paused)
        after = len(bench.discord.recorder.requests_to("POST", f"/{bench.seed.news_id}/"))
        assert after - before <= 1  # at most one refused attempt, never a loop
        general = marked(bench, bench.seed.general_id)
        assert len(general) == 3 and titles[-1] in general[-1]["content"]
        kept = await bench.app.storage.subscription(survivor)
        assert kept is not None and kept.active and not kept.paused
        assert_clean_output(bench)


async def test_a_bot_removed_from_its_guild_stops_posting_there(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, subscription_id = await subscribed(bench, bench.seed.general_id)
        await publish_and_wait(bench, feed_id, bench.seed.general_id, 1)
        await settle_bot_event(
            bench, "guild_remove", bench.discord.remove_bot_from_guild(bench.seed.guild_id)
        )
        stored = await bench.app.storage.subscription(subscription_id)
        assert stored is not None and not stored.active
        posts_before = len(bench.discord.recorder.requests_to("POST", "/channels/"))
        bench.site.publish_next()
        outcome = await bench.app.poller.poll_feed(feed_id)
        assert outcome.ok and outcome.outbox_rows == 0
        assert len(bench.discord.recorder.requests_to("POST", "/channels/")) == posts_before
        assert_clean_output(bench)


async def test_a_403_mid_run_pauses_without_a_loop_and_loses_nothing_after_resume(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        channel = bench.seed.general_id
        feed_id, subscription_id = await subscribed(bench, channel)
        await publish_and_wait(bench, feed_id, channel, 1)
        bench.discord.faults.forbid_channel(channel)
        posts_before = len(bench.discord.recorder.requests_to("POST", f"/channels/{channel}/"))
        titles = [bench.site.publish_next().title for _ in range(2)]
        await bench.app.poller.poll_feed(feed_id)

        def refused_once() -> bool:
            posts = bench.discord.recorder.requests_to("POST", f"/channels/{channel}/messages")
            return any(r.status == 403 for r in posts)

        await bench.discord.wait_until(refused_once, timeout=20, what="the refused post")
        await next_worker_round(bench)  # the round that was refused has settled by then
        stored = await bench.app.storage.subscription(subscription_id)
        assert stored is not None and stored.paused
        # Publishing more while paused makes no further attempt: no retry loop. An article
        # published while paused after a refusal waits for the resume: nothing is lost.
        titles.append(bench.site.publish_next().title)
        await bench.app.poller.poll_feed(feed_id)
        await next_worker_round(bench)
        attempts = bench.discord.recorder.requests_to("POST", f"/channels/{channel}/messages")
        assert len([r for r in attempts if r.status == 403]) == 1
        assert len(bench.discord.recorder.requests_to("POST", f"/channels/{channel}/")) >= (
            posts_before + 1
        )
        bench.discord.faults.clear()
        answer = await bench.command("feeds resume", {"subscription": str(subscription_id)})
        assert "error id" not in message_text(await answer.reply(10))
        await bench.discord.wait_until(
            lambda: len(marked(bench, channel)) >= 4, timeout=30, what="the held-back posts"
        )
        await next_worker_round(bench)
        posted = marked(bench, channel)
        assert len(posted) == 4 == len(set(markers(posted)))
        assert all(any(t in m["content"] for m in posted) for t in titles)
        assert_clean_output(bench)

"""Announcements end to end: the real bot, the Discord stand-in and the local news site.

Polls are run by calling the poller, so each scenario controls exactly when new articles
appear.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.announce.render import MessagePlan
from bot.delivery.worker import Outgoing, delivery_nonce
from bot.models import GuildSettings, NewSubscription
from cogs.outlets import DiscordSender
from tests.e2e.conftest import Bench, BenchFactory
from tests.markers import marker_of

FAST = {"per_channel_interval_seconds": 0.0, "global_rate_per_second": 45.0, "max_age_days": 0.0}


async def start(bench: Bench) -> int:
    """Load the announcer, add the site's feed and read it once (its items become known)."""
    assert "cogs.announcer" in bench.bot.extensions
    feed = await bench.app.storage.add_feed(bench.site.feed_url, now=bench.app.clock.now())
    outcome = await bench.app.poller.poll_feed(feed.id)
    assert outcome.ok and outcome.seeded
    return feed.id


async def subscribe(bench: Bench, feed_id: int, channel_id: int, fmt: str) -> int:
    subscription = await bench.app.storage.add_subscription(
        NewSubscription(
            guild_id=bench.seed.guild_id,
            channel_id=channel_id,
            feed_id=feed_id,
            format=fmt,  # type: ignore[arg-type]
            fallback_tag_id=bench.seed.tag_ids["News"],
        ),
        now=bench.app.clock.now(),
    )
    assert subscription is not None
    await bench.app.delivery.seed_new_subscription(subscription.id)
    return subscription.id


def posted_titles(bench: Bench, channel_id: int) -> list[str]:
    """Titles of the bot's announcements in a channel (forum: the starter messages), in order."""
    titles = []
    for message in bench.discord.messages_in(channel_id):
        embeds: list[dict[str, Any]] = message.get("embeds") or []
        if embeds and marker_of(message):
            titles.append(embeds[0]["title"])
    return titles


async def test_new_articles_arrive_once_in_order_in_text_forum_and_webhook(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id = await start(bench)
        channels = {
            "embed": bench.seed.general_id,
            "forum": bench.seed.forum_id,
            "webhook": bench.seed.news_id,
        }
        for fmt, channel_id in channels.items():
            await subscribe(bench, feed_id, channel_id, fmt)
        newest = bench.site.items[0].title
        published = [bench.site.publish_next().title for _ in range(3)]
        await bench.app.poller.poll_feed(feed_id)
        expected = [newest, *published]
        for channel_id in channels.values():
            await bench.discord.wait_until(
                lambda c=channel_id: len(posted_titles(bench, c)) >= len(expected),
                timeout=20,
                what=f"four announcements in {channel_id}",
            )
        for fmt, channel_id in channels.items():
            assert posted_titles(bench, channel_id) == expected, fmt
        # A second poll finds nothing new and nothing is sent again.
        await bench.app.poller.poll_feed(feed_id)
        await bench.app.poller.poll_feed(feed_id)
        for channel_id in channels.values():
            assert posted_titles(bench, channel_id) == expected
        webhook_posts = [
            m for m in bench.discord.messages_in(bench.seed.news_id) if m.get("webhook_id")
        ]
        assert len(webhook_posts) == len(expected)
        assert len({m["webhook_id"] for m in webhook_posts}) == 1  # one webhook, reused


async def test_forbidden_channel_pauses_and_alerts_once(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id = await start(bench)
        await bench.app.storage.update_guild_settings(
            GuildSettings(bench.seed.guild_id, log_channel_id=bench.seed.general_id),
            now=bench.app.clock.now(),
        )
        bench.discord.faults.forbid_channel(bench.seed.news_id)
        sub = await subscribe(bench, feed_id, bench.seed.news_id, "embed")
        bench.site.publish_next()
        await bench.app.poller.poll_feed(feed_id)

        def alerts() -> list[dict[str, Any]]:
            return [
                m
                for m in bench.discord.messages_in(bench.seed.general_id)
                if "paused announcements" in (m.get("content") or "")
            ]

        await bench.discord.wait_until(lambda: alerts(), timeout=20, what="the alert")
        stored = await bench.app.storage.subscription(sub)
        assert stored is not None and stored.paused
        posts = bench.discord.recorder.requests_to("POST", f"/channels/{bench.seed.news_id}/")
        assert len(posts) == 1  # refused once, never retried in a loop
        bench.site.publish_next()
        await bench.app.poller.poll_feed(feed_id)
        assert len(alerts()) == 1


async def test_a_flood_of_new_items_posts_the_limit_and_tells_moderators_once(
    make_bench: BenchFactory,
) -> None:
    limit = 5
    async with make_bench(announcements={**FAST, "max_new_per_poll": limit}) as bench:
        feed_id = await start(bench)
        await bench.app.storage.update_guild_settings(
            GuildSettings(bench.seed.guild_id, log_channel_id=bench.seed.general_id),
            now=bench.app.clock.now(),
        )
        sub = await subscribe(bench, feed_id, bench.seed.news_id, "embed")
        await bench.discord.wait_until(
            lambda: len(posted_titles(bench, bench.seed.news_id)) >= 1, timeout=20, what="backlog"
        )
        backlog = len(posted_titles(bench, bench.seed.news_id))
        published = [bench.site.publish_next().title for _ in range(limit + 3)]
        await bench.app.poller.poll_feed(feed_id)

        def held_notices() -> list[dict[str, Any]]:
            return [
                m
                for m in bench.discord.messages_in(bench.seed.general_id)
                if "Held back" in (m.get("content") or "")
            ]

        await bench.discord.wait_until(held_notices, timeout=20, what="the held-back notice")
        await bench.discord.wait_until(
            lambda: len(posted_titles(bench, bench.seed.news_id)) >= backlog + limit,
            timeout=20,
            what="the newest five",
        )
        notice = held_notices()[0]["content"]
        assert "Held back 3 items" in notice and f"<#{bench.seed.news_id}>" in notice
        assert posted_titles(bench, bench.seed.news_id)[backlog:] == published[-limit:]
        rows = await bench.app.storage.subscription_outbox(sub)
        assert [row.reason for row in rows].count("held-back") == 3

        # The site rewrites every guid (a migration): the articles are known by URL, so nothing
        # is new, announced or told again.
        for item in bench.site.items:
            bench.site.change_guid(item, f"urn:migrated:{item.post_id}")
        assert (await bench.app.poller.poll_feed(feed_id)).outbox_rows == 0
        await bench.app.poller.poll_feed(feed_id)
        # A round of the worker after the polls: nothing more is told or posted.
        worker = bench.bot.get_cog("Announcer").worker  # type: ignore[union-attr]
        for _ in range(2):  # two rounds: the first may have begun before the last poll
            worker.round_finished.clear()
            bench.app.delivery.wake()
            await asyncio.wait_for(worker.round_finished.wait(), 10)
        assert len(held_notices()) == 1
        assert posted_titles(bench, bench.seed.news_id)[backlog:] == published[-limit:]


async def test_after_a_crash_a_forum_post_is_found_even_once_its_thread_is_archived(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id = await start(bench)
        await subscribe(bench, feed_id, bench.seed.forum_id, "forum")
        await bench.discord.wait_until(
            lambda: len(posted_titles(bench, bench.seed.forum_id)) == 1, timeout=20, what="a post"
        )
        for channel in bench.discord.channels.values():
            if channel.parent_id == bench.seed.forum_id:
                channel.archived = True  # a long outage: Discord archived the post's thread
        [post] = [m for m in bench.discord.messages_in(bench.seed.forum_id) if m.get("embeds")]
        marker = marker_of(post)
        outbox_id = int(marker.removeprefix("pb-o"))
        outgoing = Outgoing(
            outbox_id=outbox_id,
            guild_id=bench.seed.guild_id,
            channel_id=bench.seed.forum_id,
            format="forum",
            plan=MessagePlan(
                content="",
                embeds=(),
                allowed_role_ids=(),
                thread_name=None,
                applied_tag_ids=(),
                username=None,
                avatar_url=None,
                buttons=(),
                marker=marker,
            ),
            nonce=delivery_nonce(outbox_id),
        )
        found = await DiscordSender(bench.bot).find_existing(outgoing)
        assert found is not None and found.message_id == int(post["id"])

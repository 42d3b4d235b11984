"""Delivery markers are trusted only from Paperboy itself, and only as whole tokens.

After a crash a claimed row counts as sent only if Paperboy's own post with its marker is found.
The marker rides in the custom ids of the announcement's buttons, which members never read; a
post made before it moved there still carries it in its footer or content.
A member (or another webhook) who writes an upcoming marker into the channel must not make the
retried announcement count as sent: it would be lost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord

from bot.announce.render import MessagePlan
from bot.delivery.worker import DeliveryWorker, Outgoing, delivery_nonce
from bot.models import NewSubscription
from cogs.outlets import DiscordSender
from tests.bench.news_site_articles import SampleArticle
from tests.delivery_drain import drain_once
from tests.e2e.conftest import Bench, BenchFactory
from tests.markers import marker_of, visible_text

FAST = {"per_channel_interval_seconds": 0.0, "global_rate_per_second": 45.0, "max_age_days": 0.0}


def outgoing_for(bench: Bench, outbox_id: int, channel_id: int, fmt: str) -> Outgoing:
    """What the worker would hand the sender for this row (only the marker matters here)."""
    marker = f"pb-o{outbox_id}"
    plan = MessagePlan(
        content="",
        embeds=(),
        allowed_role_ids=(),
        thread_name=None,
        applied_tag_ids=(),
        username=None,
        avatar_url=None,
        buttons=(),
        marker=marker,
    )
    return Outgoing(
        outbox_id=outbox_id,
        guild_id=bench.seed.guild_id,
        channel_id=channel_id,
        format=fmt,
        plan=plan,
        nonce=delivery_nonce(outbox_id),
    )


def short_article(number: int, title: str) -> SampleArticle:
    """A short custom article with a known title; its slug makes its URL unique."""
    return SampleArticle(
        title=title,
        slug=f"markers-{number}",
        author="Desk",
        published=datetime(2026, 7, 1, 9, number, tzinfo=UTC),
        topic="news",
        categories=("News",),
        standfirst=None,
        image=None,
        paragraphs=(f"Story {number} in one sentence.",),
    )


def marked_view(marker: str) -> discord.ui.View:
    """The buttons of an announcement carrying `marker`, as the announcer sends them."""
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Summary", custom_id=f"pb:summary:5:{marker}"))
    return view


async def subscribed(bench: Bench, channel_id: int, fmt: str) -> int:
    """Subscribe the channel to the site's feed and wait for the backlog announcement."""
    feed = await bench.app.storage.add_feed(bench.site.feed_url, now=bench.app.clock.now())
    assert (await bench.app.poller.poll_feed(feed.id)).ok
    subscription = await bench.app.storage.add_subscription(
        NewSubscription(
            guild_id=bench.seed.guild_id,
            channel_id=channel_id,
            feed_id=feed.id,
            format=fmt,  # type: ignore[arg-type]
        ),
        now=bench.app.clock.now(),
    )
    assert subscription is not None
    await bench.app.delivery.seed_new_subscription(subscription.id)
    await bench.discord.wait_until(
        lambda: any(m.get("embeds") for m in bench.discord.messages_in(channel_id)),
        timeout=20,
        what="the backlog announcement",
    )
    return feed.id


async def stopped_worker(bench: Bench) -> DeliveryWorker:
    """The announcer's worker with its background loop stopped: the test drives it."""
    cog = bench.bot.get_cog("Announcer")
    assert cog is not None  # loaded as an extension: its own module object, so no isinstance
    await cog.cog_unload()
    worker: DeliveryWorker = cog.worker  # type: ignore[attr-defined]
    return worker


async def test_a_members_message_with_an_upcoming_marker_does_not_count_as_sent(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        channel_id = bench.seed.news_id
        feed_id = await subscribed(bench, channel_id, "embed")
        worker = await stopped_worker(bench)
        published = bench.site.publish_next()
        assert (await bench.app.poller.poll_feed(feed_id)).outbox_rows == 1
        [row] = [d for d in await bench.app.storage.next_deliveries() if d.state == "pending"]
        marker = f"pb-o{row.id}"
        # A crash left the row claimed, and meanwhile members wrote the marker into the channel:
        # as plain text, as an embed footer, as a button's custom id, and through a webhook
        # that is not Paperboy's.
        assert await bench.app.storage.claim_delivery(row.id, now=bench.app.clock.now())
        await bench.discord.post_user_message(channel_id, bench.seed.member_id, f"-# {marker}")
        footer: dict[str, Any] = {"title": "x", "footer": {"text": f"Site · {marker}"}}
        await bench.discord.post_user_message(
            channel_id, bench.seed.member_id, "look", embeds=[footer]
        )
        await bench.discord.post_user_message(
            channel_id, bench.seed.member_id, f"-# {marker}", webhook_id="123456789"
        )
        forged_button = {
            "type": 2,
            "style": 2,
            "label": "Summary",
            "custom_id": f"pb:summary:1:{marker}",
        }
        await bench.discord.post_user_message(
            channel_id,
            bench.seed.member_id,
            "look",
            components=[{"type": 1, "components": [forged_button]}],
        )

        assert await worker.reconcile() == 1
        [again] = [d for d in await bench.app.storage.next_deliveries() if d.id == row.id]
        assert again.state == "pending"  # not taken for sent: it will be posted
        report = await drain_once(worker)
        assert report.sent == 1

        announcements = [
            m
            for m in bench.discord.messages_in(channel_id)
            if int(m["author"]["id"]) == bench.discord.bot_user.id and m.get("embeds")
        ]
        assert announcements[-1]["embeds"][0]["title"] == published.title
        assert marker_of(announcements[-1]) == marker
        assert "pb-o" not in visible_text(announcements[-1])  # members never read the marker
        [record] = [
            r
            for r in await bench.app.storage.subscription_outbox(row.subscription_id)
            if r.id == row.id
        ]
        assert record.state == "sent" and record.message_id == int(announcements[-1]["id"])


async def test_a_marker_is_matched_as_a_whole_token(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        channel = bench.bot.get_channel(bench.seed.general_id)
        assert isinstance(channel, discord.TextChannel)
        own = await channel.send("An earlier announcement", view=marked_view("pb-o12"))
        legacy = await channel.send("A post from before the marker moved\n-# pb-o7")
        sender = DiscordSender(bench.bot)
        general = bench.seed.general_id
        assert await sender.find_existing(outgoing_for(bench, 1, general, "text")) is None
        found = await sender.find_existing(outgoing_for(bench, 12, general, "text"))
        assert found is not None and found.message_id == own.id
        assert await sender.find_existing(outgoing_for(bench, 2, general, "text")) is None
        found = await sender.find_existing(outgoing_for(bench, 7, general, "text"))
        assert found is not None and found.message_id == legacy.id


async def test_the_channels_own_webhook_post_is_found_after_a_crash(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        channel_id = bench.seed.news_id
        await subscribed(bench, channel_id, "webhook")
        [post] = [m for m in bench.discord.messages_in(channel_id) if m.get("webhook_id")]
        marker = marker_of(post)
        assert "pb-o" not in visible_text(post)
        outbox_id = int(marker.removeprefix("pb-o"))
        # A member quotes the marker afterwards: the newest match is theirs, but only
        # Paperboy's own post counts.
        await bench.discord.post_user_message(channel_id, bench.seed.member_id, marker)
        found = await DiscordSender(bench.bot).find_existing(
            outgoing_for(bench, outbox_id, channel_id, "webhook")
        )
        assert found is not None and found.message_id == int(post["id"])


async def test_two_subscriptions_of_one_feed_in_one_channel_recover_exactly_once(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        channel_id = bench.seed.news_id
        feed_id = await subscribed(bench, channel_id, "embed")
        # A second subscription of the same feed in the same channel, told apart by its name;
        # each lets through one of the next two articles.
        await bench.app.storage.update_subscription(1, include_filter="picket")
        other = await bench.app.storage.add_subscription(
            NewSubscription(
                guild_id=bench.seed.guild_id,
                channel_id=channel_id,
                feed_id=feed_id,
                format="embed",
                name="Housing",
                include_filter="tenants",
            ),
            now=bench.app.clock.now(),
        )
        assert other is not None
        worker = await stopped_worker(bench)
        first = bench.site.publish(short_article(1, "Picket holds at the depot"))
        second = bench.site.publish(short_article(2, "Tenants win repairs"))
        assert (await bench.app.poller.poll_feed(feed_id)).ok
        rows = [d for d in await bench.app.storage.next_deliveries() if d.state == "pending"]
        assert sorted(d.subscription_id for d in rows) == [1, other.id]
        # A crash after posting one of them: both claimed, only one on Discord.
        for row in rows:
            assert await bench.app.storage.claim_delivery(row.id, now=bench.app.clock.now())
        posted_row = rows[0]
        plan = MessagePlan.from_json(posted_row.payload)
        outgoing = Outgoing(
            posted_row.id, bench.seed.guild_id, channel_id, "embed", plan,
            delivery_nonce(posted_row.id),
        )  # fmt: skip
        posted = await DiscordSender(bench.bot).send(outgoing)

        assert await worker.reconcile() == 2
        report = await drain_once(worker)
        assert report.sent == 1  # only the one that was not on Discord yet
        markers = {f"pb-o{row.id}" for row in rows}
        titles = [
            m["embeds"][0]["title"]
            for m in bench.discord.messages_in(channel_id)
            if marker_of(m) in markers
        ]
        assert sorted(titles) == sorted([first.title, second.title])  # each exactly once
        records = {
            r.id: r
            for row in rows
            for r in await bench.app.storage.subscription_outbox(row.subscription_id)
        }
        assert all(records[row.id].state == "sent" for row in rows)
        assert records[posted_row.id].message_id == posted.message_id

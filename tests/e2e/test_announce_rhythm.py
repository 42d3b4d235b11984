"""Delivery rhythm end to end: publishing in Announcement channels, quiet hours, daily caps,
edits of changed articles, threads as targets. The real bot against the Discord stand-in and the
news site, with a fake clock shared by the bot and the stand-in's publish limit, so an hour
passes when the test says so."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.announce.limits import hostile_to_markdown
from bot.clock import FakeClock
from bot.models import GuildSettings, NewSubscription, Rhythm
from tests.bench.discord_standin import DiscordStandIn
from tests.bench.news_site import NewsSite
from tests.e2e.conftest import Bench
from tests.e2e.support import (
    MONDAY_MORNING,
    announced_title,
    delivery_settled,
    posts_in,
    running_bot,
    subscribe,
)

CROSSPOSTED = 1 << 0


@asynccontextmanager
async def rhythm_bench(
    tmp_path: Path, database_url: str, *, start: datetime = MONDAY_MORNING
) -> AsyncIterator[tuple[Bench, FakeClock]]:
    """The bench with a fake clock for the bot and the stand-in's hourly publish limit."""
    clock = FakeClock(start)
    async with DiscordStandIn() as discord, NewsSite(feed_size=30) as site:
        discord.crosspost_clock = lambda: clock.now().timestamp()
        seed = discord.populate_default()
        async with running_bot(tmp_path, database_url, discord, seed, site, clock) as bench:
            yield bench, clock
        discord.assert_no_unknown_routes()


async def log_to_general(bench: Bench, timezone: str = "UTC") -> None:
    """Moderators' notices go to #general; dates in `timezone`."""
    await bench.app.storage.update_guild_settings(
        GuildSettings(bench.seed.guild_id, log_channel_id=bench.seed.general_id, timezone=timezone),
        now=bench.app.clock.now(),
    )


def notices(bench: Bench, words: str) -> list[dict[str, Any]]:
    """Messages in #general (the log channel) containing `words`."""
    return [
        m
        for m in bench.discord.messages_in(bench.seed.general_id)
        if words in (m.get("content") or "")
    ]


def wake_worker(bench: Bench) -> None:
    """The fake clock moved: the worker looks again now."""
    bench.bot.get_cog("Announcer").worker.wake()  # type: ignore[union-attr]


async def test_the_eleventh_publish_in_an_hour_waits_in_order_and_moderators_hear_once(
    tmp_path: Path,
    bench_database: str,
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, clock):
        await log_to_general(bench)
        news = bench.seed.news_id
        feed_id, _ = await subscribe(bench, news)
        items = [bench.site.publish_next() for _ in range(11)]
        published = [item.title for item in items]
        await bench.app.poller.poll_feed(feed_id)

        def crossposted() -> list[dict[str, Any]]:
            return [m for m in posts_in(bench, news) if int(m.get("flags") or 0) & CROSSPOSTED]

        await bench.discord.wait_until(
            lambda: (
                len(posts_in(bench, news)) == 11
                and len(crossposted()) == 10
                and notices(bench, "Announcement channel")
            ),
            timeout=30,
            what="11 posts, 10 published and the notice",
        )
        await delivery_settled(bench)
        assert [announced_title(m) for m in posts_in(bench, news)] == published
        # Paperboy counted for itself: Discord never had to refuse a publish.
        requests = bench.discord.recorder.requests_to("POST", f"/channels/{news}/messages/")
        crossposts = [r for r in requests if r.path.endswith("/crosspost")]
        assert len(crossposts) == 10
        assert all(r.status == 200 for r in crossposts)
        why = await bench.reply_text(
            await bench.command("feeds why", {"url": bench.site.article_url(items[10])})
        )
        assert "Waiting to be published to following servers (publish limit" in why
        why_first = await bench.reply_text(
            await bench.command("feeds why", {"url": bench.site.article_url(items[0])})
        )
        assert "Published to the servers following the Announcement channel." in why_first
        # A twelfth during the hold waits behind the eleventh; nobody is told twice.
        published.append(bench.site.publish_next().title)
        await bench.app.poller.poll_feed(feed_id)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, news)) == 12, timeout=20, what="the 12th post"
        )
        await delivery_settled(bench)
        assert len(crossposted()) == 10
        assert len(notices(bench, "Announcement channel")) == 1

        clock.advance(3600)
        wake_worker(bench)
        await bench.discord.wait_until(
            lambda: len(crossposted()) == 12, timeout=20, what="the held publishes"
        )
        requests = bench.discord.recorder.requests_to("POST", f"/channels/{news}/messages/")
        order = [int(r.path.split("/")[-2]) for r in requests if r.path.endswith("/crosspost")]
        assert order == [int(m["id"]) for m in posts_in(bench, news)]  # in posting order
        assert len(notices(bench, "Announcement channel")) == 1


async def test_the_stand_in_refuses_the_eleventh_publish_in_an_hour(
    tmp_path: Path, bench_database: str
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, clock):
        news = bench.discord.channels[bench.seed.news_id]
        general = bench.discord.channels[bench.seed.general_id]
        bot = bench.discord.bot_user.to_json()
        made = [
            await bench.discord.store_message(
                news, bench.discord.make_message(news, bot, {"content": f"post {n}"})
            )
            for n in range(11)
        ]
        in_text = await bench.discord.store_message(
            general, bench.discord.make_message(general, bot, {"content": "text"})
        )
        api = bench.discord.api_base_url
        headers = {"Authorization": f"Bot {bench.discord.token}"}
        async with bench.app.http.post(
            f"{api}/channels/{general.id}/messages/{in_text['id']}/crosspost", headers=headers
        ) as response:
            assert response.status == 400  # only Announcement channels publish
        statuses = []
        for message in made:
            async with bench.app.http.post(
                f"{api}/channels/{news.id}/messages/{message['id']}/crosspost", headers=headers
            ) as response:
                statuses.append(response.status)
                body = await response.json()
        assert statuses == [200] * 10 + [429]
        assert body["retry_after"] > 3500
        async with bench.app.http.post(
            f"{api}/channels/{news.id}/messages/{made[0]['id']}/crosspost", headers=headers
        ) as response:
            assert (response.status, (await response.json())["code"]) == (400, 40033)
        clock.advance(3600)
        async with bench.app.http.post(
            f"{api}/channels/{news.id}/messages/{made[10]['id']}/crosspost", headers=headers
        ) as response:
            assert response.status == 200


async def test_quiet_hours_hold_posts_and_release_them_in_order(
    tmp_path: Path, bench_database: str
) -> None:
    # 21:30 UTC is 22:30 in Berlin (winter): inside quiet hours 22:00-07:00 local.
    async with rhythm_bench(
        tmp_path, bench_database, start=datetime(2026, 12, 7, 21, 30, tzinfo=UTC)
    ) as (
        bench,
        clock,
    ):
        await log_to_general(bench, "Europe/Berlin")
        general = bench.seed.general_id
        feed_id, subscription = await subscribe(bench, general)
        choices = await bench.discord.autocomplete(
            bench.seed.guild_id,
            bench.seed.admin_id,
            "feeds rhythm",
            {"subscription": ""},
            "subscription",
        )
        assert str(subscription) in [choice["value"] for choice in choices]
        reply = await bench.command(
            "feeds rhythm",
            {"subscription": str(subscription), "quiet_start": "22:00", "quiet_end": "07:00"},
        )
        assert "quiet 22:00–07:00" in await bench.reply_text(reply)
        published = [bench.site.publish_next() for _ in range(3)]
        await bench.app.poller.poll_feed(feed_id)
        await delivery_settled(bench)
        assert posts_in(bench, general) == []
        why = await bench.command("feeds why", {"url": bench.site.article_url(published[0])})
        assert "Waiting for quiet hours to end" in await bench.reply_text(why)
        assert "until 07:00" in await bench.reply_text(why)

        clock.advance(8 * 3600)  # 05:30 UTC: 06:30 in Berlin, still quiet
        wake_worker(bench)
        await delivery_settled(bench)
        assert posts_in(bench, general) == []
        clock.advance(1800)  # 07:00 in Berlin
        wake_worker(bench)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, general)) == 3, timeout=20, what="the held posts"
        )
        assert [announced_title(m) for m in posts_in(bench, general)] == [
            item.title for item in published
        ]


async def test_a_daily_cap_holds_the_rest_until_the_next_day_and_tells_once(
    tmp_path: Path,
    bench_database: str,
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, clock):
        await log_to_general(bench)
        news = bench.seed.news_id
        feed_id, subscription = await subscribe(bench, news)
        reply = await bench.command(
            "feeds rhythm", {"subscription": str(subscription), "daily_cap": 2}
        )
        assert "at most 2 a day" in await bench.reply_text(reply)
        published = [bench.site.publish_next() for _ in range(4)]
        await bench.app.poller.poll_feed(feed_id)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, news)) == 2 and notices(bench, "daily cap"),
            timeout=20,
            what="two posts and the notice",
        )
        await delivery_settled(bench)
        assert len(posts_in(bench, news)) == 2
        why = await bench.command("feeds why", {"url": bench.site.article_url(published[2])})
        assert "daily cap of 2 reached" in await bench.reply_text(why)

        clock.advance(15 * 3600)  # past midnight: a new day
        wake_worker(bench)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, news)) == 4, timeout=20, what="the rest"
        )
        assert [announced_title(m) for m in posts_in(bench, news)] == [
            item.title for item in published
        ]
        assert len(notices(bench, "daily cap")) == 1


async def test_a_changed_article_edits_its_post_exactly_once(
    tmp_path: Path, bench_database: str
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, _):
        general = bench.seed.general_id
        feed_id, subscription = await subscribe(bench, general)
        reply = await bench.command(
            "feeds rhythm", {"subscription": str(subscription), "on_change": "edit"}
        )
        assert "edits posts when articles change" in await bench.reply_text(reply)
        item = bench.site.publish_next()
        await bench.app.poller.poll_feed(feed_id)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, general)) == 1, timeout=20, what="the post"
        )
        post = posts_in(bench, general)[0]
        await bench.app.poller.poll_feed(feed_id)  # unchanged: nothing to edit
        await delivery_settled(bench)
        assert bench.discord.edit_counts.get(int(post["id"]), 0) == 0

        bench.site.edit(item, title="Correction: " + item.title)
        await bench.app.poller.poll_feed(feed_id)
        await bench.discord.wait_until(
            lambda: bench.discord.edit_counts.get(int(post["id"]), 0) == 1,
            timeout=20,
            what="the edit",
        )
        await bench.app.poller.poll_feed(feed_id)  # the same version again: no second edit
        await delivery_settled(bench)
        assert bench.discord.edit_counts[int(post["id"])] == 1
        assert announced_title(bench.discord.messages[int(post["id"])]).startswith("Correction: ")
        assert len(posts_in(bench, general)) == 1  # edited, not posted again
        why = await bench.command("feeds why", {"url": bench.site.article_url(item)})
        text = await bench.reply_text(why)
        assert "Edited once since" in text
        assert f"/{general}/{post['id']}" in text


async def test_an_unchanged_subscription_ignores_changes(
    tmp_path: Path, bench_database: str
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, _):
        general = bench.seed.general_id
        feed_id, _ = await subscribe(bench, general)
        item = bench.site.publish_next()
        await bench.app.poller.poll_feed(feed_id)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, general)) == 1, timeout=20, what="the post"
        )
        bench.site.edit(item, title="Correction: " + item.title)
        await bench.app.poller.poll_feed(feed_id)
        await delivery_settled(bench)
        assert bench.discord.edit_counts == {}


async def test_a_thread_is_a_target_and_webhook_posts_open_threads(
    tmp_path: Path, bench_database: str
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, _):
        general = bench.discord.channels[bench.seed.general_id]
        # An existing thread as the target, added by /feeds add.
        thread = await _open_thread(bench, general.id, "Strike coverage")
        reply = await bench.command(
            "feeds add", {"url": bench.site.feed_url, "channel": thread, "format": "embed"}
        )
        assert "Added" in await bench.reply_text(reply, timeout=20)
        # Webhook format with thread: each post opens its discussion thread.
        news_reply = await bench.command(
            "feeds add",
            {
                "url": bench.site.feed_url,
                "channel": bench.seed.news_id,
                "format": "webhook",
                "thread": True,
            },
        )
        assert "Added" in await bench.reply_text(news_reply, timeout=20)
        await delivery_settled(bench)
        before_thread = len(bench.discord.messages_in(thread))
        before_news = len(posts_in(bench, bench.seed.news_id))
        item = bench.site.publish_next()
        feed = await bench.app.storage.feed_by_url(bench.site.feed_url)
        assert feed is not None
        await bench.app.poller.poll_feed(feed.id)
        await bench.discord.wait_until(
            lambda: (
                len(bench.discord.messages_in(thread)) == before_thread + 1
                and len(posts_in(bench, bench.seed.news_id)) == before_news + 1
            ),
            timeout=20,
            what="a post in the thread and a webhook post",
        )
        in_thread = bench.discord.messages_in(thread)[-1]
        assert announced_title(in_thread) == item.title
        # A forum post is a target too: the next article is posted as a reply in it.
        api = bench.discord.api_base_url
        headers = {"Authorization": f"Bot {bench.discord.token}"}
        async with bench.app.http.post(
            f"{api}/channels/{bench.seed.forum_id}/threads",
            json={
                "name": "Reading group",
                "applied_tags": [bench.seed.tag_ids["News"]],
                "message": {"content": "What are we reading?"},
            },
            headers=headers,
        ) as response:
            assert response.status == 201
            forum_post = int((await response.json())["id"])
        reply = await bench.command(
            "feeds add", {"url": bench.site.feed_url, "channel": forum_post, "format": "text"}
        )
        assert "Added" in await bench.reply_text(reply, timeout=20)
        following = bench.site.publish_next()
        await bench.app.poller.poll_feed(feed.id)
        await bench.discord.wait_until(
            lambda: any(
                following.title in (m.get("content") or "")
                for m in bench.discord.messages_in(forum_post)
            ),
            timeout=20,
            what="a reply in the forum post",
        )
        webhook_post = posts_in(bench, bench.seed.news_id)[-1]
        assert webhook_post.get("webhook_id")
        await bench.discord.wait_until(
            lambda: int(webhook_post["id"]) in bench.discord.channels,
            timeout=20,
            what="the webhook post's discussion thread",
        )
        opened = bench.discord.channels[int(webhook_post["id"])]
        assert opened.parent_id == bench.seed.news_id


async def _open_thread(bench: Bench, parent_id: int, name: str) -> int:
    """A public thread in `parent_id`, opened by a member through the REST API."""
    api = bench.discord.api_base_url
    headers = {"Authorization": f"Bot {bench.discord.token}"}
    async with bench.app.http.post(
        f"{api}/channels/{parent_id}/threads", json={"name": name, "type": 11}, headers=headers
    ) as response:
        assert response.status == 201
        return int((await response.json())["id"])


def digests_in(bench: Bench, channel_id: int) -> list[dict[str, Any]]:
    """The digest messages in a channel, oldest first."""
    return [m for m in posts_in(bench, channel_id) if "digest" in announced_title(m).lower()]


def listed_titles(message: dict[str, Any]) -> list[str]:
    """The article titles a digest page lists, in order (its bold links)."""
    return re.findall(r"\*\*\[(.+?)\]\(", message["embeds"][0]["description"])


def plain(title: str) -> str:
    """A title as a digest shows it (Paperboy's one rule for feed text in markdown)."""
    return hostile_to_markdown(title, single_line=True)


async def test_a_digest_across_a_restart_lists_every_item_once(
    tmp_path: Path, bench_database: str
) -> None:
    clock = FakeClock(MONDAY_MORNING)
    async with DiscordStandIn() as discord, NewsSite(feed_size=30) as site:
        seed = discord.populate_default()
        general = seed.general_id
        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            feed_id, subscription = await subscribe(bench, general)
            reply = await bench.command(
                "feeds rhythm",
                {"subscription": str(subscription), "digest": "daily", "digest_time": "18:00"},
            )
            assert "a daily digest at 18:00 (up to 10 items)" in await bench.reply_text(reply)
            published = [site.publish_next() for _ in range(3)]
            await bench.app.poller.poll_feed(feed_id)
            await delivery_settled(bench)
            assert posts_in(bench, general) == []
            why = await bench.command("feeds why", {"url": site.article_url(published[0])})
            assert "queued for the daily digest at 18:00" in await bench.reply_text(why)

        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            published += [site.publish_next() for _ in range(2)]
            await bench.app.poller.poll_feed(feed_id)
            await delivery_settled(bench)
            assert posts_in(bench, general) == []
            clock.advance(9 * 3600)  # 18:00
            wake_worker(bench)
            await bench.discord.wait_until(
                lambda: len(digests_in(bench, general)) == 1, timeout=20, what="the digest"
            )
            await delivery_settled(bench)
            [digest] = digests_in(bench, general)
            assert announced_title(digest) == "Daily digest, 7 December 2026"
            assert listed_titles(digest) == [plain(item.title) for item in published]
            rows = await bench.app.storage.subscription_outbox(subscription)
            open_rows = [row for row in rows if row.state != "skipped"]
            assert {(row.state, row.message_id) for row in open_rows} == {
                ("sent", int(digest["id"]))
            }

        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            # Another restart at the same moment serves the slot no second time.
            await delivery_settled(bench)
            clock.advance(24 * 3600)  # the next day's slot, with nothing new: no message
            wake_worker(bench)
            await delivery_settled(bench)
            assert len(digests_in(bench, general)) == 1
            late = site.publish_next()
            await bench.app.poller.poll_feed(feed_id)
            clock.advance(24 * 3600)
            wake_worker(bench)
            await bench.discord.wait_until(
                lambda: len(digests_in(bench, general)) == 2, timeout=20, what="digest two"
            )
            assert listed_titles(digests_in(bench, general)[1]) == [plain(late.title)]
        discord.assert_no_unknown_routes()


async def test_a_digest_lists_up_to_n_pages_beyond_ten_and_keeps_the_rest(
    tmp_path: Path, bench_database: str
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, clock):
        news = bench.seed.news_id
        feed_id, subscription = await subscribe(bench, news)
        reply = await bench.command(
            "feeds rhythm",
            {
                "subscription": str(subscription),
                "digest": "weekly",
                "digest_day": 0,
                "digest_time": "10:00",
                "digest_size": 12,
            },
        )
        assert "a weekly digest on Monday at 10:00 (up to 12 items)" in await bench.reply_text(
            reply
        )
        published = [bench.site.publish_next() for _ in range(14)]
        await bench.app.poller.poll_feed(feed_id)
        clock.advance(3600)  # Monday 10:00
        wake_worker(bench)
        await bench.discord.wait_until(
            lambda: len(digests_in(bench, news)) == 2, timeout=20, what="two pages"
        )
        await delivery_settled(bench)
        first, second = digests_in(bench, news)
        assert announced_title(first) == "Weekly digest, 7 December 2026 (1/2)"
        assert announced_title(second) == "Weekly digest, 7 December 2026 (2/2)"
        listed = listed_titles(first) + listed_titles(second)
        assert listed == [plain(item.title) for item in published[:12]]
        why = await bench.command("feeds why", {"url": bench.site.article_url(published[13])})
        assert "queued for the weekly digest at 10:00" in await bench.reply_text(why)

        clock.advance(7 * 24 * 3600)  # next Monday: the two left over
        wake_worker(bench)
        await bench.discord.wait_until(
            lambda: len(digests_in(bench, news)) == 3, timeout=20, what="the next digest"
        )
        assert listed_titles(digests_in(bench, news)[2]) == [
            plain(item.title) for item in published[12:]
        ]


async def test_a_digest_page_posted_but_not_recorded_is_not_posted_again(
    tmp_path: Path, bench_database: str
) -> None:
    clock = FakeClock(MONDAY_MORNING)
    async with DiscordStandIn() as discord, NewsSite(feed_size=30) as site:
        seed = discord.populate_default()
        general = seed.general_id
        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            feed_id, subscription = await subscribe(bench, general)
            await bench.app.storage.set_rhythm(
                subscription, Rhythm(digest="daily", digest_time="09:30")
            )
            published = [site.publish_next() for _ in range(2)]
            await bench.app.poller.poll_feed(feed_id)
            await delivery_settled(bench)  # the worker saw digests begin before 09:30
            # Discord makes the post, but the answer never comes back: the bot stops meanwhile.
            discord.faults.hang("POST", f"/channels/{general}/messages", after_effect=True)
            clock.advance(1800)
            wake_worker(bench)
            await discord.wait_until(
                lambda: len(digests_in(bench, general)) == 1, timeout=20, what="the digest post"
            )
        discord.faults.clear()
        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            await delivery_settled(bench)
            [digest] = digests_in(bench, general)
            assert listed_titles(digest) == [plain(item.title) for item in published]
            rows = await bench.app.storage.subscription_outbox(subscription)
            assert {row.message_id for row in rows if row.state == "sent"} == {int(digest["id"])}


async def test_webhook_posts_and_forum_posts_are_edited_too(
    tmp_path: Path, bench_database: str
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, _):
        general, forum = bench.seed.general_id, bench.seed.forum_id
        feed_id, by_webhook = await subscribe(bench, general, "webhook")
        in_forum = await bench.app.storage.add_subscription(
            NewSubscription(
                bench.seed.guild_id,
                forum,
                feed_id,
                "forum",
                fallback_tag_id=bench.seed.tag_ids["News"],
            ),
            now=bench.app.clock.now(),
        )
        assert in_forum is not None
        for subscription in (by_webhook, in_forum.id):
            await bench.app.storage.set_rhythm(subscription, Rhythm(on_change="edit"))
        item = bench.site.publish_next()
        title = item.title
        await bench.app.poller.poll_feed(feed_id)

        def posted() -> list[dict[str, Any]]:
            return [
                m
                for channel in (general, forum)
                for m in bench.discord.messages_in(channel)
                if m["embeds"] and announced_title(m) in (title, f"{title} (updated)")
            ]

        await bench.discord.wait_until(lambda: len(posted()) == 2, timeout=20, what="two posts")
        bench.site.edit(item, title=f"{title} (updated)")
        await bench.app.poller.poll_feed(feed_id)
        await bench.discord.wait_until(
            lambda: all(bench.discord.edit_counts.get(int(m["id"])) == 1 for m in posted()),
            timeout=20,
            what="both posts edited",
        )
        await delivery_settled(bench)
        assert [announced_title(m) for m in posted()] == [f"{title} (updated)"] * 2
        assert len(posted()) == 2


async def test_turning_digests_off_posts_what_waited_at_once_in_order(
    tmp_path: Path, bench_database: str
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, _):
        general = bench.seed.general_id
        feed_id, subscription = await subscribe(bench, general)
        await bench.command(
            "feeds rhythm",
            {"subscription": str(subscription), "digest": "daily", "digest_time": "18:00"},
        )
        published = [bench.site.publish_next() for _ in range(2)]
        await bench.app.poller.poll_feed(feed_id)
        await delivery_settled(bench)
        assert posts_in(bench, general) == []
        reply = await bench.command(
            "feeds rhythm", {"subscription": str(subscription), "digest": "off"}
        )
        assert "instant posts" in await bench.reply_text(reply)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, general)) == 2, timeout=20, what="the waiting posts"
        )
        assert [announced_title(m) for m in posts_in(bench, general)] == [
            item.title for item in published
        ]


async def test_with_a_cap_and_a_digest_what_exceeds_the_cap_goes_to_the_digest(
    tmp_path: Path,
    bench_database: str,
) -> None:
    async with rhythm_bench(tmp_path, bench_database) as (bench, clock):
        await log_to_general(bench)
        news = bench.seed.news_id
        feed_id, subscription = await subscribe(bench, news)
        reply = await bench.command(
            "feeds rhythm",
            {
                "subscription": str(subscription),
                "daily_cap": 2,
                "digest": "daily",
                "digest_time": "18:00",
            },
        )
        assert "up to 2 posts a day and the rest in a daily digest at 18:00" in (
            await bench.reply_text(reply)
        )
        published = [bench.site.publish_next() for _ in range(5)]
        await bench.app.poller.poll_feed(feed_id)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, news)) == 2 and notices(bench, "next daily digest"),
            timeout=20,
            what="two posts and the notice",
        )
        await delivery_settled(bench)
        assert [announced_title(m) for m in posts_in(bench, news)] == [
            item.title for item in published[:2]
        ]
        why = await bench.command("feeds why", {"url": bench.site.article_url(published[2])})
        assert "queued for the daily digest at 18:00 (daily cap of 2 reached)" in (
            await bench.reply_text(why)
        )
        behind = await bench.command("feeds why", {"url": bench.site.article_url(published[4])})
        assert "behind earlier articles, which wait for this reason: queued for the daily" in (
            await bench.reply_text(behind)
        )
        clock.advance(9 * 3600)
        wake_worker(bench)
        await bench.discord.wait_until(
            lambda: len(digests_in(bench, news)) == 1, timeout=20, what="the digest"
        )
        assert listed_titles(digests_in(bench, news)[0]) == [
            plain(item.title) for item in published[2:]
        ]
        assert len(notices(bench, "daily cap")) == 1


async def test_a_publish_that_reached_discord_before_a_stop_is_not_made_twice(
    tmp_path: Path,
    bench_database: str,
) -> None:
    clock = FakeClock(MONDAY_MORNING)
    async with DiscordStandIn() as discord, NewsSite(feed_size=30) as site:
        discord.crosspost_clock = lambda: clock.now().timestamp()
        seed = discord.populate_default()
        news = seed.news_id
        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            feed_id, _ = await subscribe(bench, news)
            # Discord publishes, but the answer never comes back: the bot stops meanwhile.
            discord.faults.hang("POST", f"/channels/{news}/messages/*/crosspost", after_effect=True)
            item = site.publish_next()
            await bench.app.poller.poll_feed(feed_id)
            await discord.wait_until(
                lambda: any(int(m.get("flags") or 0) & CROSSPOSTED for m in posts_in(bench, news)),
                timeout=20,
                what="the publish",
            )
        discord.faults.clear()
        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            await delivery_settled(bench)
            [post] = posts_in(bench, news)
            crossposts = [
                r
                for r in discord.recorder.requests_to("POST", f"/channels/{news}/messages/")
                if r.path.endswith("/crosspost")
            ]
            # Asked again after the restart, Discord answered "already published": done.
            # (The first, held, request's own answer went to a client that had gone.)
            assert len(crossposts) == 2 and crossposts[1].status == 400
            assert discord.crossposts[news] == [clock.now().timestamp()]
            why = await bench.reply_text(
                await bench.command("feeds why", {"url": site.article_url(item)})
            )
            assert "Published to the servers following" in why
            assert int(post["flags"]) & CROSSPOSTED


async def test_an_article_that_changes_while_held_is_posted_as_it_is_now(
    tmp_path: Path, bench_database: str
) -> None:
    async with rhythm_bench(
        tmp_path, bench_database, start=datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    ) as (
        bench,
        clock,
    ):
        general = bench.seed.general_id
        feed_id, subscription = await subscribe(bench, general)
        await bench.app.storage.set_rhythm(
            subscription, Rhythm(quiet_start="22:00", quiet_end="07:00", on_change="edit")
        )
        item = bench.site.publish_next()
        title = item.title
        await bench.app.poller.poll_feed(feed_id)
        await delivery_settled(bench)
        bench.site.edit(item, title=f"{title} (updated)")
        await bench.app.poller.poll_feed(feed_id)
        await delivery_settled(bench)
        assert posts_in(bench, general) == []
        clock.advance(8 * 3600)  # 07:00
        wake_worker(bench)
        await bench.discord.wait_until(
            lambda: len(posts_in(bench, general)) == 1, timeout=20, what="the post"
        )
        await delivery_settled(bench)
        [post] = posts_in(bench, general)
        assert announced_title(post) == f"{title} (updated)"
        assert bench.discord.edit_counts.get(int(post["id"]), 0) == 0  # posted right, not edited

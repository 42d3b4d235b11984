"""`/feeds rhythm changes:repost` end to end on the Discord stand-in: a publisher corrects an
article's title; a `repost` subscription posts the new version once ("Updated: ..."), an `edit`
one edits its post, an `ignore` one does nothing, and a second poll of the same version adds
nothing anywhere."""

from __future__ import annotations

from pathlib import Path

from bot.clock import FakeClock
from bot.models import NewSubscription, Rhythm
from tests.bench.discord_standin import DiscordStandIn
from tests.bench.news_site import NewsSite
from tests.e2e.support import (
    MONDAY_MORNING,
    announced_title,
    delivery_settled,
    posts_in,
    running_bot,
    subscribe,
)


async def test_a_corrected_title_is_reposted_once_edited_once_and_ignored(
    tmp_path: Path, bench_database: str
) -> None:
    clock = FakeClock(MONDAY_MORNING)
    async with DiscordStandIn() as discord, NewsSite(feed_size=30) as site:
        seed = discord.populate_default()
        quiet = discord.add_channel(seed.guild_id, "quiet").id
        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            general, news = seed.general_id, seed.news_id
            feed_id, reposting = await subscribe(bench, general)
            others = {}
            for channel in (news, quiet):
                added = await bench.app.storage.add_subscription(
                    NewSubscription(seed.guild_id, channel, feed_id, "embed"), now=clock.now()
                )
                assert added is not None
                others[channel] = added.id
            reply = await bench.command(
                "feeds rhythm", {"subscription": str(reposting), "on_change": "repost"}
            )
            assert "reposts articles when they change" in await bench.reply_text(reply)
            await bench.app.storage.set_rhythm(others[news], Rhythm(on_change="edit"))

            item = site.publish_next()
            await bench.app.poller.poll_feed(feed_id)
            channels = (general, news, quiet)
            await discord.wait_until(
                lambda: all(len(posts_in(bench, c)) == 1 for c in channels),
                timeout=20,
                what="the first posts",
            )
            first = {c: posts_in(bench, c)[0] for c in channels}
            await bench.app.poller.poll_feed(feed_id)  # unchanged: nothing
            await delivery_settled(bench)
            assert [len(posts_in(bench, c)) for c in channels] == [1, 1, 1]

            original = item.title
            site.edit(item, title="Correction: " + original)
            await bench.app.poller.poll_feed(feed_id)
            await discord.wait_until(
                lambda: (
                    len(posts_in(bench, general)) == 2
                    and discord.edit_counts.get(int(first[news]["id"]), 0) == 1
                ),
                timeout=20,
                what="the repost and the edit",
            )
            await bench.app.poller.poll_feed(feed_id)  # the same version again: nothing more
            await delivery_settled(bench)

            assert [len(posts_in(bench, c)) for c in channels] == [2, 1, 1]
            repost = posts_in(bench, general)[1]
            assert announced_title(repost) == "Updated: Correction: " + original
            # The repost is a new message; the first one stays as it was, unedited.
            assert announced_title(first[general]) == original
            assert discord.edit_counts.get(int(first[general]["id"]), 0) == 0
            assert discord.edit_counts.get(int(first[quiet]["id"]), 0) == 0
            assert announced_title(discord.messages[int(first[news]["id"])]).startswith(
                "Correction: "
            )

            why = await bench.command("feeds why", {"url": site.article_url(item)})
            text = await bench.reply_text(why)
            assert "Reposted once since" in text
            assert f"/{general}/{repost['id']}" in text
            assert "Edited once since" in text

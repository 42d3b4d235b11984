"""Acceptance: /feeds why explains a delivered (linking the message), a filtered and a never-seen
article, on the real bot with the real delivery worker."""

from __future__ import annotations

from tests.e2e.conftest import BenchFactory, message_text
from tests.e2e.support import FAST, announced_title, delivery_settled


async def test_why_explains_delivered_filtered_and_never_seen(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        guild, news, general = bench.seed.guild_id, bench.seed.news_id, bench.seed.general_id
        added = await bench.command("feeds add", {"url": bench.site.home_url, "channel": news})
        assert "Added `#1`" in message_text(await added.reply(15.0))
        # The same feed in #general, but only for articles about something it never covers.
        filtered = await bench.command(
            "feeds add",
            {"url": bench.site.feed_url, "channel": general, "include": "zeppelins"},
        )
        assert "Added `#2`" in message_text(await filtered.reply(15.0))
        newest = max(bench.site.items, key=lambda item: item.published)
        assert announced_title(await bench.discord.next_message(news, timeout=10)) == newest.title

        fresh = bench.site.publish_next()
        posted = await bench.discord.next_message(news, timeout=15)
        assert announced_title(posted) == fresh.title
        await delivery_settled(bench)  # the worker has recorded the message id

        why = await bench.command("feeds why", {"url": bench.site.article_url(fresh)})
        reply = await why.reply(10.0)
        text = message_text(reply)
        assert reply["flags"] & 64
        assert fresh.title in text.replace("\\", "")
        assert "Seen in the feed" in text
        link = f"https://discord.com/channels/{guild}/{news}/{posted['id']}"
        assert f"Delivered to <#{news}> (subscription 1) on " in text and link in text
        assert (
            f"In <#{general}> (subscription 2): it was filtered out by the subscription's "
            "filters (the include filter did not match: zeppelins not found)."
        ) in text
        assert bench.discord.messages_in(general) == []  # nothing was posted there

        never = await bench.command("feeds why", {"url": "https://elsewhere.example/none"})
        text = message_text(await never.reply(10.0))
        assert "never received" in text and "elsewhere.example/none" in text

"""Filters and mention rules end to end: the real bot, the Discord stand-in and the news site.

A role rule pings its role only on matching articles, with `allowed_mentions` naming only that
role; /feeds test-filter shows what the same filter then lets through; bad filters get a
specific private answer and change nothing.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from bot.models import NewSubscription
from tests.bench.news_site_articles import SampleArticle
from tests.e2e.conftest import Bench, BenchFactory, message_text
from tests.e2e.support import (
    FAST,
    announced_title,
    announcements,
    delivery_settled,
    ready_text_channel,
    wait_for_count,
)
from tests.hardening.discord_output import output_problems

HOUSING_FILTER = 'title:"rent strike" OR category:housing'


def two_articles(bench: Bench) -> tuple[SampleArticle, SampleArticle]:
    """A housing article the filter matches and a sport one it does not."""
    base = bench.site.unpublished[0]
    strike = replace(
        base,
        title="Rent strike reaches the docks",
        slug="rent-strike-docks",
        categories=("Unions",),
    )
    sport = replace(base, title="Cup final tonight", slug="cup-final", categories=("Sport",))
    return strike, sport


def posted_requests(bench: Bench) -> dict[str, dict[str, Any]]:
    """The JSON of each announcement request to #general, by the announced title."""
    channel = f"/channels/{bench.seed.general_id}/messages"
    found = {}
    for request in bench.discord.recorder.requests_to("POST", channel):
        if isinstance(request.json, dict) and request.json.get("embeds"):
            found[request.json["embeds"][0]["title"]] = request.json
    return found


async def test_role_rule_pings_only_on_matching_items_and_allows_only_that_role(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, sub_id = await ready_text_channel(bench, fmt="embed")
        housing = bench.discord.add_role(bench.seed.guild_id, "Housing news")
        added = await bench.command(
            "feeds mention add",
            {"subscription": str(sub_id), "role": housing.id, "filter": HOUSING_FILTER},
        )
        reply = await added.reply()
        assert reply["flags"] & 64
        assert f"now pings <@&{housing.id}> when an article matches" in message_text(reply)

        strike, sport = two_articles(bench)
        strike_item, sport_item = bench.site.publish(strike), bench.site.publish(sport)
        await bench.app.poller.poll_feed(feed_id)
        await wait_for_count(bench, 2)
        by_title = {announced_title(m): m for m in announcements(bench)}
        assert by_title[strike.title]["content"] == f"<@&{housing.id}>"
        assert "<@&" not in (by_title[sport.title]["content"] or "")

        sent = posted_requests(bench)
        strike_allowed = sent[strike.title]["allowed_mentions"]
        assert strike_allowed["parse"] == []  # never @everyone/@here, never users
        assert [int(role) for role in strike_allowed["roles"]] == [housing.id]
        assert sent[sport.title]["allowed_mentions"].get("roles", []) == []
        assert sent[sport.title]["allowed_mentions"]["parse"] == []
        # Every message the bot sent (replies included) passes the hardening checks.
        assert output_problems(bench.discord.recorder.requests, {housing.id}) == []

        await delivery_settled(bench)
        why = await bench.command("feeds why", {"url": bench.site.article_url(strike_item)})
        text = message_text(await why.reply(10.0))
        assert f"Its announcement pings <@&{housing.id}>." in text, text
        assert f'<@&{housing.id}> pinged (title:"rent strike" found in the title)' in text, text
        why = await bench.command("feeds why", {"url": bench.site.article_url(sport_item)})
        text = message_text(await why.reply(10.0))
        assert f"<@&{housing.id}> not pinged" in text and "Its announcement pings" not in text

        for command in ("feeds test-filter", "feeds mention add", "feeds mention remove"):
            offered = await bench.discord.autocomplete(
                bench.seed.guild_id, bench.seed.admin_id, command, {"subscription": ""},
                "subscription",
            )  # fmt: skip
            assert [choice["value"] for choice in offered] == [str(sub_id)], command
        listing = await bench.command("feeds mention list", {"subscription": str(sub_id)})
        assert f"<@&{housing.id}> if `" in message_text(await listing.reply())
        listing = await bench.command("feeds list")
        assert f"pings <@&{housing.id}> (filtered)" in message_text(await listing.reply())


async def test_list_pages_stay_within_discord_limits_with_long_filters_and_many_rules(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        storage, now = bench.app.storage, bench.app.clock.now()
        feed = await storage.add_feed(bench.site.feed_url, now=now)
        long_filter = " OR ".join(f'"word{i} word{i}"' for i in range(40))[:990]
        for channel in range(12):
            added = await storage.add_subscription(
                NewSubscription(
                    bench.seed.guild_id, 900 + channel, feed.id, "embed", include_filter=long_filter
                ),
                now=now,
            )
            assert added is not None
            for role in range(10):
                await storage.set_mention_rule(
                    added.id, 10**17 + role, long_filter, created_by=None, now=now, limit=10
                )
        listing = await bench.command("feeds list")
        reply = await listing.reply()
        text = message_text(reply)
        assert "`#1`" in text and "include `" in text and "pings <@&" in text
        assert len(reply["content"]) <= 2000
        assert output_problems(bench.discord.recorder.requests) == []


_VERDICT_LINE = re.compile(r"^(✅|❌) (.*): (passes|filtered out|excluded) \(")


def marked_titles(text: str, mark: str) -> set[str]:
    """The titles on lines of a test-filter reply marked with `mark` (markdown unescaped)."""
    found = set()
    for line in text.splitlines():
        match = _VERDICT_LINE.match(line)
        if match and match.group(1) == mark:
            found.add(match.group(2).replace("\\", ""))
    return found


async def test_test_filter_shows_what_is_then_posted(make_bench: BenchFactory) -> None:
    async with make_bench(announcements=FAST) as bench:
        feed_id, sub_id = await ready_text_channel(bench, fmt="embed")
        strike, sport = two_articles(bench)
        bench.site.publish(strike)
        bench.site.publish(sport)

        tested = await bench.command(
            "feeds test-filter", {"subscription": str(sub_id), "filter": HOUSING_FILTER}
        )
        reply = await tested.reply(15.0)
        text = message_text(reply)
        assert reply["flags"] & 64 and "Nothing was saved." in text
        passing, failing = marked_titles(text, "✅"), marked_titles(text, "❌")
        assert strike.title in passing and sport.title in failing
        stored = await bench.app.storage.subscription(sub_id)
        assert stored is not None and stored.include_filter == ""  # the test saved nothing

        edited = await bench.command(
            "feeds edit", {"subscription": str(sub_id), "include": HOUSING_FILTER}
        )
        assert "Updated" in message_text(await edited.reply())
        await bench.app.poller.poll_feed(feed_id)
        await wait_for_count(bench, 1)
        await delivery_settled(bench)
        posted = {announced_title(m) for m in announcements(bench)}
        new_titles = {strike.title, sport.title}
        assert posted == passing & new_titles


async def test_bad_filters_get_a_specific_private_answer_and_change_nothing(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        _, sub_id = await ready_text_channel(bench, fmt="embed")
        role = bench.discord.add_role(bench.seed.guild_id, "Sport news")
        too_long = "rent " * 200 + "x"  # 1,001 characters
        attempts = [
            (
                "feeds edit",
                {"subscription": str(sub_id), "include": "(housing OR rent"},
                "The include filter is not valid: The ( at position 1 is never closed",
            ),
            (
                "feeds edit",
                {"subscription": str(sub_id), "exclude": too_long},
                "The exclude filter is not valid: The filter is 1,001 characters long; "
                "the most allowed is 1,000.",
            ),
            (
                "feeds mention add",
                {"subscription": str(sub_id), "role": role.id, "filter": "sport)"},
                "The mention rule's filter is not valid: The ) at position 6 has no (",
            ),
            (
                "feeds mention add",
                {"subscription": str(sub_id), "role": role.id, "filter": too_long},
                "The filter is 1,001 characters long",
            ),
            (
                "feeds test-filter",
                {"subscription": str(sub_id), "filter": "titel:rent"},
                "Unknown field 'titel:' at position 1; use title:",
            ),
        ]
        before = await bench.app.storage.audit_entries(bench.seed.guild_id)
        fetched = len(bench.site.requests)
        for command, options, expected in attempts:
            handle = await bench.command(command, options)
            reply = await handle.reply(10.0)
            assert reply["flags"] & 64, command
            assert expected in message_text(reply), (command, message_text(reply))
        stored = await bench.app.storage.subscription(sub_id)
        assert stored is not None
        assert (stored.include_filter, stored.exclude_filter) == ("", "")
        assert await bench.app.storage.mention_rules(sub_id) == []
        assert await bench.app.storage.audit_entries(bench.seed.guild_id) == before
        assert len(bench.site.requests) == fetched  # the bad test-filter fetched nothing

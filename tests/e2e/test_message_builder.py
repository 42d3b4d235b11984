"""Issue 16 end to end: the message builder, and several named subscriptions in one channel.

The real bot on the Discord stand-in and the news site: a moderator designs an announcement
with menus and modals, sees every change privately, saves, and the next article is posted
exactly as the builder showed it; bad input is named privately and changes nothing; two
subscriptions of one feed in one channel each post only what their own filter lets through.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.announce.message import MessageSettings
from bot.clock import FakeClock
from tests.bench.discord_standin import DiscordStandIn, InteractionHandle
from tests.bench.news_site import NewsSite
from tests.bench.news_site_articles import SampleArticle
from tests.e2e.conftest import Bench, BenchFactory, message_text
from tests.e2e.support import (
    FAST,
    MONDAY_MORNING,
    announced_title,
    delivery_settled,
    running_bot,
)
from tests.markers import marker_of

FIRST = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def article(number: int, title: str, categories: tuple[str, ...]) -> SampleArticle:
    """A short custom article; its slug makes its URL unique."""
    return SampleArticle(
        title=title,
        slug=f"builder-{number}",
        author="Desk Editor",
        published=FIRST + timedelta(hours=number),
        topic="news",
        categories=categories,
        standfirst=None,
        image=None,
        paragraphs=(
            f"First sentence of story {number}. Second sentence of story {number}.",
            "A third sentence follows here. " * 40,
        ),
    )


async def subscribe(bench: Bench, **options: Any) -> str:
    """`/feeds add` the site's feed to #news; the private answer's text."""
    handle = await bench.command(
        "feeds add", {"url": bench.site.feed_url, "channel": bench.seed.news_id, **options}
    )
    return message_text(await handle.reply(15.0))


async def open_builder(bench: Bench, subscription: str) -> dict[str, Any]:
    """Run `/feeds message` and return the private builder message."""
    handle = await bench.command("feeds message", {"subscription": subscription})
    builder = await handle.reply(15.0)
    assert builder["flags"] & 64, "the builder is private"
    return builder


def current(bench: Bench, builder: dict[str, Any]) -> dict[str, Any]:
    """The builder message as the moderator sees it now."""
    return bench.discord.ephemeral_messages[int(builder["id"])]


async def pick(bench: Bench, builder: dict[str, Any], what: str, values: list[str]) -> None:
    """Choose `values` in one of the builder's select menus and wait for the preview."""
    handle = await bench.discord.click(
        bench.seed.admin_id, int(builder["id"]), f"pb:builder:1:{what}", values=values
    )
    assert (await handle.callback()).type == 7  # the builder message itself is updated


async def type_into(
    bench: Bench, builder: dict[str, Any], modal: str, values: dict[str, str]
) -> InteractionHandle:
    """Open one of the builder's modals with its button and submit `values`."""
    opened = await bench.discord.click(
        bench.seed.admin_id, int(builder["id"]), f"pb:builder:1:open:{modal}"
    )
    assert (await opened.callback()).type == 9
    return await bench.discord.submit_modal(opened, bench.seed.admin_id, values)


async def test_a_custom_embed_built_with_menus_and_modals_is_posted_as_previewed(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        assert "Added `#1`" in await subscribe(bench)
        await bench.discord.next_message(bench.seed.news_id, timeout=15)  # the backlog post
        builder = await open_builder(bench, "1")
        before = current(bench, builder)["embeds"][0]
        # Today's announcement: Paperboy's colour, the author line, the Topics field.
        assert before["color"] == 0xB3202A and "author" in before
        assert [f["name"] for f in before["fields"]] == ["Topics"]

        await pick(bench, builder, "image", ["thumbnail"])
        await pick(bench, builder, "fields", ["reading_time", "author"])
        await pick(bench, builder, "parts", ["timestamp"])  # the author line off
        for modal, values in (
            ("colour", {"color": "#00ff00"}),
            ("footer", {"footer": "{feed} · {published:date}"}),
            ("description", {"description": "1 sentence"}),
            ("content", {"content": "Fresh from {feed}: {title}"}),
        ):
            submitted = await type_into(bench, builder, modal, values)
            assert (await submitted.callback()).type == 7, f"{modal} did not update the preview"
        shown = current(bench, builder)
        embed = shown["embeds"][0]
        assert embed["color"] == 0x00FF00
        # (The bench's images are on a loopback address, which announcements never show, so
        # the thumbnail choice is proven by the unit tests; here it is stored, below.)
        assert "image" not in embed and "author" not in embed
        assert [f["name"] for f in embed["fields"]] == ["Reading time", "Author"]
        feed = await bench.app.storage.feed(1)
        assert feed is not None
        assert embed["footer"]["text"].startswith(f"{feed.title} · ")
        assert embed["description"].count(".") == 1  # one whole sentence
        assert "Fresh from" in shown["content"]
        stored = await bench.app.storage.subscription(1)
        assert stored is not None and stored.message_settings == ""  # nothing saved yet

        save = await bench.discord.click(
            bench.seed.admin_id, int(builder["id"]), "pb:builder:1:save"
        )
        assert (await save.callback()).type == 7
        saved = current(bench, builder)
        assert "Saved" in saved["content"] and saved["components"] == []
        stored = await bench.app.storage.subscription(1)
        assert stored is not None
        settings = MessageSettings.from_json(stored.message_settings)
        assert (settings.color, settings.image, settings.show_author) == (
            0x00FF00,
            "thumbnail",
            False,
        )
        assert (settings.description_unit, settings.description_length) == ("sentences", 1)

        fresh = bench.site.publish(article(1, "Riverside tenants win repairs", ("Housing",)))
        posted = await bench.discord.next_message(bench.seed.news_id, timeout=15)
        assert announced_title(posted) == fresh.title
        assert posted["embeds"][0]["description"] == "First sentence of story 1."
        await delivery_settled(bench)
        # The builder opened now shows this same newest article: the post is exactly that.
        again = await open_builder(bench, "1")
        assert posted["embeds"] == again["embeds"]
        assert again["content"].endswith("\n\n" + posted["content"])
        assert posted["content"] == f"Fresh from {feed.title}: {fresh.title}"
        day = fresh.published.astimezone(UTC)
        assert posted["embeds"][0]["footer"]["text"] == f"{feed.title} · {day.day} {day:%B %Y}"
        assert marker_of(posted)  # the post is still recognisable after a crash
        assert "pb-o" not in message_text(posted)


async def test_bad_builder_input_is_named_privately_and_changes_nothing(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        await subscribe(bench)
        builder = await open_builder(bench, "1")
        before = dict(current(bench, builder))
        for modal, values, expected in (
            ("colour", {"color": "purple-ish"}, "'purple-ish' is not a colour"),
            ("footer", {"footer": "By {auhtor}"}, "Unknown placeholder {auhtor} in the footer"),
            ("content", {"content": "x" * 1001}, "1001 characters long; the most allowed is 1000"),
            ("description", {"description": "lots"}, "'lots' is not a description length"),
            ("footer", {"footer": "{published:%Y}"}, "is not a date format Paperboy knows"),
        ):
            submitted = await type_into(bench, builder, modal, values)
            answer = await submitted.callback()
            assert answer.type == 4 and answer.data["flags"] & 64, "a private message"
            assert expected in answer.data["content"].replace("\\", "")
            assert "Nothing was changed" in answer.data["content"]
            assert current(bench, builder) == before, f"{modal} changed the builder"
        cancel = await bench.discord.click(
            bench.seed.admin_id, int(builder["id"]), "pb:builder:1:cancel"
        )
        assert (await cancel.callback()).type == 7
        stored = await bench.app.storage.subscription(1)
        assert stored is not None and stored.message_settings == ""


async def test_two_named_subscriptions_of_one_feed_in_one_channel_each_post_their_matches(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(announcements=FAST) as bench:
        assert "Added `#1` “Strikes”" in await subscribe(bench, include="picket", name="Strikes")
        refused = await subscribe(bench, include="tenants", name="strikes")
        assert "already goes to" in refused and "different name" in refused
        assert "Added `#2` “Housing”" in await subscribe(bench, include="tenants", name="Housing")
        await delivery_settled(bench)
        existing = len(bench.discord.messages_in(bench.seed.news_id))

        strike = bench.site.publish(article(2, "Picket holds at the depot", ("Unions",)))
        housing = bench.site.publish(article(3, "Tenants win repairs", ("Housing",)))
        other = bench.site.publish(article(4, "Council budget set", ("Politics",)))
        await bench.discord.wait_until(
            lambda: len(bench.discord.messages_in(bench.seed.news_id)) >= existing + 2,
            timeout=20,
            what="two announcements",
        )
        await delivery_settled(bench)
        posted = [announced_title(m) for m in bench.discord.messages_in(bench.seed.news_id)]
        assert posted[existing:] == [strike.title, housing.title]
        assert other.title not in posted

        async def sent_titles(subscription_id: int) -> list[str]:
            titles = []
            for row in await bench.app.storage.subscription_outbox(subscription_id):
                if row.state == "sent" and row.message_id is not None:
                    message = bench.discord.messages[row.message_id]
                    titles.append(announced_title(message))
            return titles

        assert strike.title in await sent_titles(1) and housing.title not in await sent_titles(1)
        assert housing.title in await sent_titles(2) and strike.title not in await sent_titles(2)

        listing = message_text(await (await bench.command("feeds list")).reply())
        assert "“Strikes”" in listing and "“Housing”" in listing
        choices = await bench.discord.autocomplete(
            bench.seed.guild_id,
            bench.seed.admin_id,
            "feeds pause",
            {"subscription": "hous"},
            focused="subscription",
        )
        assert [c["value"] for c in choices] == ["2"] and "Housing" in choices[0]["name"]
        # A subscription can be named instead of picked.
        paused = await bench.command("feeds pause", {"subscription": "housing"})
        assert "Paused `#2`" in message_text(await paused.reply())
        why = await bench.command("feeds why", {"url": bench.site.article_url(strike)})
        explained = message_text(await why.reply(15.0))
        assert "subscription 1 'Strikes'" in explained
        assert "subscription 2 'Housing'" in explained

        # An article both let through still reaches the channel once, from the older one.
        await bench.command("feeds resume", {"subscription": "Housing"})
        before = len(bench.discord.messages_in(bench.seed.news_id))
        both = bench.site.publish(article(5, "Picket by tenants at the depot", ("Housing",)))
        await bench.discord.wait_until(
            lambda: len(bench.discord.messages_in(bench.seed.news_id)) > before,
            timeout=20,
            what="the shared article",
        )
        await delivery_settled(bench)
        titles = [announced_title(m) for m in bench.discord.messages_in(bench.seed.news_id)]
        assert titles.count(both.title) == 1 and both.title in await sent_titles(1)
        why = await bench.command("feeds why", {"url": bench.site.article_url(both)})
        explained = message_text(await why.reply(15.0))
        assert "already posted in that channel through subscription 1" in explained


async def test_a_builder_from_before_a_restart_says_it_is_closed(
    tmp_path: Path, bench_database: str
) -> None:
    clock = FakeClock(MONDAY_MORNING)
    async with DiscordStandIn() as discord, NewsSite() as site:
        seed = discord.populate_default()
        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            await subscribe(bench)
            builder = await open_builder(bench, "1")
            reset = await discord.click(seed.admin_id, int(builder["id"]), "pb:builder:1:reset")
            assert (await reset.callback()).type == 7  # open: the builder itself answers
        async with running_bot(tmp_path, bench_database, discord, seed, site, clock) as bench:
            # The restart closed it: the click is told so, privately, instead of failing.
            stale = await discord.click(seed.admin_id, int(builder["id"]), "pb:builder:1:reset")
            answer = await stale.callback()
            assert answer.type == 4 and answer.data["flags"] & 64
            assert answer.data["content"].startswith("This message builder is closed")
            assert "/feeds message" in answer.data["content"]
            fresh = await open_builder(bench, "1")
            reset = await discord.click(seed.admin_id, int(fresh["id"]), "pb:builder:1:reset")
            assert (await reset.callback()).type == 7
